/// The floating-point element types Agora's kernels accept: `Float` (the default for model
/// parameters and mixing) and `Double` (payments, ledgers, solvers, reference computations).
///
/// The protocol carries the BLAS entry points for the type, so generic kernels can call the right
/// `cblas_s*` / `cblas_d*` routine without run-time type checks. All of them are implemented in
/// `BLAS.swift`, the only file of Agora that calls CBLAS.
public protocol AgoraScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable
where Self.RawSignificand: FixedWidthInteger {
    /// A short name used in benchmark records and error messages ("f32" or "f64").
    static var typeName: String { get }
    /// The value as a Double (exact for Float and Double). A requirement rather than the generic
    /// `Double(_:)`, whose unspecialised form is a call per element in the wide kernels.
    var wide: Double { get }
    /// Sixteen lanes as Doubles (exact), for the same reason.
    static func wide(_ v: SIMD16<Self>) -> SIMD16<Double>

    // Raw BLAS entry points; see `BLAS` for the shape-checked public wrappers.
    static func _gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func _gemv(
        trans: Bool, m: Int, n: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        x: UnsafePointer<Self>, incx: Int, beta: Self, y: UnsafeMutablePointer<Self>, incy: Int)
    static func _syrk(
        n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func _dot(n: Int, x: UnsafePointer<Self>, incx: Int, y: UnsafePointer<Self>, incy: Int) -> Self
    static func _axpy(n: Int, alpha: Self, x: UnsafePointer<Self>, incx: Int, y: UnsafeMutablePointer<Self>, incy: Int)
    static func _nrm2(n: Int, x: UnsafePointer<Self>, incx: Int) -> Self
    static func _scal(n: Int, alpha: Self, x: UnsafeMutablePointer<Self>, incx: Int)
    static func _syev(n: Int, a: UnsafeMutablePointer<Self>, w: UnsafeMutablePointer<Self>, vectors: Bool) -> Int
}
