import CAgoraSupport

/// How `Kernels.mix` applies a mixing matrix.
public enum MixStrategy: String, Sendable, Codable, CaseIterable {
    /// Sparse neighbour sums when W is sparse, GEMM when its density is at least
    /// `MixingOperator.denseThreshold`.
    case auto
    /// Always the sparse neighbour kernel (memory-bound: reads each neighbour row once per use).
    case sparse
    /// Always GEMM on the dense W (compute-bound: 2 n^2 d flops whatever the sparsity).
    case dense
}

/// A mixing matrix W prepared for repeated application: its CSR form, and a dense copy when the
/// strategy selects GEMM.
///
/// Why both: for a 4-neighbour graph on 1024 agents GEMM does ~200x more flops than needed and
/// measures about 22x slower than the sparse kernel (platform.md), while for dense W (complete
/// graph, one-shot averaging) GEMM's cache blocking wins. The crossover is set by density.
public struct MixingOperator<T: AgoraScalar>: Sendable {
    /// Density at and above which `.auto` uses GEMM. GEMM runs ~470 GFLOP/s here while the sparse
    /// kernel streams neighbour rows from cache at roughly 10-20 Gelem/s, so GEMM wins only when
    /// about a tenth of W is non-zero.
    public static var denseThreshold: Double { 0.1 }

    public let csr: CSRMatrix<T>
    public let dense: Matrix<T>?
    public let strategy: MixStrategy

    /// Whether applications run through GEMM.
    public var usesGEMM: Bool { dense != nil }

    public init(_ w: CSRMatrix<T>, strategy: MixStrategy = .auto) throws {
        guard w.rows == w.cols else {
            throw AgoraError.shape("A mixing matrix must be square, got \(w.rows) x \(w.cols)")
        }
        csr = w
        self.strategy = strategy
        let gemm: Bool
        switch strategy {
        case .auto: gemm = w.density >= Self.denseThreshold
        case .sparse: gemm = false
        case .dense: gemm = true
        }
        dense = gemm ? w.dense() : nil
    }
}

extension Kernels {
    /// Whether all `count` elements at `p` are finite. x * 0 is 0 for a finite x and NaN for an
    /// infinite or NaN one, so four running sums of x * 0 stay 0 exactly when everything is finite.
    @inline(__always)
    static func allFinite<T: AgoraScalar>(_ p: UnsafePointer<T>, count n: Int) -> Bool {
        var a: T = 0, b: T = 0, c: T = 0, d: T = 0
        var k = 0
        while k + 4 <= n {
            a += p[k] * 0
            b += p[k + 1] * 0
            c += p[k + 2] * 0
            d += p[k + 3] * 0
            k += 4
        }
        while k < n {
            a += p[k] * 0
            k += 1
        }
        return (a + b + c + d) == 0
    }

    /// Whether the GEMM path may run on these inputs. GEMM multiplies every x_j by every w_ij,
    /// the structural zeros included, and 0 * NaN is NaN: a NaN or infinity in one agent's row
    /// would reach every agent, where y = W X (a sum over each row's neighbours) reaches only the
    /// agent's neighbours. Inputs with a non-finite element therefore take the sparse path, so the
    /// result is the same whichever strategy `auto` picked (a scan of X, small beside the GEMM).
    static func gemmAllowed<T: AgoraScalar>(_ x: UnsafePointer<T>, _ m: UnsafePointer<T>?, count: Int) -> Bool {
        allFinite(x, count: count) && (m.map { allFinite($0, count: count) } ?? true)
    }

    /// Y = W X: row `i` of `y` becomes sum_j w_ij x_j.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func mix<T: AgoraScalar>(
        _ w: MixingOperator<T>, _ x: Matrix<T>, into y: inout Matrix<T>, pool: ThreadPool = .shared
    ) throws {
        try checkMix(w.csr, x, y)
        if let d = w.dense, x.storage.withUnsafeBufferPointer({ $0.isEmpty || gemmAllowed($0.baseAddress!, nil, count: $0.count) }) {
            try BLAS.gemm(d, x, into: &y)
        } else {
            mixStepSparse(w.csr, x, stepSizes: nil, directions: nil, into: &y, pool: pool)
        }
    }

    /// The fused decentralized update theta_i <- sum_j w_ij theta_j - lr_i m_i, for every agent i.
    ///
    /// - Parameters:
    ///   - stepSizes: one learning rate per agent (length = agents).
    ///   - directions: the applied update directions m (e.g. gradients), [agents x d].
    ///
    /// In the sparse path the subtraction happens while the row is still in registers, so the
    /// update costs one pass over memory.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func mixStep<T: AgoraScalar>(
        _ w: MixingOperator<T>, _ x: Matrix<T>, stepSizes: [T], directions m: Matrix<T>,
        into y: inout Matrix<T>, pool: ThreadPool = .shared
    ) throws {
        try checkMix(w.csr, x, y)
        guard stepSizes.count == x.rows else {
            throw AgoraError.shape("mixStep needs \(x.rows) step sizes, got \(stepSizes.count)")
        }
        guard m.rows == x.rows, m.cols == x.cols else {
            throw AgoraError.shape("mixStep directions are \(m.rows) x \(m.cols), parameters \(x.rows) x \(x.cols)")
        }
        let finite = x.storage.withUnsafeBufferPointer { xb in
            m.storage.withUnsafeBufferPointer { mb in xb.isEmpty || gemmAllowed(xb.baseAddress!, mb.baseAddress!, count: xb.count) }
        }
        if let d = w.dense, finite {
            // Y = -diag(lr) M first, then the GEMM adds W X (beta = 1): Y is written once by us
            // and read-modified once by BLAS, instead of a second full pass after the GEMM.
            m.storage.withUnsafeBufferPointer { mb in
                y.storage.withUnsafeMutableBufferPointer { yb in
                    negatedScaledRowsRaw(stepSizes, mb.baseAddress!, into: yb.baseAddress!, rows: y.rows, cols: y.cols)
                }
            }
            try BLAS.gemm(d, x, into: &y, beta: 1)
        } else {
            mixStepSparse(w.csr, x, stepSizes: stepSizes, directions: m, into: &y, pool: pool)
        }
    }

    /// Y = W X (and, with `stepSizes` and `directions`, the fused update Y = W X - diag(lr) M) on
    /// caller-owned row-major buffers, without copying them: the entry point of the C ABI and the
    /// Python package, whose callers own numpy arrays.
    ///
    /// The caller guarantees that `x` holds `w.cols x cols` elements, `y` (and `directions`)
    /// `w.rows x cols`, `stepSizes` `w.rows`, and that `y` overlaps none of them; nothing here can
    /// check a raw pointer, so validate at the boundary.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func mix<T: AgoraScalar>(
        _ w: MixingOperator<T>, x: UnsafePointer<T>, cols: Int, into y: UnsafeMutablePointer<T>,
        stepSizes: UnsafePointer<T>? = nil, directions: UnsafePointer<T>? = nil, pool: ThreadPool = .shared
    ) {
        let n = w.csr.rows
        guard n > 0, cols > 0 else { return }
        // The update runs only with both step sizes and directions.
        let lr = directions == nil ? nil : stepSizes.map { Array(UnsafeBufferPointer(start: $0, count: n)) }
        if let d = w.dense, gemmAllowed(x, lr == nil ? nil : directions, count: n * cols) {
            // With an update: Y = -diag(lr) M, then Y += W X in the GEMM (as in `mixStep`).
            var beta: T = 0
            if let lr, let m = directions {
                negatedScaledRowsRaw(lr, m, into: y, rows: n, cols: cols)
                beta = 1
            }
            d.storage.withUnsafeBufferPointer { db in
                T._gemm(
                    transA: false, transB: false, m: n, n: cols, k: w.csr.cols, alpha: 1, a: db.baseAddress!,
                    lda: max(1, w.csr.cols), b: x, ldb: cols, beta: beta, c: y, ldc: cols)
            }
        } else {
            mixStepSparseRaw(w.csr, x: x, cols: cols, stepSizes: lr, directions: lr == nil ? nil : directions, into: y, pool: pool)
        }
    }

    /// Y = W X (- diag(lr) M) for a rectangular sparse W, on raw buffers: output row i is
    /// sum_k w_ik x_(col k) over row i's entries in order. `x` holds `w.cols x cols` elements, `y`
    /// and `directions` `w.rows x cols`. Always the sparse kernel, so each output element is
    /// computed exactly as `mix` computes it on a sparse operator whose row lists the same weights
    /// in the same order: the MPI back-end mixes a rank's agents over a buffer of its own and its
    /// neighbours' rows this way and matches the in-process run bit for bit.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func mixRows<T: AgoraScalar>(
        _ w: CSRMatrix<T>, x: UnsafePointer<T>, cols: Int, into y: UnsafeMutablePointer<T>,
        stepSizes: [T]? = nil, directions: UnsafePointer<T>? = nil, pool: ThreadPool = .shared
    ) {
        mixStepSparseRaw(
            w, x: x, cols: cols, stepSizes: directions == nil ? nil : stepSizes, directions: stepSizes == nil ? nil : directions,
            into: y, pool: pool)
    }

    /// `mixRows` where the columns of W name rows in two buffers, without copying either: columns
    /// `localOffset ..< localOffset + localRows` are the rows of `local`, the others (in order,
    /// skipping that block) the rows of `remote`. The MPI back-end mixes a rank's own rows in
    /// place beside the rows it received; same arithmetic, same order, as `mixRows`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func mixRows<T: AgoraScalar>(
        _ w: CSRMatrix<T>, local: UnsafePointer<T>, localOffset: Int, localRows: Int, remote: UnsafePointer<T>, cols: Int,
        into y: UnsafeMutablePointer<T>, stepSizes: [T]? = nil, directions: UnsafePointer<T>? = nil, pool: ThreadPool = .shared
    ) {
        let source = SplitRows(
            local: UnsafeMutablePointer(mutating: local), remote: UnsafeMutablePointer(mutating: remote),
            lower: Int32(localOffset), upper: Int32(localOffset + localRows), localRows: localRows, d: cols)
        mixStepSparseRaw(
            w, source: source, cols: cols, stepSizes: directions == nil ? nil : stepSizes,
            directions: stepSizes == nil ? nil : directions, into: y, pool: pool)
    }

    /// y_i <- y_i - a_i m_i for every row i.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func subtractScaledRows<T: AgoraScalar>(
        _ a: [T], _ m: Matrix<T>, from y: inout Matrix<T>, pool: ThreadPool = .shared
    ) {
        precondition(a.count == y.rows && m.rows == y.rows && m.cols == y.cols, "shape mismatch")
        guard y.rows > 0, y.cols > 0 else { return }
        m.storage.withUnsafeBufferPointer { mb in
            y.storage.withUnsafeMutableBufferPointer { yb in
                subtractScaledRowsRaw(a, mb.baseAddress!, from: yb.baseAddress!, rows: y.rows, cols: y.cols, pool: pool)
            }
        }
    }

    /// `subtractScaledRows` on raw row-major buffers of `rows x cols`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func subtractScaledRowsRaw<T: AgoraScalar>(
        _ a: [T], _ m: UnsafePointer<T>, from y: UnsafeMutablePointer<T>, rows: Int, cols d: Int, pool: ThreadPool
    ) {
        let bytes = 3 * rows * d * MemoryLayout<T>.size
        let mp = SendablePointer(UnsafeMutablePointer(mutating: m))
        let yp = SendablePointer(y)
        pool.parallelFor(rows, bytes: bytes) { r in
            for i in r {
                let s = a[i]
                let yr = yp.p + i * d, mr = mp.p + i * d
                var k = 0
                let sv = SIMD16<T>(repeating: s)
                while k + vecWidth <= d {
                    storeVec(loadVec(yr + k) - sv * loadVec(mr + k), yr + k)
                    k += vecWidth
                }
                while k < d {
                    yr[k] = yr[k] - s * mr[k]
                    k += 1
                }
            }
        }
    }

    /// y_i <- -a_i m_i for every row i (the update part of the fused step, before the GEMM adds W X).
    ///
    /// On the calling thread, deliberately: it is O(n d) beside the GEMM's O(n^2 d), and waking
    /// Agora's workers next to OpenBLAS's (which spin for a while after each call) made the fused
    /// step 2x slower than the plain mix at n = 64, d = 1000 on two cores.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func negatedScaledRowsRaw<T: AgoraScalar>(
        _ a: [T], _ m: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, rows: Int, cols d: Int
    ) {
        for i in 0..<rows {
            let s = -a[i]
            let yr = y + i * d, mr = m + i * d
            var k = 0
            let sv = SIMD16<T>(repeating: s)
            while k + vecWidth <= d {
                storeVec(sv * loadVec(mr + k), yr + k)
                k += vecWidth
            }
            while k < d {
                yr[k] = s * mr[k]
                k += 1
            }
        }
    }

    private static func checkMix<T>(_ w: CSRMatrix<T>, _ x: Matrix<T>, _ y: Matrix<T>) throws {
        guard w.cols == x.rows else {
            throw AgoraError.shape("W is \(w.rows) x \(w.cols) but X has \(x.rows) rows (agents)")
        }
        guard y.rows == w.rows, y.cols == x.cols else {
            throw AgoraError.shape("Output is \(y.rows) x \(y.cols), expected \(w.rows) x \(x.cols)")
        }
    }

    /// Output size from which the sparse mix writes with streaming stores: twice a 32 MiB
    /// last-level cache (`AGORA_STREAM_BYTES` overrides it; 0 disables streaming).
    static let streamingStoreBytes: Int = {
        if let s = Platform.environment("AGORA_STREAM_BYTES"), let v = Int(s), v >= 0 { return v == 0 ? .max : v }
        return 64 << 20
    }()

    /// Cache budget of one column tile of the sparse mix, in bytes across all agents
    /// (`AGORA_MIX_TILE_BYTES` overrides it, for tuning experiments).
    static let mixTileBytesOverride: Int? = {
        if let s = Platform.environment("AGORA_MIX_TILE_BYTES"), let v = Int(s), v > 0 { return v }
        return nil
    }()
    static var mixTileBytes: Int { mixTileBytesOverride ?? (4 << 20) }

    /// The column tile (in elements) the sparse mix uses for `agents` rows of `cols` columns: the
    /// neighbour rows one tile touches stay in cache (about 4 MiB across all agents); at least 256
    /// elements and a multiple of the vector width.
    ///
    /// Public so that a benchmark can place the tile's working set (`agents * tile` elements)
    /// in the cache hierarchy: on graphs whose neighbours lie far apart in row order (exponential,
    /// random regular) every neighbour read comes from the level holding that set, not from L1,
    /// and its bandwidth bounds the mix.
    public static func sparseMixTile<T>(agents: Int, cols: Int, _: T.Type = T.self) -> Int {
        let budget = mixTileBytes
        var t = budget / max(1, agents * MemoryLayout<T>.size)
        t = max(mixTileBytesOverride == nil ? 256 : 2 * vecWidth, t - t % vecWidth)
        return min(cols, t)
    }

    /// Rows with more entries than this are swept in groups of four neighbours (`.max`: none are).
    ///
    /// Why: the one-sweep row kernel reads all neighbours at the same column at once, and when
    /// the row length in bytes is a multiple of a large power of two (d = 512, 1024, 4096 floats)
    /// all those addresses fall into the same few L1 sets (64 sets of 64 B: a 4 KiB period). With
    /// more neighbours than distinct set offsets the lines evict each other before use. Measured
    /// on a Zen 4 (`make bench-ab ... ONLY=mix/exponential_d1024,mix/exponential`, n = 512): groups
    /// of four took 0.71x the time at d = 1024 and made no difference at d = 1e4; grouping every
    /// row length made d = 1e4 1.13x slower, and rows of 9 entries gained nothing in a separate
    /// probe, hence the floor of 12.
    static func groupedMixDegree(rowBytes: Int) -> Int {
        let period = 4096
        let r = rowBytes % period
        var a = period, b = r
        while b != 0 { (a, b) = (b, a % b) }  // a = gcd(period, r); r = 0 gives one offset
        return max(12, period / a)
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func mixStepSparse<T: AgoraScalar>(
        _ w: CSRMatrix<T>, _ x: Matrix<T>, stepSizes: [T]?, directions: Matrix<T>?,
        into y: inout Matrix<T>, pool: ThreadPool
    ) {
        if w.rows == 0 || x.cols == 0 { return }
        let mStorage = directions?.storage ?? []
        x.storage.withUnsafeBufferPointer { xb in
            mStorage.withUnsafeBufferPointer { mb in
                y.storage.withUnsafeMutableBufferPointer { yb in
                    // An empty array may still have a base address: decide by `directions`, not by the pointer.
                    mixStepSparseRaw(
                        w, x: xb.baseAddress!, cols: x.cols, stepSizes: stepSizes,
                        directions: directions == nil ? nil : mb.baseAddress, into: yb.baseAddress!, pool: pool)
                }
            }
        }
    }

    /// The sparse mix on raw row-major buffers: x has w.cols rows, y (and directions) w.rows rows,
    /// all `d` columns.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func mixStepSparseRaw<T: AgoraScalar>(
        _ w: CSRMatrix<T>, x: UnsafePointer<T>, cols d: Int, stepSizes: [T]?, directions: UnsafePointer<T>?,
        into y: UnsafeMutablePointer<T>, pool: ThreadPool
    ) {
        mixStepSparseRaw(
            w, source: ContiguousRows(x: UnsafeMutablePointer(mutating: x), d: d), cols: d, stepSizes: stepSizes,
            directions: directions, into: y, pool: pool)
    }

    /// The sparse kernel over any row source (contiguous rows, or a rank's own rows beside the
    /// rows it received): the same arithmetic in the same order whatever the source.
    static func mixStepSparseRaw<T: AgoraScalar, S: MixRowSource>(
        _ w: CSRMatrix<T>, source: S, cols d: Int, stepSizes: [T]?, directions: UnsafePointer<T>?,
        into y: UnsafeMutablePointer<T>, pool: ThreadPool
    ) where S.T == T {
        let n = w.rows
        if n == 0 || d == 0 { return }
        let tile = sparseMixTile(agents: n, cols: d, T.self)
        let bytes = (2 + (directions == nil ? 0 : 1)) * n * d * MemoryLayout<T>.size
        // Outputs far larger than the caches are written with streaming stores (no read for
        // ownership); cache-sized outputs keep ordinary stores, which leave Y in cache for its reader.
        let stream = n * d * MemoryLayout<T>.size >= streamingStoreBytes
        let grouped = groupedMixDegree(rowBytes: d * MemoryLayout<T>.size)
        w.rowStart.withUnsafeBufferPointer { rs in
            w.columns.withUnsafeBufferPointer { cs in
                w.values.withUnsafeBufferPointer { vs in
                    let src = UncheckedSendableBox(source)
                    let mp = directions.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
                    let yp = SendablePointer(y)
                    let rsp = SendablePointer(UnsafeMutablePointer(mutating: rs.baseAddress!))
                    let csp = SendablePointer(UnsafeMutablePointer(mutating: cs.baseAddress!))
                    let vsp = w.nonzeros == 0 ? nil : vs.baseAddress.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
                    /// Rows `range`, columns c0..<c1.
                    func sweep(_ range: Range<Int>, _ c0: Int, _ c1: Int) {
                        for i in range {
                            let lo = rsp.p[i], hi = rsp.p[i + 1]
                            let lr: T = stepSizes?[i] ?? 0
                            mixRow(
                                source: src.value, cols: csp.p + lo, weights: vsp.map { $0.p + lo },
                                count: hi - lo, lr: lr, m: mp.map { $0.p + i * d },
                                out: yp.p + i * d, from: c0, to: c1,
                                stream: stream && Int(bitPattern: yp.p + i * d) & 15 == 0, groupedAbove: grouped)
                        }
                    }
                    let tiles = (d + tile - 1) / tile
                    if tiles == 1 {
                        // One tile: parts are row ranges (any number of them, claimed dynamically).
                        pool.parallelFor(n, bytes: bytes) { range in
                            defer { if stream { agora_store_fence() } }
                            sweep(range, 0, d)
                        }
                        return
                    }
                    // Several tiles: parts are cells (tile, row block), tile-major, with one row block per
                    // thread, so the threads sweep the same tile at once and share its neighbour rows in
                    // cache, as one row range per thread did. (Finer row ranges, each sweeping every tile,
                    // made the exponential mix at n = 512, d = 1e4 1.14x slower: a neighbour row's tile
                    // left the cache before the other parts that read it came to it.) Cells give the
                    // dynamic claiming its small parts, which a descheduled worker needs (`ThreadPool`).
                    let blocks = max(1, min(n, pool.threads))
                    let rowChunk = (n + blocks - 1) / blocks
                    pool.parallelFor(tiles * blocks, bytes: bytes, partsPerThread: tiles) { cells in
                        defer { if stream { agora_store_fence() } }
                        for cell in cells {
                            let c0 = (cell / blocks) * tile, b = cell % blocks
                            sweep(min(n, b * rowChunk)..<min(n, (b + 1) * rowChunk), c0, min(d, c0 + tile))
                        }
                    }
                }
            }
        }
    }

    /// out[c] = sum_k w_k x[col_k][c] - lr * m[c] for c in from..<to; neighbours summed in list order.
    ///
    /// Rows of more than `groupedAbove` entries are swept four neighbours at a time, the running
    /// sums kept in an L1 scratch row between groups (see `groupedMixDegree`); other rows in one
    /// sweep over all their neighbours. Either way every element is the same sum in the same
    /// order (bit-identical); only the order of memory accesses differs.
    @inline(__always)
    static func mixRow<T: AgoraScalar, S: MixRowSource>(
        source x: S, cols: UnsafeMutablePointer<Int32>,
        weights: UnsafeMutablePointer<T>?, count: Int, lr: T, m: UnsafeMutablePointer<T>?,
        out: UnsafeMutablePointer<T>, from: Int, to: Int, stream: Bool = false, groupedAbove: Int = .max
    ) where S.T == T {
        guard let weights else {
            // Agent with no entries at all: zero row (minus the step).
            var c = from
            while c < to {
                out[c] = 0 - lr * (m?[c] ?? 0)
                c += 1
            }
            return
        }
        // The neighbours' row addresses once per call (a split source branches per lookup).
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<T>.self, capacity: count) { rows in
            let rows = rows.baseAddress!
            for k in 0..<count { rows[k] = x.row(cols[k]) }
            let sweep = MixSweep(rows: rows, weights: weights, count: count, lr: lr, m: m, out: out, from: from, to: to, stream: stream)
            if count <= groupedAbove {
                sweep.run(0..<count, scratch: nil)
                return
            }
            withUnsafeTemporaryAllocation(of: T.self, capacity: to - from) { scratch in
                var k = 0
                while k < count {
                    sweep.run(k..<min(count, k + 4), scratch: scratch.baseAddress! - from, first: k == 0)
                    k += 4
                }
            }
        }
    }
}

/// One sweep of the sparse mix's row kernel over columns from..<to for the neighbours in a
/// range of the row's list: the sums start at zero (the first range) or from `scratch`, and end
/// in `out` with the step subtracted (the last range) or back in `scratch`.
struct MixSweep<T: AgoraScalar> {
    let rows: UnsafeMutablePointer<UnsafeMutablePointer<T>>
    let weights: UnsafeMutablePointer<T>
    /// Entries in the row's list (the range ending there writes `out`).
    let count: Int
    let lr: T
    let m: UnsafeMutablePointer<T>?
    let out: UnsafeMutablePointer<T>
    let from: Int, to: Int
    let stream: Bool

    /// `scratch` is indexed by column (nil only when the range is the whole list); `first` says
    /// the sums start at zero; the range that ends the list writes `out`.
    @inline(__always)
    func run(_ ks: Range<Int>, scratch: UnsafeMutablePointer<T>?, first: Bool = true) {
        let last = ks.upperBound == count
        let dst = last ? out : scratch!
        let st = last && stream
        @inline(__always) func start(_ c: Int) -> SIMD16<T> { first ? .zero : loadVec(scratch! + c) }
        var c = from
        // Four vectors at a time: each element's sum is one chain of dependent adds (its order is
        // fixed, so the compiler may not reassociate it), and with a single vector in flight the
        // loop waited on add latency (about 4 cycles per neighbour): at degree 18 that, not
        // memory, bounded the mix. Four independent vectors keep the adders busy.
        let wide = 4 * vecWidth
        while c + wide <= to {
            var a0 = start(c), a1 = start(c + vecWidth), a2 = start(c + 2 * vecWidth), a3 = start(c + 3 * vecWidth)
            for k in ks {
                let wk = SIMD16<T>(repeating: weights[k]), r = rows[k] + c
                a0 += wk * loadVec(r)
                a1 += wk * loadVec(r + vecWidth)
                a2 += wk * loadVec(r + 2 * vecWidth)
                a3 += wk * loadVec(r + 3 * vecWidth)
            }
            if last, let m {
                let l = SIMD16<T>(repeating: lr), mr = m + c
                a0 -= l * loadVec(mr)
                a1 -= l * loadVec(mr + vecWidth)
                a2 -= l * loadVec(mr + 2 * vecWidth)
                a3 -= l * loadVec(mr + 3 * vecWidth)
            }
            let o = dst + c
            if st {
                streamVec(a0, o)
                streamVec(a1, o + vecWidth)
                streamVec(a2, o + 2 * vecWidth)
                streamVec(a3, o + 3 * vecWidth)
            } else {
                storeVec(a0, o)
                storeVec(a1, o + vecWidth)
                storeVec(a2, o + 2 * vecWidth)
                storeVec(a3, o + 3 * vecWidth)
            }
            c += wide
        }
        while c + vecWidth <= to {
            var acc = start(c)
            for k in ks { acc += SIMD16<T>(repeating: weights[k]) * loadVec(rows[k] + c) }
            if last, let m { acc -= SIMD16<T>(repeating: lr) * loadVec(m + c) }
            if st { streamVec(acc, dst + c) } else { storeVec(acc, dst + c) }
            c += vecWidth
        }
        while c < to {
            var acc: T = first ? 0 : scratch![c]
            for k in ks { acc += weights[k] * rows[k][c] }
            if last, let m { acc -= lr * m[c] }
            dst[c] = acc
            c += 1
        }
    }
}

/// Where the sparse mix reads row `j` of X (the kernel is generic over it and specialised, so
/// the contiguous case compiles to the plain address arithmetic).
protocol MixRowSource {
    associatedtype T: AgoraScalar
    func row(_ j: Int32) -> UnsafeMutablePointer<T>
}

/// Rows `j` at `x + j d`.
struct ContiguousRows<T: AgoraScalar>: MixRowSource {
    let x: UnsafeMutablePointer<T>
    let d: Int
    @inline(__always) func row(_ j: Int32) -> UnsafeMutablePointer<T> { x + Int(j) * d }
}

/// Rows lower..<upper from `local`, the others from `remote` (which skips that block).
struct SplitRows<T: AgoraScalar>: MixRowSource {
    let local: UnsafeMutablePointer<T>, remote: UnsafeMutablePointer<T>
    let lower: Int32, upper: Int32
    let localRows: Int, d: Int
    @inline(__always) func row(_ j: Int32) -> UnsafeMutablePointer<T> {
        if j < lower { return remote + Int(j) * d }
        if j < upper { return local + Int(j - lower) * d }
        return remote + (Int(j) - localRows) * d
    }
}

/// A value the pool's workers only read (raw pointers inside, owned by the caller for the call).
struct UncheckedSendableBox<V>: @unchecked Sendable {
    let value: V
    init(_ value: V) { self.value = value }
}
