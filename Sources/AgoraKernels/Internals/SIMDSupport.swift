import CAgoraSupport
// Internal helpers for SIMD loads/stores on raw element pointers. Kept in one place, in the manner
// of swift-collections' unsafe-buffer helpers.

/// The vector type the kernels use: 16 lanes (4 SSE2 registers for Float in a portable build, one
/// AVX-512 register with `-march=native`). Wide enough to hide latency, narrow enough to spill little.
@usableFromInline typealias Vec<T: AgoraScalar> = SIMD16<T>
@usableFromInline let vecWidth = 16

@inline(__always) @usableFromInline
func loadVec<T: AgoraScalar>(_ p: UnsafePointer<T>) -> SIMD16<T> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<T>.self)
}

@inline(__always) @usableFromInline
func storeVec<T: AgoraScalar>(_ v: SIMD16<T>, _ p: UnsafeMutablePointer<T>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<T>.self)
}

/// Streaming (non-temporal) store of a vector to a 16-byte aligned address (see CAgoraSupport).
@inline(__always) @usableFromInline
func streamVec<T: AgoraScalar>(_ v: SIMD16<T>, _ p: UnsafeMutablePointer<T>) {
    var tmp = v
    withUnsafeBytes(of: &tmp) { raw in
        if T.self == Float.self {
            agora_stream_f32x16(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), raw.baseAddress!.assumingMemoryBound(to: Float.self))
        } else {
            agora_stream_f64x16(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self), raw.baseAddress!.assumingMemoryBound(to: Double.self))
        }
    }
}

/// Sum of the 16 lanes in a fixed pairwise order (so the result never depends on the caller).
@inline(__always) @usableFromInline
func horizontalSum<T: AgoraScalar>(_ v: SIMD16<T>) -> T {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

/// Sum of `x[0..<n]` in a fixed order: 16 lane-wise partial sums over full vectors, a pairwise
/// lane reduction, then the tail in order.
@inline(__always) @usableFromInline
func fixedOrderSum<T: AgoraScalar>(_ x: UnsafePointer<T>, _ n: Int) -> T {
    var acc = SIMD16<T>.zero
    var k = 0
    while k + vecWidth <= n { acc += loadVec(x + k); k += vecWidth }
    var s = horizontalSum(acc)
    while k < n { s += x[k]; k += 1 }
    return s
}

/// Dot product of `x[0..<n]` and `y[0..<n]` in the same fixed order as `fixedOrderSum`.
@inline(__always) @usableFromInline
func fixedOrderDot<T: AgoraScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ n: Int) -> T {
    var acc = SIMD16<T>.zero
    var k = 0
    while k + vecWidth <= n { acc += loadVec(x + k) * loadVec(y + k); k += vecWidth }
    var s = horizontalSum(acc)
    while k < n { s += x[k] * y[k]; k += 1 }
    return s
}

/// Sends raw pointers into `@Sendable` parallel closures. The kernels guarantee that parallel
/// parts write disjoint ranges.
@usableFromInline struct SendablePointer<T>: @unchecked Sendable {
    @usableFromInline let p: UnsafeMutablePointer<T>
    @inlinable init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}
