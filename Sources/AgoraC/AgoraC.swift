// The C ABI of Agora (include/agora.h): thin @_cdecl wrappers that validate every argument at the
// boundary (a Swift trap would kill the host process, e.g. a Python interpreter), turn errors into
// status codes plus a message in the caller's buffer, and hand the caller's buffers to the kernels
// without copying them. No Foundation: the library links the Swift runtime statically.
import AgoraKernels
import AgoraMechanisms
import AgoraTopology

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Status codes of agora.h.
enum Status: Int32 {
    case ok = 0, argument, shape, configuration, data, io, numerical, resources
}

/// The error a boundary check raises (mapped to AGORA_ERROR_ARGUMENT).
struct ArgumentError: Error { let message: String }

/// Writes `text` NUL-terminated into the caller's buffer (truncated to fit).
func writeMessage(_ text: String, _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int) {
    guard let buffer, size > 0 else { return }
    var n = 0
    for b in text.utf8 where n < size - 1 {
        buffer[n] = CChar(bitPattern: b)
        n += 1
    }
    buffer[n] = 0
}

/// Runs `body`, mapping thrown errors to a status and a message.
func guarded(_ message: UnsafeMutablePointer<CChar>?, _ size: Int, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        writeMessage("", message, size)
        return Status.ok.rawValue
    } catch let e as AgoraError {
        writeMessage(e.description, message, size)
        switch e.kind {
        case .shape: return Status.shape.rawValue
        case .configuration: return Status.configuration.rawValue
        case .data: return Status.data.rawValue
        case .io: return Status.io.rawValue
        case .numerical: return Status.numerical.rawValue
        case .resources: return Status.resources.rawValue
        }
    } catch let e as ArgumentError {
        writeMessage(e.message, message, size)
        return Status.argument.rawValue
    } catch {
        writeMessage("\(error)", message, size)
        return Status.argument.rawValue
    }
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ArgumentError(message: message()) }
}

/// What an agora_topology pointer refers to.
final class TopologyHandle {
    let matrix: MixingMatrix
    let graph: Graph
    let f32: MixingOperator<Float>
    let f64: MixingOperator<Double>
    /// The neighbour exchange of the whole schedule (every iteration of a time-varying topology),
    /// for the DSGD entry points.
    let exchange: InProcessExchange

    init(matrix: MixingMatrix, graph: Graph, exchange: InProcessExchange) {
        self.matrix = matrix
        self.graph = graph
        self.exchange = exchange
        f32 = matrix.mixingOperator(Float.self)
        f64 = matrix.mixingOperator(Double.self)
    }

    static func from(_ p: OpaquePointer?) throws -> TopologyHandle {
        guard let p else { throw ArgumentError(message: "topology is NULL") }
        return Unmanaged<TopologyHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }
}

@_cdecl("agora_abi_version")
public func agora_abi_version() -> Int32 { 4 }

@_cdecl("agora_topology_create")
public func agora_topology_create(
    _ name: UnsafePointer<CChar>?, _ agents: Int64, _ weights: UnsafePointer<CChar>?,
    _ seed: UInt64, _ iteration: Int64, _ out: UnsafeMutablePointer<OpaquePointer?>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        guard let out else { throw ArgumentError(message: "out is NULL") }
        out.pointee = nil
        guard let name else { throw ArgumentError(message: "topology name is NULL") }
        try require(agents >= 1, "agents must be at least 1, got \(agents)")
        try require(iteration >= 0, "iteration must be non-negative, got \(iteration)")
        let schemeName = weights.map { String(cString: $0) } ?? "metropolis"
        guard let scheme = WeightScheme(rawValue: schemeName) else {
            throw ArgumentError(
                message: "weights '\(schemeName)' is not one of \(WeightScheme.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let topology = try Topology(parsing: String(cString: name))
        let n = Int(agents)
        let graph = try topology.graph(agents: n, seed: seed, iteration: Int(iteration))
        let matrix = try topology.mixingMatrix(agents: n, scheme: scheme, seed: seed, iteration: Int(iteration))
        let exchange = try InProcessExchange(topology: topology, weights: scheme, agents: n, seed: seed)
        out.pointee = OpaquePointer(Unmanaged.passRetained(TopologyHandle(matrix: matrix, graph: graph, exchange: exchange)).toOpaque())
    }
}

@_cdecl("agora_topology_free")
public func agora_topology_free(_ p: OpaquePointer?) {
    guard let p else { return }
    Unmanaged<TopologyHandle>.fromOpaque(UnsafeRawPointer(p)).release()
}

@_cdecl("agora_topology_agents")
public func agora_topology_agents(_ p: OpaquePointer?) -> Int64 {
    (try? TopologyHandle.from(p)).map { Int64($0.matrix.agents) } ?? 0
}

@_cdecl("agora_topology_nonzeros")
public func agora_topology_nonzeros(_ p: OpaquePointer?) -> Int64 {
    (try? TopologyHandle.from(p)).map { Int64($0.matrix.csr.nonzeros) } ?? 0
}

@_cdecl("agora_topology_csr")
public func agora_topology_csr(
    _ p: OpaquePointer?, _ rowStart: UnsafeMutablePointer<Int64>?, _ columns: UnsafeMutablePointer<Int32>?,
    _ values: UnsafeMutablePointer<Double>?, _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        let t = try TopologyHandle.from(p)
        guard let rowStart, let columns, let values else { throw ArgumentError(message: "row_start, columns and values must not be NULL") }
        let csr = t.matrix.csr
        for i in 0...csr.rows { rowStart[i] = Int64(csr.rowStart[i]) }
        for k in 0..<csr.nonzeros {
            columns[k] = csr.columns[k]
            values[k] = csr.values[k]
        }
    }
}

@_cdecl("agora_topology_degrees")
public func agora_topology_degrees(
    _ p: OpaquePointer?, _ degrees: UnsafeMutablePointer<Int64>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        let t = try TopologyHandle.from(p)
        guard let degrees else { throw ArgumentError(message: "degrees must not be NULL") }
        for (i, d) in t.graph.degrees.enumerated() { degrees[i] = Int64(d) }
    }
}

@_cdecl("agora_topology_spectral_gap")
public func agora_topology_spectral_gap(
    _ p: OpaquePointer?, _ gap: UnsafeMutablePointer<Double>?, _ method: UnsafeMutablePointer<Int32>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        let t = try TopologyHandle.from(p)
        guard let gap else { throw ArgumentError(message: "gap must not be NULL") }
        let (g, m) = try t.matrix.spectralGapWithMethod()
        gap.pointee = g
        switch m {
        case .circulant: method?.pointee = 0
        case .dense: method?.pointee = 1
        case .lanczos: method?.pointee = 2
        }
    }
}

/// Buffers from C are at most 2^48 bytes (the x86-64 and arm64 user address space): a size above it
/// cannot describe memory the caller owns, and below it no size, offset or overlap arithmetic here
/// can overflow.
let maxBufferBytes = 1 << 48

/// `rows x cols` elements of `bytesEach` bytes, from sizes given in C: both non-negative, the
/// buffer within `maxBufferBytes`. Throws with `what` and the sizes otherwise (never traps).
func checkedElements(_ rows: Int64, _ cols: Int64, bytesEach: Int, _ what: String) throws -> Int {
    try require(rows >= 0 && cols >= 0, "\(what): sizes must be non-negative, got \(rows) x \(cols)")
    let (n, o1) = Int(rows).multipliedReportingOverflow(by: Int(cols))
    let (bytes, o2) = n.multipliedReportingOverflow(by: bytesEach)
    try require(!o1 && !o2 && bytes <= maxBufferBytes, "\(what): \(rows) x \(cols) elements exceed the address space")
    return n
}

/// A caller's buffer by name, start and length in bytes, for `requireSeparate`.
struct CBuffer {
    let name: String
    let start: UInt
    let bytes: UInt
    init<T>(_ name: String, _ p: UnsafePointer<T>?, _ count: Int) {
        self.name = name
        start = p.map { UInt(bitPattern: $0) } ?? 0
        bytes = p == nil ? 0 : UInt(count * MemoryLayout<T>.stride)
    }
    init<T>(_ name: String, _ p: UnsafeMutablePointer<T>?, _ count: Int) { self.init(name, p.map { UnsafePointer($0) }, count) }
    func overlaps(_ o: CBuffer) -> Bool { bytes > 0 && o.bytes > 0 && start < o.start + o.bytes && o.start < start + bytes }
}

/// Outputs must not share memory with each other or with any input (NULL and empty buffers are
/// exempt): one shared rule, so every entry point reports an aliased buffer by name instead of
/// returning results that depend on the order of its writes. Sizes are validated before this
/// (`checkedElements`), so no sum here can overflow.
func requireSeparate(outputs: [CBuffer], inputs: [CBuffer]) throws {
    for (k, o) in outputs.enumerated() {
        for other in outputs[(k + 1)...] + inputs where o.overlaps(other) {
            throw ArgumentError(message: "\(o.name) overlaps \(other.name): every output must be a separate buffer")
        }
    }
}

/// The shared checks and call of the four mix entry points.
func mixChecked<T: AgoraScalar>(
    _ op: MixingOperator<T>, agentsOfW: Int, x: UnsafePointer<T>?, agents: Int64, dim: Int64,
    stepSizes: UnsafePointer<T>?, directions: UnsafePointer<T>?, y: UnsafeMutablePointer<T>?,
    fused: Bool
) throws {
    guard let x, let y else { throw ArgumentError(message: "x and y must not be NULL") }
    try require(agents == Int64(agentsOfW), "x has \(agents) rows but the topology has \(agentsOfW) agents")
    try require(dim >= 0, "dim must be non-negative, got \(dim)")
    let count = try checkedElements(agents, dim, bytesEach: MemoryLayout<T>.stride, "agents x dim")
    try requireSeparate(
        outputs: [CBuffer("y", y, count)],
        inputs: [
            CBuffer("x", x, count), CBuffer("directions", fused ? directions : nil, count),
            CBuffer("step_sizes", fused ? stepSizes : nil, Int(agents)),
        ])
    if fused {
        guard let stepSizes, let directions else { throw ArgumentError(message: "step_sizes and directions must not be NULL") }
        Kernels.mix(op, x: x, cols: Int(dim), into: y, stepSizes: stepSizes, directions: directions)
    } else {
        Kernels.mix(op, x: x, cols: Int(dim), into: y)
    }
}

/// One mix entry point: the topology looked up, the operator of the element type chosen.
func mixEntry<T: AgoraScalar>(
    _ p: OpaquePointer?, _ op: (TopologyHandle) -> MixingOperator<T>, _ x: UnsafePointer<T>?,
    _ agents: Int64, _ dim: Int64, _ stepSizes: UnsafePointer<T>?, _ directions: UnsafePointer<T>?,
    _ y: UnsafeMutablePointer<T>?, fused: Bool, _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        let t = try TopologyHandle.from(p)
        try mixChecked(
            op(t), agentsOfW: t.matrix.agents, x: x, agents: agents, dim: dim, stepSizes: stepSizes,
            directions: directions, y: y, fused: fused)
    }
}

@_cdecl("agora_mix_f32")
public func agora_mix_f32(
    _ p: OpaquePointer?, _ x: UnsafePointer<Float>?, _ agents: Int64, _ dim: Int64, _ y: UnsafeMutablePointer<Float>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    mixEntry(p, \.f32, x, agents, dim, nil, nil, y, fused: false, message, size)
}

@_cdecl("agora_mix_f64")
public func agora_mix_f64(
    _ p: OpaquePointer?, _ x: UnsafePointer<Double>?, _ agents: Int64, _ dim: Int64, _ y: UnsafeMutablePointer<Double>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    mixEntry(p, \.f64, x, agents, dim, nil, nil, y, fused: false, message, size)
}

@_cdecl("agora_mix_step_f32")
public func agora_mix_step_f32(
    _ p: OpaquePointer?, _ x: UnsafePointer<Float>?, _ agents: Int64, _ dim: Int64,
    _ stepSizes: UnsafePointer<Float>?, _ directions: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    mixEntry(p, \.f32, x, agents, dim, stepSizes, directions, y, fused: true, message, size)
}

@_cdecl("agora_mix_step_f64")
public func agora_mix_step_f64(
    _ p: OpaquePointer?, _ x: UnsafePointer<Double>?, _ agents: Int64, _ dim: Int64,
    _ stepSizes: UnsafePointer<Double>?, _ directions: UnsafePointer<Double>?, _ y: UnsafeMutablePointer<Double>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    mixEntry(p, \.f64, x, agents, dim, stepSizes, directions, y, fused: true, message, size)
}

/// The mechanism of the DSGD entry points: lambda_t = lr0 (t+1)^-v, C_t = c0 (t+1)^-u (c0 = 0:
/// payments off), edge weighting 0 unit, 1 mixing weight, 2 degree-normalised. Validated.
func dsgdMechanism(lr0: Double, v: Double, c0: Double, u: Double, weighting: Int32) throws -> TruthfulDSGD {
    let edge: PaymentRule.EdgeWeighting
    switch weighting {
    case 0: edge = .unit
    case 1: edge = .mixingWeight
    case 2: edge = .degreeNormalised
    default: throw ArgumentError(message: "edge_weighting must be 0 (unit), 1 (mixing weight) or 2 (degree-normalised), got \(weighting)")
    }
    try require(c0.isFinite && c0 >= 0, "c0 must be a non-negative finite number, got \(c0)")
    let m = TruthfulDSGD(
        stepSize: PowerSchedule(initial: lr0, exponent: v),
        payments: c0 > 0 ? PaymentRule(coefficient: PowerSchedule(initial: c0, exponent: u), edgeWeighting: edge) : nil)
    try m.validate()
    return m
}

/// Reports of `agents` agents as an array (finite, non-negative: squared norms).
func reportArray(_ reports: UnsafePointer<Double>?, _ agents: Int) throws -> [Double] {
    guard let reports else { throw ArgumentError(message: "reports must not be NULL") }
    let r = Array(UnsafeBufferPointer(start: reports, count: agents))
    if let bad = r.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
        throw ArgumentError(message: "reports[\(bad)] = \(r[bad]): reports are squared norms, non-negative and finite")
    }
    return r
}

@_cdecl("agora_dsgd_payments")
public func agora_dsgd_payments(
    _ p: OpaquePointer?, _ iteration: Int64, _ reports: UnsafePointer<Double>?, _ agents: Int64,
    _ c0: Double, _ u: Double, _ weighting: Int32, _ payments: UnsafeMutablePointer<Double>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        let t = try TopologyHandle.from(p)
        try require(agents == Int64(t.matrix.agents), "\(agents) reports for a topology of \(t.matrix.agents) agents")
        try require(iteration >= 0, "iteration must be non-negative, got \(iteration)")
        guard let payments else { throw ArgumentError(message: "payments must not be NULL") }
        try require(c0 > 0, "c0 must be positive for payments, got \(c0)")
        let rule = try dsgdMechanism(lr0: 1, v: 1, c0: c0, u: u, weighting: weighting).payments!
        let r = try reportArray(reports, Int(agents))
        try requireSeparate(outputs: [CBuffer("payments", payments, Int(agents))], inputs: [CBuffer("reports", reports, Int(agents))])
        for (i, v) in try rule.payments(iteration: Int(iteration), reports: r, exchange: t.exchange).enumerated() { payments[i] = v }
    }
}

@_cdecl("agora_dsgd_step_f32")
public func agora_dsgd_step_f32(
    _ p: OpaquePointer?, _ iteration: Int64, _ parameters: UnsafePointer<Float>?,
    _ applied: UnsafePointer<Float>?, _ agents: Int64, _ dim: Int64, _ reports: UnsafePointer<Double>?,
    _ lr0: Double, _ v: Double, _ c0: Double, _ u: Double, _ weighting: Int32,
    _ next: UnsafeMutablePointer<Float>?, _ payments: UnsafeMutablePointer<Double>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        let t = try TopologyHandle.from(p)
        guard let parameters, let applied, let next, let payments else {
            throw ArgumentError(message: "parameters, applied, next and payments must not be NULL")
        }
        try require(agents == Int64(t.matrix.agents), "parameters have \(agents) rows but the topology has \(t.matrix.agents) agents")
        try require(dim >= 0 && iteration >= 0, "dim and iteration must be non-negative")
        let count = try checkedElements(agents, dim, bytesEach: MemoryLayout<Float>.stride, "agents x dim")
        try requireSeparate(
            outputs: [CBuffer("next", next, count), CBuffer("payments", payments, Int(agents))],
            inputs: [
                CBuffer("parameters", parameters, count), CBuffer("applied", applied, count), CBuffer("reports", reports, Int(agents)),
            ])
        let mech = try dsgdMechanism(lr0: lr0, v: v, c0: c0, u: u, weighting: weighting)
        // NULL reports: the truthful ones, ||applied_i||^2, accumulated in double.
        let r =
            reports == nil
            ? Kernels.rowSquaredNormsInDouble(applied, rows: Int(agents), cols: Int(dim))
            : try reportArray(reports, Int(agents))
        if reports == nil, c0 > 0, let bad = r.firstIndex(where: { !$0.isFinite }) {
            throw ArgumentError(
                message:
                    "applied row \(bad) is not finite (its truthful report ||applied_\(bad)||^2 is \(r[bad])): payments need finite reports"
            )
        }
        let pay = try mech.stepOnBuffers(
            iteration: Int(iteration), parameters: parameters, applied: applied, dimension: Int(dim),
            reports: r, exchange: t.exchange, into: next)
        for (i, v) in pay.enumerated() { payments[i] = v }
    }
}

/// Copies `count` doubles from a caller array, all finite (nil for a NULL optional).
func doubles(_ p: UnsafePointer<Double>?, _ count: Int, _ name: String) throws -> [Double] {
    guard let p else { throw ArgumentError(message: "\(name) must not be NULL") }
    let a = Array(UnsafeBufferPointer(start: p, count: count))
    if let bad = a.firstIndex(where: { !$0.isFinite }) { throw ArgumentError(message: "\(name)[\(bad)] = \(a[bad]) is not finite") }
    return a
}

@_cdecl("agora_contract_solve")
public func agora_contract_solve(
    _ participants: Int64, _ types: Int64, _ p: UnsafePointer<Double>?, _ c: UnsafePointer<Double>?,
    _ f: UnsafePointer<Double>?, _ k: Double, _ valuationScale: Double, _ sizeBiased: Int32,
    _ samples: Int64, _ seed: UInt64,
    _ perType: UnsafeMutablePointer<Double>?, _ scalars: UnsafeMutablePointer<Double>?,
    _ poolOf: UnsafeMutablePointer<Int32>?, _ finish: UnsafeMutablePointer<CChar>?, _ finishSize: Int,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        try require(
            types >= 1 && types <= Int64(ContractSetting.maxTypes), "types must be in 1...\(ContractSetting.maxTypes), got \(types)")
        try require(participants >= 1, "participants must be at least 1, got \(participants)")
        try require(samples >= 0, "samples must be non-negative (0: exact enumeration), got \(samples)")
        guard let perType, let scalars, let poolOf else { throw ArgumentError(message: "per_type, scalars and pool_of must not be NULL") }
        let n = Int(types)
        var setting = ContractSetting(
            participants: Int(participants), probabilities: try doubles(p, n, "p"), costs: try doubles(c, n, "c"),
            reservationUtilities: try f.map { try doubles($0, n, "f") })
        setting.accuracyK = k
        setting.valuationScale = valuationScale
        setting.conditioning = sizeBiased != 0 ? .sizeBiased : .truncated
        try setting.validate()
        let menu = try ContractDesigner(setting, sampledOutcomes: samples > 0 ? Int(samples) : nil, seed: seed).solve()
        let columns = [
            menu.contributions, menu.values, menu.utilities, menu.reservationUtilities, menu.standAloneContributions,
            menu.rents, menu.budgets,
        ]
        for (q, column) in columns.enumerated() { for i in 0..<n { perType[q * n + i] = column[i] } }
        let s = [
            menu.expectedValue, menu.expectedAccuracy, menu.completeInformationValue, menu.informationCost, menu.kktResidual,
            Double(menu.newtonSteps), Double(menu.outcomes), Double(menu.samples ?? 0), menu.expectedValueStandardError ?? .nan,
        ]
        for (q, v) in s.enumerated() { scalars[q] = v }
        for i in 0..<n { poolOf[i] = Int32(i) }
        for group in menu.pooling { for i in group { poolOf[i] = Int32(group.min() ?? i) } }
        writeMessage(menu.solverFinish, finish, finishSize)
    }
}

/// What an agora_features pointer refers to: a data set copied once into Agora (features read
/// every step stay put; the parameters and gradients, which change every step, are the caller's).
final class FeaturesHandle {
    let rows: FeatureRows<Float>
    let targets: [Float]
    init(rows: FeatureRows<Float>, targets: [Float]) {
        self.rows = rows
        self.targets = targets
    }

    static func from(_ p: OpaquePointer?) throws -> FeaturesHandle {
        guard let p else { throw ArgumentError(message: "features is NULL") }
        return Unmanaged<FeaturesHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }
}

func finiteFloats(_ p: UnsafePointer<Float>?, _ count: Int, _ name: String) throws -> [Float] {
    guard let p else { throw ArgumentError(message: "\(name) must not be NULL") }
    let a = Array(UnsafeBufferPointer(start: p, count: count))
    if let bad = a.firstIndex(where: { !$0.isFinite }) { throw ArgumentError(message: "\(name)[\(bad)] = \(a[bad]) is not finite") }
    return a
}

func storeFeatures(_ rows: FeatureRows<Float>, _ targets: [Float], _ out: UnsafeMutablePointer<OpaquePointer?>) {
    out.pointee = OpaquePointer(Unmanaged.passRetained(FeaturesHandle(rows: rows, targets: targets)).toOpaque())
}

@_cdecl("agora_features_create_dense_f32")
public func agora_features_create_dense_f32(
    _ x: UnsafePointer<Float>?, _ rows: Int64, _ cols: Int64, _ targets: UnsafePointer<Float>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        guard let out else { throw ArgumentError(message: "out is NULL") }
        out.pointee = nil
        try require(rows >= 1 && cols >= 1, "rows and cols must be at least 1, got \(rows) x \(cols)")
        let count = try checkedElements(rows, cols, bytesEach: MemoryLayout<Float>.stride, "rows x cols")
        try ResourceLimits.check(bytes: 4 * Double(count), for: "a copy of \(rows) x \(cols) features")
        let m = try Matrix(rows: Int(rows), cols: Int(cols), storage: try finiteFloats(x, count, "x"))
        storeFeatures(.dense(m), try finiteFloats(targets, Int(rows), "targets"), out)
    }
}

@_cdecl("agora_features_create_csr_f32")
public func agora_features_create_csr_f32(
    _ rows: Int64, _ cols: Int64, _ rowStart: UnsafePointer<Int64>?, _ columns: UnsafePointer<Int32>?,
    _ values: UnsafePointer<Float>?, _ targets: UnsafePointer<Float>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        guard let out else { throw ArgumentError(message: "out is NULL") }
        out.pointee = nil
        try require(
            rows >= 1 && cols >= 1 && cols <= Int64(Int32.max), "rows and cols must be at least 1 (cols below 2^31), got \(rows) x \(cols)")
        guard let rowStart, let columns else { throw ArgumentError(message: "row_start and columns must not be NULL") }
        _ = try checkedElements(rows + 0, 1, bytesEach: MemoryLayout<Int64>.stride, "row_start (rows + 1 entries)")
        let starts = Array(UnsafeBufferPointer(start: rowStart, count: Int(rows) + 1)).map { Int($0) }
        let nnz = starts[Int(rows)]
        try require(starts[0] == 0 && nnz >= 0, "row_start must start at 0 and end at the number of stored entries")
        try ResourceLimits.check(bytes: 8 * Double(nnz) + 8 * Double(rows), for: "a copy of \(nnz) stored features")
        // CSRMatrix validates the offsets (monotone) and the column indices (in range).
        let csr = try CSRMatrix(
            rows: Int(rows), cols: Int(cols), rowStart: starts,
            columns: nnz == 0 ? [] : Array(UnsafeBufferPointer(start: columns, count: nnz)),
            values: try finiteFloats(values, nnz, "values"))
        storeFeatures(.sparse(csr), try finiteFloats(targets, Int(rows), "targets"), out)
    }
}

@_cdecl("agora_features_free")
public func agora_features_free(_ p: OpaquePointer?) {
    guard let p else { return }
    Unmanaged<FeaturesHandle>.fromOpaque(UnsafeRawPointer(p)).release()
}

@_cdecl("agora_glm_gradients_f32")
public func agora_glm_gradients_f32(
    _ p: OpaquePointer?, _ loss: Int32, _ l2: Float, _ parameters: UnsafePointer<Float>?,
    _ agents: Int64, _ dim: Int64, _ batchStart: UnsafePointer<Int64>?, _ batchRows: UnsafePointer<Int64>?,
    _ gradients: UnsafeMutablePointer<Float>?, _ losses: UnsafeMutablePointer<Float>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        let f = try FeaturesHandle.from(p)
        guard let parameters, let gradients, let losses, let batchStart, let batchRows else {
            throw ArgumentError(message: "parameters, batch_start, batch_rows, gradients and losses must not be NULL")
        }
        let kind: GLMLoss
        switch loss {
        case 0: kind = .logistic
        case 1: kind = .squared
        default: throw ArgumentError(message: "loss must be 0 (logistic) or 1 (squared), got \(loss)")
        }
        try require(l2.isFinite && l2 >= 0, "l2 must be non-negative and finite, got \(l2)")
        try require(agents >= 1, "agents must be at least 1, got \(agents)")
        try require(dim == Int64(f.rows.cols), "parameters have \(dim) columns but the features have \(f.rows.cols)")
        let count = try checkedElements(agents, dim, bytesEach: MemoryLayout<Float>.stride, "agents x dim")
        try requireSeparate(
            outputs: [CBuffer("gradients", gradients, count), CBuffer("losses", losses, Int(agents))],
            inputs: [CBuffer("parameters", parameters, count)])
        let starts = Array(UnsafeBufferPointer(start: batchStart, count: Int(agents) + 1)).map { Int($0) }
        try require(
            starts[0] == 0 && zip(starts, starts.dropFirst()).allSatisfy { $0 <= $1 },
            "batch_start must start at 0 and never decrease")
        let batches = (0..<Int(agents)).map { a in (starts[a]..<starts[a + 1]).map { Int(batchRows[$0]) } }
        try Kernels.glmGradients(
            loss: kind, l2: l2, features: f.rows, targets: f.targets, parameters: parameters, agents: Int(agents),
            batches: batches, gradients: gradients, losses: losses)
    }
}

/// The `CNNShape` a C caller describes: input channels x height x width, `convolutions` triples
/// (out channels, kernel, padding), `hiddenLayers` widths, classes.
func cnnShape(
    _ channels: Int64, _ height: Int64, _ width: Int64, _ convolutions: Int64, _ conv: UnsafePointer<Int64>?,
    _ hiddenLayers: Int64, _ hidden: UnsafePointer<Int64>?, _ classes: Int64
) throws -> CNNShape {
    try require(
        convolutions >= 0 && convolutions <= 64 && hiddenLayers >= 0 && hiddenLayers <= 64, "at most 64 convolutions and 64 hidden layers")
    try require(convolutions == 0 || conv != nil, "conv must not be NULL with convolutions > 0")
    try require(hiddenLayers == 0 || hidden != nil, "hidden must not be NULL with hidden_layers > 0")
    let limit: Int64 = 1 << 20
    let sizes =
        [channels, height, width, classes] + (0..<Int(convolutions * 3)).map { conv![$0] } + (0..<Int(hiddenLayers)).map { hidden![$0] }
    try require(sizes.allSatisfy { $0 >= 0 && $0 <= limit }, "every size must be in 0...\(limit)")
    let s = CNNShape(
        channels: Int(channels), height: Int(height), width: Int(width),
        convolutions: (0..<Int(convolutions)).map {
            .init(channels: Int(conv![3 * $0]), kernel: Int(conv![3 * $0 + 1]), padding: Int(conv![3 * $0 + 2]))
        },
        hidden: (0..<Int(hiddenLayers)).map { Int(hidden![$0]) }, classes: Int(classes))
    try s.validate()
    try require(Double(s.parameterCount) < 1e9, "the network has \(s.parameterCount) parameters (at most 1e9)")
    return s
}

/// Parameters of the described network (its flat row's length).
@_cdecl("agora_cnn_parameter_count")
public func agora_cnn_parameter_count(
    _ channels: Int64, _ height: Int64, _ width: Int64, _ convolutions: Int64, _ conv: UnsafePointer<Int64>?,
    _ hiddenLayers: Int64, _ hidden: UnsafePointer<Int64>?, _ classes: Int64, _ count: UnsafeMutablePointer<Int64>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        guard let count else { throw ArgumentError(message: "count must not be NULL") }
        count.pointee = Int64(try cnnShape(channels, height, width, convolutions, conv, hiddenLayers, hidden, classes).parameterCount)
    }
}

/// Mini-batch gradients of a convolutional network for every agent at once (`Kernels.cnnGradients`).
@_cdecl("agora_cnn_gradients_f32")
public func agora_cnn_gradients_f32(
    _ images: UnsafePointer<Float>?, _ rows: Int64, _ labels: UnsafePointer<Int32>?,
    _ channels: Int64, _ height: Int64, _ width: Int64, _ convolutions: Int64, _ conv: UnsafePointer<Int64>?,
    _ hiddenLayers: Int64, _ hidden: UnsafePointer<Int64>?, _ classes: Int64, _ l2: Float,
    _ parameters: UnsafePointer<Float>?, _ agents: Int64, _ params: Int64, _ batchStart: UnsafePointer<Int64>?,
    _ batchRows: UnsafePointer<Int64>?, _ gradients: UnsafeMutablePointer<Float>?, _ losses: UnsafeMutablePointer<Float>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        let s = try cnnShape(channels, height, width, convolutions, conv, hiddenLayers, hidden, classes)
        guard let images, let labels, let parameters, let gradients, let losses, let batchStart, let batchRows else {
            throw ArgumentError(message: "images, labels, parameters, batch_start, batch_rows, gradients and losses must not be NULL")
        }
        try require(rows >= 1, "rows must be at least 1, got \(rows)")
        try require(agents >= 1, "agents must be at least 1, got \(agents)")
        try require(l2.isFinite && l2 >= 0, "l2 must be non-negative and finite, got \(l2)")
        try require(params == Int64(s.parameterCount), "parameters have \(params) columns but the network has \(s.parameterCount)")
        let pixels = try checkedElements(rows, Int64(s.inputs), bytesEach: MemoryLayout<Float>.stride, "rows x channels x height x width")
        let count = try checkedElements(agents, params, bytesEach: MemoryLayout<Float>.stride, "agents x params")
        try requireSeparate(
            outputs: [CBuffer("gradients", gradients, count), CBuffer("losses", losses, Int(agents))],
            inputs: [CBuffer("parameters", parameters, count), CBuffer("images", images, pixels)])
        let starts = Array(UnsafeBufferPointer(start: batchStart, count: Int(agents) + 1)).map { Int($0) }
        try require(
            starts[0] == 0 && zip(starts, starts.dropFirst()).allSatisfy { $0 <= $1 }, "batch_start must start at 0 and never decrease")
        let batches = (0..<Int(agents)).map { a in (starts[a]..<starts[a + 1]).map { Int(batchRows[$0]) } }
        let x = try Matrix(rows: Int(rows), cols: s.inputs, storage: Array(UnsafeBufferPointer(start: images, count: pixels)))
        let theta = try Matrix(rows: Int(agents), cols: Int(params), storage: Array(UnsafeBufferPointer(start: parameters, count: count)))
        var g = Matrix<Float>(rows: Int(agents), cols: Int(params)), l = [Float](repeating: 0, count: Int(agents))
        try Kernels.cnnGradients(
            shape: s, l2: l2, features: .dense(x), labels: (0..<Int(rows)).map { Int(labels[$0]) }, parameters: theta, batches: batches,
            gradients: &g, losses: &l)
        g.storage.withUnsafeBufferPointer { gradients.update(from: $0.baseAddress!, count: count) }
        l.withUnsafeBufferPointer { losses.update(from: $0.baseAddress!, count: Int(agents)) }
    }
}

/// OpenBLAS's kernel set in this process (e.g. "Zen", "SkylakeX", "Prescott"), NUL-terminated.
@_cdecl("agora_blas_core")
public func agora_blas_core(_ name: UnsafeMutablePointer<CChar>?, _ size: Int) {
    writeMessage(OpenBLAS.coreName, name, size)
}

/// 1 and the better core and why when OpenBLAS chose kernels below this CPU's instruction set
/// (AGORA_BLAS_ASSUME_CORE pretends it chose that one), else 0 and empty strings.
@_cdecl("agora_blas_core_advice")
public func agora_blas_core_advice(
    _ core: UnsafeMutablePointer<CChar>?, _ coreSize: Int,
    _ reason: UnsafeMutablePointer<CChar>?, _ reasonSize: Int
) -> Int32 {
    let current = Platform.environment("AGORA_BLAS_ASSUME_CORE") ?? OpenBLAS.coreName
    guard let (best, why) = BLASCoreSelection.advice(current: current, cpu: CPUFeatures.current()) else {
        writeMessage("", core, coreSize)
        writeMessage("", reason, reasonSize)
        return 0
    }
    writeMessage(best, core, coreSize)
    writeMessage(why, reason, reasonSize)
    return 1
}

/// sgemm, ssyrk, dgemm and dsyev of this process's OpenBLAS against naive references: AGORA_OK, or
/// AGORA_ERROR_NUMERICAL with what disagreed.
@_cdecl("agora_blas_verify")
public func agora_blas_verify(_ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    guarded(message, size) {
        if let problem = BLASCoreSelection.verify() { throw AgoraError.numerical(problem) }
    }
}

extension TruthfulDSGD {
    /// `step` on caller-owned row-major buffers of agents x `dimension`, the C ABI's entry (no
    /// copies): the same fused mix-and-step and payment rule. The caller has checked the sizes
    /// and that `next` overlaps neither input.
    fileprivate func stepOnBuffers(
        iteration t: Int, parameters: UnsafePointer<Float>, applied: UnsafePointer<Float>, dimension: Int,
        reports: [Double], exchange: InProcessExchange, into next: UnsafeMutablePointer<Float>
    ) throws -> [Double] {
        let lr = [Float](repeating: Float(stepSize(t)), count: exchange.agents)
        exchange.mixStep(iteration: t, parameters: parameters, cols: dimension, stepSizes: lr, directions: applied, into: next)
        return try payments?.payments(iteration: t, reports: reports, exchange: exchange)
            ?? [Double](repeating: 0, count: exchange.agents)
    }
}
