import CAgoraSupport

// Shared scaffolding of the batched-gradient kernels (GLM, softmax, MLP): batch validation, the
// parallel loop over agents with raw row pointers, the 1/|B| scaling and the L2 term, and row
// access to dense or sparse features.

/// Raw, reference-count-free access to the rows of a `FeatureRows` for the duration of a kernel.
/// (Pattern-matching the enum per row would retain and release the storage array each time, an
/// atomic operation on one shared counter from every thread.)
struct RowAccess<T: AgoraScalar>: @unchecked Sendable {
    let dense: UnsafePointer<T>?
    let cols: Int
    let rowStart: UnsafePointer<Int>?
    let columns: UnsafePointer<Int32>?
    let values: UnsafePointer<T>?

    /// x_i . w[0..<cols] (dense: fixed-order SIMD; sparse: the row's non-zeros in order).
    @inline(__always)
    func dot(row i: Int, _ w: UnsafePointer<T>) -> T {
        if let dense { return fixedOrderDot(dense + i * cols, w, cols) }
        var s: T = 0
        for q in rowStart![i]..<rowStart![i + 1] { s += values![q] * w[Int(columns![q])] }
        return s
    }

    /// Asks the hardware to start loading row i (dense rows: every cache line; sparse rows: their
    /// values and column indices). Used one row ahead in the gradient loops, where rows are
    /// gathered at random and each is a short stream the hardware prefetcher picks up too late.
    @inline(__always)
    func prefetch(row i: Int) {
        if let dense {
            let start = UnsafeRawPointer(dense + i * cols), bytes = cols * MemoryLayout<T>.stride
            var o = 0
            while o < bytes {
                agora_prefetch_read(start + o)
                o += 64
            }
            return
        }
        let lo = rowStart![i], hi = rowStart![i + 1]
        if hi > lo {
            agora_prefetch_read(values! + lo)
            agora_prefetch_read(columns! + lo)
        }
    }

    /// Dense rows only: walks `batch` in blocks of four rows (then the remaining rows one by one),
    /// prefetching the next block; `scale4` turns the block's rows and their dot products with `w`
    /// (each bit-identical to `dot(row:)`) into four scale factors (`scale` one row's), and the
    /// block is added to `out` in row order (bit-identical to four `addScaled` calls). The blocked
    /// form runs four independent dot products and loads/stores `out` once per block: a single dot
    /// is bound by its accumulator's FMA latency, not by the row's bandwidth.
    @inline(__always)
    func forEachDenseBlock(
        _ batch: [Int], _ w: UnsafePointer<T>, into out: UnsafeMutablePointer<T>,
        _ scale: (_ row: Int, _ dot: T) -> T, scale4: ((Int, Int, Int, Int), (T, T, T, T)) -> (T, T, T, T)
    ) {
        let x = dense!
        let n = batch.count
        var k = 0
        for r in 0..<min(4, n) { prefetch(row: batch[r]) }
        while k + 4 <= n {
            for r in (k + 4)..<min(k + 8, n) where batch[r] != batch[r - 1] + 1 { prefetch(row: batch[r]) }
            let p0 = x + batch[k] * cols, p1 = x + batch[k + 1] * cols, p2 = x + batch[k + 2] * cols, p3 = x + batch[k + 3] * cols
            let z = fixedOrderDot4(p0, p1, p2, p3, w, cols)
            let s = scale4((batch[k], batch[k + 1], batch[k + 2], batch[k + 3]), z)
            addScaled4(p0, p1, p2, p3, s, into: out, cols)
            k += 4
        }
        while k < n {
            let i = batch[k]
            addScaled(row: i, scale(i, dot(row: i, w)), into: out)
            k += 1
        }
    }

    /// Calls `body` on each row of `batch` in order, prefetching `prefetchDistance` rows ahead.
    @inline(__always)
    func forEachPrefetched(_ batch: [Int], _ body: (Int) -> Void) {
        let n = batch.count
        for k in 0..<min(prefetchDistance, n) { prefetch(row: batch[k]) }
        for k in 0..<n {
            // Consecutive rows are a stream the hardware prefetcher already follows.
            let ahead = k + prefetchDistance
            if ahead < n && batch[ahead] != batch[ahead - 1] + 1 { prefetch(row: batch[ahead]) }
            body(batch[k])
        }
    }

    /// out[0..<cols] += s x_i.
    @inline(__always)
    func addScaled(row i: Int, _ s: T, into out: UnsafeMutablePointer<T>) {
        if let dense {
            let row = dense + i * cols
            var q = 0
            let sv = SIMD16<T>(repeating: s)
            while q + vecWidth <= cols {
                storeVec(loadVec(out + q) + sv * loadVec(row + q), out + q)
                q += vecWidth
            }
            while q < cols {
                out[q] += s * row[q]
                q += 1
            }
            return
        }
        for q in rowStart![i]..<rowStart![i + 1] { out[Int(columns![q])] += s * values![q] }
    }
}

/// Whether every row of `batch` follows its predecessor in memory (a contiguous batch).
@inline(__always)
func isContiguous(_ batch: [Int]) -> Bool {
    var k = 1
    while k < batch.count {
        if batch[k] != batch[k - 1] + 1 { return false }
        k += 1
    }
    return true
}

/// How many rows ahead the gradient loops prefetch. Measured on the DSGD benchmark (8192 random
/// rows of 2 KB, 2 Zen cores): 1.8-2.1 ms without prefetch, 0.76-1.1 ms at distance 1 or 2, and no
/// better at 4 or 8 (the machine's run-to-run spread is about 30 %). Rows that follow their
/// predecessor in memory are not prefetched (contiguous batches gained nothing and lost a little).
let prefetchDistance = 2

extension FeatureRows {
    /// x_i . w[offset ..< offset + cols], for evaluation code (not a hot loop; see `blockDots`).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func dot(row i: Int, _ w: [T], offset: Int = 0) -> T {
        precondition(i >= 0 && i < rows && offset >= 0 && offset + cols <= w.count, "row or weight range out of bounds")
        return withRowAccess { rows in w.withUnsafeBufferPointer { rows.dot(row: i, $0.baseAddress! + offset) } }
    }

    /// out[r * blocks + b] = x_{rows[r]} . w[b cols ..< (b + 1) cols]: the scores of linear, softmax
    /// or first-layer units for a list of rows, in one pass with raw row access (rows in parallel,
    /// each dot in the fixed order of `fixedOrderDot`, so results do not depend on the thread count).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func blockDots(rows list: [Int], weights w: [T], blocks: Int, pool: ThreadPool = .shared) throws -> [T] {
        guard blocks >= 0, w.count >= blocks * cols else {
            throw AgoraError.shape("blockDots: \(blocks) blocks of \(cols) need \(blocks * cols) weights, got \(w.count)")
        }
        for i in list where i < 0 || i >= rows { throw AgoraError.shape("blockDots: row \(i) is outside 0..<\(rows)") }
        var out = [T](repeating: 0, count: list.count * blocks)
        if blocks == 0 || list.isEmpty { return out }
        withRowAccess { access in
            w.withUnsafeBufferPointer { wb in
                out.withUnsafeMutableBufferPointer { ob in
                    let wp = SendablePointer(UnsafeMutablePointer(mutating: wb.baseAddress!)), op = SendablePointer(ob.baseAddress!)
                    pool.parallelFor(list.count, bytes: list.count * cols * MemoryLayout<T>.size * max(1, blocks / 4)) { r in
                        for q in r { for b in 0..<blocks { op.p[q * blocks + b] = access.dot(row: list[q], wp.p + b * cols) } }
                    }
                }
            }
        }
        return out
    }

    /// The same scores as `blockDots` for many blocks at once (e.g. every class of every model on
    /// one client's rows): on dense rows the listed rows are gathered and multiplied by all blocks
    /// in one GEMM, so the work runs at BLAS speed but each score is summed in BLAS's order (it
    /// differs from `blockDots`' fixed-order dot in rounding only); on sparse rows it is
    /// `blockDots`.
    public func blockScores(rows list: [Int], weights w: [T], blocks: Int) throws -> [T] {
        guard case let .dense(m) = self, blocks > 0, !list.isEmpty else {
            return try blockDots(rows: list, weights: w, blocks: blocks)
        }
        guard w.count >= blocks * cols else {
            throw AgoraError.shape("blockScores: \(blocks) blocks of \(cols) need \(blocks * cols) weights, got \(w.count)")
        }
        var gathered = Matrix<T>(uninitializedRows: list.count, cols: cols)
        for (q, r) in list.enumerated() {
            guard r >= 0, r < rows else { throw AgoraError.shape("blockScores: row \(r) is outside 0..<\(rows)") }
            gathered.storage.replaceSubrange(q * cols..<(q + 1) * cols, with: m.storage[r * cols..<(r + 1) * cols])
        }
        let weights = try Matrix(rows: blocks, cols: cols, storage: Array(w.prefix(blocks * cols)))
        return try BLAS.product(gathered, weights, transB: true).storage
    }

    /// Runs `body` with raw row access (valid only inside `body`).
    func withRowAccess<R>(_ body: (RowAccess<T>) throws -> R) rethrows -> R {
        switch self {
        case let .dense(m):
            return try m.storage.withUnsafeBufferPointer { xb in
                try body(RowAccess(dense: xb.baseAddress, cols: m.cols, rowStart: nil, columns: nil, values: nil))
            }
        case let .sparse(c):
            return try c.rowStart.withUnsafeBufferPointer { rs in
                try c.columns.withUnsafeBufferPointer { cs in
                    try c.values.withUnsafeBufferPointer { vs in
                        // An empty CSR still needs non-nil pointers for the optional checks above.
                        let dummyV = UnsafeMutablePointer<T>.allocate(capacity: 1),
                            dummyC = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
                        defer {
                            dummyV.deallocate()
                            dummyC.deallocate()
                        }
                        return try body(
                            RowAccess(
                                dense: nil, cols: c.cols, rowStart: rs.baseAddress,
                                columns: cs.baseAddress ?? UnsafePointer(dummyC), values: vs.baseAddress ?? UnsafePointer(dummyV)))
                    }
                }
            }
        }
    }
}

extension Kernels {
    /// Throws unless there is one label per row, each in 0..<classes.
    static func checkLabels(_ labels: [Int], rows: Int, classes: Int, kernel: String) throws {
        guard labels.count == rows else { throw AgoraError.shape("\(kernel): \(labels.count) labels for \(rows) rows") }
        if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
            throw AgoraError.shape("\(kernel): label \(bad) outside 0..<\(classes)")
        }
    }

    /// Estimated memory traffic of a batched-gradient call: every batch row read once per pass
    /// (`passes`: 1 for linear models, classes or hidden units otherwise), for the serial cut-off.
    static func batchTraffic<T>(_ batches: [[Int]], cols: Int, passes: Int, _: T.Type) -> Int {
        var rows = 0
        for b in batches { rows += b.count }
        return rows * MemoryLayout<T>.size * max(1, cols / 4) * max(1, passes)
    }

    /// Throws when a batch names a row outside 0..<rows.
    static func checkBatches(_ batches: [[Int]], rows: Int, kernel: String) throws {
        for (a, b) in batches.enumerated() {
            if let bad = b.first(where: { $0 < 0 || $0 >= rows }) {
                throw AgoraError.shape("\(kernel): batch of agent \(a) names row \(bad), outside 0..<\(rows)")
            }
        }
    }

    /// Runs `body(agent, theta_a, grad_a)` for every agent in parallel (each writes only its own
    /// gradient row, zeroed first; `body` returns the summed loss over the agent's batch), then
    /// sets grad_a <- grad_a / |B_a| + l2 theta_a and loss_a <- loss / |B_a| + (l2/2) ||theta_a||^2,
    /// the L2 terms only on entries where `decayed(q)` holds (all when nil).
    static func perAgentGradients<T: AgoraScalar>(
        parameters theta: Matrix<T>, gradients g: inout Matrix<T>, losses: inout [T], batches: [[Int]],
        l2: T, decayed: ((Int) -> Bool)? = nil, bytes: Int, pool: ThreadPool,
        _ body: (Int, UnsafeMutablePointer<T>, UnsafeMutablePointer<T>) -> Double
    ) {
        theta.storage.withUnsafeBufferPointer { tb in
            g.storage.withUnsafeMutableBufferPointer { gb in
                losses.withUnsafeMutableBufferPointer { lb in
                    guard let tbase = tb.baseAddress, let gbase = gb.baseAddress, let lbase = lb.baseAddress else { return }
                    perAgentGradientsRaw(
                        parameters: tbase, gradients: gbase, losses: lbase, agents: theta.rows, cols: theta.cols,
                        batches: batches, l2: l2, decayed: decayed, bytes: bytes, pool: pool, body)
                }
            }
        }
    }

    /// `perAgentGradients` on raw row-major buffers of agents x cols (and `agents` losses).
    static func perAgentGradientsRaw<T: AgoraScalar>(
        parameters tbase: UnsafePointer<T>, gradients gbase: UnsafeMutablePointer<T>, losses lbase: UnsafeMutablePointer<T>,
        agents: Int, cols p: Int, batches: [[Int]], l2: T, decayed: ((Int) -> Bool)? = nil, bytes: Int, pool: ThreadPool,
        _ body: (Int, UnsafeMutablePointer<T>, UnsafeMutablePointer<T>) -> Double
    ) {
        let tp = SendablePointer(UnsafeMutablePointer(mutating: tbase))
        let gp = SendablePointer(gbase), lp = SendablePointer(lbase)
        pool.parallelFor(agents, bytes: bytes) { range in
            for a in range {
                let th = tp.p + a * p, gr = gp.p + a * p
                gr.update(repeating: 0, count: p)
                let total = body(a, th, gr)
                let nb = batches[a].count
                let inv: T = nb > 0 ? 1 / T(nb) : 0
                var reg: T = 0
                if let decayed {
                    for q in 0..<p {
                        if decayed(q) {
                            gr[q] = gr[q] * inv + l2 * th[q]
                            reg += th[q] * th[q]
                        } else {
                            gr[q] = gr[q] * inv
                        }
                    }
                } else {
                    // Every parameter decays: one vectorised pass (no per-element closure call).
                    let iv = SIMD16<T>(repeating: inv), lv = SIMD16<T>(repeating: l2)
                    var acc = SIMD16<T>.zero
                    var q = 0
                    while q + vecWidth <= p {
                        let t = loadVec(th + q)
                        storeVec(loadVec(gr + q) * iv + lv * t, gr + q)
                        acc += t * t
                        q += vecWidth
                    }
                    reg = horizontalSum(acc)
                    while q < p {
                        gr[q] = gr[q] * inv + l2 * th[q]
                        reg += th[q] * th[q]
                        q += 1
                    }
                }
                lp.p[a] = T(nb > 0 ? total / Double(nb) : 0) + l2 / 2 * reg
            }
        }
    }
}
