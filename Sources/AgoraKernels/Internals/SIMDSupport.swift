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

/// Eight Doubles (one AVX-512 register), for kernels over short padded rows.
@inline(__always) @usableFromInline
func loadVec8(_ p: UnsafePointer<Double>) -> SIMD8<Double> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self)
}

@inline(__always) @usableFromInline
func storeVec8(_ v: SIMD8<Double>, _ p: UnsafeMutablePointer<Double>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Double>.self)
}

/// Streaming (non-temporal) store of a vector to a 16-byte aligned address (see CAgoraSupport).
@inline(__always) @usableFromInline
func streamVec<T: AgoraScalar>(_ v: SIMD16<T>, _ p: UnsafeMutablePointer<T>) {
    var tmp = v
    withUnsafeBytes(of: &tmp) { raw in
        if T.self == Float.self {
            agora_stream_f32x16(
                UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), raw.baseAddress!.assumingMemoryBound(to: Float.self))
        } else {
            agora_stream_f64x16(
                UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self), raw.baseAddress!.assumingMemoryBound(to: Double.self))
        }
    }
}

/// Sum of the 16 lanes in a fixed pairwise order (so the result never depends on the caller).
@inline(__always) @usableFromInline
func horizontalSum<T: AgoraScalar>(_ v: SIMD16<T>) -> T {
    horizontalSum(v.lowHalf + v.highHalf)
}

/// Sum of 8 lanes in the same fixed pairwise order.
@inline(__always) @usableFromInline
func horizontalSum<T: AgoraScalar>(_ v: SIMD8<T>) -> T {
    let b = v.lowHalf + v.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

/// Sum of `x[0..<n]` in a fixed order: 16 lane-wise partial sums over full vectors, a pairwise
/// lane reduction, then the tail in order.
@inline(__always) @usableFromInline
func fixedOrderSum<T: AgoraScalar>(_ x: UnsafePointer<T>, _ n: Int) -> T {
    var acc = SIMD16<T>.zero
    var k = 0
    while k + vecWidth <= n {
        acc += loadVec(x + k)
        k += vecWidth
    }
    var s = horizontalSum(acc)
    while k < n {
        s += x[k]
        k += 1
    }
    return s
}

/// Dot product of `x[0..<n]` and `y[0..<n]` in the same fixed order as `fixedOrderSum`.
@inline(__always) @usableFromInline
func fixedOrderDot<T: AgoraScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ n: Int) -> T {
    var acc = SIMD16<T>.zero
    var k = 0
    while k + vecWidth <= n {
        acc += loadVec(x + k) * loadVec(y + k)
        k += vecWidth
    }
    var s = horizontalSum(acc)
    while k < n {
        s += x[k] * y[k]
        k += 1
    }
    return s
}

/// Four dot products x_k . y at once, each in exactly `fixedOrderDot`'s order (so each result is
/// bit-identical to it): four independent accumulators hide the FMA latency that bounds one dot,
/// and y is loaded once for the four rows.
@inline(__always) @usableFromInline
func fixedOrderDot4<T: AgoraScalar>(
    _ x0: UnsafePointer<T>, _ x1: UnsafePointer<T>, _ x2: UnsafePointer<T>, _ x3: UnsafePointer<T>,
    _ y: UnsafePointer<T>, _ n: Int
) -> (T, T, T, T) {
    var a0 = SIMD16<T>.zero, a1 = SIMD16<T>.zero, a2 = SIMD16<T>.zero, a3 = SIMD16<T>.zero
    var k = 0
    while k + vecWidth <= n {
        let yv = loadVec(y + k)
        a0 += loadVec(x0 + k) * yv
        a1 += loadVec(x1 + k) * yv
        a2 += loadVec(x2 + k) * yv
        a3 += loadVec(x3 + k) * yv
        k += vecWidth
    }
    var s0 = horizontalSum(a0), s1 = horizontalSum(a1), s2 = horizontalSum(a2), s3 = horizontalSum(a3)
    while k < n {
        s0 += x0[k] * y[k]
        s1 += x1[k] * y[k]
        s2 += x2[k] * y[k]
        s3 += x3[k] * y[k]
        k += 1
    }
    return (s0, s1, s2, s3)
}

/// out += s0 x0, then += s1 x1, += s2 x2, += s3 x3: per element the same operations in the same
/// order as four successive axpys (bit-identical), with out loaded and stored once instead of four
/// times.
@inline(__always) @usableFromInline
func addScaled4<T: AgoraScalar>(
    _ x0: UnsafePointer<T>, _ x1: UnsafePointer<T>, _ x2: UnsafePointer<T>, _ x3: UnsafePointer<T>,
    _ s: (T, T, T, T), into out: UnsafeMutablePointer<T>, _ n: Int
) {
    let v0 = SIMD16<T>(repeating: s.0), v1 = SIMD16<T>(repeating: s.1), v2 = SIMD16<T>(repeating: s.2), v3 = SIMD16<T>(repeating: s.3)
    var q = 0
    while q + vecWidth <= n {
        var g = loadVec(out + q)
        g = g + v0 * loadVec(x0 + q)
        g = g + v1 * loadVec(x1 + q)
        g = g + v2 * loadVec(x2 + q)
        g = g + v3 * loadVec(x3 + q)
        storeVec(g, out + q)
        q += vecWidth
    }
    while q < n {
        out[q] += s.0 * x0[q]
        out[q] += s.1 * x1[q]
        out[q] += s.2 * x2[q]
        out[q] += s.3 * x3[q]
        q += 1
    }
}

/// Sends raw pointers into `@Sendable` parallel closures. The kernels guarantee that parallel
/// parts write disjoint ranges.
@usableFromInline struct SendablePointer<T>: @unchecked Sendable {
    @usableFromInline let p: UnsafeMutablePointer<T>
    @inlinable init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}
