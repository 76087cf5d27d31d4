import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

struct MarketRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Train clients with iPFL and/or baselines on the same data; per-round table, per-client results, graph, audit.")

    @Option(help: "A JSON experiment file (the 'config' object of a previous result); other flags are ignored when given.") var config:
        String?
    @Option(help: "Number of clients.") var clients: Int = 10
    @OptionGroup(title: "Data") var dataOptions: DataOptions
    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "Seed for every random choice.") var seed: UInt64 = 1
    @Option(help: "Write result.json, config.json, CSV files, graph.dot and SVG plots into this folder.") var out: String?
    @Flag(help: "Print a JSON summary on stdout.") var json = false
    @OptionGroup(title: "Synthetic data (without --data)") var synthetic: SyntheticDataFlags
    @OptionGroup(title: "Methods and the market") var market: MarketFlags
    @OptionGroup(title: "Training") var training: TrainingFlags
    @OptionGroup(title: "Attacks and misreports") var attacks: AttackFlags

    // The options above live in groups (for --help); the code below reads them by their flag names.
    private var rows: Int { synthetic.rows }
    private var features: Int { synthetic.features }
    private var heterogeneity: Double { synthetic.heterogeneity }
    private var clusters: Int { synthetic.clusters }
    private var method: String { market.method }
    private var preset: MarketPreset { market.preset }
    private var lambda: Double? { market.lambda }
    private var eta: Double? { market.eta }
    private var centreStep: CentreStep? { market.centreStep }
    private var prox: String? { market.prox }
    private var proxCandidates: String? { market.proxCandidates }
    private var pilotRounds: Int? { market.pilotRounds }
    private var pilotScope: MarketExperiment.ProxPilot.Scope? { market.pilotScope }
    private var proxWithoutImports: YesNo? { market.proxWithoutImports }
    private var purchaseCheck: String? { market.purchaseCheck }
    private var distance: MarketDistance { market.distance }
    private var tieBreak: MarketTieBreak { market.tieBreak }
    private var eagerness: String { market.eagerness }
    private var cost: Double { market.cost }
    private var KRange: String? { market.KRange }
    private var costRange: String? { market.costRange }
    private var economics: String? { market.economics }
    private var sizeScale: Double? { market.sizeScale }
    private var dropout: Bool { market.dropout }
    private var dropoutRule: DropoutRule? { market.dropoutRule }
    private var rounds: Int { training.rounds }
    private var localSteps: Int { training.localSteps }
    private var batch: Int { training.batch }
    private var lr: Double { training.lr }
    private var momentum: Double { training.momentum }
    private var l2: Double { training.l2 }
    private var hidden: Int { training.hidden }
    private var testFraction: Double { training.testFraction }
    private var minClientRows: Int { training.minClientRows }
    private var misreport: [String] { attacks.misreport }
    private var attack: [String] { attacks.attack }
    private var attackConvention: AttackConvention { attacks.attackConvention }

    func experiment() throws -> MarketExperiment {
        if let config { return try loadJSONConfig(config, as: MarketExperiment.self, what: "market experiment") }
        var e = MarketExperiment()
        e.data.agents = clients
        e.data.rowsPerAgent = rows
        e.data.features = features
        e.data.heterogeneity = heterogeneity
        e.data.clusters = clusters
        e.data.seed = seed
        e.dataFile = try dataOptions.file(defaultPartition: "dirichlet:0.1")
        let names =
            method.lowercased() == "all"
            ? FederatedMethod.allCases.map(\.rawValue)
            : method.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces).lowercased() }
        e.methods = try names.map { n in
            guard let m = FederatedMethod(rawValue: n) else {
                throw ValidationError(
                    "--method '\(n)' is not one of \(FederatedMethod.allCases.map(\.rawValue).joined(separator: ", ")), all")
            }
            return m
        }
        switch preset {
        case .default: e.market = ModelMarket()
        case .paper:
            e.market = .paper
            e.proxPilot = nil
            e.purchaseCheck = nil
        }
        e.market.distance = distance
        e.market.tieBreak = tieBreak
        if let lambda { e.market.lambda = lambda }
        if let eta { e.market.eta = eta }
        if let centreStep {
            e.market.centreStep = centreStep
        }
        if let proxCandidates {
            let c = try proxCandidates.split(separator: ",").map { t -> Double in
                guard let v = Double(t.trimmingCharacters(in: .whitespaces)), v.isFinite, v >= 0 else {
                    throw ValidationError("--prox-candidates: '\(t)' is not a non-negative number")
                }
                return v
            }
            if e.proxPilot == nil { e.proxPilot = .init() }
            e.proxPilot!.candidates = c
        }
        if let pilotRounds {
            guard pilotRounds >= 0 else { throw ValidationError("--pilot-rounds must be >= 0, got \(pilotRounds)") }
            if pilotRounds == 0 {
                e.proxPilot = nil
            } else {
                if e.proxPilot == nil { e.proxPilot = .init() }
                e.proxPilot!.rounds = pilotRounds
            }
        }
        if let pilotCriterion = market.pilotCriterion {
            guard e.proxPilot != nil, prox == nil else {
                throw ValidationError("--pilot-criterion needs the pilot (not with --prox, --pilot-rounds 0 or --preset paper)")
            }
            e.proxPilot!.criterion = pilotCriterion
        }
        if let pilotScope {
            let scope = pilotScope
            guard e.proxPilot != nil, prox == nil else {
                throw ValidationError("--pilot-scope needs the pilot (not with --prox, --pilot-rounds 0 or --preset paper)")
            }
            e.proxPilot!.scope = scope
        }
        if let prox {
            e.proxPilot = nil
            if prox == "lambda/eta" {
                e.market.prox = nil
            } else {
                guard let v = Double(prox), v.isFinite, v >= 0 else {
                    throw ValidationError("--prox must be a non-negative number or 'lambda/eta', got '\(prox)'")
                }
                e.market.prox = v
            }
        }
        if let proxWithoutImports {
            e.market.proxWithoutImports = proxWithoutImports.isYes
        }
        if let purchaseCheck {
            if purchaseCheck == "off" {
                e.purchaseCheck = nil
            } else {
                guard let v = Double(purchaseCheck), v.isFinite, v >= 0, v <= 1 else {
                    throw ValidationError("--purchase-check must be a share in [0, 1] or 'off', got '\(purchaseCheck)'")
                }
                e.purchaseCheck = .init(share: v)
            }
        }
        e.rounds = rounds
        e.localSteps = localSteps
        e.batch = batch
        e.learningRate = lr
        e.momentum = momentum
        e.l2 = l2
        e.hidden = hidden
        e.network = training.model
        e.testFraction = testFraction
        if eagerness != "auto" {
            guard let k = Double(eagerness), k.isFinite, k >= 0 else {
                throw ValidationError("--K must be a non-negative number or 'auto', got '\(eagerness)'")
            }
            e.eagerness = k
        } else if preset == .paper {
            e.eagerness = 5e5
        }
        e.cost = cost
        e.sizeScale = sizeScale
        e.dropout = dropout
        e.seed = seed
        if let dropoutRule {
            e.dropout = true
            e.dropoutRule = dropoutRule
        }
        if minClientRows != 10 { e.minClientRows = minClientRows }
        func range(_ text: String, _ flag: String) throws -> (Double, Double) {
            let p = text.split(separator: ":").map { Double($0) }
            guard p.count == 2, let lo = p[0], let hi = p[1], lo.isFinite, hi.isFinite, lo >= 0, hi >= lo else {
                throw ValidationError("\(flag) '\(text)': expected LO:HI with 0 <= LO <= HI")
            }
            return (lo, hi)
        }
        if KRange != nil || costRange != nil || economics != nil {
            // Per-client economics are drawn or read for `clients` entries: validate the count first.
            guard clients >= 1 else { throw ValidationError("--clients must be at least 1, got \(clients)") }
        }
        if let KRange {
            let (lo, hi) = try range(KRange, "--K-range")
            e.eagernesses = MarketExperiment.uniformDraws(clients, lo: lo, hi: hi, seed: seed, stream: 0xEA6E)
        }
        if let costRange {
            let (lo, hi) = try range(costRange, "--cost-range")
            e.costs = MarketExperiment.uniformDraws(clients, lo: lo, hi: hi, seed: seed, stream: 0xC057)
        }
        if let economics {
            guard KRange == nil, costRange == nil else {
                throw ValidationError("--economics gives K and cost per client: drop --K-range and --cost-range")
            }
            (e.eagernesses, e.costs) = try MarketExperiment.readEconomics(path: economics, clients: clients)
        }
        for s in misreport {
            let p = s.split(separator: ":", omittingEmptySubsequences: false)
            guard p.count == 3, let c = Int(p[0]), let sf = Double(p[1]), let cf = Double(p[2]), sf.isFinite, cf.isFinite else {
                throw ValidationError("--misreport '\(s)': expected CLIENT:SIZE_FACTOR:COST_FACTOR, e.g. 3:2:1")
            }
            e.misreports.append(.init(client: c, sizeFactor: sf, costFactor: cf))
        }
        if attackConvention == .reference { e.attackConvention = .reference }
        for s in attack {
            let p = s.split(separator: ":", maxSplits: 1)
            guard p.count == 2, let c = Int(p[0]), let k = MarketAttack(rawValue: String(p[1])) else {
                throw ValidationError(
                    "--attack '\(s)': expected CLIENT:KIND with KIND one of \(MarketAttack.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            e.attackers.append(.init(client: c, attack: k))
        }
        return e
    }

    struct Summary: Codable {
        struct Method: Codable {
            let method: String
            let meanBestAccuracy: Double
            let meanBestLabelWeightedAccuracy: Double?
            let meanCumulativeUtility: Double
            let finalEdges: Int
            /// iPFL: purchases over all rounds that were paid for (their buyer's training used them)
            /// and that were not (prox strength 0, or the last round); nil for baselines.
            let paidPurchases: Int?
            let unrealisedPurchases: Int?
            let maxBudgetResidual: Double
            let seconds: Double
            /// Set when the method's training diverged (its numbers cover the rounds before).
            let diverged: String?
        }
        let data: String, clients: Int, parameters: Int, rounds: Int
        let methods: [Method]
        /// Exporters that attackers and free-riders sold to in the last iPFL round.
        let attackerBuyers: [Int: Int]
        let audit: IncentiveAudit.Report?
        let proxStrengths: [Double]?
        /// The K every importing client got when `--K auto` chose it.
        let automaticEagerness: Double?
        let warnings: [String]
        /// iPFL's best accuracy minus local training's, over honest clients, with its standard error.
        let ipflAgainstLocal: MarketExperiment.PairedDifference?
    }

    /// `--pilot-scope`'s value (also `market reproduce acceptance`'s).
    /// "K = 5e5, c = 1", or the range of each when it is drawn per client (the inclusive market).
    static func economyLabel(_ e: MarketExperiment, automatic: Double? = nil) -> String {
        func label(_ name: String, _ one: Double, _ each: [Double]?) -> String {
            guard let each, let lo = each.min(), let hi = each.max() else { return "\(name) = \(fmt(one))" }
            return "\(name) per client in [\(fmt(lo)), \(fmt(hi))]"
        }
        let k =
            e.eagernesses != nil
            ? label("K", 0, e.eagernesses)
            : e.eagerness.map { "K = \(fmt($0))" }
                ?? automatic.map { "K = \(fmt($0)) (auto: every other client affordable)" } ?? "K = auto"
        return k + ", " + label("c", e.cost, e.costs)
    }

    func run() throws {
        try reportingErrors {
            let e = try experiment()
            // Under MPI every rank runs this command and trains its block of clients; only the root prints and writes.
            let (placement, reports) = try backendOptions.placement(rows: e.clients)
            if reports, let out { try prepareOutputFolder(out) }
            let progress = Progress(total: reports ? e.rounds * e.methods.count : 0, label: "market")
            let r = try endingAllRanksOnError { try e.run(progress: { done, _ in progress.update(done) }, placement: placement) }
            progress.finish()
            guard reports else { return }
            let attackers = Set(e.attackers.map(\.client))
            var attackerBuyers: [Int: Int] = [:]
            if let ip = r.methods.first(where: { $0.method == .ipfl }) {
                for a in attackers { attackerBuyers[a] = ip.rounds.last!.imports.filter { $0.contains(a) }.count }
            }
            let summary = Summary(
                data: r.dataName, clients: e.clients, parameters: r.parameters, rounds: e.rounds,
                methods: r.methods.map {
                    .init(
                        method: $0.method.rawValue, meanBestAccuracy: $0.meanBestAccuracy,
                        meanBestLabelWeightedAccuracy: $0.meanBestLabelWeightedAccuracy,
                        meanCumulativeUtility: $0.meanCumulativeUtility,
                        finalEdges: $0.rounds.last!.imports.reduce(0) { $0 + $1.count },
                        paidPurchases: $0.purchases(unrealised: false), unrealisedPurchases: $0.purchases(unrealised: true),
                        maxBudgetResidual: $0.rounds.map(\.budgetResidual).max() ?? 0, seconds: $0.seconds, diverged: $0.diverged)
                },
                attackerBuyers: attackerBuyers, audit: r.audit, proxStrengths: r.proxStrengths,
                automaticEagerness: r.automaticEagerness, warnings: r.warnings,
                ipflAgainstLocal: r.ipflAgainstLocal)
            if let out { try write(r, summary, to: out) }
            if json {
                print(try JSONOutput.line(summary))
                return
            }
            let source =
                e.dataFile.map { "\($0.path) (\($0.partition))" } ?? "synthetic logistic data (heterogeneity \(e.data.heterogeneity))"
            print(
                "model market: \(e.clients) clients, \(r.parameters) parameters, \(source); \(e.rounds) rounds x \(e.localSteps) local steps"
            )
            for w in r.warnings { print("warning: \(w)") }
            print(
                "market: lambda = \(fmt(e.market.lambda)), eta = \(fmt(e.market.eta)) (\((e.market.centreStep ?? .absolute).rawValue)), prox strength \(fmt(e.market.proxStrength))\((e.market.proxWithoutImports ?? true) ? "" : " (clients with imports only)"), \(Self.economyLabel(e, automatic: r.automaticEagerness)), distance \(e.market.distance.rawValue), tie-break \(e.market.tieBreak.rawValue)\n"
            )
            for m in r.methods {
                print("\(m.method.rawValue):")
                print(
                    "  " + pad("round", 7) + pad("mean acc", 10) + pad("mean utility", 14) + pad("edges", 7) + pad("paid for", 10)
                        + pad("budget residual", 17) + "active")
                let every = max(1, e.rounds / 10)
                for rd in m.rounds where rd.round % every == 0 || rd.round == 1 || rd.round == e.rounds {
                    let honest = (0..<e.clients).filter { !attackers.contains($0) }
                    let mu = honest.map { rd.utilities[$0] }.reduce(0, +) / Double(max(1, honest.count))
                    print(
                        "  " + pad("\(rd.round)", 7) + pad(String(format: "%.4f", rd.meanAccuracy), 10) + pad(fmt(mu), 14)
                            + pad("\(rd.imports.reduce(0) { $0 + $1.count })", 7)
                            + pad(
                                rd.unrealised.map { u in "\(rd.imports.indices.filter { !u[$0] }.reduce(0) { $0 + rd.imports[$1].count })" }
                                    ?? "-", 10)
                            + pad(fmt(rd.budgetResidual), 17)
                            + "\(rd.active.filter { $0 }.count)")
                }
            }
            if let ip = r.methods.first(where: { $0.method == .ipfl }) {
                let last = ip.rounds.last!
                print("\niPFL clients (last round):")
                print(
                    "  " + pad("client", 8) + pad("N", 8) + pad("K", 8) + pad("c", 6) + pad("role", 20) + pad("buys from", 16)
                        + pad("buyers", 8) + pad("best acc", 10) + "cum. utility")
                for i in 0..<e.clients {
                    let role =
                        e.attackers.first { $0.client == i }?.attack.rawValue
                        ?? (e.misreports.contains { $0.client == i } ? "misreports" : "honest")
                    let buyers = last.imports.filter { $0.contains(i) }.count
                    print(
                        "  " + pad("\(i)", 8) + pad(fmt(r.truth[i].dataSize), 8) + pad(fmt(r.truth[i].eagerness), 8)
                            + pad(fmt(r.truth[i].cost), 6) + pad(role, 20)
                            + pad(last.imports[i].map(String.init).joined(separator: ","), 16) + pad("\(buyers)", 8)
                            + pad(String(format: "%.4f", ip.bestAccuracies[i]), 10) + fmt(last.cumulativeUtilities[i]))
                }
            }
            print(
                "\n  " + pad("method", 11) + pad("mean best acc", 15) + pad("label-weighted", 16) + pad("mean cum. utility", 19) + "seconds"
            )
            for m in summary.methods {
                print(
                    "  " + pad(m.method, 11) + pad(String(format: "%.4f", m.meanBestAccuracy), 15)
                        + pad(m.meanBestLabelWeightedAccuracy.map { String(format: "%.4f", $0) } ?? "-", 16)
                        + pad(fmt(m.meanCumulativeUtility), 19) + String(format: "%.2f", m.seconds))
            }
            print(
                "  (accuracy: each client's own test split, best over rounds, mean over honest clients; label-weighted: the reference code's measure, each client's model on all clients' test rows weighted by its label distribution; baselines pay nothing, so their utility is gain minus export cost)"
            )
            if let d = r.ipflAgainstLocal {
                print("  iPFL - local: " + d.summary(per: "honest client"))
            }
            if let ip = r.methods.first(where: { $0.method == .ipfl }), ip.rounds.allSatisfy({ $0.imports.allSatisfy(\.isEmpty) }) {
                print(
                    "\nnote: no client bought any model in any iPFL round: every price c_j + lambda (N_j/N_i) d_ij exceeded the first marginal gain."
                        + (e.market.distance == .squaredL2
                            ? " Squared-L2 distances are on the scale of ||u||^2: try a much smaller --lambda."
                            : " Try a smaller --lambda or --cost, or a larger --K."))
            }
            if let a = r.audit {
                print("\nincentive audit of the last iPFL market (one deviator at a time, true utilities):")
                printAudit(a)
            }
            if let out { print("\nresults, config, CSV, graph.dot and plots written to \(out)") }
        }
    }

    func write(_ r: MarketExperiment.Result, _ s: Summary, to folder: String) throws {
        try JSONOutput.writeExperiment(config: r.config, result: r, summary: s, to: folder)
        var rounds = CSVTable(columns: ["method", "round", "mean_accuracy", "edges", "budget_residual", "active"])
        var clients = CSVTable(columns: [
            "method", "round", "client", "accuracy", "utility", "cumulative_utility", "net_payment", "imports", "active",
        ])
        for m in r.methods {
            for rd in m.rounds {
                rounds.append([
                    m.method.rawValue, "\(rd.round)", "\(rd.meanAccuracy)", "\(rd.imports.reduce(0) { $0 + $1.count })",
                    "\(rd.budgetResidual)", "\(rd.active.filter { $0 }.count)",
                ])
                for i in rd.accuracies.indices {
                    clients.append([
                        m.method.rawValue, "\(rd.round)", "\(i)", "\(rd.accuracies[i])", "\(rd.utilities[i])",
                        "\(rd.cumulativeUtilities[i])", "\(rd.netPayments[i])",
                        CSVTable.field(rd.imports[i].map(String.init).joined(separator: " "), quoted: true), "\(rd.active[i])",
                    ])
                }
            }
        }
        try rounds.write(to: folder + "/rounds.csv")
        try clients.write(to: folder + "/clients.csv")
        let attackers = Set(r.config.attackers.map(\.client))
        if let ip = r.methods.first(where: { $0.method == .ipfl }) {
            let last = ip.rounds.last!
            // Edges point the way models flow: exporter -> importer.
            let dot = DOTGraph(
                name: "market",
                comment:
                    "last iPFL round's learned graph: an edge j -> i means client i would import client j's model (unpaid: no round is left to use it)",
                nodes: (0..<r.config.clients).map {
                    .init(id: $0, label: "\($0)\nN=\(Int(r.truth[$0].dataSize))", highlighted: attackers.contains($0))
                },
                edges: last.imports.enumerated().flatMap { i, js in
                    js.enumerated().map { k, j in
                        // Unrealised purchases (the last round's always) carry no payment.
                        .init(
                            from: j, to: i,
                            label: k < last.payments[i].count ? "r=" + String(format: "%.3g", last.payments[i][k]) : "unpaid")
                    }
                })
            try SystemFile.writeAtomically(dot.text, to: folder + "/graph.dot")
            try SVGPlot.write(
                SVGPlot.directedGraph(
                    title: "iPFL collaboration graph, round \(last.round) (arrow: model flows to its buyer)",
                    labels: (0..<r.config.clients).map(String.init),
                    edges: last.imports.enumerated().flatMap { i, js in js.map { ($0, i) } },
                    highlighted: attackers), to: folder + "/graph.svg")
        }
        try SVGPlot.write(
            SVGPlot.lines(
                title: "Mean test accuracy per round", xLabel: "round", yLabel: "accuracy",
                series: r.methods.map { m in .init(name: m.method.rawValue, points: m.rounds.map { (Double($0.round), $0.meanAccuracy) }) }),
            to: folder + "/accuracy.svg")
        try SVGPlot.write(
            SVGPlot.lines(
                title: "Mean cumulative utility (honest clients)", xLabel: "round", yLabel: "utility",
                series: r.methods.map { m in
                    .init(
                        name: m.method.rawValue,
                        points: m.rounds.map { rd in
                            let h = rd.cumulativeUtilities.indices.filter { !attackers.contains($0) }
                            return (Double(rd.round), h.map { rd.cumulativeUtilities[$0] }.reduce(0, +) / Double(max(1, h.count)))
                        })
                }),
            to: folder + "/utility.svg")
    }
}

/// Prints an incentive-audit report as a table.
func printAudit(_ a: IncentiveAudit.Report) {
    print(
        "  " + pad("misreport", 12) + pad("cases", 8) + pad("profitable", 12) + pad("share", 9) + pad("markets", 16) + pad("mean gain", 13)
            + "worst case (gain, market, client)")
    for f in a.findings {
        print(
            "  " + pad(f.deviation.name, 12) + pad("\(f.cases)", 8) + pad("\(f.profitable)", 12)
                + pad(String(format: "%.1f%%", 100 * f.profitableFraction), 9)
                + pad(
                    "\(f.profitableMarkets) (\(String(format: "%.0f%%", 100 * Double(f.profitableMarkets) / Double(max(1, a.markets)))))",
                    16)
                + pad(fmt(f.meanGain), 13) + "\(fmt(f.worstGain)), \(f.worstMarket), \(f.worstClient)")
    }
    print(
        "  (cases: client-market pairs; profitable: the misreport raised the client's true utility by more than the tolerance; markets: markets with at least one such client)"
    )
    print(
        "  IR violations with true reports (U_i < -\(fmt(a.tolerance))): \(a.irViolations); smallest utility \(fmt(a.worstIR)); largest budget residual \(fmt(a.budgetResidualMax))"
    )
}

/// `agora market run` options: synthetic data (without --data).
struct SyntheticDataFlags: ParsableArguments {
    @Option(help: "Synthetic data: rows per client.") var rows: Int = 100
    @Option(help: "Synthetic data: features.") var features: Int = 20
    @Option(help: "Synthetic data: heterogeneity across clients.") var heterogeneity: Double = 3
    @Option(help: "Synthetic data: groups of clients sharing a task (0: every client its own).") var clusters: Int = 3
}

/// `agora market run` options: methods and the market.
struct MarketFlags: ParsableArguments {
    @Flag(help: "Clients with negative round utility leave the market.") var dropout = false
    @Option(help: "Methods, comma-separated: ipfl, local, fedavg, fedprox, ditto, pfedgraph, fedamp, cfl, fedfomo, or all.") var method:
        String = "ipfl,local,fedavg"
    @Option(
        help:
            "Market preset: default (scale-free personalization, the purchase check) or paper (the reference code's: eta = 5 absolute, prox strength lambda/eta for every client, no purchase check); the flags below override it."
    ) var preset: MarketPreset = .default
    @Option(help: "lambda: weight of model distance in prices and payments (default 2).") var lambda: Double?
    @Option(
        help:
            "eta: personalization centre step, in units of the client's update with --centre-step relative (default 1), absolute as in the reference code (paper: 5)."
    ) var eta: Double?
    @Option(help: "Unit of eta: relative (scale-free, default) or absolute (the reference code).") var centreStep: CentreStep?
    @Option(
        help:
            "Prox strength mu of (mu/2)||theta - centre||^2 for every client, or 'lambda/eta' (the reference code's coupling); turns the pilot off. Default: chosen by the pilot."
    ) var prox: String?
    @Option(help: "Candidate prox strengths of the pilot, comma separated (default 0,0.05,0.2).") var proxCandidates: String?
    @Option(help: "Rounds of the pilot per candidate (default 5); 0 turns the pilot off (every client gets the market's strength, 0.2).")
    var pilotRounds: Int?
    @Option(
        help:
            "Who the pilot chooses for: market (one strength for all clients, by the validation loss pooled over them; the default) or client (each client its own strength)."
    ) var pilotScope: MarketExperiment.ProxPilot.Scope?
    @Option(help: "What the pilot compares on the validation rows: loss (default) or accuracy.")
    var pilotCriterion: MarketExperiment.ProxPilot.Criterion?
    @Option(help: "Pull clients that bought nothing towards their own model too: yes (the reference code) or no (default).")
    var proxWithoutImports: YesNo?
    @Option(
        help:
            "iPFL buyers' check of the models on offer, on their own training rows: a seller stays a candidate only if its model improves on theta0 by this share of the buyer's own improvement (default 0.5), or off."
    ) var purchaseCheck: String?
    @Option(help: "Distance between updates.") var distance: MarketDistance = .cosine
    @Option(help: "Tie-break among equal thresholds: index (the reference code) or random.") var tieBreak: MarketTieBreak = .index
    @Option(
        name: .customLong("K"),
        help:
            "Eagerness K of every importing client, or auto: the smallest K at which the median client can afford every other client of its size at the median cost (1.71e7 for 10 clients of N = 5000 at c = 1; --preset paper: 5e5, the paper's)."
    ) var eagerness: String = "auto"
    @Option(help: "Export cost c of every client.") var cost: Double = 1
    @Option(name: .customLong("K-range"), help: "Inclusive market: per-client K drawn uniformly from LO:HI (seeded).") var KRange: String?
    @Option(help: "Inclusive market: per-client cost c drawn uniformly from LO:HI (seeded).") var costRange: String?
    @Option(help: "Inclusive market: per-client K and cost from a CSV file with header client,K,cost.") var economics: String?
    @Option(help: "True data size N = training rows x this factor (default: mean N = 5000, the paper's client size for K = 5e5).")
    var sizeScale: Double?
    @Option(
        help:
            "Dropout rule (implies --dropout): negative-utility (the paper's) or ir-probability (a client stays with probability = share of its rounds with utility >= 0; a reconstruction)."
    ) var dropoutRule: DropoutRule?
}

/// `agora market run` options: training.
struct TrainingFlags: ParsableArguments {
    @Option(help: "Rounds.") var rounds: Int = 20
    @Option(help: "Local SGD steps per round.") var localSteps: Int = 20
    @Option(help: "Mini-batch size.") var batch: Int = 32
    @Option(help: "SGD learning rate.") var lr: Double = 0.05
    @Option(help: "SGD momentum.") var momentum: Double = 0.9
    @Option(help: "L2 weight decay.") var l2: Double = 1e-5
    @Option(help: "Hidden units of an MLP (0: logistic/softmax regression).") var hidden: Int = 0
    @Option(
        help:
            "A convolutional network instead: simplecnn (3 x 32 x 32 images, CIFAR-10) or simplecnn-mnist (1 x 28 x 28, MNIST and Fashion-MNIST), the iPFL reference's SimpleCNN."
    ) var model: NetworkPreset?
    @Option(help: "Fraction of each client's rows held out for its test accuracy.") var testFraction: Double = 0.2
    @Option(help: "The fewest rows a client may hold (at least 2; every client also gets a test row).") var minClientRows: Int = 10
}

/// `agora market run` options: attacks and misreports.
struct AttackFlags: ParsableArguments {
    @Option(help: "A misreporting client as CLIENT:SIZE_FACTOR:COST_FACTOR (repeatable).") var misreport: [String] = []
    @Option(help: "An attacker as CLIENT:KIND, KIND one of shuffle, sign-flip, free-ride-constant, free-ride-gaussian (repeatable).")
    var attack: [String] = []
    @Option(
        help:
            "Attack conventions: agora (sign-flip reflects the update about theta0, constant free-rider theta0 + 0.01) or reference (the reference code's: -theta, all ones, free-riders report cost 0)."
    ) var attackConvention: AttackConvention = .agora
}
