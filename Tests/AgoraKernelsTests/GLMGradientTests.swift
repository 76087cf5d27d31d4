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
