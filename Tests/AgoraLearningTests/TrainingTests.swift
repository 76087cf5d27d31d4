import AgoraKernels
import AgoraLearning
import AgoraTestSupport
import XCTest

final class MomentumSGDTests: XCTestCase {
    func testMomentumSGDMatchesTheRecurrence() throws {
        var sgd = MomentumSGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        var theta = try Matrix<Float>([[1, -2]])
        let g = try Matrix<Float>([[0.5, 0.25]])
        // Reference recurrence in Double.
        var t: [Double] = [1, -2], v: [Double] = [0, 0]
        for _ in 0..<3 {
            try sgd.step(&theta, gradients: g)
            for q in 0..<2 {
                let gk = Double(g.storage[q]) + 0.01 * t[q]
                v[q] = 0.9 * v[q] + gk
                t[q] -= 0.1 * v[q]
            }
        }
        XCTAssertEqual(Double(theta.storage[0]), t[0], accuracy: 1e-6)
        XCTAssertEqual(Double(theta.storage[1]), t[1], accuracy: 1e-6)
        XCTAssertThrowsError(try sgd.step(&theta, gradients: Matrix<Float>(rows: 2, cols: 2)))
    }

    func testMomentumSGDLeavesUnflaggedRowsExactly() throws {
        var sgd = MomentumSGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        var theta = try Matrix<Float>([[1, -2], [3, 4]])
        let g = try Matrix<Float>([[0.5, 0.25], [0.5, 0.25]])
        try sgd.step(&theta, gradients: g, rows: [true, false])
        try sgd.step(&theta, gradients: g, rows: [true, false])
        XCTAssertEqual(theta.row(1), [3, 4], "weight decay and momentum must not move a frozen row")
        XCTAssertNotEqual(theta.row(0), [1, -2])
        // Unfreezing it later starts from zero velocity: one plain step.
        try sgd.step(&theta, gradients: g, rows: [false, true])
        XCTAssertEqual(Double(theta[1, 0]), 3 - 0.1 * (0.5 + 0.01 * 3), accuracy: 1e-6)
        XCTAssertThrowsError(try sgd.step(&theta, gradients: g, rows: [true]))
    }
}

final class TrainingTests: XCTestCase {
    /// Local training end to end: softmax regression with momentum SGD on the UCI digits learns
    /// (accuracy far above chance), and the Float gradients agree with finite differences.
    func testSoftmaxTrainsOnDigits() throws {
        let data = try CSVReader.read(path: try sharedData("uci/digits.csv.gz"))
        guard case let .dense(raw) = data.features else { return XCTFail("dense") }
        let scaled = try Matrix(rows: raw.rows, cols: raw.cols, storage: raw.storage.map { $0 / 16 })
        let d = Dataset(name: data.name, features: .dense(scaled), labels: data.labels, labelNames: data.labelNames)
        let family = ModelFamily.softmax(classes: 10, l2: 1e-4)
        var theta = Matrix<Float>(rows: 1, cols: family.parameterCount(features: 64))
        var sgd = MomentumSGD(learningRate: 0.5, momentum: 0.9)
        var rng = SeededGenerator(seed: 1)
        let before = try family.evaluate(theta.storage, data: d)
        XCTAssertEqual(before.loss, log(10), accuracy: 1e-5)
        for _ in 0..<150 {
            let batch = (0..<64).map { _ in Int(rng.next() % UInt64(d.rows)) }
            var g = Matrix<Float>(rows: 1, cols: theta.cols), l: [Float] = [0]
            try Kernels.softmaxGradients(
                classes: 10, l2: 1e-4, features: .dense(scaled), labels: d.labels, parameters: theta,
                batches: [batch], gradients: &g, losses: &l)
            try sgd.step(&theta, gradients: g)
        }
        let after = try family.evaluate(theta.storage, data: d)
        XCTAssertLessThan(after.loss, 0.5 * before.loss)
        XCTAssertGreaterThan(after.accuracy, 0.85)
        // Float gradient vs a Double finite difference of the Float loss, loose tolerance.
        var g = Matrix<Float>(rows: 1, cols: theta.cols), l: [Float] = [0]
        let rows = [Array(0..<200)]
        try Kernels.softmaxGradients(
            classes: 10, l2: 1e-4, features: .dense(scaled), labels: d.labels, parameters: theta, batches: rows, gradients: &g, losses: &l)
        for q in [20, 300, 639] {
            var tp = theta, tm = theta
            tp.storage[q] += 1e-2
            tm.storage[q] -= 1e-2
            var lp: [Float] = [0], lm: [Float] = [0], scratch = g
            try Kernels.softmaxGradients(
                classes: 10, l2: 1e-4, features: .dense(scaled), labels: d.labels, parameters: tp, batches: rows, gradients: &scratch,
                losses: &lp)
            try Kernels.softmaxGradients(
                classes: 10, l2: 1e-4, features: .dense(scaled), labels: d.labels, parameters: tm, batches: rows, gradients: &scratch,
                losses: &lm)
            XCTAssertEqual(Double(g.storage[q]), Double(lp[0] - lm[0]) / 2e-2, accuracy: 2e-3 + 0.02 * abs(Double(g.storage[q])))
        }
    }
}
