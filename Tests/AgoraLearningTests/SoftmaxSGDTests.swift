import AgoraKernels
import AgoraLearning
import XCTest

final class SoftmaxSGDTests: XCTestCase {
    func testSoftmaxGradientMatchesFiniteDifferencesDenseAndSparse() throws {
        var g = SeededGenerator(seed: 11)
        let n = 30, d = 13, k = 4
        let (dense, sparse) = randomDenseAndSparse(rows: n, cols: d, density: 0.5, &g)
        let labels = (0..<n).map { $0 % k }
        let theta: Matrix<Double> = g.normalMatrix(rows: 1, cols: k * d, scale: 0.3)
        let batch = [Array(0..<n)]
        func lossGrad(_ x: FeatureRows<Double>, _ t: Matrix<Double>) throws -> (Double, [Double]) {
            var gr = Matrix<Double>(rows: 1, cols: k * d), l = [0.0]
            try Kernels.softmaxGradients(classes: k, l2: 0.05, features: x, labels: labels, parameters: t, batches: batch, gradients: &gr, losses: &l)
            return (l[0], gr.storage)
        }
        for x in [FeatureRows<Double>.dense(dense), .sparse(sparse)] {
            let (_, grad) = try lossGrad(x, theta)
            for q in [0, 5, 17, 51] {
                var tp = theta, tm = theta
                tp.storage[q] += 1e-6; tm.storage[q] -= 1e-6
                let fd = (try lossGrad(x, tp).0 - lossGrad(x, tm).0) / 2e-6
                XCTAssertEqual(grad[q], fd, accuracy: 1e-7, "parameter \(q)")
            }
        }
        let a = try lossGrad(.dense(dense), theta), b = try lossGrad(.sparse(sparse), theta)
        XCTAssertEqual(a.0, b.0, accuracy: 1e-12)
        // Uniform logits: loss = log K.
        XCTAssertEqual(try lossGrad(.dense(dense), Matrix(rows: 1, cols: k * d)).0, log(Double(k)), accuracy: 1e-12)
    }

    func testSoftmaxBatchedEqualsOneByOneOnAnyThreadCount() throws {
        var g = SeededGenerator(seed: 12)
        let x: Matrix<Float> = g.normalMatrix(rows: 40, cols: 33)
        let labels = (0..<40).map { ($0 * 3) % 5 }
        let agents = 6
        let theta: Matrix<Float> = g.normalMatrix(rows: agents, cols: 5 * 33, scale: 0.1)
        let batches = (0..<agents).map { a in (0..<(2 + a)).map { (a * 11 + $0 * 3) % 40 } }
        var g1 = Matrix<Float>(rows: agents, cols: 165), g2 = g1, l1 = [Float](repeating: 0, count: agents), l2 = l1
        let oldT = ThreadPool.shared.threads, oldMin = ThreadPool.shared.minParallelBytes
        ThreadPool.shared.minParallelBytes = 0
        ThreadPool.shared.threads = 1
        try Kernels.softmaxGradients(classes: 5, l2: 0.01, features: .dense(x), labels: labels, parameters: theta, batches: batches, gradients: &g1, losses: &l1)
        ThreadPool.shared.threads = 2
        try Kernels.softmaxGradients(classes: 5, l2: 0.01, features: .dense(x), labels: labels, parameters: theta, batches: batches, gradients: &g2, losses: &l2)
        ThreadPool.shared.threads = oldT; ThreadPool.shared.minParallelBytes = oldMin
        XCTAssertEqual(g1, g2); XCTAssertEqual(l1, l2)
        for a in 0..<agents {
            var ga = Matrix<Float>(rows: 1, cols: 165), la: [Float] = [0]
            try Kernels.softmaxGradients(classes: 5, l2: 0.01, features: .dense(x), labels: labels,
                                         parameters: try Matrix(rows: 1, cols: 165, storage: theta.row(a)), batches: [batches[a]], gradients: &ga, losses: &la)
            XCTAssertEqual(ga.storage, g1.row(a))
        }
        var bad = Matrix<Float>(rows: agents, cols: 10)
        XCTAssertThrowsError(try Kernels.softmaxGradients(classes: 5, l2: 0, features: .dense(x), labels: labels, parameters: theta, batches: batches, gradients: &bad, losses: &l1)) { e in
            XCTAssertTrue("\(e)".contains("must be agents x (classes * features)"), "\(e)")
        }
    }

    func testMomentumSGDMatchesTheRecurrence() throws {
        var sgd = MomentumSGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        var theta = try Matrix<Float>([[1, -2]])
        let g = try Matrix<Float>([[0.5, 0.25]])
        // Reference recurrence in Double.
        var t: [Double] = [1, -2], v: [Double] = [0, 0]
        for _ in 0..<3 {
            try sgd.step(&theta, gradients: g)
            for q in 0..<2 { let gk = Double(g.storage[q]) + 0.01 * t[q]; v[q] = 0.9 * v[q] + gk; t[q] -= 0.1 * v[q] }
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

final class MLPTests: XCTestCase {
    func testMLPGradientMatchesFiniteDifferencesDenseAndSparse() throws {
        var g = SeededGenerator(seed: 21)
        let n = 20, d = 9, shape = MLPShape(inputs: 9, hidden: 6, classes: 3)
        let (dense, sparse) = randomDenseAndSparse(rows: n, cols: d, density: 0.6, &g)
        let labels = (0..<n).map { $0 % 3 }
        let theta: Matrix<Double> = g.normalMatrix(rows: 1, cols: shape.parameterCount, scale: 0.5)
        func lossGrad(_ x: FeatureRows<Double>, _ t: Matrix<Double>) throws -> (Double, [Double]) {
            var gr = Matrix<Double>(rows: 1, cols: shape.parameterCount), l = [0.0]
            try Kernels.mlpGradients(shape: shape, l2: 0.02, features: x, labels: labels, parameters: t, batches: [Array(0..<n)], gradients: &gr, losses: &l)
            return (l[0], gr.storage)
        }
        for x in [FeatureRows<Double>.dense(dense), .sparse(sparse)] {
            let (_, grad) = try lossGrad(x, theta)
            for q in [0, 13, shape.b1 + 2, shape.w2 + 5, shape.b2 + 1, shape.parameterCount - 1] {
                var tp = theta, tm = theta
                tp.storage[q] += 1e-6; tm.storage[q] -= 1e-6
                let fd = (try lossGrad(x, tp).0 - lossGrad(x, tm).0) / 2e-6
                XCTAssertEqual(grad[q], fd, accuracy: 1e-6, "parameter \(q)")
            }
        }
        XCTAssertEqual(try lossGrad(.dense(dense), theta).0, try lossGrad(.sparse(sparse), theta).0, accuracy: 1e-12)
        XCTAssertEqual(shape.parameterCount, 6 * 9 + 6 + 3 * 6 + 3)
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
            try Kernels.softmaxGradients(classes: 10, l2: 1e-4, features: .dense(scaled), labels: d.labels, parameters: theta,
                                         batches: [batch], gradients: &g, losses: &l)
            try sgd.step(&theta, gradients: g)
        }
        let after = try family.evaluate(theta.storage, data: d)
        XCTAssertLessThan(after.loss, 0.5 * before.loss)
        XCTAssertGreaterThan(after.accuracy, 0.85)
        // Float gradient vs a Double finite difference of the Float loss, loose tolerance.
        var g = Matrix<Float>(rows: 1, cols: theta.cols), l: [Float] = [0]
        let rows = [Array(0..<200)]
        try Kernels.softmaxGradients(classes: 10, l2: 1e-4, features: .dense(scaled), labels: d.labels, parameters: theta, batches: rows, gradients: &g, losses: &l)
        for q in [20, 300, 639] {
            var tp = theta, tm = theta
            tp.storage[q] += 1e-2; tm.storage[q] -= 1e-2
            var lp: [Float] = [0], lm: [Float] = [0], scratch = g
            try Kernels.softmaxGradients(classes: 10, l2: 1e-4, features: .dense(scaled), labels: d.labels, parameters: tp, batches: rows, gradients: &scratch, losses: &lp)
            try Kernels.softmaxGradients(classes: 10, l2: 1e-4, features: .dense(scaled), labels: d.labels, parameters: tm, batches: rows, gradients: &scratch, losses: &lm)
            XCTAssertEqual(Double(g.storage[q]), Double(lp[0] - lm[0]) / 2e-2, accuracy: 2e-3 + 0.02 * abs(Double(g.storage[q])))
        }
    }
}
