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
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func scaleRow<T: AgoraScalar>(_ x: inout Matrix<T>, row i: Int, by a: T) throws {
        try checkRow(x, i, "scaleRow")
        let d = x.cols
        withRow(&x, i) { p in for k in 0..<d { p[k] = a * p[k] } }
    }

    /// x_i <- v (every element of the row set to `value`).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func fillRow<T: AgoraScalar>(_ x: inout Matrix<T>, row i: Int, with value: T) throws {
        try checkRow(x, i, "fillRow")
        let d = x.cols
        withRow(&x, i) { p in for k in 0..<d { p[k] = value } }
    }

    /// x_i <- v for every row i with `rows[i]` (all rows when `rows` is nil): broadcasts one
    /// vector (an initial model, a global model) to the agents.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
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
    @_specialize(where T == Float)
    @_specialize(where T == Double)
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
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func addGaussianNoise<T: AgoraScalar>(
        _ x: inout Matrix<T>, row i: Int, sigma: Double,
        rng: inout SeededGenerator
    ) throws -> Double {
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
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func setRowToGaussian<T: AgoraScalar>(
        _ x: inout Matrix<T>, row i: Int, around o: [T], sigma: Double,
        rng: inout SeededGenerator
    ) throws {
        try checkRow(x, i, "setRowToGaussian")
        try checkVector(x, o, "setRowToGaussian")
        let d = x.cols
        withRow(&x, i) { p in for k in 0..<d { p[k] = o[k] + T(sigma * rng.normal()) } }
    }

    /// x_i[k] <- base[k] + a (x_i[k] - origin[k]), in place: row i's update from `origin`, scaled
    /// by `a` and moved to `base` (a = -1 with base = origin reflects the update about the origin).
    /// Each element is computed in that order, in T.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func rebaseRow<T: AgoraScalar>(_ x: inout Matrix<T>, row i: Int, origin: [T], scale a: T, base: [T]) throws {
        try checkRow(x, i, "rebaseRow")
        try checkVector(x, origin, "rebaseRow")
        try checkVector(x, base, "rebaseRow")
        let d = x.cols
        withRow(&x, i) { p in for k in 0..<d { p[k] = base[k] + a * (p[k] - origin[k]) } }
    }

    /// y_i[k] <- x_i[indices[k]]: row i gathered by `indices` (each in 0..<cols; a permutation
    /// shuffles the row).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func gatherRow<T: AgoraScalar>(_ x: Matrix<T>, row i: Int, indices: [Int], into y: inout Matrix<T>) throws {
        try checkRow(x, i, "gatherRow")
        guard y.rows == x.rows, y.cols == x.cols else { throw AgoraError.shape("gatherRow: output shape differs from input") }
        let d = x.cols
        guard indices.count == d, indices.allSatisfy({ $0 >= 0 && $0 < d }) else {
            throw AgoraError.shape("gatherRow: the indices must list \(d) positions in 0..<\(d)")
        }
        x.storage.withUnsafeBufferPointer { xb in
            let src = xb.baseAddress! + i * d
            withRow(&y, i) { p in for k in 0..<d { p[k] = src[indices[k]] } }
        }
    }

    /// ||x_i - r|| for every row i, in Double (each row summed in element order): distances of
    /// the agents to a reference point such as the optimum theta*.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
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
                    for k in 0..<d {
                        let e = Double(xp.p[i * d + k]) - rp.p[k]
                        s += e * e
                    }
                    return s.squareRoot()
                }
            }
        }
    }

    /// The first row holding a non-finite element (nil when all are finite): a divergence check
    /// that names the agent.
    /// It runs every iteration of an experiment, so the common answer (all finite) comes from
    /// one vectorised scan (`allFinite`); rows are searched only when that scan fails.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func firstNonFiniteRow<T: AgoraScalar>(_ x: Matrix<T>) -> Int? {
        let d = x.cols
        guard d > 0 else { return nil }
        let finite = x.storage.withUnsafeBufferPointer { b in b.isEmpty || allFinite(b.baseAddress!, count: b.count) }
        if finite { return nil }
        for i in 0..<x.rows where !rowIsFinite(x, i, d) { return i }
        return nil
    }

    @inline(__always)
    static func rowIsFinite<T: AgoraScalar>(_ x: Matrix<T>, _ i: Int, _ d: Int) -> Bool {
        x.storage.withUnsafeBufferPointer { b in
            let p = b.baseAddress! + i * d
            var ok = true
            for k in 0..<d where !p[k].isFinite {
                ok = false
                break
            }
            return ok
        }
    }
}
