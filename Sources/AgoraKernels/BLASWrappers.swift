/// Shape-checked BLAS operations on `Matrix` and arrays, for Float and Double.
///
/// These are the public face of `BLAS.swift` (the one file that calls CBLAS). Every wrapper checks
/// its shapes and throws `AgoraError` naming the mismatch; the C calls themselves never see a bad
/// shape. Thread count: OpenBLAS uses its own threads here; inside Agora's parallel regions wrap
/// calls in `OpenBLAS.singleThreaded`.
public enum BLAS {
    /// C <- alpha op(A) op(B) + beta C.
    public static func gemm<T: AgoraScalar>(
        _ a: Matrix<T>, _ b: Matrix<T>, into c: inout Matrix<T>,
        transA: Bool = false, transB: Bool = false, alpha: T = 1, beta: T = 0
    ) throws {
        let (m, k) = transA ? (a.cols, a.rows) : (a.rows, a.cols)
        let (kb, n) = transB ? (b.cols, b.rows) : (b.rows, b.cols)
        guard k == kb else {
            throw AgoraError.shape("gemm: op(A) is \(m) x \(k) but op(B) is \(kb) x \(n)")
        }
        guard c.rows == m, c.cols == n else {
            throw AgoraError.shape("gemm: C is \(c.rows) x \(c.cols), expected \(m) x \(n)")
        }
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C untouched only for beta == 1; define the empty product as zero.
            for i in c.storage.indices { c.storage[i] = beta == 0 ? 0 : beta * c.storage[i] }
            return
        }
        a.storage.withUnsafeBufferPointer { ap in
            b.storage.withUnsafeBufferPointer { bp in
                c.storage.withUnsafeMutableBufferPointer { cp in
                    T._gemm(
                        transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                        a: ap.baseAddress!, lda: max(1, a.cols), b: bp.baseAddress!, ldb: max(1, b.cols),
                        beta: beta, c: cp.baseAddress!, ldc: max(1, c.cols))
                }
            }
        }
    }

    /// Returns op(A) op(B).
    public static func product<T: AgoraScalar>(
        _ a: Matrix<T>, _ b: Matrix<T>, transA: Bool = false, transB: Bool = false
    ) throws -> Matrix<T> {
        var c = Matrix<T>(rows: transA ? a.cols : a.rows, cols: transB ? b.rows : b.cols)
        try gemm(a, b, into: &c, transA: transA, transB: transB)
        return c
    }

    /// y <- alpha op(A) x + beta y.
    public static func gemv<T: AgoraScalar>(
        _ a: Matrix<T>, _ x: [T], into y: inout [T], trans: Bool = false, alpha: T = 1, beta: T = 0
    ) throws {
        let (m, n) = trans ? (a.cols, a.rows) : (a.rows, a.cols)
        guard x.count == n else { throw AgoraError.shape("gemv: op(A) is \(m) x \(n) but x has \(x.count) elements") }
        guard y.count == m else { throw AgoraError.shape("gemv: y has \(y.count) elements, expected \(m)") }
        if m == 0 { return }
        if n == 0 {
            for i in y.indices { y[i] = beta == 0 ? 0 : beta * y[i] }
            return
        }
        a.storage.withUnsafeBufferPointer { ap in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    T._gemv(
                        trans: trans, m: a.rows, n: a.cols, alpha: alpha, a: ap.baseAddress!, lda: max(1, a.cols),
                        x: xp.baseAddress!, incx: 1, beta: beta, y: yp.baseAddress!, incy: 1)
                }
            }
        }
    }

    /// The Gram matrix C = alpha A A^T + beta C, full (both triangles filled), via syrk.
    public static func syrk<T: AgoraScalar>(_ a: Matrix<T>, into c: inout Matrix<T>, alpha: T = 1, beta: T = 0) throws {
        guard c.rows == a.rows, c.cols == a.rows else {
            throw AgoraError.shape("syrk: C is \(c.rows) x \(c.cols), expected \(a.rows) x \(a.rows)")
        }
        let n = a.rows, k = a.cols
        if n == 0 { return }
        if k == 0 {
            for i in c.storage.indices { c.storage[i] = beta == 0 ? 0 : beta * c.storage[i] }
            return
        }
        a.storage.withUnsafeBufferPointer { ap in
            c.storage.withUnsafeMutableBufferPointer { cp in
                T._syrk(n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: k, beta: beta, c: cp.baseAddress!, ldc: n)
                // syrk writes the upper triangle only; mirror it, in 64 x 64 tiles (a plain column
                // walk misses the cache on every element once a row is beyond a few KiB).
                let p = cp.baseAddress!
                let tile = 64
                for ib in stride(from: 0, to: n, by: tile) {
                    for jb in stride(from: 0, through: ib, by: tile) {
                        for i in ib..<min(ib + tile, n) {
                            for j in jb..<min(jb + tile, i) { p[i * n + j] = p[j * n + i] }
                        }
                    }
                }
            }
        }
    }

    /// x . y
    public static func dot<T: AgoraScalar>(_ x: [T], _ y: [T]) throws -> T {
        guard x.count == y.count else { throw AgoraError.shape("dot: lengths \(x.count) and \(y.count) differ") }
        if x.isEmpty { return 0 }
        return x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in T._dot(n: x.count, x: xp.baseAddress!, incx: 1, y: yp.baseAddress!, incy: 1) }
        }
    }

    /// y <- alpha x + y
    public static func axpy<T: AgoraScalar>(_ alpha: T, _ x: [T], _ y: inout [T]) throws {
        guard x.count == y.count else { throw AgoraError.shape("axpy: lengths \(x.count) and \(y.count) differ") }
        if x.isEmpty { return }
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                T._axpy(n: x.count, alpha: alpha, x: xp.baseAddress!, incx: 1, y: yp.baseAddress!, incy: 1)
            }
        }
    }

    /// ||x||_2 (computed by BLAS with scaling, safe from overflow).
    public static func nrm2<T: AgoraScalar>(_ x: [T]) -> T {
        if x.isEmpty { return 0 }
        return x.withUnsafeBufferPointer { T._nrm2(n: x.count, x: $0.baseAddress!, incx: 1) }
    }

    /// x <- alpha x
    public static func scal<T: AgoraScalar>(_ alpha: T, _ x: inout [T]) {
        let n = x.count
        if n == 0 { return }
        x.withUnsafeMutableBufferPointer { T._scal(n: n, alpha: alpha, x: $0.baseAddress!, incx: 1) }
    }

    /// Eigenvalues (ascending) of a symmetric matrix, by LAPACK `?syev` (upper triangle read).
    public static func symmetricEigenvalues<T: AgoraScalar>(_ a: Matrix<T>) throws -> [T] {
        guard a.rows == a.cols else { throw AgoraError.shape("symmetricEigenvalues: matrix is \(a.rows) x \(a.cols), not square") }
        let n = a.rows
        if n == 0 { return [] }
        for v in a.storage where !v.isFinite {
            throw AgoraError.shape("symmetricEigenvalues: matrix has a non-finite entry")
        }
        // LAPACK is column-major; a symmetric matrix is its own transpose, so row-major is fine.
        var work = a.storage
        var w = [T](repeating: 0, count: n)
        let info = work.withUnsafeMutableBufferPointer { ap in
            w.withUnsafeMutableBufferPointer { wp in
                T._syev(n: n, a: ap.baseAddress!, w: wp.baseAddress!, vectors: false)
            }
        }
        guard info == 0 else { throw AgoraError.shape("symmetricEigenvalues: LAPACK syev failed (info = \(info))") }
        return w
    }
}
