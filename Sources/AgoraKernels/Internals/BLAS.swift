import COpenBLAS

// This is the only file in Agora that calls CBLAS, LAPACK or OpenBLAS's own C functions
// (in the manner of swift-system's internal syscall file). Every routine is wrapped once, with
// shape checks in the public wrappers of `BLAS` and none here.

@inline(__always) private func order() -> CBLAS_ORDER { CblasRowMajor }
@inline(__always) private func tr(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }
@inline(__always) private func i32(_ v: Int) -> Int32 { Int32(truncatingIfNeeded: v) }

extension Float: AgoraScalar {
    public static var typeName: String { "f32" }
    @inline(__always) public var wide: Double { Double(self) }
    @inline(__always) public static func wide(_ v: SIMD16<Float>) -> SIMD16<Double> {
        // Lane by lane with a constant trip count (becomes vcvtps2pd; the standard library's
        // SIMD16<Double>(v) stayed an out-of-line call per vector).
        var out = SIMD16<Double>()
        for i in 0..<16 { out[i] = Double(v[i]) }
        return out
    }
    public static func _gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(order(), tr(transA), tr(transB), i32(m), i32(n), i32(k), alpha, a, i32(lda), b, i32(ldb), beta, c, i32(ldc))
    }
    public static func _gemv(
        trans: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, incx: Int, beta: Float, y: UnsafeMutablePointer<Float>, incy: Int
    ) {
        cblas_sgemv(order(), tr(trans), i32(m), i32(n), alpha, a, i32(lda), x, i32(incx), beta, y, i32(incy))
    }
    public static func _syrk(
        n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_ssyrk(order(), CblasUpper, CblasNoTrans, i32(n), i32(k), alpha, a, i32(lda), beta, c, i32(ldc))
    }
    public static func _dot(n: Int, x: UnsafePointer<Float>, incx: Int, y: UnsafePointer<Float>, incy: Int) -> Float {
        cblas_sdot(i32(n), x, i32(incx), y, i32(incy))
    }
    public static func _axpy(n: Int, alpha: Float, x: UnsafePointer<Float>, incx: Int, y: UnsafeMutablePointer<Float>, incy: Int) {
        cblas_saxpy(i32(n), alpha, x, i32(incx), y, i32(incy))
    }
    public static func _nrm2(n: Int, x: UnsafePointer<Float>, incx: Int) -> Float {
        cblas_snrm2(i32(n), x, i32(incx))
    }
    public static func _scal(n: Int, alpha: Float, x: UnsafeMutablePointer<Float>, incx: Int) {
        cblas_sscal(i32(n), alpha, x, i32(incx))
    }
    public static func _syev(n: Int, a: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>, vectors: Bool) -> Int {
        var job: CChar = vectors ? 0x56 /* V */ : 0x4E /* N */
        var uplo: CChar = 0x55 /* U */
        var nn = i32(n), lda = i32(n), info: Int32 = 0, lwork: Int32 = -1
        var query: Float = 0
        ssyev_(&job, &uplo, &nn, a, &lda, w, &query, &lwork, &info, 1, 1)
        if info != 0 { return Int(info) }
        lwork = max(1, Int32(query))
        var work = [Float](repeating: 0, count: Int(lwork))
        work.withUnsafeMutableBufferPointer { wb in
            ssyev_(&job, &uplo, &nn, a, &lda, w, wb.baseAddress!, &lwork, &info, 1, 1)
        }
        return Int(info)
    }
}

extension Double: AgoraScalar {
    public static var typeName: String { "f64" }
    @inline(__always) public var wide: Double { self }
    @inline(__always) public static func wide(_ v: SIMD16<Double>) -> SIMD16<Double> { v }
    public static func _gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(order(), tr(transA), tr(transB), i32(m), i32(n), i32(k), alpha, a, i32(lda), b, i32(ldb), beta, c, i32(ldc))
    }
    public static func _gemv(
        trans: Bool, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
        x: UnsafePointer<Double>, incx: Int, beta: Double, y: UnsafeMutablePointer<Double>, incy: Int
    ) {
        cblas_dgemv(order(), tr(trans), i32(m), i32(n), alpha, a, i32(lda), x, i32(incx), beta, y, i32(incy))
    }
    public static func _syrk(
        n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int, beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dsyrk(order(), CblasUpper, CblasNoTrans, i32(n), i32(k), alpha, a, i32(lda), beta, c, i32(ldc))
    }
    public static func _dot(n: Int, x: UnsafePointer<Double>, incx: Int, y: UnsafePointer<Double>, incy: Int) -> Double {
        cblas_ddot(i32(n), x, i32(incx), y, i32(incy))
    }
    public static func _axpy(n: Int, alpha: Double, x: UnsafePointer<Double>, incx: Int, y: UnsafeMutablePointer<Double>, incy: Int) {
        cblas_daxpy(i32(n), alpha, x, i32(incx), y, i32(incy))
    }
    public static func _nrm2(n: Int, x: UnsafePointer<Double>, incx: Int) -> Double {
        cblas_dnrm2(i32(n), x, i32(incx))
    }
    public static func _scal(n: Int, alpha: Double, x: UnsafeMutablePointer<Double>, incx: Int) {
        cblas_dscal(i32(n), alpha, x, i32(incx))
    }
    public static func _syev(n: Int, a: UnsafeMutablePointer<Double>, w: UnsafeMutablePointer<Double>, vectors: Bool) -> Int {
        var job: CChar = vectors ? 0x56 : 0x4E
        var uplo: CChar = 0x55
        var nn = i32(n), lda = i32(n), info: Int32 = 0, lwork: Int32 = -1
        var query: Double = 0
        dsyev_(&job, &uplo, &nn, a, &lda, w, &query, &lwork, &info, 1, 1)
        if info != 0 { return Int(info) }
        lwork = max(1, Int32(query))
        var work = [Double](repeating: 0, count: Int(lwork))
        work.withUnsafeMutableBufferPointer { wb in
            dsyev_(&job, &uplo, &nn, a, &lda, w, wb.baseAddress!, &lwork, &info, 1, 1)
        }
        return Int(info)
    }
}

/// OpenBLAS's run-time configuration: build string, selected core kernel, thread count.
///
/// Benchmarks record `config` and `coreName` (an `OPENBLAS_CORETYPE=Haswell` environment forces
/// AVX2 kernels that run about 2x slower than the Zen 5 default; see platform.md).
public enum OpenBLAS {
    /// The build configuration string, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64".
    public static var config: String { String(cString: openblas_get_config()) }
    /// The core kernel set OpenBLAS selected at start-up (e.g. "Zen", "Haswell", "SkylakeX").
    public static var coreName: String { String(cString: openblas_get_corename()) }
    /// OpenBLAS's own thread count (used for calls made outside Agora's parallel regions).
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }
    /// Runs `body` with OpenBLAS restricted to one thread, restoring the previous count after.
    ///
    /// Use it around BLAS calls made from inside Agora's own parallel regions: nested threading
    /// oversubscribes the cores and slows everything down.
    public static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        let previous = threads
        if previous == 1 { return try body() }
        threads = 1
        defer { threads = previous }
        return try body()
    }
}
