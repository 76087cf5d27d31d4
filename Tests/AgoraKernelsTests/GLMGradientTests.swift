import AgoraKernels
import AgoraTestSupport
import XCTest

final class GLMGradientTests: XCTestCase {
    func testBatchedEqualsOneByOneAndThreadCountDoesNotMatter() throws {
        let (dense, sparse, y) = randomClassification(rows: 64, cols: 37, seed: 2)
        let agents = 9
        var g = SeededGenerator(seed: 4)
        let theta: Matrix<Float> = g.normalMatrix(rows: agents, cols: 37, scale: 0.2)
        let batches = (0..<agents).map { a in (0..<(3 + a)).map { (a * 7 + $0 * 5) % 64 } }
        let yf = y.map(Float.init)
        for x in [
            FeatureRows<Float>.dense(try Matrix(rows: 64, cols: 37, storage: dense.storage.map(Float.init))),
            .sparse(sparse.converted(to: Float.self)),
        ] {
            var g1 = Matrix<Float>(rows: agents, cols: 37), g2 = g1
            var l1 = [Float](repeating: 0, count: agents), l2 = l1
            try withThreads(1) {
                try Kernels.glmGradients(
                    loss: .logistic, l2: 0.01, features: x, targets: yf, parameters: theta, batches: batches, gradients: &g1, losses: &l1)
            }
            try withThreads(2) {
                try Kernels.glmGradients(
                    loss: .logistic, l2: 0.01, features: x, targets: yf, parameters: theta, batches: batches, gradients: &g2, losses: &l2)
            }
            XCTAssertEqual(g1, g2, "identical with 1 and 2 threads")
            XCTAssertEqual(l1, l2)
            for a in 0..<agents {
                var ga = Matrix<Float>(rows: 1, cols: 37), la: [Float] = [0]
                try Kernels.glmGradients(
                    loss: .logistic, l2: 0.01, features: x, targets: yf,
                    parameters: try Matrix(rows: 1, cols: 37, storage: theta.row(a)),
                    batches: [batches[a]], gradients: &ga, losses: &la)
                XCTAssertEqual(ga.storage, g1.row(a), "agent \(a) alone gives the same row")
                XCTAssertEqual(la[0], l1[a])
            }
        }
    }

    /// Gathered (non-contiguous) dense batches run in blocks of four rows; contiguous ones row by
    /// row. Both must give the same bits: the same rows laid out contiguously are the reference.
    func testBlockedGatherEqualsTheRowLoopBitForBit() throws {
        for d in [37, 64, 5] {
            var g = SeededGenerator(seed: UInt64(d))
            let x: Matrix<Float> = g.normalMatrix(rows: 50, cols: d)
            let y = (0..<50).map { _ in Float(g.uniform() < 0.5 ? -1 : 1) }
            let agents = 6
            let theta: Matrix<Float> = g.normalMatrix(rows: agents, cols: d, scale: 0.3)
            let batches = (0..<agents).map { a in (0..<(3 + 2 * a)).map { _ in Int(g.next() % 50) } }  // gathered, with repeats
            for computeLosses in [true, false] {
                var gGather = Matrix<Float>(rows: agents, cols: d), lGather = [Float](repeating: 0, count: agents)
                try Kernels.glmGradients(
                    loss: .logistic, l2: 0.01, features: .dense(x), targets: y, parameters: theta, batches: batches,
                    gradients: &gGather, losses: &lGather, computeLosses: computeLosses)
                for a in 0..<agents {
                    let rows = batches[a]
                    let xa = try Matrix(rows: rows.count, cols: d, storage: rows.flatMap { x.row($0) })
                    var ga = Matrix<Float>(rows: 1, cols: d), la: [Float] = [0]
                    try Kernels.glmGradients(
                        loss: .logistic, l2: 0.01, features: .dense(xa), targets: rows.map { y[$0] },
                        parameters: try Matrix(rows: 1, cols: d, storage: theta.row(a)), batches: [Array(rows.indices)],
                        gradients: &ga, losses: &la, computeLosses: computeLosses)
                    XCTAssertEqual(ga.storage, gGather.row(a), "d = \(d), agent \(a): blocked gather and row loop differ")
                    XCTAssertEqual(la[0], lGather[a])
                }
            }
        }
    }

    /// The evaluation objective against a naive serial loop through libm (loss, regulariser,
    /// accuracy), dense and sparse, logistic and squared, across several row blocks; identical on
    /// 1 and 2 threads.
    func testObjectiveMatchesANaiveLoopAndIgnoresThreadCount() throws {
        let rows = 5000, cols = 13
        let (dense, sparse, y) = randomClassification(rows: rows, cols: cols, seed: 11)
        var g = SeededGenerator(seed: 12)
        let theta = (0..<cols).map { _ in 0.5 * g.normal() }
        for x in [FeatureRows<Double>.dense(dense), .sparse(sparse)] {
            for loss in [GLMLoss.logistic, .squared] {
                var total = 0.0, right = 0
                for i in 0..<rows {
                    var z = 0.0
                    for k in 0..<cols { z += dense[i, k] * theta[k] }
                    total += loss == .logistic ? log1p(exp(-y[i] * z)) : 0.5 * (z - y[i]) * (z - y[i])
                    if z * y[i] > 0 { right += 1 }
                }
                let want = total / Double(rows) + 0.5 * 0.01 * theta.reduce(0) { $0 + $1 * $1 }
                let one = try withThreads(1) { try Kernels.glmObjective(loss: loss, l2: 0.01, features: x, targets: y, parameters: theta) }
                let two = try withThreads(2) { try Kernels.glmObjective(loss: loss, l2: 0.01, features: x, targets: y, parameters: theta) }
                XCTAssertEqual(one.value, want, accuracy: 1e-12 * abs(want), "\(loss)")
                XCTAssertEqual(one.value, two.value, "\(loss): thread count")
                XCTAssertEqual(one.accuracy, loss == .logistic ? Double(right) / Double(rows) : nil)
                XCTAssertEqual(one.accuracy, two.accuracy)
            }
        }
        XCTAssertThrowsError(try Kernels.glmObjective(loss: .logistic, l2: 0, features: .dense(dense), targets: y, parameters: [1, 2]))
    }

    /// The loss-only kernel gives the losses `glmGradients` writes, bit for bit (dense with
    /// contiguous and gathered batches, and sparse rows).
    func testBatchLossesEqualTheGradientKernelsLosses() throws {
        let (dense, sparse, y) = randomClassification(rows: 80, cols: 37, seed: 21)
        let agents = 7
        var g = SeededGenerator(seed: 22)
        let theta: Matrix<Float> = g.normalMatrix(rows: agents, cols: 37, scale: 0.3)
        let batches = (0..<agents).map { a in a % 2 == 0 ? Array((a * 5)..<(a * 5 + 9)) : (0..<(4 + a)).map { (a * 11 + $0 * 7) % 80 } }
        let yf = y.map(Float.init)
        for x in [
            FeatureRows<Float>.dense(try Matrix(rows: 80, cols: 37, storage: dense.storage.map(Float.init))),
            .sparse(sparse.converted(to: Float.self)),
        ] {
            var grads = Matrix<Float>(rows: agents, cols: 37), want = [Float](repeating: 0, count: agents)
            try Kernels.glmGradients(
                loss: .logistic, l2: 0.02, features: x, targets: yf, parameters: theta, batches: batches, gradients: &grads, losses: &want)
            let got = try Kernels.glmBatchLosses(loss: .logistic, l2: 0.02, features: x, targets: yf, parameters: theta, batches: batches)
            XCTAssertEqual(got, want)
        }
    }

    /// Four derivatives in lanes equal the scalar derivative bit for bit, over margins from tiny
    /// to overflowing, both signs of zero, infinities and NaN, for both losses.
    func testFourDerivativesInLanesEqualTheScalarOnes() {
        var g = SeededGenerator(seed: 51)
        var zs: [Double] = [0, -0.0, 1e-300, -1e-300, 700, -700, 800, -800, .infinity, -.infinity, .nan, 1, -1, 36.7, -36.7]
        for _ in 0..<4000 { zs.append(g.normal() * pow(10, Double(Int(g.next() % 7)) - 3)) }
        while zs.count % 4 != 0 { zs.append(0.5) }
        for loss in GLMLoss.allCases {
            for k in stride(from: 0, to: zs.count, by: 4) {
                for y in [1.0, -1.0] {
                    let z = SIMD4(zs[k], zs[k + 1], zs[k + 2], zs[k + 3]), yv = SIMD4<Double>(repeating: y)
                    let d = loss.derivatives(z, yv)
                    for q in 0..<4 {
                        let want = loss.derivative(z[q], y)
                        XCTAssertEqual(d[q].bitPattern, want.bitPattern, "\(loss) z \(z[q]) y \(y): \(d[q]) vs \(want)")
                    }
                }
            }
        }
    }

    /// The fused evaluation pass: the agents' losses are `glmBatchLosses`' bit for bit, and the
    /// pooled model's loss over batches that cover every row once is the full-data loss sum (the
    /// objective's, up to rounding; against a plain Double loop too) with the same count of rows
    /// classified right; the same on 1 and 2 threads; both losses; a shape error names the kernel.
    func testBatchAndPooledLossesEqualTheSeparatePasses() throws {
        let rows = 5003, cols = 21, agents = 40
        let (dense, sparse, y) = randomClassification(rows: rows, cols: cols, seed: 41)
        var g = SeededGenerator(seed: 42)
        let theta: Matrix<Float> = g.normalMatrix(rows: agents, cols: cols, scale: 0.3)
        let pooled = (0..<cols).map { _ in 0.3 * g.normal() }
        // A random partition of the rows into uneven batches (every row once).
        var order = Array(0..<rows)
        for i in stride(from: rows - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        let cuts = [0] + (1..<agents).map { $0 * rows / agents + Int(g.next() % 50) } + [rows]
        let batches = (0..<agents).map { Array(order[cuts[$0]..<cuts[$0 + 1]]) }
        let yf = y.map(Float.init)
        for x in [
            FeatureRows<Float>.dense(try Matrix(rows: rows, cols: cols, storage: dense.storage.map(Float.init))),
            .sparse(sparse.converted(to: Float.self)),
        ] {
            for loss in [GLMLoss.logistic, .squared] {
                let separate = try Kernels.glmBatchLosses(
                    loss: loss, l2: 0.02, features: x, targets: yf, parameters: theta, batches: batches)
                let objective = try Kernels.glmObjective(loss: loss, l2: 0, features: x, targets: y, parameters: pooled)
                var plain = 0.0, right = 0
                for i in 0..<rows {
                    let z = (0..<cols).reduce(0.0) { $0 + Double(Float(dense[i, $1])) * pooled[$1] }
                    plain += loss.value(z, y[i])
                    if z * y[i] > 0 { right += 1 }
                }
                let one = try withThreads(1) {
                    try Kernels.glmBatchAndPooledLosses(
                        loss: loss, l2: 0.02, features: x, targets: yf, parameters: theta, batches: batches, pooled: pooled,
                        pooledTargets: y)
                }
                let two = try withThreads(2) {
                    try Kernels.glmBatchAndPooledLosses(
                        loss: loss, l2: 0.02, features: x, targets: yf, parameters: theta, batches: batches, pooled: pooled,
                        pooledTargets: y)
                }
                XCTAssertEqual(one.losses, separate, "\(loss)")
                XCTAssertEqual(one.losses, two.losses)
                XCTAssertEqual(one.pooledLossSum, two.pooledLossSum)
                XCTAssertEqual(one.pooledLossSum / Double(rows), objective.value, accuracy: 1e-13 * abs(objective.value), "\(loss)")
                XCTAssertEqual(one.pooledLossSum, plain, accuracy: 1e-11 * abs(plain), "\(loss)")
                if loss == .logistic {
                    XCTAssertEqual(Double(one.pooledCorrect) / Double(rows), objective.accuracy)
                    XCTAssertEqual(one.pooledCorrect, right)
                }
            }
        }
        XCTAssertThrowsError(
            try Kernels.glmBatchAndPooledLosses(
                loss: .logistic, l2: 0, features: .dense(Matrix<Float>(rows: 3, cols: 2)), targets: [1, 1, 1],
                parameters: Matrix<Float>(rows: 1, cols: 2), batches: [[0]], pooled: [1], pooledTargets: [1, 1, 1])
        ) { XCTAssertTrue("\($0)".contains("glmBatchAndPooledLosses"), "\($0)") }
    }

    /// Float rows read wide give exactly what their Double copy gives (Float to Double is exact
    /// and the operations are the same): the objective, the value and gradient, the margins, the
    /// weighted Gram and its products, dense and sparse, across several row blocks.
    func testWideKernelsOnFloatRowsEqualTheDoubleCopy() throws {
        let rows = 9000, cols = 21
        let (dense, sparse, y) = randomClassification(rows: rows, cols: cols, seed: 31)
        var g = SeededGenerator(seed: 32)
        let theta = (0..<cols).map { _ in 0.3 * g.normal() }
        let w = (0..<rows).map { _ in g.uniform() }, v = (0..<cols).map { _ in g.normal() }
        let floatDense = try Matrix<Float>(rows: rows, cols: cols, storage: dense.storage.map { Float($0) })
        let doubleDense = try Matrix<Double>(rows: rows, cols: cols, storage: floatDense.storage.map(Double.init))
        let floatSparse = sparse.converted(to: Float.self)
        let doubleSparse = floatSparse.converted(to: Double.self)
        for (f, d) in [
            (FeatureRows<Float>.dense(floatDense), FeatureRows<Double>.dense(doubleDense)), (.sparse(floatSparse), .sparse(doubleSparse)),
        ] {
            let a = try Kernels.glmObjective(loss: .logistic, l2: 0.01, features: f, targets: y, parameters: theta)
            let b = try Kernels.glmObjective(loss: .logistic, l2: 0.01, features: d, targets: y, parameters: theta)
            XCTAssertEqual(a.value, b.value)
            XCTAssertEqual(a.accuracy, b.accuracy)
            let p = try Kernels.glmValueAndGradient(loss: .logistic, l2: 0.01, features: f, targets: y, parameters: theta)
            let q = try Kernels.glmValueAndGradient(loss: .logistic, l2: 0.01, features: d, targets: y, parameters: theta)
            XCTAssertEqual(p.value, q.value)
            XCTAssertEqual(p.gradient, q.gradient)
            XCTAssertEqual(try Kernels.wideMargins(f, parameters: theta), try Kernels.wideMargins(d, parameters: theta))
            XCTAssertEqual(
                try Kernels.weightedGram(f, rowWeights: w, divisor: 9000, ridge: 0.1),
                try Kernels.weightedGram(d, rowWeights: w, divisor: 9000, ridge: 0.1))
            XCTAssertEqual(
                try Kernels.weightedGramTimes(f, rowWeights: w, divisor: 9000, ridge: 0.1, v),
                try Kernels.weightedGramTimes(d, rowWeights: w, divisor: 9000, ridge: 0.1, v))
            XCTAssertEqual(Kernels.wideRowSquaredNorms(f), Kernels.wideRowSquaredNorms(d))
            // And the value and gradient against a naive serial loop through libm.
            var total = 0.0
            var grad = [Double](repeating: 0, count: cols)
            for i in 0..<rows {
                var z = 0.0
                for k in 0..<cols { z += doubleDense[i, k] * theta[k] }
                total += log1p(exp(-y[i] * z))
                let dz = -y[i] / (1 + exp(y[i] * z))
                for k in 0..<cols { grad[k] += dz * doubleDense[i, k] }
            }
            if case .dense = f {
                XCTAssertEqual(p.value, total / Double(rows) + 0.005 * theta.reduce(0) { $0 + $1 * $1 }, accuracy: 1e-12)
                for k in 0..<cols { XCTAssertEqual(p.gradient[k], grad[k] / Double(rows) + 0.01 * theta[k], accuracy: 1e-12) }
            }
        }
    }

    func testShapeErrors() {
        var g = Matrix<Float>(rows: 2, cols: 3), l: [Float] = [0, 0]
        XCTAssertThrowsError(
            try Kernels.glmGradients(
                loss: .squared, l2: 0, features: .dense(Matrix<Float>(rows: 4, cols: 3)), targets: [0, 0, 0, 0],
                parameters: Matrix<Float>(rows: 2, cols: 3), batches: [[0], [9]], gradients: &g, losses: &l)
        ) { e in
            XCTAssertTrue("\(e)".contains("batch of agent 1 names row 9"), "\(e)")
        }
        XCTAssertThrowsError(
            try Kernels.glmGradients(
                loss: .squared, l2: 0, features: .dense(Matrix<Float>(rows: 4, cols: 3)), targets: [0],
                parameters: Matrix<Float>(rows: 2, cols: 3), batches: [[0], [1]], gradients: &g, losses: &l)
        ) { e in
            XCTAssertTrue("\(e)".contains("1 targets for 4 rows"), "\(e)")
        }
    }
}
