extension Kernels {
    /// Four outputs per element of `x`, computed on the pool: `body` receives a chunk of `x` and the
    /// four outputs at the same offset (chunks of ~1e6 outcomes' values and derivatives, in loops
    /// that vectorise). The chunks depend on the thread count, so `body` must compute each element
    /// from its own input alone (pad a vector tail rather than switching to a different formula).
    public static func map4Chunks(
        _ x: [Double], pool: ThreadPool = .shared,
        _ body: (
            UnsafeBufferPointer<Double>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>,
            UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>
        ) -> Void
    ) -> ([Double], [Double], [Double], [Double]) {
        let n = x.count
        // Every element is written below (four separate buffers: copies would share one until written).
        func output() -> [Double] { [Double](unsafeUninitializedCapacity: n) { _, c in c = n } }
        var r0 = output(), r1 = output(), r2 = output(), r3 = output()
        x.withUnsafeBufferPointer { xb in
            r0.withUnsafeMutableBufferPointer { b0 in
                r1.withUnsafeMutableBufferPointer { b1 in
                    r2.withUnsafeMutableBufferPointer { b2 in
                        r3.withUnsafeMutableBufferPointer { b3 in
                            guard n > 0 else { return }
                            let xp = xb.baseAddress!, p0 = b0.baseAddress!, p1 = b1.baseAddress!, p2 = b2.baseAddress!, p3 = b3.baseAddress!
                            pool.parallelFor(n, bytes: n * 40) { range in
                                let lo = range.lowerBound
                                body(UnsafeBufferPointer(start: xp + lo, count: range.count), p0 + lo, p1 + lo, p2 + lo, p3 + lo)
                            }
                        }
                    }
                }
            }
        }
        return (r0, r1, r2, r3)
    }

    /// Maps two inputs to three outputs eight lanes at a time: `body` receives `x[i..<i+8]` and
    /// `y[i..<i+8]` as vectors and returns the three output vectors for those elements. The tail
    /// (`count % 8` elements) goes through the same `body` with its missing lanes padded by
    /// `padding` and discarded, so every element is computed by the same lane arithmetic
    /// whatever its position: results do not change when a caller splits its range differently
    /// (by thread count, say), which a scalar tail loop could not promise.
    ///
    /// `y` may be one of the outputs (a caller's scratch): each block is loaded before it is
    /// stored. `body` must be pure lane-wise arithmetic.
    @inlinable @inline(__always)
    public static func mapLanes8(
        count n: Int, _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, padding: Double = 0,
        into o0: UnsafeMutablePointer<Double>, _ o1: UnsafeMutablePointer<Double>, _ o2: UnsafeMutablePointer<Double>,
        _ body: (SIMD8<Double>, SIMD8<Double>) -> (SIMD8<Double>, SIMD8<Double>, SIMD8<Double>)
    ) {
        typealias V = SIMD8<Double>
        var i = 0
        while i + 8 <= n {
            let (r0, r1, r2) = body(UnsafeRawPointer(x + i).loadUnaligned(as: V.self), UnsafeRawPointer(y + i).loadUnaligned(as: V.self))
            UnsafeMutableRawPointer(o0 + i).storeBytes(of: r0, as: V.self)
            UnsafeMutableRawPointer(o1 + i).storeBytes(of: r1, as: V.self)
            UnsafeMutableRawPointer(o2 + i).storeBytes(of: r2, as: V.self)
            i += 8
        }
        if i < n {
            var u = V(repeating: padding), v = V(repeating: padding)
            for l in 0..<(n - i) {
                u[l] = x[i + l]
                v[l] = y[i + l]
            }
            let (r0, r1, r2) = body(u, v)
            for l in 0..<(n - i) {
                o0[i + l] = r0[l]
                o1[i + l] = r1[l]
                o2[i + l] = r2[l]
            }
        }
    }

    /// The index pairs (a, b) with a <= b of `k` columns in row-major order of the upper triangle:
    /// the pair moments of `weightedMoments(..., combiningPairsWith:)`.
    public static func upperTrianglePairs(_ k: Int) -> [(Int, Int)] {
        var pairs: [(Int, Int)] = []
        pairs.reserveCapacity(k * (k + 1) / 2)
        for a in 0..<max(0, k) { for b in a..<k { pairs.append((a, b)) } }
        return pairs
    }

    /// The weighted moments an expectation's value and gradient need, for H weight rows at once:
    /// with x_o the o-th column of `xt` ([k x outcomes], one row per feature) and W [H x outcomes],
    ///
    ///     M[h, 0]     = sum_o W[h, o] f0[o]
    ///     M[h, 1 + a] = sum_o W[h, o] f1[o] x_o[a]       (a < k; when f1 is given)
    ///
    /// Why one kernel: the contract solver needs these at ~1e6 outcomes every Newton step (with the
    /// pair block of the next function). Scaling W by f1 first wrote and re-read an [H x outcomes]
    /// matrix, and OpenBLAS ran the small per-chunk products in its small-matrix path at ~13
    /// GFLOP/s. Here outcomes are taken 128 at a time: the block's right-hand side (1 + k rows, unit
    /// stride) and weight rows are copied into L1-resident, zero-padded buffers, and a
    /// register-blocked SIMD kernel (3 weight rows x 3 right-hand rows x 8 outcomes, 9 vector
    /// accumulators) adds their products. Accumulators are reduced to scalars per fixed span of 8192
    /// outcomes, and the spans' sums are added in order, so the result does not depend on the
    /// thread count. Values alone (no f1) read W and f0 in place, in the same lane order.
    ///
    /// Multiplications and additions are separate (no fused multiply-add: a portable build would
    /// call libm per lane), summed lane-wise: the rounding differs from a sequential sum by the
    /// usual O(n eps) of any summation order.
    ///
    /// `xt` may be Float: enumerated counts are small integers, exact in single precision, and half
    /// the bytes of the pass (the contract solver keeps its counts so).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func weightedMoments<T: AgoraScalar>(
        columns xt: Matrix<T>, weights w: Matrix<Double>, f0: [Double], f1: [Double]? = nil,
        pool: ThreadPool = .shared
    ) throws -> Matrix<Double> {
        try moments(xt, w, f0: f0, f1: f1, f2: nil, combination: nil, pool: pool).0
    }

    /// `weightedMoments` with f1, plus the pair moments of one combination of the weight rows:
    ///
    ///     pairs[q] = sum_o (sum_h c[h] W[h, o]) f2[o] x_o[a_q] x_o[b_q]
    ///
    /// for the pairs (a_q, b_q) of `upperTrianglePairs(k)`. Why: a Newton step needs the gradient of
    /// every constraint but only one Hessian, that of the weighted sum its barrier (or KKT system)
    /// forms; at H = 9 and k = 8 this is 81 + 36 + 9 products per outcome instead of 405 for every
    /// row's Hessian. The combination is formed per outcome in a fixed row order; sums as in
    /// `weightedMoments`, so neither result depends on the thread count.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func weightedMoments<T: AgoraScalar>(
        columns xt: Matrix<T>, weights w: Matrix<Double>, f0: [Double], f1: [Double], f2: [Double],
        combiningPairsWith c: [Double], pool: ThreadPool = .shared
    ) throws -> (perRow: Matrix<Double>, pairs: [Double]) {
        guard c.count == w.rows else {
            throw AgoraError.shape("weightedMoments: \(c.count) combination coefficients for \(w.rows) weight rows")
        }
        let (perRow, pairs) = try moments(xt, w, f0: f0, f1: f1, f2: f2, combination: c, pool: pool)
        return (perRow, pairs)
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    private static func moments<T: AgoraScalar>(
        _ xt: Matrix<T>, _ w: Matrix<Double>, f0: [Double], f1: [Double]?, f2: [Double]?,
        combination: [Double]?, pool: ThreadPool
    ) throws -> (Matrix<Double>, [Double]) {
        let rows = xt.cols, k = xt.rows, h = w.rows
        guard w.cols == rows else { throw AgoraError.shape("weightedMoments: weights have \(w.cols) columns for \(rows) outcomes") }
        guard f0.count == rows, f1.map({ $0.count == rows }) ?? true, f2.map({ $0.count == rows }) ?? true else {
            throw AgoraError.shape("weightedMoments: per-outcome factors must have \(rows) entries")
        }
        let p = k * (k + 1) / 2
        let combined = combination != nil  // then f1 and f2 are given (the public entry points)
        // Right-hand rows that go through the blocked kernel: the value and the first moments.
        let cols = 1 + (f1 == nil ? 0 : k)
        let outPairs = combined ? p : 0
        let stride = h * cols + outPairs  // one span's partial sums
        var out = Matrix<Double>(rows: h, cols: cols)
        var pairOut = [Double](repeating: 0, count: outPairs)
        guard rows > 0, h > 0 else { return (out, pairOut) }
        let span = 8192, spans = (rows + span - 1) / span, block = 128
        let hp = (h + 2) / 3 * 3, cp = (cols + 2) / 3 * 3
        var partials = [Double](repeating: 0, count: spans * stride)
        let none = [Double]()
        xt.storage.withUnsafeBufferPointer { xb in
            w.storage.withUnsafeBufferPointer { wb in
                f0.withUnsafeBufferPointer { g0 in
                    (f1 ?? none).withUnsafeBufferPointer { g1 in
                        (f2 ?? none).withUnsafeBufferPointer { g2 in
                            (combination ?? none).withUnsafeBufferPointer { cb in
                                partials.withUnsafeMutableBufferPointer { partb in
                                    let xp = xb.baseAddress, wp = wb.baseAddress!, part = partb.baseAddress!
                                    // An empty array may still have a base address: presence is decided by f1/f2 themselves.
                                    let p0 = g0.baseAddress!, p1 = f1 == nil ? nil : g1.baseAddress, p2 = f2 == nil ? nil : g2.baseAddress
                                    let coef = combined ? cb.baseAddress : nil
                                    pool.parallelFor(spans, bytes: rows * (h + k + 3) * 8) { range in
                                        // wl [hp x block], bl [cp x block], xl [k x block], t and cw [block], acc [hp x cp] x 8, pacc [p] x 8
                                        let bufferCount = (hp + cp + k + 2) * block + (hp * cp + p) * 8
                                        withUnsafeTemporaryAllocation(of: Double.self, capacity: bufferCount) { buffer in
                                            let base = buffer.baseAddress!
                                            base.initialize(repeating: 0, count: bufferCount)  // padding rows and lanes stay zero
                                            let wl = base, bl = wl + hp * block, xl = bl + cp * block, t = xl + k * block, cw = t + block
                                            let acc = cw + block, pacc = acc + hp * cp * 8
                                            for c in range {
                                                let lo = c * span, hi = min(rows, lo + span)
                                                if cols == 1 && !combined {
                                                    // Values only: each weight row times f0 straight from memory, with the
                                                    // same lane-wise order as the blocked path (identical sums, no copies).
                                                    for hh in 0..<h {
                                                        let wr = wp + hh * rows
                                                        var v = SIMD8<Double>(repeating: 0)
                                                        var o = lo
                                                        while o + 8 <= hi {
                                                            v +=
                                                                UnsafeRawPointer(wr + o).loadUnaligned(as: SIMD8<Double>.self)
                                                                * UnsafeRawPointer(p0 + o).loadUnaligned(as: SIMD8<Double>.self)
                                                            o += 8
                                                        }
                                                        if o < hi {
                                                            var x = SIMD8<Double>(repeating: 0), y = x
                                                            for l in 0..<(hi - o) {
                                                                x[l] = wr[o + l]
                                                                y[l] = p0[o + l]
                                                            }
                                                            v += x * y
                                                        }
                                                        part[c * stride + hh] = horizontalSum(v)
                                                    }
                                                    continue
                                                }
                                                acc.update(repeating: 0, count: hp * cp * 8)
                                                pacc.update(repeating: 0, count: p * 8)
                                                for s in Swift.stride(from: lo, to: hi, by: block) {
                                                    let n = min(block, hi - s), vectors = (n + 7) / 8
                                                    if n < block {  // the last, partial block: clear the lanes past its end
                                                        wl.update(repeating: 0, count: hp * block)
                                                        bl.update(repeating: 0, count: cp * block)
                                                        xl.update(repeating: 0, count: k * block)
                                                        cw.update(repeating: 0, count: block)
                                                    }
                                                    for hh in 0..<h { (wl + hh * block).update(from: wp + hh * rows + s, count: n) }
                                                    // Row j of bl is the j-th column of the right-hand side over this block.
                                                    // (Offset pointers, not p1[s + r]: the checked index sum kept these loops scalar.)
                                                    bl.update(from: p0 + s, count: n)
                                                    if let p1, let xp {
                                                        for a in 0..<k {
                                                            let src = xp + a * rows + s, dst = xl + a * block
                                                            for r in 0..<n { dst[r] = Double(src[r]) }
                                                        }
                                                        let g1 = p1 + s
                                                        for a in 0..<k {
                                                            let xa = xl + a * block, ba = bl + (1 + a) * block
                                                            for r in 0..<n { ba[r] = g1[r] * xa[r] }
                                                        }
                                                        if let p2, let coef {
                                                            // The combined weight times f2, then the pair sums in registers.
                                                            let g2 = p2 + s
                                                            for r in 0..<n { cw[r] = 0 }
                                                            for hh in 0..<h {
                                                                let ch = coef[hh], wr = wl + hh * block
                                                                for r in 0..<n { cw[r] += ch * wr[r] }
                                                            }
                                                            for r in 0..<n { cw[r] *= g2[r] }
                                                            combinedPairs(cw, xl, t, pacc, k: k, block: block, vectors: vectors)
                                                        }
                                                    }
                                                    momentsMicroKernel(wl, bl, acc, hp: hp, cp: cp, block: block, vectors: vectors)
                                                }
                                                // Lane sums in a fixed order, into this span's partial.
                                                let out = part + c * stride
                                                for hh in 0..<h {
                                                    for j in 0..<cols {
                                                        out[hh * cols + j] = horizontalSum(load(acc + (hh * cp + j) * 8))
                                                    }
                                                }
                                                for q in 0..<outPairs { out[h * cols + q] = horizontalSum(load(pacc + q * 8)) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out.storage.withUnsafeMutableBufferPointer { ob in
            for c in 0..<spans { for e in 0..<(h * cols) { ob[e] += partials[c * stride + e] } }
        }
        for c in 0..<spans { for q in 0..<outPairs { pairOut[q] += partials[c * stride + h * cols + q] } }
        return (out, pairOut)
    }

    /// sum_a m[a] x[a, :]: a fixed linear combination of the rows of `x`, on the pool (each output
    /// element sums its column in row order, so the result does not depend on the thread count).
    /// The contract solver's outcome totals n_o . m, read from the transposed counts.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func rowCombination<T: AgoraScalar>(
        _ x: Matrix<T>, coefficients m: [Double], pool: ThreadPool = .shared
    ) throws -> [Double] {
        guard m.count == x.rows else { throw AgoraError.shape("rowCombination: \(m.count) coefficients for \(x.rows) rows") }
        let cols = x.cols, rows = x.rows
        var y = [Double](repeating: 0, count: cols)
        guard cols > 0, rows > 0 else { return y }
        x.storage.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                let xp = xb.baseAddress!, yp = yb.baseAddress!
                pool.parallelFor(cols, bytes: (rows + 1) * cols * 8) { range in
                    // Blocks of 2048 outputs stay in L1 while every row adds into them.
                    for lo in stride(from: range.lowerBound, to: range.upperBound, by: 2048) {
                        let hi = min(range.upperBound, lo + 2048)
                        for a in 0..<rows {
                            let ma = m[a], xa = xp + a * cols
                            for o in lo..<hi { yp[o] += ma * Double(xa[o]) }
                        }
                    }
                }
            }
        }
        return y
    }
}

/// acc[i, j] += w[i] * b[j] lane-wise over `vectors` x 8 outcomes, for i < hp and j < cp (both
/// multiples of 3): 3 x 3 tiles of SIMD8 accumulators held in registers across the block (with
/// AVX-512 LLVM splits each SIMD8<Double> into two 256-bit halves: 18 accumulators, 6 weight and 2
/// right-hand registers fit the 32 vector registers; a 3 x 4 tile spilled).
/// `w` is [hp x block], `b` [cp x block], `acc` [hp x cp] vectors of 8.
@inline(__always)
private func momentsMicroKernel(
    _ w: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>, _ acc: UnsafeMutablePointer<Double>,
    hp: Int, cp: Int, block: Int, vectors: Int
) {
    for i in stride(from: 0, to: hp, by: 3) {
        let w0 = w + i * block, w1 = w0 + block, w2 = w1 + block
        for j in stride(from: 0, to: cp, by: 3) {
            let b0 = b + j * block, b1 = b0 + block, b2 = b1 + block
            let a0 = acc + (i * cp + j) * 8, a1 = a0 + cp * 8, a2 = a1 + cp * 8
            var c00 = load(a0), c01 = load(a0 + 8), c02 = load(a0 + 16)
            var c10 = load(a1), c11 = load(a1 + 8), c12 = load(a1 + 16)
            var c20 = load(a2), c21 = load(a2 + 8), c22 = load(a2 + 16)
            for v in 0..<vectors {
                let o = v * 8
                let x0 = load(w0 + o), x1 = load(w1 + o), x2 = load(w2 + o)
                let y0 = load(b0 + o)
                c00 += x0 * y0
                c10 += x1 * y0
                c20 += x2 * y0
                let y1 = load(b1 + o)
                c01 += x0 * y1
                c11 += x1 * y1
                c21 += x2 * y1
                let y2 = load(b2 + o)
                c02 += x0 * y2
                c12 += x1 * y2
                c22 += x2 * y2
            }
            store(c00, a0)
            store(c01, a0 + 8)
            store(c02, a0 + 16)
            store(c10, a1)
            store(c11, a1 + 8)
            store(c12, a1 + 16)
            store(c20, a2)
            store(c21, a2 + 8)
            store(c22, a2 + 16)
        }
    }
}

/// pacc[q] += cw * x[a_q] * x[b_q] lane-wise over `vectors` x 8 outcomes, for the pairs of
/// `Kernels.upperTrianglePairs(k)` in order: t = cw * x[a] once per a, then each pair's sum held in
/// a register over the block. `x` is [k x block], `pacc` [pairs] vectors of 8.
@inline(__always)
private func combinedPairs(
    _ cw: UnsafeMutablePointer<Double>, _ x: UnsafeMutablePointer<Double>, _ t: UnsafeMutablePointer<Double>,
    _ pacc: UnsafeMutablePointer<Double>, k: Int, block: Int, vectors: Int
) {
    var q = 0
    for a in 0..<k {
        let xa = x + a * block
        for v in 0..<vectors { store(load(cw + v * 8) * load(xa + v * 8), t + v * 8) }
        for b in a..<k {
            let xb = x + b * block, slot = pacc + q * 8
            var s = load(slot)
            for v in 0..<vectors { s += load(t + v * 8) * load(xb + v * 8) }
            store(s, slot)
            q += 1
        }
    }
}

// Unaligned SIMD8<Double> loads and stores of the moment kernels' L1 buffers.
@inline(__always) private func load(_ p: UnsafeMutablePointer<Double>) -> SIMD8<Double> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self)
}
@inline(__always) private func store(_ v: SIMD8<Double>, _ p: UnsafeMutablePointer<Double>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Double>.self)
}
