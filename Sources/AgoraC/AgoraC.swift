// The C ABI of Agora (include/agora.h): thin @_cdecl wrappers that validate every argument at the
// boundary (a Swift trap would kill the host process, e.g. a Python interpreter), turn errors into
// status codes plus a message in the caller's buffer, and hand the caller's buffers to the kernels
// without copying them. No Foundation: the library links the Swift runtime statically.
import AgoraKernels
import AgoraTopology

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

    init(matrix: MixingMatrix, graph: Graph) {
        self.matrix = matrix
        self.graph = graph
        f32 = matrix.mixingOperator(Float.self)
        f64 = matrix.mixingOperator(Double.self)
    }

    static func from(_ p: OpaquePointer?) throws -> TopologyHandle {
        guard let p else { throw ArgumentError(message: "topology is NULL") }
        return Unmanaged<TopologyHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }
}

@_cdecl("agora_abi_version")
public func agora_abi_version() -> Int32 { 1 }

@_cdecl("agora_topology_create")
public func agora_topology_create(_ name: UnsafePointer<CChar>?, _ agents: Int64, _ weights: UnsafePointer<CChar>?,
                                  _ seed: UInt64, _ iteration: Int64, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                                  _ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    guarded(message, size) {
        guard let out else { throw ArgumentError(message: "out is NULL") }
        out.pointee = nil
        guard let name else { throw ArgumentError(message: "topology name is NULL") }
        try require(agents >= 1, "agents must be at least 1, got \(agents)")
        try require(iteration >= 0, "iteration must be non-negative, got \(iteration)")
        let schemeName = weights.map { String(cString: $0) } ?? "metropolis"
        guard let scheme = WeightScheme(rawValue: schemeName) else {
            throw ArgumentError(message: "weights '\(schemeName)' is not one of \(WeightScheme.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let topology = try Topology(parsing: String(cString: name))
        let n = Int(agents)
        let graph = try topology.graph(agents: n, seed: seed, iteration: Int(iteration))
        let matrix = try topology.mixingMatrix(agents: n, scheme: scheme, seed: seed, iteration: Int(iteration))
        out.pointee = OpaquePointer(Unmanaged.passRetained(TopologyHandle(matrix: matrix, graph: graph)).toOpaque())
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
public func agora_topology_csr(_ p: OpaquePointer?, _ rowStart: UnsafeMutablePointer<Int64>?, _ columns: UnsafeMutablePointer<Int32>?,
                               _ values: UnsafeMutablePointer<Double>?, _ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    guarded(message, size) {
        let t = try TopologyHandle.from(p)
        guard let rowStart, let columns, let values else { throw ArgumentError(message: "row_start, columns and values must not be NULL") }
        let csr = t.matrix.csr
        for i in 0...csr.rows { rowStart[i] = Int64(csr.rowStart[i]) }
        for k in 0..<csr.nonzeros { columns[k] = csr.columns[k]; values[k] = csr.values[k] }
    }
}

@_cdecl("agora_topology_degrees")
public func agora_topology_degrees(_ p: OpaquePointer?, _ degrees: UnsafeMutablePointer<Int64>?,
                                   _ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    guarded(message, size) {
        let t = try TopologyHandle.from(p)
        guard let degrees else { throw ArgumentError(message: "degrees must not be NULL") }
        for (i, d) in t.graph.degrees.enumerated() { degrees[i] = Int64(d) }
    }
}

@_cdecl("agora_topology_spectral_gap")
public func agora_topology_spectral_gap(_ p: OpaquePointer?, _ gap: UnsafeMutablePointer<Double>?, _ method: UnsafeMutablePointer<Int32>?,
                                        _ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
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

/// Whether [a, a + n) and [b, b + n) share memory.
func overlaps<T>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ count: Int) -> Bool {
    let x = UInt(bitPattern: a), y = UInt(bitPattern: b), bytes = UInt(count * MemoryLayout<T>.stride)
    return x < y + bytes && y < x + bytes
}

/// The shared checks and call of the four mix entry points.
func mixChecked<T: AgoraScalar>(_ op: MixingOperator<T>, agentsOfW: Int, x: UnsafePointer<T>?, agents: Int64, dim: Int64,
                                 stepSizes: UnsafePointer<T>?, directions: UnsafePointer<T>?, y: UnsafeMutablePointer<T>?,
                                 fused: Bool) throws {
    guard let x, let y else { throw ArgumentError(message: "x and y must not be NULL") }
    try require(agents == Int64(agentsOfW), "x has \(agents) rows but the topology has \(agentsOfW) agents")
    try require(dim >= 0, "dim must be non-negative, got \(dim)")
    let (count, overflow) = Int(agents).multipliedReportingOverflow(by: Int(dim))
    try require(!overflow, "agents x dim overflows")
    try require(!overlaps(x, UnsafePointer(y), count), "y overlaps x: the output must be a separate buffer")
    if fused {
        guard let stepSizes, let directions else { throw ArgumentError(message: "step_sizes and directions must not be NULL") }
        try require(!overlaps(directions, UnsafePointer(y), count), "y overlaps directions: the output must be a separate buffer")
        Kernels.mix(op, x: x, cols: Int(dim), into: y, stepSizes: stepSizes, directions: directions)
    } else {
        Kernels.mix(op, x: x, cols: Int(dim), into: y)
    }
}

/// One mix entry point: the topology looked up, the operator of the element type chosen.
func mixEntry<T: AgoraScalar>(_ p: OpaquePointer?, _ op: (TopologyHandle) -> MixingOperator<T>, _ x: UnsafePointer<T>?,
                              _ agents: Int64, _ dim: Int64, _ stepSizes: UnsafePointer<T>?, _ directions: UnsafePointer<T>?,
                              _ y: UnsafeMutablePointer<T>?, fused: Bool, _ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    guarded(message, size) {
        let t = try TopologyHandle.from(p)
        try mixChecked(op(t), agentsOfW: t.matrix.agents, x: x, agents: agents, dim: dim, stepSizes: stepSizes,
                       directions: directions, y: y, fused: fused)
    }
}

@_cdecl("agora_mix_f32")
public func agora_mix_f32(_ p: OpaquePointer?, _ x: UnsafePointer<Float>?, _ agents: Int64, _ dim: Int64, _ y: UnsafeMutablePointer<Float>?,
                          _ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    mixEntry(p, \.f32, x, agents, dim, nil, nil, y, fused: false, message, size)
}

@_cdecl("agora_mix_f64")
public func agora_mix_f64(_ p: OpaquePointer?, _ x: UnsafePointer<Double>?, _ agents: Int64, _ dim: Int64, _ y: UnsafeMutablePointer<Double>?,
                          _ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    mixEntry(p, \.f64, x, agents, dim, nil, nil, y, fused: false, message, size)
}

@_cdecl("agora_mix_step_f32")
public func agora_mix_step_f32(_ p: OpaquePointer?, _ x: UnsafePointer<Float>?, _ agents: Int64, _ dim: Int64,
                               _ stepSizes: UnsafePointer<Float>?, _ directions: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>?,
                               _ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    mixEntry(p, \.f32, x, agents, dim, stepSizes, directions, y, fused: true, message, size)
}

@_cdecl("agora_mix_step_f64")
public func agora_mix_step_f64(_ p: OpaquePointer?, _ x: UnsafePointer<Double>?, _ agents: Int64, _ dim: Int64,
                               _ stepSizes: UnsafePointer<Double>?, _ directions: UnsafePointer<Double>?, _ y: UnsafeMutablePointer<Double>?,
                               _ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    mixEntry(p, \.f64, x, agents, dim, stepSizes, directions, y, fused: true, message, size)
}
