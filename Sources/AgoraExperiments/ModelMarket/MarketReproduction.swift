import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import Foundation

/// The paper's market experiments on the data available here (`agora market reproduce`): each
/// runs a fixed set of market experiments, tabulates them, and checks the paper's qualitative
/// claim cell by cell, reporting where it fails.
public enum MarketReproduction: String, CaseIterable, Sendable {
    /// NIID (Dirichlet 0.1), Cluster (3 groups, 9 clients) and Skew (2 disjoint class groups) on
    /// MNIST, digits and a9a, every method: is iPFL's utility the highest, its accuracy at least
    /// local training's, and is it the most accurate method?
    case partitions
    /// Attackers and free-riders (one of each kind) in the market on digits (Cluster) and MNIST
    /// (NIID): do they end with no buyers, and does honest accuracy hold?
    case robustness
    /// Misreports of size and cost over random markets: does any pay? (The paper claims
    /// truthfulness.)
    case liars
    /// The inclusive market: clients with different eagerness K_i and costs c_i: does every honest
    /// client gain (individual rationality), and do clients with small K still take part?
    case inclusive
    /// Not the paper's: the acceptance grid of the market's defaults. `agora market run`'s default
    /// settings (lr 0.05, batch 32, the pilot) on a9a, mushrooms, MNIST and digits under iid,
    /// Dirichlet(0.5) and 3 groups, three seeds each: is iPFL at least as accurate as local
    /// training in every run, is any shortfall beyond the test splits' noise, and is any accuracy NaN?
    case acceptance
    /// Not the paper's: the collaborative-gain grid. Every method (iPFL and the eight baselines)
    /// with the defaults on each data set under iid, Dirichlet(0.5), Dirichlet(0.1) and 3 groups,
    /// three seeds each: in the cells where some baseline beats local training by more than two
    /// standard errors, what share of the best baseline's summed gain does iPFL capture (at least
    /// 70 %), does any cell fall below local beyond that noise, and what does the trade cost?
    case gain
    /// The paper's Figs. 2 and 3 as the reference code ran them: every method (iPFL and the eight
    /// baselines) under NIID (Dirichlet 0.1, 10 clients), Cluster (3 class groups, 9 clients) and
    /// Skew (2 disjoint class groups, 10 clients) on one image data set with a convolutional
    /// network, at the reference's training settings (`Figure`): per method and partition the
    /// per-client mean best accuracy (plain and label-weighted, the paper's metric) and cumulative
    /// utility with standard errors. Claims: iPFL is the most accurate (Fig. 2) and has the highest
    /// utility (Fig. 3). Not part of `all` (minutes per method).
    case figure2

    /// What `figure2` runs on and how long it trains (the reference's settings by default).
    public struct Figure: Sendable {
        /// A named data set or a file of images (`DataResolver`).
        public var data = "mnist"
        /// The network (nil: by the data's features: 784 -> simplecnn-mnist, 3072 -> simplecnn).
        public var network: NetworkPreset? = nil
        /// The partitions to run (all three by default; one at a time splits the work).
        public var partitions: [FigurePartition] = FigurePartition.allCases
        /// Local SGD steps per round (the reference: 200).
        public var localSteps = 200
        /// Rounds (the reference: 50).
        public var rounds = 50
        public init() {}
    }

    /// The paper's three partitions.
    public enum FigurePartition: String, CaseIterable, Sendable {
        case niid, cluster, skew
        /// The partition scheme and the number of clients.
        public var cell: (label: String, scheme: PartitionScheme, clients: Int) {
            switch self {
            case .niid: return ("NIID", .dirichlet(beta: 0.1), 10)
            case .cluster: return ("Cluster", .classGroups(groups: 3), 9)
            case .skew: return ("Skew", .classGroups(groups: 2), 10)
            }
        }
    }

    /// One claim checked on one cell.
    public struct Check: Codable, Sendable {
        public var cell: String
        public var claim: String
        public var holds: Bool
        public var detail: String
    }

    /// A finished reproduction: a table (CSV), a line plot and the checks.
    public struct Report: Codable, Sendable {
        public var name: String
        public var columns: [String]
        public var rows: [[String]]
        public var checks: [Check]
        public var plotTitle: String
        public var plotXLabel: String
        public var plotYLabel: String
        /// Series name -> points.
        public var series: [String: [[Double]]]
        public var seconds: Double
    }

    /// Resolves a named data set (mnist, digits, a9a) with a partition; throws when it is absent.
    public typealias DataResolver = (_ name: String, _ partition: PartitionScheme) throws -> DataFile

    /// The data sets of `acceptance`.
    public static let acceptanceSets = ["a9a", "mushrooms", "mnist", "digits"]
    /// The seeds per cell of `acceptance`.
    public static let acceptanceSeeds = 3

    /// Runs the reproduction with `rounds` rounds per market run (the paper: 50; default 20).
    /// `acceptance` and `gain` run on `sets` (nil: `acceptanceSets`; any name or file `data`
    /// resolves) with `seeds` seeds from `seed` on, every cell from `base` (nil: the defaults; its
    /// data, seed, rounds and methods are set per cell), and `acceptance` with `pilotScope` (nil:
    /// the base's pilot); the other experiments have fixed data, one seed and the defaults.
    public func run(
        data: DataResolver, rounds: Int = 20, seed: UInt64 = 1, sets: [String]? = nil, seeds: Int = acceptanceSeeds,
        pilotScope: MarketExperiment.ProxPilot.Scope? = nil, base: MarketExperiment? = nil, figure: Figure = Figure(),
        progress: ((String) -> Void)? = nil
    ) throws -> Report {
        guard rounds >= 1 else { throw AgoraError.configuration("must be at least 1, got \(rounds)", field: "rounds") }
        guard (1...100).contains(seeds) else { throw AgoraError.configuration("must be in 1...100, got \(seeds)", field: "seeds") }
        if let sets {
            guard !sets.isEmpty, !sets.contains(""), Set(sets).count == sets.count else {
                throw AgoraError.configuration(
                    "data sets must be a non-empty list without repeats, got '\(sets.joined(separator: ","))'", field: "sets")
            }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var r: Report
        switch self {
        case .partitions: r = try partitions(data, rounds: rounds, seed: seed, progress: progress)
        case .robustness: r = try robustness(data, rounds: rounds, seed: seed, progress: progress)
        case .liars: r = try liars(seed: seed)
        case .inclusive: r = try inclusive(data, rounds: rounds, seed: seed, progress: progress)
        case .acceptance:
            r = try acceptance(
                data, rounds: rounds, seed: seed, sets: sets ?? Self.acceptanceSets, seeds: seeds,
                pilotScope: pilotScope, base: base ?? MarketExperiment(), progress: progress)
        case .gain:
            r = try gain(
                data, rounds: rounds, seed: seed, sets: sets ?? Self.acceptanceSets, seeds: seeds, base: base ?? MarketExperiment(),
                progress: progress)
        case .figure2:
            r = try figure2(data, figure, seed: seed, base: base ?? MarketExperiment(), progress: progress)
        }
        r.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return r
    }

    /// The paper's training settings scaled to this machine: lr 0.01, momentum 0.9, weight decay
    /// 1e-5, batch 64, 20 local steps (the paper: 200), `rounds` rounds.
    static func experiment(_ file: DataFile?, clients: Int, rounds: Int, seed: UInt64) -> MarketExperiment {
        var e = MarketExperiment()
        e.dataFile = file
        e.data.agents = clients
        e.rounds = rounds
        e.localSteps = 20
        e.batch = 64
        e.learningRate = 0.01
        e.seed = seed
        return e
    }

    func partitions(_ data: DataResolver, rounds: Int, seed: UInt64, progress: ((String) -> Void)?) throws -> Report {
        let cells: [(String, String, PartitionScheme, Int)] = [
            ("mnist", "NIID", .dirichlet(beta: 0.1), 10), ("mnist", "Cluster", .classGroups(groups: 3), 9),
            ("mnist", "Skew", .classGroups(groups: 2), 10),
            ("digits", "NIID", .dirichlet(beta: 0.1), 10), ("digits", "Cluster", .classGroups(groups: 3), 9),
            ("digits", "Skew", .classGroups(groups: 2), 10),
            ("a9a", "NIID", .dirichlet(beta: 0.1), 10), ("a9a", "Cluster", .classGroups(groups: 3), 9),
        ]
        var rows: [[String]] = [], checks: [Check] = [], series: [String: [[Double]]] = [:]
        for (k, (name, label, scheme, clients)) in cells.enumerated() {
            let cell = "\(name) \(label)"
            progress?(cell)
            var e = Self.experiment(try data(name, scheme), clients: clients, rounds: rounds, seed: seed)
            e.methods = FederatedMethod.allCases
            let r = try e.run()
            for m in r.methods {
                rows.append([
                    name, label, "\(clients)", m.method.rawValue, "\(m.meanBestAccuracy)", "\(m.meanBestLabelWeightedAccuracy ?? .nan)",
                    "\(m.meanCumulativeUtility)",
                ])
                series[m.method.rawValue, default: []].append([Double(k), m.meanBestAccuracy])
            }
            let ipfl = r.methods.first { $0.method == .ipfl }!, local = r.methods.first { $0.method == .local }!
            let others = r.methods.filter { $0.method != .ipfl }
            let bestOther = others.max { $0.meanCumulativeUtility < $1.meanCumulativeUtility }!
            checks.append(
                Check(
                    cell: cell, claim: "iPFL's cumulative utility is the highest",
                    holds: ipfl.meanCumulativeUtility >= bestOther.meanCumulativeUtility,
                    detail: cFormat("iPFL %.1f, best other %.1f", ipfl.meanCumulativeUtility, bestOther.meanCumulativeUtility)
                        + " (\(bestOther.method.rawValue))"))
            checks.append(
                Check(
                    cell: cell, claim: "iPFL is at least as accurate as local training",
                    holds: ipfl.meanBestAccuracy >= local.meanBestAccuracy,
                    detail: cFormat("iPFL %.4f, local %.4f", ipfl.meanBestAccuracy, local.meanBestAccuracy) + Self.noise(r.ipflAgainstLocal)
                ))
            let mostAccurate = r.methods.max { $0.meanBestAccuracy < $1.meanBestAccuracy }!
            checks.append(
                Check(
                    cell: cell, claim: "iPFL is the most accurate method", holds: ipfl.meanBestAccuracy >= mostAccurate.meanBestAccuracy,
                    detail: cFormat("iPFL %.4f, most accurate %.4f", ipfl.meanBestAccuracy, mostAccurate.meanBestAccuracy)
                        + " (\(mostAccurate.method.rawValue))"))
        }
        return Report(
            name: rawValue,
            columns: [
                "data", "partition", "clients", "method", "mean_best_accuracy", "label_weighted_accuracy", "mean_cumulative_utility",
            ],
            rows: rows, checks: checks,
            plotTitle: "Mean best accuracy per partition ("
                + cells.enumerated().map { "\($0.offset): \($0.element.0) \($0.element.1)" }.joined(separator: ", ") + ")",
            plotXLabel: "cell", plotYLabel: "mean best accuracy", series: series, seconds: 0)
    }

    /// `figure2`: every method on each chosen partition, from `base` (its market settings; data,
    /// clients, model, training settings and methods are set per cell).
    func figure2(_ data: DataResolver, _ f: Figure, seed: UInt64, base: MarketExperiment, progress: ((String) -> Void)?) throws -> Report {
        guard f.rounds >= 1, f.localSteps >= 1, !f.partitions.isEmpty else {
            throw AgoraError.configuration("figure2 needs rounds and local steps >= 1 and at least one partition", field: "figure")
        }
        var rows: [[String]] = [], checks: [Check] = [], series: [String: [[Double]]] = [:]
        func meanSE(_ v: [Double]) -> (Double, Double) {
            let r = MarketExperiment.PairedDifference.meanAndStandardError(v.filter { !$0.isNaN })
            return (r.mean, r.standardError)
        }
        let network = try f.network ?? Self.network(forFeatures: data(f.data, .iid).load(agents: 1, seed: seed, minRows: 1).0.features.cols)
        for (k, part) in f.partitions.enumerated() {
            let (label, scheme, clients) = part.cell
            let cell = "\(f.data) \(label)"
            progress?(cell)
            var e = base
            e.dataFile = try data(f.data, scheme)
            e.data.agents = clients
            e.rounds = f.rounds
            e.localSteps = f.localSteps
            e.batch = 64
            e.learningRate = 0.01
            e.momentum = 0.9
            e.l2 = 1e-5
            e.seed = seed
            e.methods = FederatedMethod.allCases
            e.network = network
            let r = try e.run { done, total in progress?("\(cell): \(done) of \(total)") }
            var stats: [FederatedMethod: (acc: (Double, Double), weighted: (Double, Double), utility: (Double, Double))] = [:]
            for m in r.methods {
                let weighted = (0..<clients).map { i in
                    m.rounds.compactMap { $0.labelWeightedAccuracies?[i] }.filter { !$0.isNaN }.max() ?? .nan
                }
                let utilities = m.rounds.last?.cumulativeUtilities ?? []
                let st = (meanSE(m.bestAccuracies), meanSE(weighted), meanSE(utilities))
                stats[m.method] = st
                rows.append(
                    [f.data, label, "\(clients)", r.config.network?.rawValue ?? "", m.method.rawValue]
                        + [st.0.0, st.0.1, st.1.0, st.1.1, st.2.0, st.2.1, m.seconds].map { "\($0)" } + [m.diverged ?? ""])
                series[m.method.rawValue, default: []].append([Double(k), st.1.0])
            }
            guard let ipfl = stats[.ipfl], let local = stats[.local] else { continue }
            // Baselines in the methods' order, so a tie names the same method on every run (a
            // dictionary's order changes from process to process).
            let baselines = FederatedMethod.allCases.filter { $0 != .ipfl }.compactMap { m in stats[m].map { (key: m, value: $0) } }
            let bestAcc = baselines.reduce(baselines[0]) { $1.value.weighted.0 > $0.value.weighted.0 ? $1 : $0 }
            let bestUtility = baselines.reduce(baselines[0]) { $1.value.utility.0 > $0.value.utility.0 ? $1 : $0 }
            func ms(_ v: (Double, Double)) -> String { cFormat("%.4f (%.4f)", v.0, v.1) }
            checks.append(
                Check(
                    cell: cell, claim: "iPFL is the most accurate method (Fig. 2)", holds: ipfl.weighted.0 >= bestAcc.value.weighted.0,
                    detail:
                        "label-weighted best accuracy, mean (SE) over clients: iPFL \(ms(ipfl.weighted)), local \(ms(local.weighted)), best baseline \(bestAcc.key.rawValue) \(ms(bestAcc.value.weighted))"
                ))
            checks.append(
                Check(
                    cell: cell, claim: "iPFL's cumulative utility is the highest (Fig. 3)",
                    holds: ipfl.utility.0 >= bestUtility.value.utility.0,
                    detail: cFormat("iPFL %.1f (%.1f), best baseline ", ipfl.utility.0, ipfl.utility.1) + bestUtility.key.rawValue
                        + cFormat(" %.1f (%.1f)", bestUtility.value.utility.0, bestUtility.value.utility.1)))
            checks.append(
                Check(
                    cell: cell, claim: "iPFL is at least as accurate as local training", holds: ipfl.acc.0 >= local.acc.0,
                    detail: cFormat("iPFL %.4f, local %.4f", ipfl.acc.0, local.acc.0) + Self.noise(r.ipflAgainstLocal)))
        }
        return Report(
            name: rawValue,
            columns: [
                "data", "partition", "clients", "model", "method", "mean_best_accuracy", "se_best_accuracy",
                "mean_best_label_weighted_accuracy",
                "se_best_label_weighted_accuracy", "mean_cumulative_utility", "se_cumulative_utility", "seconds", "diverged",
            ],
            rows: rows, checks: checks,
            plotTitle: "Fig. 2: mean best label-weighted accuracy per partition ("
                + f.partitions.enumerated().map { "\($0.offset): \($0.element.cell.label)" }.joined(separator: ", ") + ")",
            plotXLabel: "partition", plotYLabel: "mean best label-weighted accuracy", series: series, seconds: 0)
    }

    /// The reference's network for images of `features` pixels: 784 -> simplecnn-mnist, 3072 -> simplecnn.
    static func network(forFeatures features: Int) throws -> NetworkPreset {
        if let n = NetworkPreset.allCases.first(where: { $0.shape(classes: 10).inputs == features }) { return n }
        throw AgoraError.configuration(
            "figure2 trains a convolutional network on images: 1 x 28 x 28 (784 features) or 3 x 32 x 32 (3072); the data has \(features) features",
            field: "network")
    }

    func robustness(_ data: DataResolver, rounds: Int, seed: UInt64, progress: ((String) -> Void)?) throws -> Report {
        let attackers: [MarketExperiment.Attacker] = [
            .init(client: 6, attack: .freeRideConstant), .init(client: 7, attack: .freeRideGaussian),
            .init(client: 8, attack: .shuffle), .init(client: 9, attack: .signFlip),
        ]
        var rows: [[String]] = [], checks: [Check] = [], series: [String: [[Double]]] = [:]
        for (name, label, scheme) in [
            ("digits", "Cluster", PartitionScheme.classGroups(groups: 3)), ("mnist", "NIID", .dirichlet(beta: 0.1)),
        ] {
            for convention in AttackConvention.allCases {
                let cell = "\(name) \(label), \(convention.rawValue) attacks"
                progress?(cell)
                let clean = Self.experiment(try data(name, scheme), clients: 10, rounds: rounds, seed: seed)
                var attacked = clean
                attacked.attackers = attackers
                attacked.attackConvention = convention
                let base = try clean.run().methods[0], hit = try attacked.run().methods[0]
                let honest = Array(0..<6)
                let cleanAcc = honest.map { base.bestAccuracies[$0] }.reduce(0, +) / 6
                let hitAcc = honest.map { hit.bestAccuracies[$0] }.reduce(0, +) / 6
                for a in attackers {
                    let buyers = hit.rounds.map { r in
                        r.imports.enumerated().filter { honest.contains($0.offset) && $0.element.contains(a.client) }.count
                    }
                    rows.append([
                        name, label, convention.rawValue, a.attack.rawValue, "\(buyers.last!)", "\(buyers.reduce(0, +))", "\(cleanAcc)",
                        "\(hitAcc)",
                    ])
                    series["\(name) \(convention.rawValue) \(a.attack.rawValue)"] = buyers.enumerated().map {
                        [Double($0.offset + 1), Double($0.element)]
                    }
                    checks.append(
                        Check(
                            cell: cell, claim: "\(a.attack.rawValue) has no honest buyer in the last round", holds: buyers.last! == 0,
                            detail: "honest buyers per round: \(buyers.map(String.init).joined(separator: " "))"))
                }
                checks.append(
                    Check(
                        cell: cell, claim: "honest clients' accuracy holds (within 0.01 of the market without attackers)",
                        holds: hitAcc >= cleanAcc - 0.01,
                        detail: cFormat("clients 0-5: %.4f with attackers, %.4f without", hitAcc, cleanAcc)))
            }
        }
        return Report(
            name: rawValue,
            columns: [
                "data", "partition", "convention", "attack", "honest_buyers_last_round", "honest_purchases_all_rounds",
                "honest_accuracy_without_attackers", "honest_accuracy_with_attackers",
            ],
            rows: rows, checks: checks, plotTitle: "Honest clients buying from each attacker, per round", plotXLabel: "round",
            plotYLabel: "honest buyers", series: series, seconds: 0)
    }

    func liars(seed: UInt64) throws -> Report {
        var rows: [[String]] = [], checks: [Check] = [], series: [String: [[Double]]] = [:]
        let market = ModelMarket()
        for dims in [2, 5, 50] {
            var draw = IncentiveAudit.MarketDraw()
            draw.dimensions = dims
            let markets = try IncentiveAudit.randomMarkets(draw, count: 500, seed: seed)
            let report = try IncentiveAudit.audit(market: market, markets: markets)
            for f in report.findings {
                rows.append([
                    "\(dims)", f.deviation.name, "\(f.cases)", "\(f.profitable)", "\(f.profitableFraction)", "\(f.meanGain)",
                    "\(f.worstGain)",
                ])
                series[f.deviation.name, default: []].append([Double(dims), f.profitableFraction])
                checks.append(
                    Check(
                        cell: "\(dims)-dimensional distances", claim: "\(f.deviation.name) never pays (truthfulness)",
                        holds: f.profitable == 0,
                        detail: cFormat(
                            "profitable in %d of %d cases (%.1f %%), worst gain %.3g", f.profitable, f.cases, 100 * f.profitableFraction,
                            f.worstGain)))
            }
            checks.append(
                Check(
                    cell: "\(dims)-dimensional distances", claim: "individual rationality with true reports",
                    holds: report.irViolations == 0,
                    detail: "\(report.irViolations) violations"))
        }
        return Report(
            name: rawValue,
            columns: ["distance_dimensions", "misreport", "cases", "profitable", "profitable_fraction", "mean_gain", "worst_gain"],
            rows: rows, checks: checks, plotTitle: "Share of client-markets where a misreport pays (500 random markets)",
            plotXLabel: "dimensions of the random update directions", plotYLabel: "profitable fraction", series: series, seconds: 0)
    }

    func inclusive(_ data: DataResolver, rounds: Int, seed: UInt64, progress: ((String) -> Void)?) throws -> Report {
        var rows: [[String]] = [], checks: [Check] = [], series: [String: [[Double]]] = [:]
        for (name, label, scheme) in [
            ("digits", "Cluster", PartitionScheme.classGroups(groups: 3)), ("mnist", "NIID", .dirichlet(beta: 0.1)),
        ] {
            let cell = "\(name) \(label)"
            progress?(cell)
            var e = Self.experiment(try data(name, scheme), clients: 10, rounds: rounds, seed: seed)
            e.methods = [.ipfl, .local]
            // Budgets over two orders of magnitude, costs over a factor of 4 (seeded).
            e.eagernesses = MarketExperiment.uniformDraws(10, lo: log(5e4), hi: log(5e6), seed: seed, stream: 0x1CE).map { exp($0) }
            e.costs = MarketExperiment.uniformDraws(10, lo: 0.5, hi: 2, seed: seed, stream: 0x1CF)
            let r = try e.run()
            let ipfl = r.methods[0], local = r.methods[1]
            let cum = ipfl.rounds.last!.cumulativeUtilities
            var traded = 0
            for i in 0..<10 {
                let bought = ipfl.rounds.reduce(0) { $0 + $1.imports[i].count }
                let sold = ipfl.rounds.reduce(0) { $0 + $1.imports.filter { $0.contains(i) }.count }
                if bought + sold > 0 { traded += 1 }
                rows.append([
                    name, label, "\(i)", "\(r.truth[i].eagerness)", "\(r.truth[i].cost)", "\(bought)", "\(sold)", "\(cum[i])",
                    "\(ipfl.bestAccuracies[i])", "\(local.bestAccuracies[i])",
                ])
                series[cell, default: []].append([log10(r.truth[i].eagerness), cum[i]])
            }
            checks.append(
                Check(
                    cell: cell, claim: "every client's cumulative utility is non-negative (IR)", holds: cum.allSatisfy { $0 >= -1e-9 },
                    detail: cFormat("smallest %.3g", cum.min()!)))
            checks.append(
                Check(
                    cell: cell, claim: "every client takes part (buys or sells at least once)", holds: traded == 10,
                    detail: "\(traded) of 10 traded"))
            checks.append(
                Check(
                    cell: cell, claim: "iPFL is at least as accurate as local training",
                    holds: ipfl.meanBestAccuracy >= local.meanBestAccuracy,
                    detail: cFormat("iPFL %.4f, local %.4f", ipfl.meanBestAccuracy, local.meanBestAccuracy) + Self.noise(r.ipflAgainstLocal)
                ))
        }
        return Report(
            name: rawValue,
            columns: [
                "data", "partition", "client", "K", "cost", "purchases", "sales", "cumulative_utility", "ipfl_best_accuracy",
                "local_best_accuracy",
            ],
            rows: rows, checks: checks, plotTitle: "Cumulative utility against eagerness K (inclusive market)", plotXLabel: "log10 K",
            plotYLabel: "cumulative utility", series: series, seconds: 0)
    }

    /// "; iPFL - local: +0.0020 per client ...": the paired difference for a check's detail.
    static func noise(_ d: MarketExperiment.PairedDifference?) -> String {
        d.map { "; iPFL - local: " + $0.summary(per: "client") } ?? ""
    }

    /// The acceptance grid (see `acceptance`); seeds `seed` to `seed + seeds - 1`. The noise
    /// check is `MarketExperiment.PairedDifference` over every client of every seed (all clients
    /// are honest here).
    func acceptance(
        _ data: DataResolver, rounds: Int, seed: UInt64, sets: [String], seeds count: Int, pilotScope: MarketExperiment.ProxPilot.Scope?,
        base: MarketExperiment, progress: ((String) -> Void)?
    ) throws -> Report {
        let schemes: [(String, PartitionScheme)] = [
            ("iid", .iid), ("dirichlet:0.5", .dirichlet(beta: 0.5)), ("cluster:3", .classGroups(groups: 3)),
        ]
        let seeds = (0..<UInt64(count)).map { seed &+ $0 }
        var rows: [[String]] = [], checks: [Check] = [], series: [String: [[Double]]] = [:]
        for (k, (name, (label, scheme))) in sets.flatMap({ n in schemes.map { (n, $0) } }).enumerated() {
            let cell = "\(name) \(label)"
            var gaps: [Double] = [], ipflBest: [Double] = [], localBest: [Double] = [], finite = true
            for s in seeds {
                progress?("\(cell), seed \(s)")
                var e = try Self.cell(base, data(name, scheme), rounds: rounds, seed: s, methods: [.ipfl, .local, .fedavg])
                if let pilotScope { e.proxPilot?.scope = pilotScope }
                let r = try e.run()
                for m in r.methods {
                    // Beside the best over rounds (the paper's metric, optimistic for a noisy
                    // trajectory): each client's mean accuracy over the last 5 rounds.
                    let last = m.rounds.suffix(5)
                    let settled =
                        m.bestAccuracies.indices.map { i in last.reduce(0) { $0 + $1.accuracies[i] } / Double(last.count) }.reduce(0, +)
                        / Double(m.bestAccuracies.count)
                    rows.append([
                        name, label, "\(s)", m.method.rawValue, "\(m.meanBestAccuracy)", "\(settled)",
                        "\(m.meanBestLabelWeightedAccuracy ?? .nan)",
                        "\(m.meanCumulativeUtility)",
                    ])
                    finite =
                        finite && m.diverged == nil && m.bestAccuracies.allSatisfy(\.isFinite)
                        && m.rounds.allSatisfy { $0.accuracies.allSatisfy(\.isFinite) }
                }
                guard let ipfl = r.methods.first(where: { $0.method == .ipfl }), let local = r.methods.first(where: { $0.method == .local })
                else {
                    preconditionFailure("the acceptance grid runs iPFL and local training")
                }
                gaps.append(ipfl.meanBestAccuracy - local.meanBestAccuracy)
                ipflBest += ipfl.bestAccuracies
                localBest += local.bestAccuracies
                series["seed \(s)", default: []].append([Double(k), gaps.last!])
            }
            let d = try MarketExperiment.PairedDifference(ipflBest, localBest)
            series["-2 standard errors", default: []].append([Double(k), -2 * d.standardError])
            series["0 (local training)", default: []].append([Double(k), 0])
            let each = gaps.map { cFormat("%+.4f", $0) }.joined(separator: " / ")
            checks.append(
                Check(
                    cell: cell, claim: "iPFL is at least as accurate as local training (every seed)", holds: gaps.allSatisfy { $0 >= 0 },
                    detail: "iPFL - local: \(each) (seeds \(seeds.map(String.init).joined(separator: "/")))"))
            checks.append(
                Check(
                    cell: cell, claim: "iPFL is not below local training beyond the test splits' noise",
                    holds: d.verdict == .above || d.verdict == .withinNoise,
                    detail: d.summary(per: "client-seed")))
            checks.append(
                Check(
                    cell: cell, claim: "no run produces a NaN accuracy", holds: finite,
                    detail: finite ? "all finite" : "NaN or infinite accuracy"))
        }
        return Report(
            name: rawValue,
            columns: [
                "data", "partition", "seed", "method", "mean_best_accuracy", "mean_last5_accuracy", "label_weighted_accuracy",
                "mean_cumulative_utility",
            ],
            rows: rows, checks: checks,
            plotTitle: "iPFL - local per cell: " + Self.cellRanges(sets, schemes.map(\.0)),
            plotXLabel: "cell", plotYLabel: "iPFL - local", series: series, seconds: 0)
    }

    /// "0-2 a9a, 3-5 mushrooms (iid, dirichlet:0.5, cluster:3 each)": which plot x-values (cells)
    /// belong to which data set, for a grid of `sets` x `partitions`.
    static func cellRanges(_ sets: [String], _ partitions: [String]) -> String {
        let n = partitions.count
        return sets.enumerated().map { "\(n * $0.offset)-\(n * $0.offset + n - 1) \($0.element)" }.joined(separator: ", ")
            + " (" + partitions.joined(separator: ", ") + " each)"
    }

    /// One cell of the `acceptance` and `gain` grids: `base` on `file`, with the grid's rounds,
    /// seed and methods.
    static func cell(_ base: MarketExperiment, _ file: DataFile, rounds: Int, seed: UInt64, methods: [FederatedMethod]) -> MarketExperiment
    {
        var e = base
        e.dataFile = file
        e.rounds = rounds
        e.seed = seed
        e.methods = methods
        return e
    }

    /// The share of the best baselines' gain over local training that iPFL must capture (`gain`).
    public static let gainShareTarget = 0.7

    /// The collaborative-gain grid (see `gain`); seeds `seed` to `seed + seeds - 1`. Per cell, each
    /// method's gain over local training is the mean of its per-client differences in best accuracy
    /// over every client of every seed (`MarketExperiment.PairedDifference`); a baseline's gain
    /// counts when it exceeds twice its standard error, and the cell's best such gain is the
    /// target. A run that fails (a method diverging, say) is reported in the checks and left out.
    func gain(
        _ data: DataResolver, rounds: Int, seed: UInt64, sets: [String], seeds count: Int, base: MarketExperiment,
        progress: ((String) -> Void)?
    ) throws -> Report {
        let schemes: [(String, PartitionScheme)] = [
            ("iid", .iid), ("dirichlet:0.5", .dirichlet(beta: 0.5)), ("dirichlet:0.1", .dirichlet(beta: 0.1)),
            ("cluster:3", .classGroups(groups: 3)),
        ]
        let seeds = (0..<UInt64(count)).map { seed &+ $0 }
        var rows: [[String]] = [], checks: [Check] = [], series: [String: [[Double]]] = [:]
        var targetSum = 0.0, capturedSum = 0.0, counted = 0, purchases: [Double] = [], payments: [Double] = []
        for (k, (name, (label, scheme))) in sets.flatMap({ n in schemes.map { (n, $0) } }).enumerated() {
            let cell = "\(name) \(label)"
            var best: [FederatedMethod: [Double]] = [:], failures: [String] = []
            for s in seeds {
                progress?("\(cell), seed \(s)")
                let e = try Self.cell(base, data(name, scheme), rounds: rounds, seed: s, methods: FederatedMethod.allCases)
                let r: MarketExperiment.Result
                do { r = try e.run() } catch {
                    failures.append("seed \(s): \(error)")
                    continue
                }
                // A method that diverged has fewer rounds than the others: the seed is left out
                // whole, as a failed run would be, so that every pairing covers the same clients.
                if let d = r.methods.first(where: { $0.diverged != nil }) {
                    failures.append("seed \(s): \(d.method.rawValue) diverged at \(d.diverged!)")
                    continue
                }
                for m in r.methods {
                    best[m.method, default: []] += m.bestAccuracies
                    // iPFL's trade per round: purchases paid for and payments made.
                    var trade = ["", ""]
                    if let bought = m.purchases(unrealised: false) {
                        let perRound = Double(max(1, m.rounds.count))
                        purchases.append(Double(bought) / perRound)
                        payments.append(m.paymentsMade / perRound)
                        trade = ["\(purchases.last!)", "\(payments.last!)"]
                    }
                    rows.append(
                        [name, label, "\(s)", m.method.rawValue, "\(m.meanBestAccuracy)", "\(m.meanCumulativeUtility)"] + trade)
                }
            }
            checks.append(
                Check(
                    cell: cell, claim: "every run completes", holds: failures.isEmpty,
                    detail: failures.isEmpty ? "\(seeds.count) of \(seeds.count) seeds" : failures.joined(separator: "; ")))
            guard let local = best[.local], best[.ipfl] != nil, !local.isEmpty else { continue }
            let gains = try FederatedMethod.allCases.filter { $0 != .local }.compactMap {
                m -> (FederatedMethod, MarketExperiment.PairedDifference)? in
                guard let b = best[m] else { return nil }
                return (m, try MarketExperiment.PairedDifference(b, local))
            }
            let mine = gains.first { $0.0 == .ipfl }!.1
            let target = gains.filter { $0.0 != .ipfl && $0.1.verdict == .above }.max { $0.1.mean < $1.1.mean }
            if let target {
                targetSum += target.1.mean
                capturedSum += mine.mean
                counted += 1
            }
            series["iPFL - local", default: []].append([Double(k), mine.mean])
            series["best baseline - local (beyond 2 standard errors)", default: []].append([Double(k), target?.1.mean ?? 0])
            let targetText =
                target.map {
                    "best baseline " + $0.0.rawValue + cFormat(" %+.4f, iPFL captures %.0f %%", $0.1.mean, 100 * mine.mean / $0.1.mean)
                }
                ?? "no baseline beats local beyond 2 standard errors"
            checks.append(
                Check(
                    cell: cell, claim: "iPFL is not below local training beyond the test splits' noise",
                    holds: mine.verdict == .above || mine.verdict == .withinNoise,
                    detail: mine.summary(per: "client-seed") + "; " + targetText))
        }
        let share = targetSum > 0 ? capturedSum / targetSum : .nan
        func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
        checks.append(
            Check(
                cell: "all cells",
                claim: cFormat("iPFL captures at least %.0f %% of the best baselines' summed gain", 100 * Self.gainShareTarget),
                holds: share >= Self.gainShareTarget,
                detail: cFormat(
                    "%.3f: iPFL %+.4f against %+.4f over the %ld cells where a baseline beats local beyond 2 standard errors; iPFL pays for %.1f purchases and %.1f in payments per round",
                    share, capturedSum, targetSum, counted, mean(purchases), mean(payments))))
        return Report(
            name: rawValue,
            columns: [
                "data", "partition", "seed", "method", "mean_best_accuracy", "mean_cumulative_utility", "paid_purchases_per_round",
                "payments_per_round",
            ],
            rows: rows, checks: checks,
            plotTitle: "Gain over local training per cell: " + Self.cellRanges(sets, schemes.map(\.0)),
            plotXLabel: "cell", plotYLabel: "best accuracy - local's", series: series, seconds: 0)
    }
}
