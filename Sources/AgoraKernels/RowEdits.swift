/// Row edits of a parameter matrix [agents x dimension]: the small per-agent manipulations that
/// experiments apply between mechanism steps (strategic behaviours, attacks, resets to a global
/// model). They are here, not in the harnesses, so that every loop over parameters lives in the
/// kernels: one place to check bounds, one place to optimise, and one fixed order of operations
/// per element (results never depend on the thread count).
///
/// Row indices and vector lengths are checked (throwing `AgoraError` of kind `.shape`).
extension Kernels {
    @inline(__always)
    static func checkRow<T: AgoraScalar>(_ x: Matrix<T>, _ i: Int, _ what: String) throws {
        guard i >= 0 && i < x.rows else { throw AgoraError.shape("\(what): row \(i) is outside 0..<\(x.rows)") }
    }

    @inline(__always)
    static func checkVector<T: AgoraScalar>(_ x: Matrix<T>, _ v: [T], _ what: String) throws {
        guard v.count == x.cols else { throw AgoraError.shape("\(what): vector of \(v.count) elements for rows of \(x.cols)") }
    }

    @inline(__always)
    static func checkMask<T: AgoraScalar>(_ x: Matrix<T>, _ mask: [Bool]?, _ what: String) throws {
        if let mask, mask.count != x.rows { throw AgoraError.shape("\(what): \(mask.count) row flags for \(x.rows) rows") }
    }

    /// Runs `body(row pointer)` on row `i` of `x`.
    @inline(__always)
    static func withRow<T: AgoraScalar, R>(_ x: inout Matrix<T>, _ i: Int, _ body: (UnsafeMutablePointer<T>) -> R) -> R {
        let d = x.cols
        return x.storage.withUnsafeMutableBufferPointer { body($0.baseAddress! + i * d) }
    }

    /// x_i <- a x_i (an agent that inflates or deflates what it applies).
    public static func scaleRow<T: AgoraScalar>(_ x: inout Matrix<T>, row i: Int, by a: T) throws {
        try checkRow(x, i, "scaleRow")
        let d = x.cols
        withRow(&x, i) { p in for k in 0..<d { p[k] = a * p[k] } }
    }

    /// x_i <- v (every element of the row set to `value`).
    public static func fillRow<T: AgoraScalar>(_ x: inout Matrix<T>, row i: Int, with value: T) throws {
        try checkRow(x, i, "fillRow")
        let d = x.cols
        withRow(&x, i) { p in for k in 0..<d { p[k] = value } }
    }

    /// x_i <- v for every row i with `rows[i]` (all rows when `rows` is nil): broadcasts one
    /// vector (an initial model, a global model) to the agents.
    public static func broadcast<T: AgoraScalar>(_ v: [T], into x: inout Matrix<T>, rows: [Bool]? = nil) throws {
        try checkVector(x, v, "broadcast")
        try checkMask(x, rows, "broadcast")
        let d = x.cols
        v.withUnsafeBufferPointer { vb in
            x.storage.withUnsafeMutableBufferPointer { xb in
                guard d > 0 else { return }
                for i in 0..<x.rows where rows?[i] ?? true {
                    (xb.baseAddress! + i * d).update(from: vb.baseAddress!, count: d)
                }
            }
        }
    }

    /// y_i <- x_i for every row i with `rows[i]` (x and y of the same shape).
    public static func copyRows<T: AgoraScalar>(_ x: Matrix<T>, into y: inout Matrix<T>, rows: [Bool]) throws {
        guard x.rows == y.rows, x.cols == y.cols else {
            throw AgoraError.shape("copyRows: shapes \(x.rows) x \(x.cols) and \(y.rows) x \(y.cols) differ")
        }
        try checkMask(x, rows, "copyRows")
        let d = x.cols
        x.storage.withUnsafeBufferPointer { xb in
            y.storage.withUnsafeMutableBufferPointer { yb in
                guard d > 0 else { return }
                for i in 0..<x.rows where rows[i] {
                    (yb.baseAddress! + i * d).update(from: xb.baseAddress! + i * d, count: d)
                }
            }
        }
    }

    /// x_i <- x_i + sigma z with z ~ N(0, I) drawn from `rng` element by element in order; returns
    /// ||x_i||^2 of the result accumulated in Double in element order (an agent's report of what it
    /// applied). The noise is rounded to T before the addition.
    public static func addGaussianNoise<T: AgoraScalar>(_ x: inout Matrix<T>, row i: Int, sigma: Double,
                                                        rng: inout SeededGenerator) throws -> Double {
        try checkRow(x, i, "addGaussianNoise")
        let d = x.cols
        return withRow(&x, i) { p in
            var sq = 0.0
            for k in 0..<d {
                p[k] = p[k] + T(sigma * rng.normal())
                sq += Double(p[k]) * Double(p[k])
            }
            return sq
        }
    }

    /// x_i <- o + s z with z ~ N(0, I) drawn from `rng` in element order: a random model around
    /// the origin `o` (a free-rider that uploads noise).
    public static func setRowToGaussian<T: AgoraScalar>(_ x: inout Matrix<T>, row i: Int, around o: [T], sigma: Double,
                                                        rng: inout SeededGenerator) throws {
        try checkRow(x, i, "setRowToGaussian")
        try checkVector(x, o, "setRowToGaussian")
        let d = x.cols
        withRow(&x, i) { p in for k in 0..<d { p[k] = o[k] + T(sigma * rng.normal()) } }
    }

    /// x_i <- o + c (every element of the origin shifted by the constant c).
    public static func setRowToShifted<T: AgoraScalar>(_ x: inout Matrix<T>, row i: Int, origin o: [T], by c: T) throws {
        try checkRow(x, i, "setRowToShifted")
        try checkVector(x, o, "setRowToShifted")
        let d = x.cols
        withRow(&x, i) { p in for k in 0..<d { p[k] = o[k] + c } }
    }

    /// y_i <- o - (x_i - o): the update x_i - o with its sign flipped, from the origin o.
    public static func reflectRow<T: AgoraScalar>(_ x: Matrix<T>, row i: Int, about o: [T], into y: inout Matrix<T>) throws {
        try checkRow(x, i, "reflectRow")
        try checkVector(x, o, "reflectRow")
        guard y.rows == x.rows, y.cols == x.cols else { throw AgoraError.shape("reflectRow: output shape differs from input") }
        let d = x.cols
        x.storage.withUnsafeBufferPointer { xb in
            let src = xb.baseAddress! + i * d
            withRow(&y, i) { p in for k in 0..<d { p[k] = o[k] - (src[k] - o[k]) } }
        }
    }

    /// y_i[k] <- o[k] + (x_i[perm[k]] - o[perm[k]]): the update x_i - o with its entries permuted.
    /// `perm` must be a permutation of 0..<cols.
    public static func permuteRowUpdate<T: AgoraScalar>(_ x: Matrix<T>, row i: Int, origin o: [T], permutation perm: [Int],
                                                        into y: inout Matrix<T>) throws {
        try checkRow(x, i, "permuteRowUpdate")
        try checkVector(x, o, "permuteRowUpdate")
        guard y.rows == x.rows, y.cols == x.cols else { throw AgoraError.shape("permuteRowUpdate: output shape differs from input") }
        let d = x.cols
        guard perm.count == d, perm.allSatisfy({ $0 >= 0 && $0 < d }) else {
            throw AgoraError.shape("permuteRowUpdate: the permutation must list \(d) indices in 0..<\(d)")
        }
        x.storage.withUnsafeBufferPointer { xb in
            let src = xb.baseAddress! + i * d
            withRow(&y, i) { p in for k in 0..<d { p[k] = o[k] + (src[perm[k]] - o[perm[k]]) } }
        }
    }

    /// ||x_i - r|| for every row i, in Double (each row summed in element order): distances of
    /// the agents to a reference point such as the optimum theta*.
    public static func rowDistances<T: AgoraScalar>(_ x: Matrix<T>, to r: [Double], pool: ThreadPool = .shared) throws -> [Double] {
        guard r.count == x.cols else { throw AgoraError.shape("rowDistances: reference of \(r.count) elements for rows of \(x.cols)") }
        let d = x.cols
        guard x.rows > 0 else { return [] }
        guard d > 0 else { return [Double](repeating: 0, count: x.rows) }
        return x.storage.withUnsafeBufferPointer { xb in
            r.withUnsafeBufferPointer { rb in
                let xp = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!))
                let rp = SendablePointer(UnsafeMutablePointer(mutating: rb.baseAddress!))
                return pool.parallelMap(x.rows, bytes: x.storage.count * MemoryLayout<T>.size) { i in
                    var s = 0.0
                    for k in 0..<d { let e = Double(xp.p[i * d + k]) - rp.p[k]; s += e * e }
                    return s.squareRoot()
                }
            }
        }
    }

    /// The first row holding a non-finite element (nil when all are finite): a divergence check
    /// that names the agent.
    public static func firstNonFiniteRow<T: AgoraScalar>(_ x: Matrix<T>) -> Int? {
        let d = x.cols
        guard d > 0 else { return nil }
        for i in 0..<x.rows where !rowIsFinite(x, i, d) { return i }
        return nil
    }

    @inline(__always)
    static func rowIsFinite<T: AgoraScalar>(_ x: Matrix<T>, _ i: Int, _ d: Int) -> Bool {
        x.storage.withUnsafeBufferPointer { b in
            let p = b.baseAddress! + i * d
            var ok = true
            for k in 0..<d where !p[k].isFinite { ok = false; break }
            return ok
        }
    }
}

extension Kernels {
    /// One step of SGD with momentum and L2-style weight decay on every row with `rows[i]` (all
    /// rows when nil), PyTorch's convention:
    ///
    ///     v <- mu v + (g + wd theta)     (v <- g + wd theta when mu = 0)
    ///     theta <- theta - lr v
    ///
    /// Rows not flagged keep their parameters and velocities exactly. Each element is updated by
    /// the same fixed sequence of operations, so the result does not depend on the thread count.
    @_specialize(where T == Float)
    public static func momentumStep<T: AgoraScalar>(
        _ theta: inout Matrix<T>, velocity v: inout Matrix<T>, gradients g: Matrix<T>,
        learningRate lr: T, momentum mu: T, weightDecay wd: T, rows: [Bool]? = nil, pool: ThreadPool = .shared
    ) throws {
        guard g.rows == theta.rows, g.cols == theta.cols, v.rows == theta.rows, v.cols == theta.cols else {
            throw AgoraError.shape("momentumStep: gradients \(g.rows) x \(g.cols) and velocity \(v.rows) x \(v.cols) for parameters \(theta.rows) x \(theta.cols)")
        }
        try checkMask(theta, rows, "momentumStep")
        let d = theta.cols, n = theta.rows
        guard d > 0 else { return }
        let plain = mu == 0
        theta.storage.withUnsafeMutableBufferPointer { tb in
            v.storage.withUnsafeMutableBufferPointer { vb in
                g.storage.withUnsafeBufferPointer { gb in
                    let tp = SendablePointer(tb.baseAddress!), vp = SendablePointer(vb.baseAddress!)
                    let gp = SendablePointer(UnsafeMutablePointer(mutating: gb.baseAddress!))
                    pool.parallelFor(n, bytes: 5 * n * d * MemoryLayout<T>.size) { r in
                        for i in r where rows?[i] ?? true {
                            let t = tp.p + i * d, vel = vp.p + i * d, gr = gp.p + i * d
                            if plain {
                                for k in 0..<d { let gk = gr[k] + wd * t[k]; vel[k] = gk; t[k] -= lr * gk }
                            } else {
                                for k in 0..<d { let gk = gr[k] + wd * t[k]; let vk = mu * vel[k] + gk; vel[k] = vk; t[k] -= lr * vk }
                            }
                        }
                    }
                }
            }
        }
    }

    /// H = (1/divisor) sum_i w_i x_i x_i^T + ridge I for the rows of `x` (d x d, Double): the
    /// Hessian of a generalized linear model, with w_i = l''(z_i). Rows are accumulated in order
    /// (dense rows skip zero entries, sparse rows touch their non-zeros only), so the result is
    /// exact to the order of summation and independent of threads. O(n d^2) for dense data, O(sum
    /// nnz_i^2) for sparse data: for reference solves on problems of moderate width.
    public static func weightedGram(_ x: FeatureRows<Double>, rowWeights w: [Double], divisor: Double, ridge: Double) throws -> Matrix<Double> {
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
                        let a = Int(c.columns[p]); let va = w[i] * c.values[p]
                        for q in lo..<hi { hp[a * d + Int(c.columns[q])] += va * c.values[q] }
                    }
                }
            }
            for k in 0..<(d * d) { hp[k] /= divisor }
            for a in 0..<d { hp[a * d + a] += ridge }
        }
        return h
    }
}

extension Kernels {
    /// (1/divisor) X^T diag(w) X v + ridge v for the rows of `x`: the Hessian-vector product of a
    /// generalized linear model (w_i = l''(z_i)) without forming the d x d Hessian, O(nnz(X)).
    /// Rows are visited in order (each row's dot, then its scaled update), so the result is
    /// deterministic.
    public static func weightedGramTimes(_ x: FeatureRows<Double>, rowWeights w: [Double], divisor: Double, ridge: Double,
                                         _ v: [Double]) throws -> [Double] {
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
