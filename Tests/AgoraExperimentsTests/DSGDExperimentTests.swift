import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTestSupport
import AgoraTopology
import Foundation
import XCTest

@testable import AgoraExperiments

final class DSGDSimulationTests: XCTestCase {
    func small() -> DSGDExperiment {
        var e = DSGDExperiment()
        e.data.agents = 8
        e.data.rowsPerAgent = 60
        e.data.features = 6
        e.topology = .ring
        e.iterations = 300
        e.evaluateEvery = 50
        e.batch = 8
        e.strategic = [.init(agent: 2, behaviour: .inflate(alpha: 3)), .init(agent: 5, behaviour: .noise(sigma: 1))]
        // Calibrated for this small ring: with C_0 = 1e-4 inflation still pays here (+0.03), so the
        // coefficient must be set per configuration (see the DSGD notes in the README).
        e.mechanism.payments = PaymentRule(coefficient: PowerSchedule(initial: 1e-2, exponent: 0.1))
        return e
    }

    func testIncentivesBudgetBalanceAndDeterminism() throws {
        let e = small()
        let r = try e.run()
        XCTAssertEqual(
            r.runs.map(\.label),
            [
                "payments", "no-payments", "all-truthful", "payments/truthful-2", "no-payments/truthful-2",
                "payments/truthful-5", "no-payments/truthful-5",
            ])
        XCTAssertEqual(e.runLabels, r.runs.map(\.label), "runLabels names the runs in the order run makes them")
        // Typed identifiers find the same runs; a run the result lacks is an error, not a trap.
        XCTAssertEqual(r.run(.truthful(agent: 5, payments: false))?.label, "no-payments/truthful-5")
        XCTAssertEqual(try r.requiredRun(.allTruthful).label, "all-truthful")
        XCTAssertNil(r.run(.truthful(agent: 3, payments: true)))
        XCTAssertThrowsError(try r.requiredRun(.truthful(agent: 3, payments: true))) {
            XCTAssertTrue("\($0)".contains("no 'payments/truthful-3' run"), "\($0)")
        }
        let pay = r.runs[0]
        for p in pay.points {
            XCTAssertLessThanOrEqual(p.budgetResidual, 1e-12, "budget balance every iteration")
            XCTAssertEqual(p.cumulativePayments.reduce(0, +), 0, accuracy: 1e-10)
        }
        let inflate = r.gains.first { $0.agent == 2 }!, noise = r.gains.first { $0.agent == 5 }!
        XCTAssertGreaterThan(inflate.withoutPayments.last!, 0, "without payments inflating the gradient pays")
        XCTAssertLessThan(inflate.withPayments.last!, 0, "with payments it does not")
        XCTAssertLessThan(noise.withPayments.last!, 0, "noise injection loses money")
        // Payments-off runs of the deviator and its counterfactual differ only by its behaviour;
        // with every agent truthful the payments are zero-sum and the run converges.
        let honest = r.runs.first { $0.label == "all-truthful" }!
        XCTAssertLessThan(honest.points.last!.optimalityGap, honest.points.first!.optimalityGap * 0.2)
        // Thread count does not change any number.
        let old = ThreadPool.shared.threads
        ThreadPool.shared.threads = 1
        let r1 = try e.run()
        ThreadPool.shared.threads = old
        XCTAssertEqual(r1.runs[0].points.last!.utilities, r.runs[0].points.last!.utilities)
        XCTAssertEqual(r1.gains.map(\.withPayments), r.gains.map(\.withPayments))
    }

    /// A payments-on run and its payments-off twin share one simulated trajectory (payments never
    /// change the updates unless a behaviour reads C_t): every number equals two separate
    /// simulations, and a best-responding agent (which reads C_t) keeps its runs separate.
    func testSharedTrajectoriesEqualSeparateSimulationsBitForBit() throws {
        for strategic in [small().strategic, small().strategic + [.init(agent: 6, behaviour: .bestResponse(smoothness: nil))]] {
            var e = small()
            e.iterations = 100
            e.evaluateEvery = 10
            e.strategic = strategic
            var separate = e
            separate.sharesTrajectories = false
            let a = try e.run(), b = try separate.run()
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            XCTAssertEqual(try enc.encode(a.runs), try enc.encode(b.runs))
            XCTAssertEqual(try enc.encode(a.gains), try enc.encode(b.gains))
            // Shared: 4 trajectories for 7 runs. With the best responder, 8 for 9: only its own
            // counterfactual pair (where it is truthful) still shares. Each adds the
            // individual-rationality audit's run of every agent alone (one more trajectory).
            let expected = strategic.count == 2 ? 4 : 8
            XCTAssertEqual(a.timing?.simulatedIterations, (expected + 1) * e.iterations)
            XCTAssertEqual(b.timing?.simulatedIterations, (a.runs.count + 1) * e.iterations)
            XCTAssertEqual(a.timing?.evaluations, (expected + 1) * 11)
        }
    }

    func testInvalidConfigurationsNameTheField() {
        func expect(_ change: (inout DSGDExperiment) -> Void, _ fragment: String, line: UInt = #line) {
            var e = small()
            change(&e)
            XCTAssertThrowsError(try e.validate(), line: line) { err in
                XCTAssertTrue("\(err)".contains(fragment), "'\(err)' lacks '\(fragment)'", line: line)
            }
        }
        expect({ $0.strategic = [.init(agent: 8, behaviour: .freeRide)] }, "strategic agent index 8 is outside 0..<8")
        expect({ $0.strategic = [.init(agent: 1, behaviour: .inflate(alpha: 0.5))] }, "inflate alpha must be a finite number >= 1")
        expect({ $0.mechanism.stepSize.exponent = 1.2 }, "stepSize.exponent (v) must be in (0.5, 1]")
        expect({ $0.mechanism.stepSize.initial = -0.1 }, "stepSize.initial must be a positive")
        expect({ $0.batch = 0 }, "batch: must be in 1...1000000, got 0")
        expect({ $0.strategic = [.init(agent: 1, behaviour: .freeRide), .init(agent: 1, behaviour: .freeRide)] }, "listed twice")
    }

    func testResumeEqualsTheUninterruptedRunBitForBit() throws {
        var e = small()
        e.iterations = 120
        e.evaluateEvery = 20
        let full = try e.run()
        let path = NSTemporaryDirectory() + "agora-checkpoint-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Interrupted in the middle of the third run, "all-truthful" (120 iterations of the first
        // two runs, which share one trajectory, + 40).
        XCTAssertThrowsError(try e.run(checkpoints: .init(path: path, every: 20, stopAfter: 160))) {
            XCTAssertTrue($0 is DSGDExperiment.Stopped)
        }
        let c = try DSGDExperiment.Checkpoint.read(path: path)
        XCTAssertEqual(c.run, 2)
        XCTAssertEqual(c.iteration, 40)
        XCTAssertEqual(c.finishedRuns.count, 2)
        // Resumed, itself checkpointing and interrupted once more (inside the shared trajectory of
        // agent 2's two counterfactuals: the payments-off twin's points are saved too), then
        // resumed again.
        XCTAssertThrowsError(try e.run(checkpoints: .init(path: path, every: 20, stopAfter: 100), resume: c))
        let shared = try DSGDExperiment.Checkpoint.read(path: path)
        XCTAssertEqual(shared.run, 3)
        XCTAssertEqual(shared.iteration, 20)
        XCTAssertEqual(shared.companionPoints?.count, shared.points.count)
        let resumed = try e.run(resume: try DSGDExperiment.Checkpoint.read(path: path))
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        XCTAssertEqual(try enc.encode(resumed.runs), try enc.encode(full.runs))
        XCTAssertEqual(try enc.encode(resumed.gains), try enc.encode(full.gains))
        // A checkpoint of another experiment is refused.
        var other = e
        other.seed = 99
        XCTAssertThrowsError(try other.run(resume: c)) { XCTAssertTrue("\($0)".contains("different experiment")) }
        XCTAssertThrowsError(try DSGDExperiment.Checkpoint.read(path: path + ".missing")) {
            XCTAssertTrue("\($0)".contains("cannot read the checkpoint"))
        }
    }

    /// A checkpoint whose contents do not fit its own counters (a finished run without its points,
    /// an iteration counter ahead of its evaluations) is refused even with a valid digest; an edit
    /// that leaves the digest stale is refused on reading.
    func testInconsistentOrEditedCheckpointsAreRefused() throws {
        var e = small()
        e.iterations = 60
        e.evaluateEvery = 20
        let path = NSTemporaryDirectory() + "agora-checkpoint-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Inside the shared trajectory of the first two runs: the twin's points must match.
        XCTAssertThrowsError(try e.run(checkpoints: .init(path: path, every: 20, stopAfter: 20)))
        var twin = try DSGDExperiment.Checkpoint.read(path: path)
        XCTAssertEqual(twin.run, 0)
        twin.companionPoints?.removeLast()
        XCTAssertThrowsError(try e.run(resume: twin)) { XCTAssertTrue("\($0)".contains("payments-off twin"), "\($0)") }
        XCTAssertThrowsError(try e.run(checkpoints: .init(path: path, every: 20, stopAfter: 80)))
        let c = try DSGDExperiment.Checkpoint.read(path: path)
        XCTAssertEqual(c.run, 2)
        var empty = c
        empty.finishedRuns[0].points = []
        XCTAssertThrowsError(try e.run(resume: empty)) { XCTAssertTrue("\($0)".contains("finished run 0"), "\($0)") }
        var ahead = c
        ahead.iteration += 20
        XCTAssertThrowsError(try e.run(resume: ahead)) { XCTAssertTrue("\($0)".contains("evaluations after"), "\($0)") }
        // Written through the API (sealed again) the edit is still caught by the consistency checks;
        // edited by hand, by the digest.
        try ahead.write(path: path)
        XCTAssertThrowsError(try e.run(resume: try DSGDExperiment.Checkpoint.read(path: path)))
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
            of: #""lastResidual":"#, with: #""lastResidual":1"#)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DSGDExperiment.Checkpoint.read(path: path)) { XCTAssertTrue("\($0)".contains("digest"), "\($0)") }
    }

    func testConfigRoundTripsThroughJSON() throws {
        let e = small()
        let data = try JSONEncoder().encode(e)
        XCTAssertEqual(try JSONDecoder().decode(DSGDExperiment.self, from: data), e)
    }
}

final class DSGDDataFileTests: XCTestCase {
    func testRunsOnALIBSVMFileSplitAcrossAgents() throws {
        var text = ""
        var g = SeededGenerator(seed: 4)
        for _ in 0..<240 {
            let a = g.normal(), b = g.normal()
            text += "\(a + b > 0 ? "+1" : "-1") 1:\(a) 3:\(b)\n"
        }
        let path = NSTemporaryDirectory() + "agora-dsgd-\(UUID().uuidString).svm"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var e = DSGDExperiment()
        e.data.agents = 6
        e.dataFile = DataFile(path: path, format: .libsvm, features: 3, partition: .dirichlet(beta: 1))
        e.topology = .ring
        e.iterations = 200
        e.evaluateEvery = 50
        let r = try e.run()
        let run = r.runs[0]
        XCTAssertLessThan(run.points.last!.optimalityGap, run.points.first!.optimalityGap)
        XCTAssertGreaterThan(run.points.last!.accuracy!, 0.9)
        XCTAssertThrowsError(try DataFormat(parsing: "parquet")) {
            XCTAssertTrue("\($0)".contains("format 'parquet' is not one of libsvm, idx, csv"))
        }
        XCTAssertEqual(try DataFormat(parsing: "SVMlight"), .libsvm)
        let config = #"{"path": "x", "format": "parquet", "features": 0, "partition": {"iid": {}}}"#
        XCTAssertThrowsError(try JSONDecoder().decode(DataFile.self, from: Data(config.utf8))) {
            XCTAssertTrue("\($0)".contains("format 'parquet' is not one of libsvm, idx, csv"), "\($0)")
        }
    }

    /// All agents truthful on a9a (16 agents, exponential graph): payments zero-sum every
    /// iteration and the gap to the Newton f* shrinks as the schedule predicts. With l2 = 1e-4 the
    /// run is far from the strongly convex regime (mu sum lambda_t << 1), so the prediction is the
    /// convex rate, gap ~ 1 / sum_{s<t} lambda_s, i.e. about t^-(1-v).
    func testA9AConvergesAtTheScheduleRateWithAllAgentsTruthful() throws {
        var e = DSGDExperiment()
        e.data.agents = 16
        e.dataFile = DataFile(path: try sharedData("libsvm/a9a"), format: .libsvm, features: 123, partition: .iid)
        e.dataFile!.testPath = try sharedData("libsvm/a9a.t")
        e.l2 = 1e-4
        e.iterations = 1600
        e.evaluateEvery = 200
        let r = try e.run()
        let pts = r.runs[0].points
        for p in pts { XCTAssertLessThanOrEqual(p.budgetResidual, 1e-10) }
        for (a, b) in zip(pts, pts.dropFirst()) { XCTAssertLessThan(b.optimalityGap, a.optimalityGap, "gap decreases at every evaluation") }
        func sumLambda(_ t: Int) -> Double { (0..<t).reduce(0) { $0 + e.mechanism.stepSize($1) } }
        let g400 = pts.first { $0.iteration == 400 }!.optimalityGap, g1600 = pts.last!.optimalityGap
        let predicted = sumLambda(400) / sumLambda(1600)
        print("a9a: gap(400) = \(g400), gap(1600) = \(g1600), ratio \(g1600 / g400), convex-rate prediction \(predicted)")
        XCTAssertLessThan(g1600 / g400, 1.25 * predicted)
        XCTAssertGreaterThan(g1600 / g400, 0.5 * predicted, "faster than the schedule allows would mean a wrong f*")
        XCTAssertGreaterThan(pts.last!.accuracy!, 0.82)
        XCTAssertGreaterThan(pts.last!.testAccuracy!, 0.82, "held-out a9a.t")
        XCTAssertLessThan(abs(pts.last!.testAccuracy! - pts.last!.accuracy!), 0.02)
    }
}

/// The individual-rationality audit against a naive reference: every agent trained alone by a
/// plain Double loop (the same mini-batch streams and step sizes), scored on held-out rows of its
/// own distribution; the margins as the definitions compose them.
final class IndividualRationalityTests: XCTestCase {
    func experiment() -> DSGDExperiment {
        var e = DSGDExperiment()
        e.data.agents = 5
        e.data.rowsPerAgent = 40
        e.data.features = 4
        e.topology = .ring
        e.iterations = 60
        e.evaluateEvery = 20
        e.batch = 6
        e.strategic = [.init(agent: 3, behaviour: .inflate(alpha: 2))]
        e.mechanism.payments = PaymentRule(coefficient: PowerSchedule(initial: 1e-2, exponent: 0.1))
        return e
    }

    /// -f_i of an agent trained alone, by a plain loop in Double.
    func dense(_ data: Dataset) -> Matrix<Float> {
        guard case .dense(let m) = data.features else { fatalError("synthetic data are dense") }
        return m
    }

    func naiveAlone(_ e: DSGDExperiment, agent a: Int, train: Dataset, heldOut: Dataset) -> Double {
        let d = e.data.features, rows = e.data.rowsPerAgent, own = Array((a * rows)..<((a + 1) * rows))
        func x(_ data: Dataset, _ i: Int) -> [Double] { (0..<d).map { Double(dense(data).storage[i * d + $0]) } }
        func y(_ data: Dataset, _ i: Int) -> Double { data.labels[i] == 1 ? 1 : -1 }
        var theta = [Double](repeating: 0, count: d)
        var rng = SeededGenerator(seed: e.seed, stream: 1000 + UInt64(a))
        for t in 0..<e.iterations {
            let batch = (0..<e.batch).map { _ in own[Int(rng.next() % UInt64(rows))] }
            var g = theta.map { e.l2 * $0 }
            for i in batch {
                let xi = x(train, i), m = y(train, i) * zip(xi, theta).reduce(0) { $0 + $1.0 * $1.1 }
                let s = 1 / (1 + exp(m))  // sigma(-m)
                for k in 0..<d { g[k] -= y(train, i) * s * xi[k] / Double(e.batch) }
            }
            let lr = e.mechanism.stepSize(t)
            for k in 0..<d { theta[k] -= lr * g[k] }
        }
        let held = Array((a * rows)..<((a + 1) * rows))
        var loss = 0.0
        for i in held {
            let m = y(heldOut, i) * zip(x(heldOut, i), theta).reduce(0) { $0 + $1.0 * $1.1 }
            loss += log1p(exp(-m))
        }
        return -(loss / Double(rows) + 0.5 * e.l2 * theta.reduce(0) { $0 + $1 * $1 })
    }

    func testAuditAgainstANaiveAloneRunAndItsDefinition() throws {
        let e = experiment()
        let r = try e.run()
        let ir = try XCTUnwrap(r.individualRationality)
        XCTAssertEqual(ir.objective, "held-out")
        let g = try e.data.generate(heldOutRowsPerAgent: e.data.rowsPerAgent)
        let heldOut = try XCTUnwrap(g.heldOut)
        // The training data are generate()'s bit for bit: held-out rows come from a stream of their own.
        let plain = try e.data.generate().data
        XCTAssertEqual(dense(plain).storage, dense(g.data).storage)
        XCTAssertEqual(plain.labels, g.data.labels)
        for a in 0..<e.data.agents {
            let reference = naiveAlone(e, agent: a, train: g.data, heldOut: heldOut)
            XCTAssertEqual(ir.aloneRewards[a], reference, accuracy: 1e-4 * max(1, abs(reference)), "agent \(a) alone")
        }
        // Margin = held-out reward in the network - held-out reward alone - payments (final utility).
        let pay = try r.requiredRun(.payments).points
        let last = try XCTUnwrap(pay.last), held = try XCTUnwrap(last.heldOutRewards)
        var honest: [Double] = []
        for a in 0..<e.data.agents {
            guard a != 3 else {
                XCTAssertNil(ir.margins[a], "the strategic agent is not audited")
                continue
            }
            let m = held[a] - ir.aloneRewards[a] - last.cumulativePayments[a]
            XCTAssertEqual(try XCTUnwrap(ir.margins[a]), m, accuracy: 1e-12)
            honest.append(m)
        }
        XCTAssertEqual(ir.marginMin, honest.min())
        XCTAssertEqual(ir.agentsBelowZero, (0..<e.data.agents).filter { $0 != 3 && ir.margins[$0]! < 0 })
        XCTAssertEqual(ir.iterations, [0, 20, 40, 60])
        XCTAssertEqual(ir.minimumMargins.last, ir.marginMin)
    }

    /// The audit changes no other number, and `irAudit = .off` leaves it out.
    func testTheAuditChangesNothingElse() throws {
        var off = experiment()
        off.irAudit = .off
        let a = try experiment().run(), b = try off.run()
        XCTAssertNil(b.individualRationality)
        XCTAssertEqual(a.runs.count, b.runs.count)
        for (x, y) in zip(a.runs, b.runs) {
            for (p, q) in zip(x.points, y.points) {
                XCTAssertEqual(p.parametersDigest, q.parametersDigest)
                XCTAssertEqual(p.utilities, q.utilities)
                XCTAssertEqual(p.optimalityGap, q.optimalityGap)
            }
        }
    }
}
