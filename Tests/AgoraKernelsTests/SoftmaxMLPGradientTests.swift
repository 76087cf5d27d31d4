import AgoraKernels
import AgoraTestSupport
import XCTest

final class SoftmaxMLPGradientTests: XCTestCase {
    func testSoftmaxGradientMatchesFiniteDifferencesDenseAndSparse() throws {
        var g = SeededGenerator(seed: 11)
        let n = 30, d = 13, k = 4
        let (dense, sparse) = randomDenseAndSparse(rows: n, cols: d, density: 0.5, &g)
        let labels = (0..<n).map { $0 % k }
        let theta: Matrix<Double> = g.normalMatrix(rows: 1, cols: k * d, scale: 0.3)
        let batch = [Array(0..<n)]
        func lossGrad(_ x: FeatureRows<Double>, _ t: Matrix<Double>) throws -> (Double, [Double]) {
            var gr = Matrix<Double>(rows: 1, cols: k * d), l = [0.0]
            try Kernels.softmaxGradients(
                classes: k, l2: 0.05, features: x, labels: labels, parameters: t, batches: batch, gradients: &gr, losses: &l)
            return (l[0], gr.storage)
        }
        for x in [FeatureRows<Double>.dense(dense), .sparse(sparse)] {
            let (_, grad) = try lossGrad(x, theta)
            for q in [0, 5, 17, 51] {
                var tp = theta, tm = theta
                tp.storage[q] += 1e-6
                tm.storage[q] -= 1e-6
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
        try withThreads(1) {
            try Kernels.softmaxGradients(
                classes: 5, l2: 0.01, features: .dense(x), labels: labels, parameters: theta, batches: batches, gradients: &g1, losses: &l1)
        }
        try withThreads(2) {
            try Kernels.softmaxGradients(
                classes: 5, l2: 0.01, features: .dense(x), labels: labels, parameters: theta, batches: batches, gradients: &g2, losses: &l2)
        }
        XCTAssertEqual(g1, g2)
        XCTAssertEqual(l1, l2)
        for a in 0..<agents {
            var ga = Matrix<Float>(rows: 1, cols: 165), la: [Float] = [0]
            try Kernels.softmaxGradients(
                classes: 5, l2: 0.01, features: .dense(x), labels: labels,
                parameters: try Matrix(rows: 1, cols: 165, storage: theta.row(a)), batches: [batches[a]], gradients: &ga, losses: &la)
            XCTAssertEqual(ga.storage, g1.row(a))
        }
        var bad = Matrix<Float>(rows: agents, cols: 10)
        XCTAssertThrowsError(
            try Kernels.softmaxGradients(
                classes: 5, l2: 0, features: .dense(x), labels: labels, parameters: theta, batches: batches, gradients: &bad, losses: &l1)
        ) { e in
            XCTAssertTrue("\(e)".contains("must be agents x (classes * features)"), "\(e)")
        }
    }

    func testMLPGradientMatchesFiniteDifferencesDenseAndSparse() throws {
        var g = SeededGenerator(seed: 21)
        let n = 20, d = 9, shape = MLPShape(inputs: 9, hidden: 6, classes: 3)
        let (dense, sparse) = randomDenseAndSparse(rows: n, cols: d, density: 0.6, &g)
        let labels = (0..<n).map { $0 % 3 }
        let theta: Matrix<Double> = g.normalMatrix(rows: 1, cols: shape.parameterCount, scale: 0.5)
        func lossGrad(_ x: FeatureRows<Double>, _ t: Matrix<Double>) throws -> (Double, [Double]) {
            var gr = Matrix<Double>(rows: 1, cols: shape.parameterCount), l = [0.0]
            try Kernels.mlpGradients(
                shape: shape, l2: 0.02, features: x, labels: labels, parameters: t, batches: [Array(0..<n)], gradients: &gr, losses: &l)
            return (l[0], gr.storage)
        }
        for x in [FeatureRows<Double>.dense(dense), .sparse(sparse)] {
            let (_, grad) = try lossGrad(x, theta)
            for q in [0, 13, shape.b1 + 2, shape.w2 + 5, shape.b2 + 1, shape.parameterCount - 1] {
                var tp = theta, tm = theta
                tp.storage[q] += 1e-6
                tm.storage[q] -= 1e-6
                let fd = (try lossGrad(x, tp).0 - lossGrad(x, tm).0) / 2e-6
                XCTAssertEqual(grad[q], fd, accuracy: 1e-6, "parameter \(q)")
            }
        }
        XCTAssertEqual(try lossGrad(.dense(dense), theta).0, try lossGrad(.sparse(sparse), theta).0, accuracy: 1e-12)
        XCTAssertEqual(shape.parameterCount, 6 * 9 + 6 + 3 * 6 + 3)
    }
}
