extension Kernels {
    /// H = (1/divisor) sum_i w_i x_i x_i^T + ridge I for the rows of `x` (d x d, Double): the
    /// Hessian of a generalized linear model, with w_i = l''(z_i). Rows are accumulated in order
    /// (dense rows skip zero entries, sparse rows touch their non-zeros only), so the result is
    /// exact to the order of summation and independent of threads. O(n d^2) for dense data, O(sum
    /// nnz_i^2) for sparse data: for reference solves on problems of moderate width.
    public static func weightedGram(
        _ x: FeatureRows<Double>, rowWeights w: [Double], divisor: Double, ridge: Double
    ) throws -> Matrix<Double> {
        guard w.count == x.rows else { throw AgoraError.shape("weightedGram: \(w.count) weights for \(x.rows) rows") }
        let d = x.cols
        var h = Matrix<Double>(rows: d, cols: d)
        h.storage.withUnsafeMutableBufferPointer { hb in
            let hp = hb.baseAddress!
            switch x {
            case let .dense(m):
                m.storage.withUnsafeBufferPointer { mb in
                    let mp = mb.baseAddress!
                    for i in 0..<x.rows {
                        let row = mp + i * d
                        for a in 0..<d where row[a] != 0 {
                            let va = w[i] * row[a]
                            for b in 0..<d { hp[a * d + b] += va * row[b] }
                        }
                    }
                }
            case let .sparse(c):
                for i in 0..<x.rows {
                    let lo = c.rowStart[i], hi = c.rowStart[i + 1]
                    for p in lo..<hi {
                        let a = Int(c.columns[p])
                        let va = w[i] * c.values[p]
                        for q in lo..<hi { hp[a * d + Int(c.columns[q])] += va * c.values[q] }
                    }
                }
            }
            for k in 0..<(d * d) { hp[k] /= divisor }
            for a in 0..<d { hp[a * d + a] += ridge }
        }
        return h
    }

    /// (1/divisor) X^T diag(w) X v + ridge v for the rows of `x`: the Hessian-vector product of a
    /// generalized linear model (w_i = l''(z_i)) without forming the d x d Hessian, O(nnz(X)).
    /// Rows are visited in order (each row's dot, then its scaled update), so the result is
    /// deterministic.
    public static func weightedGramTimes(
        _ x: FeatureRows<Double>, rowWeights w: [Double], divisor: Double, ridge: Double,
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
                            for k in 0..<d { z += row[k] * vp[k] }
                            let s = w[i] * z
                            for k in 0..<d { o[k] += s * row[k] }
                        }
                    }
                case let .sparse(c):
                    c.columns.withUnsafeBufferPointer { cb in
                        c.values.withUnsafeBufferPointer { valb in
                            for i in 0..<x.rows where w[i] != 0 {
                                let lo = c.rowStart[i], hi = c.rowStart[i + 1]
                                var z = 0.0
                                for p in lo..<hi { z += valb[p] * vp[Int(cb[p])] }
                                let s = w[i] * z
                                for p in lo..<hi { o[Int(cb[p])] += s * valb[p] }
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
