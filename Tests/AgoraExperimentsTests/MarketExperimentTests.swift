import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTestSupport
import AgoraTopology
import Foundation
import XCTest

@testable import AgoraExperiments

final class MarketExperimentTests: XCTestCase {
    /// Honest accounting: a purchase is paid for only when its buyer's training uses it. With prox
    /// strength 0 nothing bought is used, so nobody pays and no gain is counted, while the learned
    /// graph is still reported; with a positive strength every round but the last is settled as
    /// the full market would settle it (budget balanced, payments aligned with the imports), and
    /// the last round's purchases (no round left to use them) are unpaid. The models do not depend
    /// on the accounting: the accuracies are the same with strength 0 as in local training.
    func testClientsPayOnlyForPurchasesTheirTrainingUses() throws {
        var e = MarketExperiment()
        e.rounds = 4
        e.localSteps = 5
        e.methods = [.ipfl, .local]
        e.proxPilot = nil
        for strength in [0.0, 0.2] {
            e.market.prox = strength
            let r = try e.run()
            let ipfl = try XCTUnwrap(r.methods.first { $0.method == .ipfl }), local = r.methods[1]
            XCTAssertGreaterThan(ipfl.rounds.reduce(0) { $0 + $1.imports.joined().count }, 0, "the market learns a graph")
            for rd in ipfl.rounds {
                let unrealised = try XCTUnwrap(rd.unrealised)
                for i in 0..<e.clients {
                    let used = strength > 0 && rd.round < e.rounds
                    XCTAssertEqual(unrealised[i], !used && !rd.imports[i].isEmpty, "round \(rd.round) client \(i)")
                    XCTAssertEqual(rd.payments[i].count, used ? rd.imports[i].count : 0, "round \(rd.round) client \(i)")
                }
                XCTAssertEqual(rd.netPayments.reduce(0, +), 0, accuracy: 1e-9)
                if strength == 0 || rd.round == e.rounds {
                    XCTAssertEqual(rd.utilities, [Double](repeating: 0, count: e.clients), "nothing realised: no gain, no cost")
                }
            }
            if strength == 0 {
                XCTAssertEqual(ipfl.rounds.map(\.accuracies), local.rounds.map(\.accuracies), "strength 0 trains alone")
                XCTAssertEqual(ipfl.meanCumulativeUtility, 0)
            } else {
                XCTAssertGreaterThan(ipfl.rounds[0].payments.joined().count, 0)
            }
        }
    }

    /// The default economy caps a typical client at two purchases and says so; one that allows
    /// more, or in which nobody imports, does not warn.
    func testAnEconomyThatAllowsOnlyAHandfulOfPurchasesWarns() {
        let typical = [ClientEconomics](repeating: ClientEconomics(dataSize: 5000, cost: 1, eagerness: 5e5), count: 10)
        let w = MarketExperiment.economyWarnings(typical)
        XCTAssertEqual(w.count, 1)
        XCTAssertTrue(w.first?.contains("at most 2 purchases") ?? false, "\(w)")
        XCTAssertEqual(
            MarketExperiment.economyWarnings(typical.map { ClientEconomics(dataSize: $0.dataSize, cost: $0.cost, eagerness: 5e7) }), [])
        XCTAssertEqual(
            MarketExperiment.economyWarnings(typical.map { ClientEconomics(dataSize: $0.dataSize, cost: $0.cost, eagerness: 0) }), [])
    }

    func testBadInputGivesClearErrors() throws {
        let ok = ClientEconomics(dataSize: 100, cost: 1, eagerness: 10)
        let d = Matrix<Double>(rows: 2, cols: 2)
        func message(_ body: () throws -> Void) -> String {
            do {
                try body()
                return ""
            } catch { return "\(error)" }
        }
        XCTAssertTrue(
            message { _ = try ModelMarket().clear(reports: [ok, ClientEconomics(dataSize: -1, cost: 1, eagerness: 1)], distances: d) }
                .contains("client 1 report: data size N must be a positive"))
        XCTAssertTrue(
            message { _ = try ModelMarket().clear(reports: [ClientEconomics(dataSize: 1, cost: -2, eagerness: 1), ok], distances: d) }
                .contains("cost c must be a non-negative"))
        XCTAssertTrue(
            message { _ = try ModelMarket().clear(reports: [ok, ClientEconomics(dataSize: 1, cost: 1, eagerness: -1)], distances: d) }
                .contains("eagerness K must be a non-negative"))
        XCTAssertTrue(
            message { _ = try ModelMarket(lambda: 0).clear(reports: [ok, ok], distances: d) }.contains("lambda must be a positive"))
        XCTAssertTrue(message { _ = try ModelMarket(eta: -1).clear(reports: [ok, ok], distances: d) }.contains("eta must be a positive"))
        XCTAssertTrue(
            message { _ = try ModelMarket().clear(reports: [ok, ok, ok], distances: d) }.contains("distances are 2 x 2 for 3 clients"))
        XCTAssertTrue(
            message { _ = try ModelMarket().clear(reports: [ok, ok], truth: [ok], distances: d) }.contains("2 reports but 1 true"))
        var e = MarketExperiment()
        e.market.eta = 0
        XCTAssertTrue(message { _ = try e.run() }.contains("eta must be a positive"))
        e = MarketExperiment()
        e.attackers = [.init(client: 99, attack: .shuffle)]
        XCTAssertTrue(message { _ = try e.run() }.contains("attacker client 99 is outside 0..<10"))
        e = MarketExperiment()
        e.misreports = [.init(client: 1, sizeFactor: -2)]
        XCTAssertTrue(message { _ = try e.run() }.contains("misreport factors must be positive"))
    }

    func small() -> MarketExperiment {
        var e = MarketExperiment()
        e.rounds = 6
        e.localSteps = 10
        e.methods = [.ipfl, .local]
        return e
    }

    /// FedAMP, CFL and FedFomo where they should win: three groups of clients with different tasks
    /// (client i in group i % 3). One global model (FedAvg) averages conflicting tasks; each of the
    /// three must beat it clearly, CFL's clusters and FedFomo's picks must stay inside the groups,
    /// and FedFomo (which only mixes in models that lower its validation loss) must not fall below
    /// local training.
    func testPersonalisedBaselinesWinOnGroupedClients() throws {
        var e = MarketExperiment()
        e.data.agents = 9
        e.rounds = 15
        e.localSteps = 10
        e.methods = [.local, .fedavg, .fedamp, .cfl, .fedfomo]
        let r = try e.run()
        let acc = Dictionary(uniqueKeysWithValues: r.methods.map { ($0.method, $0.meanBestAccuracy) })
        for m in [FederatedMethod.fedamp, .cfl, .fedfomo] {
            XCTAssertGreaterThan(acc[m]!, acc[.fedavg]! + 0.05, "\(m) vs FedAvg: \(acc)")
        }
        XCTAssertGreaterThanOrEqual(acc[.fedfomo]!, acc[.local]! - 1e-12, "FedFomo vs local: \(acc)")
        func edges(_ m: FederatedMethod) -> [(Int, Int)] {
            r.methods.first { $0.method == m }!.rounds.last!.imports.enumerated().flatMap { i, js in js.map { (i, $0) } }
        }
        let cfl = edges(.cfl)
        XCTAssertGreaterThan(cfl.count, 0, "CFL split the federation")
        XCTAssertTrue(cfl.allSatisfy { $0.0 % 3 == $0.1 % 3 }, "CFL clusters cross the groups: \(cfl)")
        let fomo = r.methods.first { $0.method == .fedfomo }!.rounds.flatMap {
            $0.imports.enumerated().flatMap { i, js in js.map { (i, $0) } }
        }
        XCTAssertGreaterThan(fomo.count, 0, "FedFomo mixed in some models")
        XCTAssertGreaterThanOrEqual(Double(fomo.filter { $0.0 % 3 == $0.1 % 3 }.count), 0.8 * Double(fomo.count), "FedFomo picks: \(fomo)")
        for m in r.methods { for rd in m.rounds { XCTAssertFalse(rd.accuracies.contains { $0.isNaN }, "\(m.method) round \(rd.round)") } }
    }

    /// The complete-linkage bipartition of CFL separates two groups of opposite updates.
    func testCFLBipartitionSeparatesOppositeUpdates() throws {
        var u = Matrix<Float>(rows: 6, cols: 3)
        for i in 0..<6 {
            let s: Float = i % 2 == 0 ? 1 : -1
            u[i, 0] = s
            u[i, 1] = s * 0.5 + Float(i) * 0.01
            u[i, 2] = Float(i % 3) * 0.02
        }
        let geo = try Kernels.updateGeometry(u, origin: [0, 0, 0])
        let (a, b) = CFLStrategy.bipartition(Array(0..<6), cosines: geo.cosines)
        XCTAssertEqual(Set([a, b]), Set([[0, 2, 4], [1, 3, 5]]))
    }

    func testTrainingLoopKeepsBudgetBalanceAndIRAndLearnsTheClusters() throws {
        var e = small()
        e.eagerness = 5e5  // the paper's economy: two purchases each, inside the group
        let r = try e.run()
        let ipfl = r.methods[0]
        for rd in ipfl.rounds {
            let scale = rd.netPayments.map(abs).reduce(0, +)
            XCTAssertLessThanOrEqual(rd.budgetResidual, 1e-12 * max(1, scale), "round \(rd.round)")
            for u in rd.utilities { XCTAssertGreaterThanOrEqual(u, -1e-9, "IR in round \(rd.round)") }
        }
        // Synthetic default: 3 groups (client i in group i % 3); the market buys inside groups.
        let last = ipfl.rounds.last!
        let edges = last.imports.enumerated().flatMap { i, js in js.map { (i, $0) } }
        XCTAssertGreaterThan(edges.count, 0)
        let inside = edges.filter { $0.0 % 3 == $0.1 % 3 }.count
        XCTAssertGreaterThanOrEqual(Double(inside), 0.8 * Double(edges.count), "edges \(edges)")
        XCTAssertGreaterThan(ipfl.meanBestAccuracy, r.methods[1].meanBestAccuracy - 1e-12, "iPFL vs local-only")
        XCTAssertEqual(r.methods[1].meanCumulativeUtility, 0)
        XCTAssertNotNil(r.audit)
        XCTAssertEqual(r.audit!.irViolations, 0)
    }

    /// Market level: sellers with c = 0 and model distances of a shuffled (d ~ 1) or sign-flipped
    /// (d ~ 2) update are never bought while honest partners are close; without close partners a
    /// zero-cost seller at distance d is bought exactly when lambda d is below the first marginal gain.
    func testZeroCostSellersLoseToCloseHonestPartners() throws {
        let m = 8
        var e = [ClientEconomics](repeating: ClientEconomics(dataSize: 5000, cost: 1, eagerness: 5e5), count: m)
        for a in 6..<8 { e[a] = ClientEconomics(dataSize: 5000, cost: 0, eagerness: 0) }
        var d = Matrix<Double>(rows: m, cols: m)
        for i in 0..<m {
            for j in 0..<m where i != j {
                d[i, j] = (i < 6 && j < 6) ? (i % 2 == j % 2 ? 0.05 : 0.9) : (i == 6 || j == 6 ? 1.0 : 1.9)
            }
        }
        let o = try ModelMarket(lambda: 2).clear(reports: e, distances: d)
        XCTAssertEqual(o.buyers[6], 0)
        XCTAssertEqual(o.buyers[7], 0)
        for i in 0..<6 { XCTAssertFalse(o.imports[i].isEmpty) }
        // No honest alternative (all honest distances 1): the shuffled seller (d = 1, c = 0) is the
        // cheapest, and is bought iff lambda < G(2N) - G(N) = 2.93.
        for i in 0..<6 { for j in 0..<6 where i != j { d[i, j] = 1 } }
        let first = MarketGain.marginal(eagerness: 5e5, before: 5000, added: 5000)
        for lambda in [2.0, 2.9, 3.0, 5.0] {
            let r = try ModelMarket(lambda: lambda).clear(reports: e, distances: d)
            XCTAssertEqual(r.buyers[6] > 0, lambda < first, "lambda \(lambda)")
            XCTAssertEqual(r.buyers[7], 0, "sign-flipped (d = 1.9) at lambda \(lambda)")
        }
    }

    /// Training level, on the UCI digits in the paper's Cluster partition (3 groups): no honest
    /// client ever buys from a shuffle or sign-flip attacker or a free-rider.
    func testAttackersFindNoHonestBuyersOnDigitsClusters() throws {
        var e = small()
        e.dataFile = DataFile(path: try sharedData("uci/digits.csv.gz"), format: .csv, partition: .classGroups(groups: 3))
        e.methods = [.ipfl]
        e.rounds = 6
        e.localSteps = 20
        e.attackers = [
            .init(client: 9, attack: .signFlip), .init(client: 7, attack: .shuffle),
            .init(client: 8, attack: .freeRideGaussian), .init(client: 6, attack: .freeRideConstant),
        ]
        let r = try e.run()
        let bad = Set(e.attackers.map(\.client))
        for rd in r.methods[0].rounds {
            XCTAssertGreaterThan(rd.imports.joined().count, 0)
            for i in 0..<e.clients where !bad.contains(i) {
                XCTAssertTrue(Set(rd.imports[i]).isDisjoint(with: bad), "round \(rd.round): honest client \(i) buys \(rd.imports[i])")
            }
        }
        // Sellers (shuffle, sign-flip) have K = 0 and never import.
        XCTAssertEqual(r.methods[0].rounds.last!.imports[9], [])
        XCTAssertEqual(r.truth[7].eagerness, 0)
    }

    /// FedAMP's cloud weights against the formula computed here from the update vectors themselves
    /// (distances summed coordinate by coordinate, not from norms and cosines): sigma the median
    /// squared distance, raw exp(-d/sigma)/sigma, the largest row sum scaled to `share`; an
    /// inactive client keeps its model; rows sum to 1.
    func testFedAMPWeightsFollowTheFormula() throws {
        let u: [[Double]] = [[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0.5], [5, 5, 5], [-1, 0.2, 0]]
        let active = [true, true, true, false, true]
        let share = 0.5
        let m = u.count
        let norms = u.map { ($0.reduce(0) { $0 + $1 * $1 }).squareRoot() }
        func cos(_ i: Int, _ j: Int) -> Double {
            norms[i] == 0 || norms[j] == 0 ? 0 : zip(u[i], u[j]).reduce(0) { $0 + $1.0 * $1.1 } / (norms[i] * norms[j])
        }
        let got = FedAMPStrategy.weights(norms: norms, cosines: cos, active: active, share: share)
        let members = (0..<m).filter { active[$0] }
        func d(_ i: Int, _ j: Int) -> Double { zip(u[i], u[j]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
        let pairs = members.flatMap { i in members.filter { $0 > i }.map { d(i, $0) } }.sorted()
        XCTAssertEqual(pairs.count, 6)
        let sigma = pairs[3]  // the upper median of 6, as the strategy takes all[count / 2]
        func raw(_ i: Int, _ j: Int) -> Double { exp(-d(i, j) / sigma) / sigma }
        let largest = members.map { i in members.filter { $0 != i }.reduce(0) { $0 + raw(i, $1) } }.max()!
        for i in 0..<m {
            let row = Dictionary(uniqueKeysWithValues: got.rows[i].map { ($0.0, Double($0.1)) })
            XCTAssertEqual(row.values.reduce(0, +), 1, accuracy: 1e-6, "row \(i) sums to 1")
            guard active[i] else {
                XCTAssertEqual(row, [i: 1], "inactive client \(i) keeps its own model")
                continue
            }
            XCTAssertNil(row[3], "no weight on the inactive client")
            for j in members where j != i {
                XCTAssertEqual(row[j]!, share / largest * raw(i, j), accuracy: 1e-6, "xi[\(i)][\(j)]")
            }
            XCTAssertGreaterThanOrEqual(row[i]!, 1 - share - 1e-6, "own weight at least 1 - share")
            XCTAssertEqual(got.imports[i], members.filter { $0 != i && share / largest * raw(i, $0) > 1e-3 })
        }
    }

    /// FedFomo's weights: positive scores (loss gain per unit distance) normalised; negative and
    /// zero gains and the client itself left out; nothing when no peer helps.
    func testFedFomoWeightsFollowTheFormula() throws {
        // Client 0, loss 1.0; peers 1 (loss 0.5 at distance 1), 2 (0.8 at 0.5), 3 (1.2: worse), 4 (1.0: no gain).
        let w = try XCTUnwrap(
            FedFomoStrategy.weights(
                client: 0, ownLoss: 1.0, peerLosses: [0.9, 0.5, 0.8, 1.2, 1.0], distances: [0, 1, 0.5, 2, 1], members: [0, 1, 2, 3, 4]))
        // Scores 0.5 / 1 = 0.5 and 0.2 / 0.5 = 0.4: weights 5/9 and 4/9.
        XCTAssertEqual(w.weights.map(\.0), [1, 2])
        XCTAssertEqual(w.weights[0].1, 5.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(w.weights[1].1, 4.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(w.keep, 0, accuracy: 1e-12)
        XCTAssertNil(
            FedFomoStrategy.weights(client: 0, ownLoss: 0.3, peerLosses: [0.3, 0.5, 0.8], distances: [0, 1, 1], members: [0, 1, 2]),
            "no peer lowers the loss: the client keeps its own model")
        let outside = try XCTUnwrap(
            FedFomoStrategy.weights(client: 0, ownLoss: 1, peerLosses: [1, 0.5, 0.1], distances: [0, 1, 1], members: [0, 1]))
        XCTAssertEqual(outside.weights.map(\.0), [1], "only members are scored (client 2 is out of the market)")
    }

    /// FedProx is FedAvg with a proximal pull: with mu = 0 it is FedAvg to the bit; with mu > 0 it
    /// trains differently, every client is evaluated on the one global model, and nothing is NaN.
    func testFedProxIsFedAvgWithAPull() throws {
        var e = small()
        e.rounds = 3
        e.methods = [.fedavg, .fedprox]
        e.fedproxMu = 0
        let zero = try e.run()
        XCTAssertEqual(zero.methods[0].rounds.map(\.accuracies), zero.methods[1].rounds.map(\.accuracies))
        e.fedproxMu = 1
        let pulled = try e.run()
        XCTAssertEqual(pulled.methods[0].rounds.map(\.accuracies), zero.methods[0].rounds.map(\.accuracies), "FedAvg unchanged")
        XCTAssertNotEqual(pulled.methods[1].rounds.map(\.accuracies), zero.methods[1].rounds.map(\.accuracies), "mu = 1 pulls")
        for rd in pulled.methods[1].rounds { XCTAssertFalse(rd.accuracies.contains { !$0.isFinite }) }
        let importsAll = pulled.methods[1].rounds.last!.imports.allSatisfy { $0.count == e.clients - 1 }
        XCTAssertTrue(importsAll, "a global model uses every client")
    }

    func testSameNumbersOnOneAndTwoThreads() throws {
        var e = small()
        e.methods = [.ipfl, .pfedgraph, .ditto]
        let a = try e.run()
        let old = ThreadPool.shared.threads
        ThreadPool.shared.threads = 1
        defer { ThreadPool.shared.threads = old }
        let b = try e.run()
        for (x, y) in zip(a.methods, b.methods) {
            for (p, q) in zip(x.rounds, y.rounds) {
                XCTAssertEqual(p.accuracies, q.accuracies)
                XCTAssertEqual(p.utilities, q.utilities)
                XCTAssertEqual(p.imports, q.imports)
            }
        }
    }

    func testBaselinesUtilityIsGainMinusCost() throws {
        var e = small()
        e.methods = [.fedavg]
        e.rounds = 2
        e.eagerness = 5e5  // the paper's economy
        let r = try e.run()
        // 10 equal clients of N = 5000 sharing with everyone: sqrt(K/N)(1 - 1/sqrt 10) - 9, about -2.16 (the paper's -2.2).
        let n = r.truth[0].dataSize
        let expect = (5e5 / n).squareRoot() - (5e5 / (10 * n)).squareRoot() - 9
        XCTAssertEqual(r.methods[0].rounds[0].utilities[0], expect, accuracy: 1e-9)
        XCTAssertEqual(expect, -2.16, accuracy: 0.05)
        XCTAssertNil(r.automaticEagerness)
        // The default economy: K lets a client afford all 9 others at cost 1 (the 9th partner's
        // marginal gain just above 1), so FedAvg's sharing with everyone pays.
        e.eagerness = nil
        let auto = try e.run()
        let k = try XCTUnwrap(auto.automaticEagerness)
        XCTAssertEqual(k, MarketGain.eagerness(affording: 9, size: n, cost: 1))
        XCTAssertEqual(auto.truth.map(\.eagerness), [Double](repeating: k, count: 10))
        XCTAssertEqual(MarketGain.affordablePartners(eagerness: k, size: n, cost: 1), 9)
        XCTAssertEqual(MarketGain.marginal(eagerness: k, before: 9 * n, added: n), 1, accuracy: 1e-6)
        XCTAssertEqual(auto.methods[0].rounds[0].utilities[0], (k / n).squareRoot() - (k / (10 * n)).squareRoot() - 9, accuracy: 1e-9)
        XCTAssertTrue(auto.warnings.allSatisfy { !$0.contains("economy allows") }, "\(auto.warnings)")
    }

    /// The two dropout rules on their own: the spec's is deterministic; the IR-probability rule keeps
    /// an always-rational client, drops an never-rational one, and otherwise leaves with the
    /// complementary frequency (binomial, 20 000 draws: 4 standard deviations is 0.014).
    func testDropoutRules() {
        XCTAssertTrue(
            DropoutRule.negativeUtility.leaves(
                utility: -0.5, rational: 3, rounds: 4,
                draw: {
                    XCTFail("no draw")
                    return 0
                }))
        XCTAssertFalse(DropoutRule.negativeUtility.leaves(utility: -1e-13, rational: 0, rounds: 4, draw: { 0 }))
        var g = SeededGenerator(seed: 7)
        XCTAssertFalse(
            (0..<1000).contains { _ in DropoutRule.irProbability.leaves(utility: 0, rational: 5, rounds: 5, draw: { g.uniform() }) })
        XCTAssertTrue(
            (0..<1000).allSatisfy { _ in DropoutRule.irProbability.leaves(utility: -1, rational: 0, rounds: 3, draw: { g.uniform() }) })
        let n = 20_000
        let left = (0..<n).filter { _ in DropoutRule.irProbability.leaves(utility: -1, rational: 3, rounds: 4, draw: { g.uniform() }) }
            .count
        XCTAssertEqual(Double(left) / Double(n), 0.25, accuracy: 0.014)
    }

    /// In a run: FedAvg's clients lose about 2.16 per round (export costs exceed the gain), so both
    /// rules remove all of them after round 1; iPFL with true reports is individually rational, so
    /// neither rule removes anyone; the probabilistic rule is reproducible from the seed.
    func testDropoutInTheTrainingLoop() throws {
        for rule in [DropoutRule.negativeUtility, .irProbability] {
            var e = small()
            e.methods = [.fedavg, .ipfl]
            e.rounds = 3
            e.dropout = true
            e.eagerness = 5e5  // the paper's economy, where sharing with everyone loses
            e.dropoutRule = rule
            let r = try e.run()
            let fedavg = r.methods[0].rounds, ipfl = r.methods[1].rounds
            XCTAssertEqual(fedavg[0].active, [Bool](repeating: true, count: e.clients), "\(rule)")
            XCTAssertTrue(fedavg[0].utilities.allSatisfy { $0 < 0 })
            for rd in fedavg.dropFirst() {
                XCTAssertEqual(rd.active, [Bool](repeating: false, count: e.clients), "\(rule) round \(rd.round)")
                XCTAssertEqual(rd.utilities, [Double](repeating: 0, count: e.clients), "alone, nobody pays or gains")
            }
            for rd in ipfl { XCTAssertEqual(rd.active, [Bool](repeating: true, count: e.clients), "\(rule) round \(rd.round)") }
        }
    }

    /// The accuracy check on real data: MNIST test images, Dirichlet(0.1) over 10 clients.
    func testIPFLAtLeastLocalOnMNISTDirichlet() throws {
        let images = try sharedData("mnist/t10k-images-idx3-ubyte.gz")
        var e = MarketExperiment()
        e.dataFile = DataFile(path: images, format: .idx, partition: .dirichlet(beta: 0.1))
        e.methods = [.ipfl, .local]
        e.rounds = 8
        e.localSteps = 20
        e.batch = 32
        e.learningRate = 0.01
        e.labelWeightedAccuracy = false  // one prediction per client and pooled test row per round: slow in debug builds
        let r = try e.run()
        let ipfl = r.methods[0].meanBestAccuracy, local = r.methods[1].meanBestAccuracy
        print("MNIST Dirichlet(0.1): iPFL \(ipfl), local \(local)")
        XCTAssertGreaterThanOrEqual(ipfl, local - 0.005)
        XCTAssertGreaterThan(local, 0.5)
    }
}
