#if MPI
import AgoraKernels
import AgoraTopology
import CMPI
import Dispatch
/// MPI handle types differ between implementations (Open MPI: pointers to incomplete structs,
/// imported as optionals; MPICH: Int32), so they are declared by inference from the shim's null
/// handles, never by name.
struct CommHandle { var value = agora_mpi_comm_null() }
struct TypeHandle { var value = agora_mpi_datatype_null() }

/// Contiguous blocks of `count` items over `ranks` ranks: rank r owns r count / P ..< (r + 1)
/// count / P (count need not divide by P; ranks may own none). Agents and market clients alike.
func blockRanges(_ count: Int, ranks: Int) -> [Range<Int>] {
    (0..<ranks).map { r in (r * count / ranks)..<((r + 1) * count / ranks) }
}

/// `MPI_Type_contiguous(count, element)` types, created on first use and freed with the cache: a
/// row of d floats (or k words) travels as one element, so counts stay small at large d.
final class ContiguousTypes {
    let rank: Int
    private var types: [String: TypeHandle] = [:]
    init(rank: Int) { self.rank = rank }
    deinit {
        for t in types.values {
            var h = t.value
            _ = MPI_Type_free(&h)
        }
    }

    func floats(_ count: Int) throws -> TypeHandle { try type(count, TypeHandle(value: agora_mpi_float()), "f") }
    func words(_ count: Int) throws -> TypeHandle { try type(count, TypeHandle(value: agora_mpi_uint64()), "u") }

    private func type(_ count: Int, _ element: TypeHandle, _ tag: String) throws -> TypeHandle {
        let key = "\(tag)\(count)"
        if let t = types[key] { return t }
        var t = TypeHandle()
        try MPIRuntime.check(MPI_Type_contiguous(Int32(count), element.value, &t.value), "MPI_Type_contiguous", rank: rank)
        try MPIRuntime.check(MPI_Type_commit(&t.value), "MPI_Type_commit", rank: rank)
        types[key] = t
        return t
    }
}

/// The MPI runtime of a process launched by `mpirun`: start, rank, size, finish. Every MPI call
/// of Agora goes through this file and `MPIExchange` (errors returned, never fatal: the
/// communicator uses MPI_ERRORS_RETURN, and failures become `AgoraError`s naming the rank and call).
public enum MPIRuntime {
    /// Whether this process was started by an MPI launcher (Open MPI, MPICH/Hydra or PMIx).
    public static var launched: Bool {
        let names: [String] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        return names.contains { name in Platform.environment(name) != nil }
    }

    /// MPI_Init_thread (funneled: only the main thread calls MPI; Agora's pool threads never do).
    public static func start() throws -> (rank: Int, size: Int) {
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, agora_mpi_thread_funneled(), &provided), "MPI_Init_thread", rank: -1)
        try check(MPI_Comm_set_errhandler(agora_mpi_comm_world(), agora_mpi_errors_return()), "MPI_Comm_set_errhandler", rank: -1)
        return (try rank(), try size())
    }

    public static func rank() throws -> Int {
        var r: Int32 = 0
        try check(MPI_Comm_rank(agora_mpi_comm_world(), &r), "MPI_Comm_rank", rank: -1)
        return Int(r)
    }

    public static func size() throws -> Int {
        var s: Int32 = 0
        try check(MPI_Comm_size(agora_mpi_comm_world(), &s), "MPI_Comm_size", rank: -1)
        return Int(s)
    }

    public static func finish() { _ = MPI_Finalize() }

    /// Ends every rank (after an error on one: the others may be waiting in a collective).
    public static func abort(code: Int32) { _ = MPI_Abort(agora_mpi_comm_world(), code) }

    /// Every rank's block of rows shared with every rank, in place (`MPI_Allgatherv` with
    /// `MPI_IN_PLACE`): rank r's rows are `counts[r]` elements of `type` from element `displs[r]`.
    static func allgatherInPlace(
        _ base: UnsafeMutableRawPointer?, counts: [Int32], displacements: [Int32], type: TypeHandle, rank: Int
    ) throws {
        try check(
            MPI_Allgatherv(
                agora_mpi_in_place(), 0, agora_mpi_datatype_null(), base, counts, displacements, type.value,
                agora_mpi_comm_world()), "MPI_Allgatherv", rank: rank)
    }

    /// Waits for every rank (before a timed region, so all ranks start together).
    public static func barrier() throws {
        try check(MPI_Barrier(agora_mpi_comm_world()), "MPI_Barrier", rank: (try? rank()) ?? -1)
    }

    /// The largest of every rank's `value`, on every rank (timings: the slowest rank counts).
    public static func maximum(_ value: Double) throws -> Double {
        var v = value, out = 0.0
        try check(
            MPI_Allreduce(&v, &out, 1, agora_mpi_double(), agora_mpi_max(), agora_mpi_comm_world()), "MPI_Allreduce",
            rank: (try? rank()) ?? -1)
        return out
    }

    /// The sum of every rank's `value`, on every rank.
    public static func sum(_ value: Double) throws -> Double {
        var v = value, out = 0.0
        try check(
            MPI_Allreduce(&v, &out, 1, agora_mpi_double(), agora_mpi_sum(), agora_mpi_comm_world()), "MPI_Allreduce",
            rank: (try? rank()) ?? -1)
        return out
    }

    /// One-way time of a `bytes`-byte message between ranks 0 and 1 (half the median round trip
    /// over `repetitions` after a warm-up), on every rank; 0 with fewer than two ranks. The
    /// transport's bound for neighbour exchanges: latency from small messages, bandwidth from large.
    public static func pingPong(bytes: Int, repetitions: Int) throws -> Double {
        let me = try rank(), size = try size()
        guard size >= 2 else { return 0 }
        var buffer = [UInt8](repeating: 1, count: max(1, bytes))
        var times: [Double] = []
        try barrier()
        if me <= 1 {
            let peer = Int32(1 - me)
            try buffer.withUnsafeMutableBytes { b in
                for k in 0..<(repetitions + 3) {
                    let start = DispatchTime.now().uptimeNanoseconds
                    if me == 0 {
                        try check(
                            MPI_Send(b.baseAddress, Int32(bytes), agora_mpi_byte(), peer, 7, agora_mpi_comm_world()), "MPI_Send", rank: me)
                        try check(
                            MPI_Recv(
                                b.baseAddress, Int32(bytes), agora_mpi_byte(), peer, 7, agora_mpi_comm_world(), agora_mpi_status_ignore()),
                            "MPI_Recv", rank: me)
                    } else {
                        try check(
                            MPI_Recv(
                                b.baseAddress, Int32(bytes), agora_mpi_byte(), peer, 7, agora_mpi_comm_world(), agora_mpi_status_ignore()),
                            "MPI_Recv", rank: me)
                        try check(
                            MPI_Send(b.baseAddress, Int32(bytes), agora_mpi_byte(), peer, 7, agora_mpi_comm_world()), "MPI_Send", rank: me)
                    }
                    if k >= 3 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / 2) }
                }
            }
        }
        times.sort()
        var oneWay = times.isEmpty ? 0 : times[times.count / 2]
        try check(MPI_Bcast(&oneWay, 1, agora_mpi_double(), 0, agora_mpi_comm_world()), "MPI_Bcast", rank: me)
        return oneWay
    }

    /// Turns an MPI return code into an `AgoraError` naming the call and the rank.
    static func check(_ rc: Int32, _ call: String, rank: Int) throws {
        guard rc != agora_mpi_success() else { return }
        var buffer = [CChar](repeating: 0, count: Int(agora_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        _ = MPI_Error_string(rc, &buffer, &length)
        let text = String(decoding: buffer.prefix(Int(max(0, length))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw AgoraError(.resources, "\(call) failed\(rank >= 0 ? " on rank \(rank)" : ""): \(text) (MPI error \(rc))")
    }
}

/// `NeighborExchange` over MPI: agents in contiguous blocks over the ranks (rank r holds agents
/// r n / P ..< (r + 1) n / P, so n need not divide by P and ranks may hold none), one distributed
/// graph communicator per step of the topology's period, neighbour rows and scalars exchanged with
/// `MPI_Neighbor_alltoallv` (rows as one `MPI_Type_contiguous(d)` element, so counts stay small).
///
/// Identical numbers to `InProcessExchange` with the same mixing strategy. Sparse steps: each rank
/// reads its own rows in place and its neighbours' from the receive buffer, in global agent order,
/// and mixes with the same weights in the same order (`Kernels.mixRows(local:remote:)`, no copy of
/// the own rows). Steps the strategy mixes by GEMM (dense W, as `MixingOperator` decides in
/// process): every rank gathers all rows and makes the in-process kernel call on the whole matrix
/// (`denseMixStep`). Scalars are listed by ascending neighbour as in process.
public final class MPIExchange: NeighborExchange {
    public let agents: Int
    public let rank: Int
    public let ranks: Int
    public let localAgents: Range<Int>
    public var isRoot: Bool { rank == 0 }
    let graphs: [Graph]
    let plans: [Plan]
    /// Per step of the period: the GEMM operator when the strategy mixes this step by GEMM in
    /// process, else nil (the sparse plan mixes).
    let denseOperators: [MixingOperator<Float>?]
    let blocks: [Range<Int>]
    let pool: ThreadPool
    let types: ContiguousTypes
    var sendBuffer: [Float] = [], combined: [Float] = []

    /// What one step of the period exchanges.
    struct Plan {
        var comm: CommHandle
        /// Neighbour ranks, ascending (sources = destinations: the graph is undirected).
        var neighbours: [Int32]
        /// Local rows (indices into this rank's block) sent to each neighbour rank, ascending.
        var send: [[Int]]
        /// Rows received from each neighbour rank.
        var receive: [Int]
        /// Offset (in rows) of each neighbour's rows in the combined buffer, and of the local rows.
        var receiveOffset: [Int]
        var localOffset: Int
        var combinedRows: Int
        /// The same offsets in the buffer of received rows only (the mix reads the rank's own rows
        /// in place: `Kernels.mixRows(local:remote:)`), and that buffer's rows.
        var remoteOffset: [Int]
        var remoteRows: Int
        /// Local rows of W over the combined buffer (Float, as the in-process operator's).
        var mix: CSRMatrix<Float>
        /// Per local agent: neighbours (global, ascending, self excluded), their Double weights and
        /// their position in the combined buffer.
        var scalarRowStart: [Int]
        var scalarFrom: [Int32]
        var scalarWeights: [Double]
        var scalarSlot: [Int]
    }

    /// Builds the plans (collective: every rank must call it with the same arguments).
    public init(
        topology: Topology, weights: WeightScheme, agents n: Int, seed: UInt64, strategy: MixStrategy = .auto,
        pool: ThreadPool = .shared
    ) throws {
        let rank = try MPIRuntime.rank(), ranks = try MPIRuntime.size()
        self.agents = n
        self.rank = rank
        self.ranks = ranks
        self.pool = pool
        blocks = blockRanges(n, ranks: ranks)
        types = ContiguousTypes(rank: rank)
        localAgents = blocks[rank]
        _ = try topology.unionGraph(agents: n, seed: seed)  // connected over a period (as in process)
        var owner = [Int](repeating: 0, count: n)
        for (r, b) in blocks.enumerated() { for j in b { owner[j] = r } }
        var gs: [Graph] = [], ps: [Plan] = [], dense: [MixingOperator<Float>?] = []
        for t in 0..<topology.period(agents: n) {
            gs.append(try topology.graph(agents: n, seed: seed, iteration: t))
            let w = try topology.mixingMatrix(agents: n, scheme: weights, seed: seed, iteration: t)
            ps.append(try Self.plan(w, owner: owner, local: blocks[rank], rank: rank))
            let op = w.mixingOperator(Float.self, strategy: strategy)
            dense.append(op.usesGEMM ? op : nil)
        }
        graphs = gs
        plans = ps
        denseOperators = dense
    }

    deinit {
        for p in plans {
            var c = p.comm.value
            _ = MPI_Comm_free(&c)
        }
    }

    static func plan(_ w: MixingMatrix, owner: [Int], local: Range<Int>, rank: Int) throws -> Plan {
        let dcsr = w.csr, fcsr = w.mixingOperator(Float.self, strategy: .sparse).csr
        // Rows needed from other ranks and rows they need from us (W's pattern is symmetric).
        var needed = Set<Int>(), sendTo: [Int: Set<Int>] = [:]
        for i in local {
            for k in dcsr.rowStart[i]..<dcsr.rowStart[i + 1] {
                let j = Int(dcsr.columns[k]), q = owner[j]
                if q != rank {
                    needed.insert(j)
                    sendTo[q, default: []].insert(i - local.lowerBound)
                }
            }
        }
        var fromRank: [Int: [Int]] = [:]
        for j in needed { fromRank[owner[j], default: []].append(j) }
        let neighbours = Set(fromRank.keys).union(sendTo.keys).sorted()
        // Combined buffer in global order: rows from lower ranks, our rows, rows from higher ranks.
        var slot: [Int: Int] = [:], receiveOffset: [Int] = [], receive: [Int] = []
        var row = 0, localOffset = -1
        for q in neighbours {
            if q > rank && localOffset < 0 {
                localOffset = row
                row += local.count
            }
            receiveOffset.append(row)
            let rows = (fromRank[q] ?? []).sorted()
            receive.append(rows.count)
            for j in rows {
                slot[j] = row
                row += 1
            }
        }
        if localOffset < 0 {
            localOffset = row
            row += local.count
        }
        for i in local { slot[i] = localOffset + (i - local.lowerBound) }
        var entries: [[(Int, Float)]] = [], start = [0], from: [Int32] = [], weights: [Double] = [], slots: [Int] = []
        for i in local {
            var r: [(Int, Float)] = []
            for k in fcsr.rowStart[i]..<fcsr.rowStart[i + 1] { r.append((slot[Int(fcsr.columns[k])]!, fcsr.values[k])) }
            entries.append(r)
            for k in dcsr.rowStart[i]..<dcsr.rowStart[i + 1] where Int(dcsr.columns[k]) != i {
                from.append(dcsr.columns[k])
                weights.append(dcsr.values[k])
                slots.append(slot[Int(dcsr.columns[k])]!)
            }
            start.append(from.count)
        }
        // The in-process kernel sums row i's entries in CSR (ascending column) order; slots are
        // ascending in the global index, so building from (slot, weight) lists keeps that order.
        let mix = try CSRMatrix(rows: local.count, cols: row, entries: entries)
        var comm = CommHandle()
        let nb = neighbours.map { Int32($0) }
        try nb.withUnsafeBufferPointer { p in
            try MPIRuntime.check(
                MPI_Dist_graph_create_adjacent(
                    agora_mpi_comm_world(), Int32(nb.count), p.baseAddress, agora_mpi_unweighted(),
                    Int32(nb.count), p.baseAddress, agora_mpi_unweighted(), agora_mpi_info_null(),
                    0, &comm.value), "MPI_Dist_graph_create_adjacent", rank: rank)
        }
        try MPIRuntime.check(MPI_Comm_set_errhandler(comm.value, agora_mpi_errors_return()), "MPI_Comm_set_errhandler", rank: rank)
        let remoteOffset = zip(neighbours, receiveOffset).map { q, o in q > rank ? o - local.count : o }
        return Plan(
            comm: comm, neighbours: nb, send: neighbours.map { (sendTo[$0] ?? []).sorted() }, receive: receive,
            receiveOffset: receiveOffset, localOffset: localOffset, combinedRows: row,
            remoteOffset: remoteOffset, remoteRows: row - local.count, mix: mix,
            scalarRowStart: start, scalarFrom: from, scalarWeights: weights, scalarSlot: slots)
    }

    func rowType(_ d: Int) throws -> TypeHandle { try types.floats(d) }

    /// Fills `combined` (rows of `d` floats in the plan's layout) with this rank's rows and its
    /// neighbours'. Elements are rows of d floats (`elementType`), or single doubles for scalars.
    /// With `inPlace`, the buffer holds received rows only (`remoteOffset`); otherwise the
    /// combined layout with the local rows copied in (`receiveOffset`, for scalars).
    func exchange<T>(
        _ p: Plan, local: UnsafePointer<T>, width d: Int, elementType: TypeHandle,
        into combined: UnsafeMutablePointer<T>, scratch: inout [T], inPlace: Bool = false
    ) throws {
        let total = p.send.reduce(0) { $0 + $1.count }
        if scratch.count < max(1, total * d) { scratch = [T](repeating: local.pointee, count: max(1, total * d)) }
        var sendCounts: [Int32] = [], sendDispl: [Int32] = [], recvCounts: [Int32] = [], recvDispl: [Int32] = []
        try scratch.withUnsafeMutableBufferPointer { sb in
            var at = 0
            for (k, rows) in p.send.enumerated() {
                sendCounts.append(Int32(rows.count))
                sendDispl.append(Int32(at))
                for r in rows {
                    (sb.baseAddress! + at * d).update(from: local + r * d, count: d)
                    at += 1
                }
                recvCounts.append(Int32(p.receive[k]))
                recvDispl.append(Int32(inPlace ? p.remoteOffset[k] : p.receiveOffset[k]))
            }
            if !inPlace { (combined + p.localOffset * d).update(from: local, count: localAgents.count * d) }
            try MPIRuntime.check(
                MPI_Neighbor_alltoallv(
                    sb.baseAddress, sendCounts, sendDispl, elementType.value,
                    combined, recvCounts, recvDispl, elementType.value, p.comm.value),
                "MPI_Neighbor_alltoallv", rank: rank)
        }
    }

    public func mixStep(
        iteration t: Int, parameters: Matrix<Float>, stepSizes: [Float], directions: Matrix<Float>,
        into out: inout Matrix<Float>
    ) throws {
        let p = plans[t % plans.count], n = localAgents.count, d = parameters.cols
        guard parameters.rows == n, directions.rows == n, directions.cols == d, stepSizes.count == n else {
            throw AgoraError.shape(
                "MPIExchange.mixStep on rank \(rank): \(parameters.rows) x \(d) parameters, \(directions.rows) x \(directions.cols) directions, \(stepSizes.count) step sizes for \(n) local agents"
            )
        }
        if out.rows != n || out.cols != d { out = Matrix(rows: n, cols: d) }
        if let op = denseOperators[t % denseOperators.count] {
            try denseMixStep(op, parameters: parameters, stepSizes: stepSizes, directions: directions, into: &out)
            return
        }
        guard n > 0 || p.combinedRows > 0, d > 0 else {
            _ = try exchangeEmpty(p, d: d)
            return
        }
        try exchangeRows(p, parameters)
        guard n > 0 else { return }
        combined.withUnsafeBufferPointer { cb in
            parameters.storage.withUnsafeBufferPointer { xb in
                directions.storage.withUnsafeBufferPointer { mb in
                    out.storage.withUnsafeMutableBufferPointer { yb in
                        Kernels.mixRows(
                            p.mix, local: xb.baseAddress!, localOffset: p.localOffset, localRows: n, remote: cb.baseAddress!,
                            cols: d, into: yb.baseAddress!, stepSizes: stepSizes, directions: mb.baseAddress!, pool: pool)
                    }
                }
            }
        }
    }

    /// A GEMM step over MPI: every rank gathers every agent's parameters, directions and step sizes
    /// (`MPI_Allgatherv`) and makes the in-process call (`Kernels.mixStep` on the whole matrix),
    /// keeping its own rows. The same call on the same inputs gives the same bits at any rank count
    /// (OpenBLAS splits a GEMM over rows and columns, never over the inner sum, so its thread count
    /// does not change a result either). The GEMM runs on every rank: W is dense here (density at
    /// least `MixingOperator.denseThreshold`), so each agent needs most rows anyway, and a dense
    /// GEMM is the cheap part of such a step.
    func denseMixStep(
        _ op: MixingOperator<Float>, parameters: Matrix<Float>, stepSizes: [Float], directions: Matrix<Float>,
        into out: inout Matrix<Float>
    ) throws {
        let n = agents, d = parameters.cols, local = localAgents
        guard d > 0 else { return }
        func everyRow(_ mine: [Float], width: Int) throws -> [Float] {
            var full = [Float](repeating: 0, count: max(1, n * width))
            full.withUnsafeMutableBufferPointer { fb in
                mine.withUnsafeBufferPointer { mb in
                    if let src = mb.baseAddress { (fb.baseAddress! + local.lowerBound * width).update(from: src, count: mine.count) }
                }
            }
            let type = try types.floats(width)
            try full.withUnsafeMutableBytes { fb in
                try MPIRuntime.allgatherInPlace(
                    fb.baseAddress, counts: blocks.map { Int32($0.count) }, displacements: blocks.map { Int32($0.lowerBound) },
                    type: type, rank: rank)
            }
            return full
        }
        let x = try Matrix(rows: n, cols: d, storage: Array(try everyRow(parameters.storage, width: d).prefix(n * d)))
        let m = try Matrix(rows: n, cols: d, storage: Array(try everyRow(directions.storage, width: d).prefix(n * d)))
        let lr = Array(try everyRow(stepSizes, width: 1).prefix(n))
        var y = Matrix<Float>(rows: n, cols: d)
        try Kernels.mixStep(op, x, stepSizes: lr, directions: m, into: &y, pool: pool)
        out = try Matrix(rows: local.count, cols: d, storage: Array(y.storage[(local.lowerBound * d)..<(local.upperBound * d)]))
    }

    /// The neighbour exchange of `mixStep` alone (no arithmetic): this rank's rows out, the
    /// neighbours' rows into the combined buffer. For benchmarks of the transport.
    public func exchangeRows(iteration t: Int, parameters: Matrix<Float>) throws {
        guard parameters.rows == localAgents.count, parameters.cols > 0 else {
            throw AgoraError.shape(
                "MPIExchange.exchangeRows on rank \(rank): \(parameters.rows) x \(parameters.cols) parameters for \(localAgents.count) local agents"
            )
        }
        let p = plans[t % plans.count]
        guard localAgents.count > 0 || p.combinedRows > 0 else {
            _ = try exchangeEmpty(p, d: parameters.cols)
            return
        }
        try exchangeRows(p, parameters)
    }

    /// Rows this rank receives from other ranks at iteration t (the exchange's traffic in rows).
    public func receivedRows(iteration t: Int) -> Int { plans[t % plans.count].receive.reduce(0, +) }

    func exchangeRows(_ p: Plan, _ parameters: Matrix<Float>) throws {
        let d = parameters.cols
        if combined.count < max(1, p.remoteRows * d) { combined = [Float](repeating: 0, count: max(1, p.remoteRows * d)) }
        let type = try rowType(d)
        var scratch = sendBuffer
        try parameters.storage.withUnsafeBufferPointer { xb in
            try combined.withUnsafeMutableBufferPointer { cb in
                try exchange(
                    p, local: xb.baseAddress ?? UnsafePointer(cb.baseAddress!), width: d, elementType: type, into: cb.baseAddress!,
                    scratch: &scratch, inPlace: true)
            }
        }
        sendBuffer = scratch
    }

    /// A rank with no agents and no neighbours still takes part in the collective.
    func exchangeEmpty(_ p: Plan, d: Int) throws -> Bool {
        var none = [Float](repeating: 0, count: 1), scratch = [Float](repeating: 0, count: 1)
        let type = try rowType(max(1, d))
        try none.withUnsafeMutableBufferPointer { b in
            try exchange(p, local: UnsafePointer(b.baseAddress!), width: 0, elementType: type, into: b.baseAddress!, scratch: &scratch)
        }
        return true
    }

    public func neighborScalars(iteration t: Int, _ s: [Double]) throws -> ReceivedScalars {
        let p = plans[t % plans.count]
        guard s.count == localAgents.count else {
            throw AgoraError.shape("MPIExchange.neighborScalars on rank \(rank): \(s.count) values for \(localAgents.count) local agents")
        }
        var all = [Double](repeating: 0, count: max(1, p.combinedRows)), scratch: [Double] = [0]
        let local = s.isEmpty ? [0.0] : s
        try local.withUnsafeBufferPointer { lb in
            try all.withUnsafeMutableBufferPointer { ab in
                try exchange(
                    p, local: lb.baseAddress!, width: 1, elementType: TypeHandle(value: agora_mpi_double()), into: ab.baseAddress!,
                    scratch: &scratch)
            }
        }
        return ReceivedScalars(
            rowStart: p.scalarRowStart, from: p.scalarFrom, weights: p.scalarWeights, values: p.scalarSlot.map { all[$0] })
    }

    public func neighborhoods(iteration t: Int) -> ReceivedScalars {
        let p = plans[t % plans.count]
        return ReceivedScalars(
            rowStart: p.scalarRowStart, from: p.scalarFrom, weights: p.scalarWeights,
            values: [Double](repeating: 0, count: p.scalarFrom.count))
    }

    public func degrees(iteration t: Int) -> [Int] { graphs[t % graphs.count].degrees }

    public func gatherRows(_ local: Matrix<Float>) throws -> Matrix<Float>? {
        let d = local.cols
        guard local.rows == localAgents.count else {
            throw AgoraError.shape("gatherRows on rank \(rank): \(local.rows) rows for \(localAgents.count) local agents")
        }
        let type = try rowType(max(1, d))
        let counts = blocks.map { Int32($0.count) }, displs = blocks.map { Int32($0.lowerBound) }
        var full = [Float](repeating: 0, count: isRoot ? max(1, agents * d) : 1)
        let mine = local.storage.isEmpty ? [Float](repeating: 0, count: 1) : local.storage
        try mine.withUnsafeBufferPointer { lb in
            try full.withUnsafeMutableBufferPointer { fb in
                try MPIRuntime.check(
                    MPI_Gatherv(
                        lb.baseAddress, Int32(local.rows), type.value, fb.baseAddress, counts, displs, type.value, 0, agora_mpi_comm_world()
                    ),
                    "MPI_Gatherv", rank: rank)
            }
        }
        return isRoot ? try Matrix(rows: agents, cols: d, storage: Array(full.prefix(agents * d))) : nil
    }

    public func gather(_ local: [Double]) throws -> [Double]? {
        guard local.count == localAgents.count else {
            throw AgoraError.shape("gather on rank \(rank): \(local.count) values for \(localAgents.count) local agents")
        }
        let counts = blocks.map { Int32($0.count) }, displs = blocks.map { Int32($0.lowerBound) }
        var full = [Double](repeating: 0, count: isRoot ? max(1, agents) : 1)
        let mine = local.isEmpty ? [0.0] : local
        try mine.withUnsafeBufferPointer { lb in
            try full.withUnsafeMutableBufferPointer { fb in
                try MPIRuntime.check(
                    MPI_Gatherv(
                        lb.baseAddress, Int32(local.count), agora_mpi_double(), fb.baseAddress, counts, displs,
                        agora_mpi_double(), 0, agora_mpi_comm_world()), "MPI_Gatherv", rank: rank)
            }
        }
        return isRoot ? Array(full.prefix(agents)) : nil
    }

    public func gather(_ local: [UInt64], perAgent k: Int) throws -> [UInt64]? {
        guard k >= 1, local.count == localAgents.count * k else {
            throw AgoraError.shape("gather on rank \(rank): \(local.count) words for \(localAgents.count) local agents x \(k)")
        }
        let type = try types.words(k)
        let counts = blocks.map { Int32($0.count) }, displs = blocks.map { Int32($0.lowerBound) }
        var full = [UInt64](repeating: 0, count: isRoot ? max(1, agents * k) : 1)
        let mine = local.isEmpty ? [UInt64](repeating: 0, count: k) : local
        try mine.withUnsafeBufferPointer { lb in
            try full.withUnsafeMutableBufferPointer { fb in
                try MPIRuntime.check(
                    MPI_Gatherv(
                        lb.baseAddress, Int32(localAgents.count), type.value, fb.baseAddress, counts, displs,
                        type.value, 0, agora_mpi_comm_world()), "MPI_Gatherv", rank: rank)
            }
        }
        return isRoot ? Array(full.prefix(agents * k)) : nil
    }

}
#endif
