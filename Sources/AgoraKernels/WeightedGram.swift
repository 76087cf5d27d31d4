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
        _ x: FeatureRows<T>, rowWeights w: [Double], divisor: Double, ridge: Double
    ) throws -> Matrix<Double> {
        guard w.count == x.rows else { throw AgoraError.shape("weightedGram: \(w.count) weights for \(x.rows) rows") }
        let d = x.cols
        var h = Matrix<Double>(rows: d, cols: d)
        h.storage.withUnsafeMutableBufferPointer { hb in
            let hp = hb.baseAddress!
            switch x {
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
