import CAgoraSupport

extension Kernels {
    /// U = X - 1 x0^T: every row minus the same origin row (the updates of all agents from a common
    /// initial model), one streaming pass (read X, write U).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func subtractRow<T: AgoraScalar>(
        _ x: Matrix<T>, origin: [T], into u: inout Matrix<T>, pool: ThreadPool = .shared
    ) throws {
        guard origin.count == x.cols else {
            throw AgoraError.shape("subtractRow: origin has \(origin.count) elements, rows have \(x.cols)")
        }
        guard u.rows == x.rows, u.cols == x.cols else {
            throw AgoraError.shape("subtractRow: output is \(u.rows) x \(u.cols), expected \(x.rows) x \(x.cols)")
        }
        let d = x.cols
        if d == 0 || x.rows == 0 { return }
        x.storage.withUnsafeBufferPointer { xb in
            origin.withUnsafeBufferPointer { ob in
                u.storage.withUnsafeMutableBufferPointer { ub in
                    let xp = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!))
                    let op = SendablePointer(UnsafeMutablePointer(mutating: ob.baseAddress!))
                    let up = SendablePointer(ub.baseAddress!)
                    // Outputs far beyond the last-level cache (the market's U at m P = 1e8) are written
                    // with streaming stores, as the sparse mix does: no read for ownership, so two
                    // memory streams instead of three.
                    let stream = x.storage.count * MemoryLayout<T>.size >= Kernels.streamingStoreBytes
                    pool.parallelFor(x.rows, bytes: 2 * x.storage.count * MemoryLayout<T>.size) { r in
                        defer { if stream { agora_store_fence() } }
                        for i in r {
                            let xr = xp.p + i * d, ur = up.p + i * d
                            var k = 0
                            if stream && Int(bitPattern: ur) & 15 == 0 {
                                while k + vecWidth <= d {
                                    streamVec(loadVec(xr + k) - loadVec(op.p + k), ur + k)
                                    k += vecWidth
                                }
                            } else {
                                while k + vecWidth <= d {
                                    storeVec(loadVec(xr + k) - loadVec(op.p + k), ur + k)
                                    k += vecWidth
                                }
                            }
                            while k < d {
                                ur[k] = xr[k] - op.p[k]
                                k += 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// The geometry of agents' updates from a common origin: U = X - 1 x0^T, its Gram matrix
    /// G = U U^T (one BLAS syrk, the compute-bound part), the norms ||u_i|| = sqrt(G_ii) and the
    /// cosines cos_ij = G_ij / (||u_i|| ||u_j||).
    ///
    /// Norms come from the Gram diagonal (not a separate pass) so that cos_ii = 1 up to one rounding
    /// and every cosine is computed from the same products. A zero update has no direction: its
    /// cosines with every other row are defined as 0 and its own as 1. Cosines are clamped to
    /// [-1, 1]. For nearly parallel updates 1 - cos loses about half its digits (cancellation in
    /// the Gram route); use Double when distances below ~1e-4 (Float) matter.
    public struct UpdateGeometry<T: AgoraScalar>: Sendable {
        /// The centred rows U (kept: personalization steps combine them).
        public var updates: Matrix<T>
        public var norms: [T]
        public var cosines: Matrix<T>
        /// An empty geometry, to be filled (and its buffers reused) by `updateGeometry(_:origin:into:)`.
        public init() {
            updates = Matrix(rows: 0, cols: 0)
            norms = []
            cosines = Matrix(rows: 0, cols: 0)
        }
    }

    /// The geometry of `x`'s rows from `origin` (allocates its buffers).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func updateGeometry<T: AgoraScalar>(
        _ x: Matrix<T>, origin: [T], pool: ThreadPool = .shared
    ) throws -> UpdateGeometry<T> {
        var geo = UpdateGeometry<T>()
        try updateGeometry(x, origin: origin, into: &geo, pool: pool)
        return geo
    }

    /// Recomputes `geo` for `x`, reusing its buffers when the shapes match: in a loop of market steps
    /// this avoids faulting in fresh pages for U (m x P) every step, which costs about as much as
    /// the subtraction itself at m P = 10^8.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func updateGeometry<T: AgoraScalar>(
        _ x: Matrix<T>, origin: [T], into geo: inout UpdateGeometry<T>, pool: ThreadPool = .shared
    ) throws {
        if geo.updates.rows != x.rows || geo.updates.cols != x.cols {
            geo.updates = Matrix(uninitializedRows: x.rows, cols: x.cols)  // subtractRow writes every element
        }
        try subtractRow(x, origin: origin, into: &geo.updates, pool: pool)
        let n = x.rows
        if geo.cosines.rows != n || geo.cosines.cols != n { geo.cosines = Matrix(uninitializedRows: n, cols: n) }
        try BLAS.syrk(geo.updates, into: &geo.cosines)  // beta = 0 and the mirror write every element
        geo.norms = gramToCosines(&geo.cosines)
    }

    /// Turns a Gram matrix into cosines in place and returns the norms sqrt(G_ii): cos_ii = 1, a zero
    /// row's cosines with every other row are 0, the rest clamped to [-1, 1].
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func gramToCosines<T: AgoraScalar>(_ g: inout Matrix<T>) -> [T] {
        let n = g.rows
        let norms = (0..<n).map { g[$0, $0] > 0 ? g[$0, $0].squareRoot() : 0 }
        g.storage.withUnsafeMutableBufferPointer { gb in
            guard let gp = gb.baseAddress else { return }
            for i in 0..<n {
                for j in 0..<n {
                    let p = gp + i * n + j
                    if i == j {
                        p.pointee = 1
                        continue
                    }
                    if norms[i] == 0 || norms[j] == 0 {
                        p.pointee = 0
                        continue
                    }
                    p.pointee = Swift.min(1, Swift.max(-1, p.pointee / (norms[i] * norms[j])))
                }
            }
        }
        return norms
    }
}
