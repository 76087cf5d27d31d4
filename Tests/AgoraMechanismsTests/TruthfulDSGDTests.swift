import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTestSupport
import AgoraTopology
import Foundation
import XCTest

final class TruthfulDSGDTests: XCTestCase {
    let mechanism = TruthfulDSGD(
        stepSize: PowerSchedule(initial: 0.1, exponent: 0.6),
        payments: PaymentRule(coefficient: PowerSchedule(initial: 0.5, exponent: 0.1)))

    func testBudgetBalanceOnEveryTopologyAndWeighting() throws {
        let n = 16
        var g = SeededGenerator(seed: 3)
        let reports = (0..<n).map { _ in 10 * g.uniform() }
        for topology: Topology in [
            .ring, .torus(rows: 4, cols: 4), .star, .complete, .exponential, .onePeerExponential,
            .erdosRenyi(p: 0.3), .randomRegular(k: 3), .smallWorld(k: 4, beta: 0.2),
        ] {
            let ex = try InProcessExchange(topology: topology, weights: .metropolis, agents: n, seed: 1)
            for weighting in PaymentRule.EdgeWeighting.allCases {
                let rule = PaymentRule(coefficient: PowerSchedule(initial: 0.5, exponent: 0.1), edgeWeighting: weighting)
                for t in 0..<4 {
                    let p = try rule.payments(iteration: t, reports: reports, exchange: ex)
                    let scale = p.map(abs).reduce(0, +)
                    XCTAssertGreaterThan(scale, 0, "\(topology) \(weighting)")
                    XCTAssertLessThanOrEqual(abs(p.reduce(0, +)), 1e-14 * scale, "budget balance: \(topology) \(weighting) t=\(t)")
                }
                // Equal reports: nobody pays.
                XCTAssertEqual(
                    try rule.payments(iteration: 0, reports: [Double](repeating: 2, count: n), exchange: ex),
                    [Double](repeating: 0, count: n))
            }
        }
    }

    func testPaymentsFollowTheRuleOnARing() throws {
        let ex = try InProcessExchange(topology: .ring, weights: .metropolis, agents: 4, seed: 1)
        let rule = PaymentRule(coefficient: PowerSchedule(initial: 2, exponent: 0))
        // Agent 0 reports 5, others 1: agent 0 pays 2 * (5 - 1) to each of its 2 neighbours.
        let p = try rule.payments(iteration: 0, reports: [5, 1, 1, 1], exchange: ex)
        XCTAssertEqual(p, [16, -8, 0, -8])
    }

    func testStepIsTheFusedUpdateAndPaymentsOffPayNothing() throws {
        let ex = try InProcessExchange(topology: .ring, weights: .metropolis, agents: 5, seed: 1)
        var g = SeededGenerator(seed: 2)
        let theta: Matrix<Float> = g.normalMatrix(rows: 5, cols: 7)
        let m: Matrix<Float> = g.normalMatrix(rows: 5, cols: 7)
        var next = Matrix<Float>(rows: 5, cols: 7), expect = next
        let off = TruthfulDSGD(stepSize: mechanism.stepSize, payments: nil)
        let pay = try off.step(iteration: 3, parameters: theta, applied: m, reports: [1, 2, 3, 4, 5], exchange: ex, into: &next)
        XCTAssertEqual(pay, [0, 0, 0, 0, 0])
        let op: MixingOperator<Float> = ex.mixingMatrix(iteration: 3).mixingOperator()
        try Kernels.mixStep(op, theta, stepSizes: [Float](repeating: Float(0.1 * pow(4.0, -0.6)), count: 5), directions: m, into: &expect)
        XCTAssertEqual(next, expect)
    }

    func testScheduleChecksAndGainBound() throws {
        XCTAssertTrue(mechanism.warnings.isEmpty)  // 2 * 0.6 - 0.1 = 1.1 > 1
        let weak = TruthfulDSGD(
            stepSize: PowerSchedule(initial: 0.1, exponent: 0.55),
            payments: PaymentRule(coefficient: PowerSchedule(initial: 1, exponent: 0.2)))
        XCTAssertEqual(weak.warnings.count, 1)
        XCTAssertTrue(weak.warnings[0].contains("2v - u = 0.9"))
        XCTAssertThrowsError(try TruthfulDSGD(stepSize: PowerSchedule(initial: 0.1, exponent: 0.4), payments: nil).validate()) { e in
            XCTAssertTrue("\(e)".contains("stepSize.exponent (v) must be in (0.5, 1]"))
        }
        XCTAssertThrowsError(try TruthfulDSGD(stepSize: PowerSchedule(initial: -1, exponent: 0.6), payments: nil).validate()) { e in
            XCTAssertTrue("\(e)".contains("stepSize.initial must be a positive"))
        }
        // First term lambda_0^2 G^2 / (4 C_0 d) = 0.01 * 4 / (4 * 0.5 * 2) = 0.01; partial sums converge.
        let b100 = try XCTUnwrap(mechanism.gainBound(gradientBound: 2, degree: 2, iterations: 100))
        XCTAssertEqual(b100.first, 0.01, accuracy: 1e-15)
        let b10k = try XCTUnwrap(mechanism.gainBound(gradientBound: 2, degree: 2, iterations: 10_000))
        XCTAssertLessThan(b10k.cumulative - b100.cumulative, 5 * b100.cumulative)
    }

    /// With every agent truthful, decentralized SGD on heterogeneous least squares approaches the
    /// pooled optimum, and the payments stay zero-sum at every iteration.
    func testTruthfulRunConvergesAndPaymentsBalance() throws {
        var problem = SyntheticProblem()
        problem.loss = .squared
        problem.agents = 8
        problem.rowsPerAgent = 100
        problem.features = 6
        problem.heterogeneity = 0.5
        problem.noise = 0.05
        let (data, parts) = try problem.generate()
        let model = LinearModel(loss: .squared, l2: 1e-3)
        let y = try model.targets(data)
        let star = try ReferenceSolver.solve(model, features: data.features.double, targets: y)
        let ex = try InProcessExchange(topology: .ring, weights: .metropolis, agents: 8, seed: 1)
        let dsgd = TruthfulDSGD(
            stepSize: PowerSchedule(initial: 0.2, exponent: 0.6),
            payments: PaymentRule(coefficient: PowerSchedule(initial: 0.5, exponent: 0.1)))
        var theta = Matrix<Float>(rows: 8, cols: 6), next = theta
        var grads = theta, losses = [Float](repeating: 0, count: 8)
        var rng = SeededGenerator(seed: 5)
        func distance() -> Double {
            var s = 0.0
            for i in 0..<8 {
                for k in 0..<6 {
                    let e = Double(theta[i, k]) - star.theta[k]
                    s += e * e
                }
            }
            return (s / 8).squareRoot()
        }
        let d0 = distance()
        for t in 0..<1500 {
            let batches = parts.map { rows in (0..<10).map { _ in rows[Int(rng.next() % UInt64(rows.count))] } }
            try Kernels.glmGradients(
                loss: .squared, l2: 1e-3, features: data.features, targets: y.map(Float.init),
                parameters: theta, batches: batches, gradients: &grads, losses: &losses)
            let reports = Kernels.rowSquaredNorms(grads).map(Double.init)
            let pay = try dsgd.step(iteration: t, parameters: theta, applied: grads, reports: reports, exchange: ex, into: &next)
            XCTAssertLessThanOrEqual(abs(pay.reduce(0, +)), 1e-12 * max(1, pay.map(abs).reduce(0, +)))
            swap(&theta, &next)
        }
        XCTAssertLessThan(distance(), 0.1 * d0, "truthful DSGD approaches the pooled optimum")
    }
}
