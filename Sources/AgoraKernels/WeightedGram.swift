extension Kernels {
    /// H = (1/divisor) sum_i w_i x_i x_i^T + ridge I for the rows of `x` (d x d, Double): the
    /// Hessian of a generalized linear model, with w_i = l''(z_i). Dense rows with non-negative
    /// weights go through dgemm in fixed row blocks; otherwise rows are accumulated in order (dense
    /// rows skip zero entries, sparse rows touch their non-zeros only). Either way the result is
    /// independent of threads. O(n d^2) for dense data, O(sum
    /// nnz_i^2) for sparse data: for reference solves on problems of moderate width.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func weightedGram<T: AgoraScalar>(
        _ x: FeatureRows<T>, rowWeights w: [Double], divisor: Double, ridge: Double, pool: ThreadPool = .shared
    ) throws -> Matrix<Double> {
        guard w.count == x.rows else { throw AgoraError.shape("weightedGram: \(w.count) weights for \(x.rows) rows") }
        let d = x.cols
        var h = Matrix<Double>(rows: d, cols: d)
        h.storage.withUnsafeMutableBufferPointer { hb in
            let hp = hb.baseAddress!
            switch x {
            case let .dense(m) where d > 0 && d <= smallGramWidth && w.allSatisfy({ $0.isFinite }):
                smallDenseWeightedGram(m, w, into: hp, pool: pool)
            case let .dense(m) where d > 0 && w.allSatisfy({ $0 >= 0 && $0.isFinite }):
                // Blocks of rows scaled by sqrt(w_i), then H += S^T S by one dgemm per block (the
                // reference solve's Newton steps on 10^4 agents' data: this Gram was a fifth of the
                // run as a scalar loop). Blocks in row order, and BLAS never splits the inner sum
                // over threads: deterministic on any thread count.
                let block = 4096
                var scaled = [Double](repeating: 0, count: min(block, x.rows) * d)
                m.storage.withUnsafeBufferPointer { mb in
                    scaled.withUnsafeMutableBufferPointer { sb in
                        let mp = mb.baseAddress!, sp = sb.baseAddress!
                        var start = 0
                        while start < x.rows {
                            let rows = min(block, x.rows - start)
                            for i in 0..<rows {
                                let r = w[start + i].squareRoot(), src = mp + (start + i) * d, dst = sp + i * d
                                for k in 0..<d { dst[k] = r * src[k].wide }
                            }
                            Double._gemm(
                                transA: true, transB: false, m: d, n: d, k: rows, alpha: 1, a: sp, lda: d, b: sp, ldb: d,
                                beta: 1, c: hp, ldc: d)
                            start += rows
                        }
                    }
                }

            case let .dense(m):
                m.storage.withUnsafeBufferPointer { mb in
                    let mp = mb.baseAddress!
                    for i in 0..<x.rows {
                        let row = mp + i * d
                        for a in 0..<d where row[a] != 0 {
                            let va = w[i] * row[a].wide
                            for b in 0..<d { hp[a * d + b] += va * row[b].wide }
                        }
                    }
                }
            case let .sparse(c):
                for i in 0..<x.rows {
                    let lo = c.rowStart[i], hi = c.rowStart[i + 1]
                    for p in lo..<hi {
                        let a = Int(c.columns[p])
                        let va = w[i] * c.values[p].wide
                        for q in lo..<hi { hp[a * d + Int(c.columns[q])] += va * c.values[q].wide }
                    }
                }
            }
            // (a, b) and (b, a) may round differently (GEMM tiles, w x_a x_b against w x_b x_a):
            // keep the upper triangle, so H is exactly symmetric.
            for a in 0..<d { for b in 0..<a { hp[a * d + b] = hp[b * d + a] } }
            for k in 0..<(d * d) { hp[k] /= divisor }
            for a in 0..<d { hp[a * d + a] += ridge }
        }
        return h
    }

    /// Widths up to which dense rows are accumulated by `smallDenseWeightedGram` (rank-one updates
    /// four rows at a time) rather than by dgemm: for a few dozen columns dgemm spends its time
    /// packing 4096-row panels for a 20 x 20 result (the reference solve of 10^5 agents, 2 x 10^7
    /// rows of 20 features, took ~1.7 s per Newton step in dgemm and its copies).
    static let smallGramWidth = 64

    /// The upper triangle (and diagonal) of sum_i w_i x_i x_i^T into h (d x d, row-major, zeroed),
    /// for dense rows of width d <= `smallGramWidth`. The rows are cut into a fixed number of
    /// contiguous ranges (from the row count alone), each summed in row order into its own partial
    /// (x_i widened to Double, H[a, :] += (w_i x_ia) x_i, four rows per load and store of H, in the
    /// same order as one at a time), and the partials are added in range order: the result does
    /// not depend on the thread count.
    static func smallDenseWeightedGram<T: AgoraScalar>(
        _ m: Matrix<T>, _ w: [Double], into h: UnsafeMutablePointer<Double>, pool: ThreadPool
    ) {
        let n = m.rows, d = m.cols, dp = (d + 7) / 8 * 8
        let ranges = max(1, min(64, (n + 4095) / 4096))
        var partials = [Double](repeating: 0, count: ranges * d * dp)
        m.storage.withUnsafeBufferPointer { mb in
            w.withUnsafeBufferPointer { wb in
                partials.withUnsafeMutableBufferPointer { pb in
                    let x = mb.baseAddress!, wp = wb.baseAddress!, parts = SendablePointer(pb.baseAddress!)
                    pool.parallelFor(ranges, bytes: n * d * MemoryLayout<T>.stride) { r in
                        withUnsafeTemporaryAllocation(of: Double.self, capacity: 4 * dp) { tb in
                            let xb = tb.baseAddress!
                            xb.initialize(repeating: 0, count: 4 * dp)
                            for p in r {
                                let acc = parts.p + p * d * dp
                                let lo = p * n / ranges, hi = (p + 1) * n / ranges
                                var i = lo
                                while i < hi {
                                    let c = min(4, hi - i)
                                    for k in 0..<c { for q in 0..<d { xb[k * dp + q] = x[(i + k) * d + q].wide } }
                                    if c == 4 {
                                        for a in 0..<d {
                                            let s0 = SIMD8<Double>(repeating: wp[i] * xb[a]),
                                                s1 = SIMD8<Double>(repeating: wp[i + 1] * xb[dp + a]),
                                                s2 = SIMD8<Double>(repeating: wp[i + 2] * xb[2 * dp + a]),
                                                s3 = SIMD8<Double>(repeating: wp[i + 3] * xb[3 * dp + a])
                                            let row = acc + a * dp
                                            var v = a / 8 * 8
                                            while v < dp {
                                                var g: SIMD8<Double> = loadVec8(row + v)
                                                g = g + s0 * loadVec8(xb + v)
                                                g = g + s1 * loadVec8(xb + dp + v)
                                                g = g + s2 * loadVec8(xb + 2 * dp + v)
                                                g = g + s3 * loadVec8(xb + 3 * dp + v)
                                                storeVec8(g, row + v)
                                                v += 8
                                            }
                                        }
                                    } else {
                                        for k in 0..<c {
                                            for a in 0..<d {
                                                let s = SIMD8<Double>(repeating: wp[i + k] * xb[k * dp + a])
                                                let row = acc + a * dp
                                                var v = a / 8 * 8
                                                while v < dp {
                                                    storeVec8(loadVec8(row + v) + s * loadVec8(xb + k * dp + v), row + v)
                                                    v += 8
                                                }
                                            }
                                        }
                                    }
                                    i += c
                                }
                            }
                        }
                    }
                    for p in 0..<ranges {
                        let acc = parts.p + p * d * dp
                        for a in 0..<d { for b in a..<d { h[a * d + b] += acc[a * dp + b] } }
                    }
                }
            }
        }
    }

    /// (1/divisor) X^T diag(w) X v + ridge v for the rows of `x`: the Hessian-vector product of a
    /// generalized linear model (w_i = l''(z_i)) without forming the d x d Hessian, O(nnz(X)).
    /// Rows are visited in order (each row's dot, then its scaled update), so the result is
    /// deterministic.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func weightedGramTimes<T: AgoraScalar>(
        _ x: FeatureRows<T>, rowWeights w: [Double], divisor: Double, ridge: Double,
        _ v: [Double]
    ) throws -> [Double] {
        guard w.count == x.rows else { throw AgoraError.shape("weightedGramTimes: \(w.count) weights for \(x.rows) rows") }
        guard v.count == x.cols else { throw AgoraError.shape("weightedGramTimes: vector of \(v.count) for \(x.cols) features") }
        let d = x.cols
        var out = [Double](repeating: 0, count: d)
        out.withUnsafeMutableBufferPointer { ob in
            v.withUnsafeBufferPointer { vb in
                guard d > 0 else { return }
                let o = ob.baseAddress!, vp = vb.baseAddress!
                switch x {
                case let .dense(m):
                    m.storage.withUnsafeBufferPointer { mb in
                        for i in 0..<x.rows where w[i] != 0 {
                            let row = mb.baseAddress! + i * d
                            var z = 0.0
                            for k in 0..<d { z += row[k].wide * vp[k] }
                            let s = w[i] * z
                            for k in 0..<d { o[k] += s * row[k].wide }
                        }
                    }
                case let .sparse(c):
                    c.columns.withUnsafeBufferPointer { cb in
                        c.values.withUnsafeBufferPointer { valb in
                            for i in 0..<x.rows where w[i] != 0 {
                                let lo = c.rowStart[i], hi = c.rowStart[i + 1]
                                var z = 0.0
                                for p in lo..<hi { z += valb[p].wide * vp[Int(cb[p])] }
                                let s = w[i] * z
                                for p in lo..<hi { o[Int(cb[p])] += s * valb[p].wide }
                            }
                        }
                    }
                }
                for k in 0..<d { o[k] = o[k] / divisor + ridge * vp[k] }
            }
        }
        return out
    }
}
