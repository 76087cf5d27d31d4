import AgoraKernels
import AgoraTestSupport
import XCTest

final class BLASTests: XCTestCase {
    func naiveProduct<T: AgoraScalar>(_ a: Matrix<T>, _ b: Matrix<T>, _ ta: Bool, _ tb: Bool) -> [Double] {
        let A = ta ? a.transposed() : a, B = tb ? b.transposed() : b
        var c = [Double](repeating: 0, count: A.rows * B.cols)
        for i in 0..<A.rows { for j in 0..<B.cols { for k in 0..<A.cols { c[i * B.cols + j] += Double(A[i, k]) * Double(B[k, j]) } } }
        return c
    }

    func checkGemm<T: AgoraScalar>(_: T.Type) throws {
        for (m, k, n) in [(1, 1, 1), (3, 5, 2), (17, 9, 33)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a: Matrix<T> = ta ? randomMatrix(k, m, seed: 1) : randomMatrix(m, k, seed: 1)
                    let b: Matrix<T> = tb ? randomMatrix(n, k, seed: 2) : randomMatrix(k, n, seed: 2)
                    let c = try BLAS.product(a, b, transA: ta, transB: tb)
                    assertClose(c.storage, naiveProduct(a, b, ta, tb), rel: 10 * tol(T.self))
                }
            }
        }
        // alpha, beta
        let a: Matrix<T> = randomMatrix(4, 3, seed: 3), b: Matrix<T> = randomMatrix(3, 5, seed: 4)
        var c: Matrix<T> = randomMatrix(4, 5, seed: 5)
        let c0 = c
        try BLAS.gemm(a, b, into: &c, alpha: 2, beta: -1)
        let ab = naiveProduct(a, b, false, false)
        assertClose(c.storage, (0..<20).map { 2 * ab[$0] - Double(c0.storage[$0]) }, rel: 10 * tol(T.self))
    }
    func testGemmFloat() throws { try checkGemm(Float.self) }
    func testGemmDouble() throws { try checkGemm(Double.self) }

    func checkLevel12<T: AgoraScalar>(_: T.Type) throws {
        let a: Matrix<T> = randomMatrix(5, 7, seed: 9)
        let x: Matrix<T> = randomMatrix(1, 7, seed: 10)
        var y = [T](repeating: 0, count: 5)
        try BLAS.gemv(a, x.storage, into: &y)
        assertClose(y, naiveProduct(a, x, false, true), rel: 10 * tol(T.self))
        var yt = [T](repeating: 0, count: 7)
        try BLAS.gemv(a, Array(y), into: &yt, trans: true)
        let ytExpect = (0..<7).map { j in (0..<5).reduce(0.0) { $0 + Double(a[$1, j]) * Double(y[$1]) } }
        assertClose(yt, ytExpect, rel: 10 * tol(T.self))

        var g = Matrix<T>(rows: 5, cols: 5)
        try BLAS.syrk(a, into: &g)
        assertClose(g.storage, naiveProduct(a, a, false, true), rel: 10 * tol(T.self))

        let u = a.row(0), v = a.row(1)
        let dExpect = (0..<7).reduce(0.0) { $0 + Double(u[$1]) * Double(v[$1]) }
        XCTAssertEqual(Double(try BLAS.dot(u, v)), dExpect, accuracy: 10 * tol(T.self))
        var w = v
        try BLAS.axpy(T(2), u, &w)
        assertClose(w, (0..<7).map { 2 * Double(u[$0]) + Double(v[$0]) }, rel: 10 * tol(T.self))
        XCTAssertEqual(
            Double(BLAS.nrm2(u)), (0..<7).reduce(0.0) { $0 + Double(u[$1]) * Double(u[$1]) }.squareRoot(), accuracy: 10 * tol(T.self))
        var s = u
        BLAS.scal(T(-3), &s)
        assertClose(s, u.map { -3 * Double($0) }, rel: tol(T.self))
    }
    /// syrk's mirror runs in 64 x 64 tiles: sizes across several tiles, not multiples of 64.
    func testSyrkMirrorsAcrossTiles() throws {
        for n in [63, 64, 65, 150] {
            let a: Matrix<Double> = randomMatrix(n, 9, seed: UInt64(n))
            var g = Matrix<Double>(rows: n, cols: n)
            try BLAS.syrk(a, into: &g)
            assertClose(g.storage, naiveProduct(a, a, false, true), rel: 1e-12)
            for i in 0..<n { for j in 0..<n { XCTAssertEqual(g[i, j], g[j, i], "n = \(n): (\(i), \(j)) not mirrored") } }
        }
    }

    func testLevel12Float() throws { try checkLevel12(Float.self) }
    func testLevel12Double() throws { try checkLevel12(Double.self) }

    func testShapeErrors() {
        var c = Matrix<Float>(rows: 2, cols: 2)
        XCTAssertThrowsError(try BLAS.gemm(Matrix<Float>(rows: 2, cols: 3), Matrix<Float>(rows: 4, cols: 2), into: &c)) { e in
            XCTAssertEqual("\(e)", "gemm: op(A) is 2 x 3 but op(B) is 4 x 2")
        }
        XCTAssertThrowsError(try BLAS.gemm(Matrix<Float>(rows: 2, cols: 3), Matrix<Float>(rows: 3, cols: 5), into: &c)) { e in
            XCTAssertEqual("\(e)", "gemm: C is 2 x 2, expected 2 x 5")
        }
        var y = [Float](repeating: 0, count: 3)
        XCTAssertThrowsError(try BLAS.gemv(Matrix<Float>(rows: 2, cols: 3), [1, 2, 3], into: &y)) { e in
            XCTAssertEqual("\(e)", "gemv: y has 3 elements, expected 2")
        }
        XCTAssertThrowsError(try BLAS.dot([Float(1)], [1, 2])) { e in XCTAssertEqual("\(e)", "dot: lengths 1 and 2 differ") }
        var z: [Float] = [1]
        XCTAssertThrowsError(try BLAS.axpy(1, [Float(1), 2], &z)) { e in XCTAssertEqual("\(e)", "axpy: lengths 2 and 1 differ") }
        XCTAssertThrowsError(try BLAS.symmetricEigenvalues(Matrix<Double>(rows: 2, cols: 3))) { e in
            XCTAssertTrue("\(e)".contains("not square"))
        }
        XCTAssertThrowsError(try Matrix<Float>(rows: 2, cols: 2, storage: [1, 2, 3])) { e in
            XCTAssertEqual("\(e)", "Matrix 2 x 2 needs 4 elements, got 3")
        }
    }

    func testEmptyInnerDimensionGivesZero() throws {
        let c = try BLAS.product(Matrix<Double>(rows: 2, cols: 0), Matrix<Double>(rows: 0, cols: 3))
        XCTAssertEqual(c, Matrix<Double>(rows: 2, cols: 3))
    }

    func testEigenvaluesOfKnownMatrices() throws {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let ev = try BLAS.symmetricEigenvalues(try Matrix<Double>([[2, 1], [1, 2]]))
        XCTAssertEqual(ev[0], 1, accuracy: 1e-14)
        XCTAssertEqual(ev[1], 3, accuracy: 1e-14)
        let evf = try BLAS.symmetricEigenvalues(try Matrix<Float>([[4, 0, 0], [0, -1, 0], [0, 0, 2]]))
        XCTAssertEqual(evf, [-1, 2, 4])
    }

    func testOpenBLASConfiguration() {
        XCTAssertTrue(OpenBLAS.config.contains("OpenBLAS"), OpenBLAS.config)
        XCTAssertFalse(OpenBLAS.coreName.isEmpty)
        let before = OpenBLAS.threads
        OpenBLAS.singleThreaded { XCTAssertEqual(OpenBLAS.threads, 1) }
        XCTAssertEqual(OpenBLAS.threads, before)
    }
}
