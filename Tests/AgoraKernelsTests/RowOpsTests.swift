import AgoraKernels
import AgoraTestSupport
import XCTest

final class RowOpsTests: XCTestCase {
    func checkRowOps<T: AgoraScalar>(_: T.Type) throws {
        for (idx, s) in testShapes.enumerated() {
            let a: Matrix<T> = randomMatrix(s.n, s.d, seed: 500 + UInt64(idx))
            let b: Matrix<T> = randomMatrix(s.n, s.d, seed: 600 + UInt64(idx))
            var norms = [Double](repeating: 0, count: s.n), dots = norms
            for i in 0..<s.n {
                for c in 0..<s.d {
                    norms[i] += Double(a[i, c]) * Double(a[i, c])
                    dots[i] += Double(a[i, c]) * Double(b[i, c])
                }
            }
            let n1 = withThreads(1) { Kernels.rowSquaredNorms(a) }
            let n2 = withThreads(2) { Kernels.rowSquaredNorms(a) }
            assertClose(n1, norms, rel: tol(T.self))
            XCTAssertEqual(n1, n2)
            let d1 = try withThreads(1) { try Kernels.rowDots(a, b) }
            let d2 = try withThreads(2) { try Kernels.rowDots(a, b) }
            assertClose(d1, dots, rel: tol(T.self))
            XCTAssertEqual(d1, d2)

            // Gram and cosine distances against naive loops.
            let g = Kernels.gram(a)
            var gNaive = [Double](repeating: 0, count: s.n * s.n)
            for i in 0..<s.n { for j in 0..<s.n { for c in 0..<s.d { gNaive[i * s.n + j] += Double(a[i, c]) * Double(a[j, c]) } } }
            assertClose(g.storage, gNaive, rel: 10 * tol(T.self))
            let cross = try Kernels.gram(a, b)
            var cNaive = [Double](repeating: 0, count: s.n * s.n)
            for i in 0..<s.n { for j in 0..<s.n { for c in 0..<s.d { cNaive[i * s.n + j] += Double(a[i, c]) * Double(b[j, c]) } } }
            assertClose(cross.storage, cNaive, rel: 10 * tol(T.self))
            let dist = Kernels.cosineDistances(a)
            var dNaive = [Double](repeating: 0, count: s.n * s.n)
            for i in 0..<s.n {
                for j in 0..<s.n where i != j {
                    dNaive[i * s.n + j] = 1 - gNaive[i * s.n + j] / (gNaive[i * s.n + i] * gNaive[j * s.n + j]).squareRoot()
                }
            }
            // 1 - cos loses digits through cancellation: absolute tolerance scaled accordingly.
            assertClose(dist.storage, dNaive, rel: T.self == Float.self ? 1e-4 : 1e-10)
        }
    }
    func testRowSquaredNormsInDoubleMatchADoubleReference() {
        for (idx, sh) in testShapes.enumerated() {
            let x: Matrix<Float> = randomMatrix(sh.n, sh.d, seed: 900 + UInt64(idx))
            let got = x.storage.withUnsafeBufferPointer { Kernels.rowSquaredNormsInDouble($0.baseAddress!, rows: sh.n, cols: sh.d) }
            for i in 0..<sh.n {
                var ref = 0.0
                for k in 0..<sh.d { ref += Double(x[i, k]) * Double(x[i, k]) }
                XCTAssertEqual(got[i], ref, accuracy: 1e-12 * max(1, ref), "row \(i) of \(sh.n) x \(sh.d)")
            }
        }
    }

    func testRowOpsFloat() throws { try checkRowOps(Float.self) }
    func testRowOpsDouble() throws { try checkRowOps(Double.self) }

    func testCosineDistanceConventions() throws {
        let x = try Matrix<Double>([[1, 0], [0, 0], [2, 0], [-1, 0], [0, 3]])
        let d = Kernels.cosineDistances(x)
        XCTAssertEqual(d[0, 0], 0)
        XCTAssertEqual(d[0, 1], 1, "a zero row is at distance 1 from everything")
        XCTAssertEqual(d[0, 2], 0, accuracy: 1e-15)
        XCTAssertEqual(d[0, 3], 2, accuracy: 1e-15)
        XCTAssertEqual(d[0, 4], 1, accuracy: 1e-15)
        XCTAssertEqual(d, d.transposed())
    }

    func testRowDotsShapeError() {
        XCTAssertThrowsError(try Kernels.rowDots(Matrix<Float>(rows: 2, cols: 3), Matrix<Float>(rows: 2, cols: 4))) { e in
            XCTAssertTrue("\(e)".contains("2 x 3 and 2 x 4"), "\(e)")
        }
    }

    func checkReductions<T: AgoraScalar>(_: T.Type) throws {
        for n in [0, 1, 15, 16, 17, Kernels.reductionBlock - 1, Kernels.reductionBlock + 5, 3 * Kernels.reductionBlock + 7] {
            let a: Matrix<T> = randomMatrix(1, n, seed: UInt64(n))
            let b: Matrix<T> = randomMatrix(1, n, seed: UInt64(n) + 1)
            var s = 0.0, dd = 0.0
            for k in 0..<n {
                s += Double(a.storage[k])
                dd += Double(a.storage[k]) * Double(b.storage[k])
            }
            let s1 = withThreads(1) { Kernels.sum(a.storage) }
            let s2 = withThreads(2) { Kernels.sum(a.storage) }
            XCTAssertEqual(s1, s2, "sum must not depend on the thread count")
            XCTAssertEqual(Double(s1), s, accuracy: T.self == Float.self ? 1e-4 * Double(max(1, n)).squareRoot() : 1e-10)
            let d1 = try withThreads(1) { try Kernels.dot(a.storage, b.storage) }
            let d2 = try withThreads(2) { try Kernels.dot(a.storage, b.storage) }
            XCTAssertEqual(d1, d2)
            XCTAssertEqual(Double(d1), dd, accuracy: T.self == Float.self ? 1e-4 * Double(max(1, n)).squareRoot() : 1e-10)
        }
    }
    func testReductionsFloat() throws { try checkReductions(Float.self) }
    func testReductionsDouble() throws { try checkReductions(Double.self) }

    func testConsensusErrorAndMean() throws {
        let x = try Matrix<Double>([[1, 2], [3, 4], [5, 9]])
        XCTAssertEqual(Kernels.rowMean(x), [3, 5])
        // (4+9) + (0+1) + (4+16) = 34
        XCTAssertEqual(Kernels.consensusError(x), 34, accuracy: 1e-12)
    }

    func testWeightedRowSumMatchesNaiveAndIgnoresThreads() throws {
        for (idx, s) in testShapes.enumerated() {
            let cols: Int = s.d + 3 * 16384  // several reduction blocks
            let x: Matrix<Double> = randomMatrix(s.n, cols, seed: 700 + UInt64(idx))
            let w: [Double] = (0..<s.n).map { (i: Int) -> Double in i % 3 == 1 ? 0 : 1 / Double(i + 2) }
            let a = try withThreads(1) { try Kernels.weightedRowSum(x, weights: w) }
            let b = try withThreads(2) { try Kernels.weightedRowSum(x, weights: w) }
            XCTAssertEqual(a, b)
            for c in stride(from: 0, to: x.cols, by: 131) {
                var e = 0.0
                for i in 0..<s.n { e += w[i] * x[i, c] }
                XCTAssertEqual(a[c], e, accuracy: 1e-12 * max(1, abs(e)))
            }
        }
        XCTAssertThrowsError(try Kernels.weightedRowSum(Matrix<Float>(rows: 2, cols: 3), weights: [1]))
    }
}
