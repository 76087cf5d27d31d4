import AgoraBenchCore
import AgoraKernels
import AgoraTopology
import Foundation

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Median, min and max seconds of `reps` timed runs of `body` (after one warm-up run).
func measure(reps: Int, inner: Int = 1, _ body: () -> Void) -> (median: Double, min: Double, max: Double) {
    body()
    var t: [Double] = []
    for _ in 0..<reps {
        let s = now()
        for _ in 0..<inner { body() }
        t.append(Double(now() - s) * 1e-9 / Double(inner))
    }
    t.sort()
    return (t[t.count / 2], t.first!, t.last!)
}

/// Runs a peer script from Benchmarks/peers with python3 and parses its one-line JSON output.
func runPeer(_ args: [String], timeout: Double) -> [String: Any]? {
    let dir = ProcessInfo.processInfo.environment["AGORA_PEERS"] ?? "Benchmarks/peers"
    let python = ProcessInfo.processInfo.environment["AGORA_PYTHON"] ?? "python3"
    let cmd = "timeout \(Int(timeout)) \(python) \(dir)/\(args[0]) \(args.dropFirst().joined(separator: " "))"
    let out = shell(cmd)
    guard let line = out.split(separator: "\n").last, let data = line.data(using: .utf8),
        let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return nil }
    return obj
}

/// Runs the JAX peer `Benchmarks/peers/jax_peers.py KIND ARGS` (jit, identical inputs); nil, with
/// the reason printed, when JAX is not installed for AGORA_PYTHON or the peer fails. `make
/// bench-peers` installs jax into the benchmark's virtual environment when PyPI is reachable.
func runJAXPeer(_ kind: String, _ args: [String], timeout: Double) -> [String: Any]? {
    guard let out = runPeer(["jax_peers.py", kind] + args, timeout: timeout) else {
        print("   JAX peer gave no answer (jax_peers.py \(kind) failed or timed out)")
        return nil
    }
    if let why = out["skipped"] as? String {
        print("   JAX peer skipped: \(why) (make bench-peers installs jax into .venv-bench)")
        return nil
    }
    return out
}

struct SendPtr<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}

func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }

/// a = b + s c, vectorized.
@inline(never) func triad(
    _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float
) {
    var k = 0
    let sv = SIMD16<Float>(repeating: s)
    while k + 16 <= n {
        let v =
            UnsafeRawPointer(b + k).loadUnaligned(as: SIMD16<Float>.self) + sv
            * UnsafeRawPointer(c + k).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(a + k).storeBytes(of: v, as: SIMD16<Float>.self)
        k += 16
    }
    while k < n {
        a[k] = b[k] + s * c[k]
        k += 1
    }
}

/// A scratch folder shared with a Python peer: inputs written as raw native-endian arrays (what
/// numpy's `fromfile` reads), outputs read back the same way.
struct PeerFolder {
    let path: String
    init(_ name: String) throws {
        path = NSTemporaryDirectory() + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func write<E>(_ v: [E], _ name: String) throws {
        try v.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: path + "/" + name))
    }
    /// The inputs of the DSGD iteration peers (`dsgd_numpy.py`, `jax_peers.py dsgd`): features,
    /// targets, parameters, the batches' rows and the dense mixing matrix of iteration 0.
    static func dsgd(
        _ name: String, x: Matrix<Float>, y: [Float], theta: Matrix<Float>, batches: [[Int]], exchange: InProcessExchange
    ) throws -> PeerFolder {
        let folder = try PeerFolder(name)
        try folder.write(x.storage, "x.f32")
        try folder.write(y, "y.f32")
        try folder.write(theta.storage, "theta.f32")
        try folder.write(batches.flatMap { $0.map { Int32($0) } }, "batch.i32")
        try folder.write(exchange.mixingMatrix(iteration: 0).csr.dense().storage, "w.f64")
        return folder
    }

    /// The file as an array of E, or nil when it is missing or its size is not a whole number of E.
    func read<E>(_ name: String, as _: E.Type) -> [E]? {
        guard let data = FileManager.default.contents(atPath: path + "/" + name), data.count % MemoryLayout<E>.stride == 0 else {
            return nil
        }
        return data.withUnsafeBytes { Array($0.bindMemory(to: E.self)) }
    }
}

/// max_k |a_k - b_k|, or nil when either is missing or the lengths differ (a peer's answer that does
/// not even have the right shape).
func maxAbsDifference<T: BinaryFloatingPoint>(_ a: [T]?, _ b: [T]) -> T? {
    guard let a, a.count == b.count else { return nil }
    return zip(a, b).reduce(T(0)) { max($0, abs($1.0 - $1.1)) }
}
