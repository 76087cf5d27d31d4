import AgoraKernels
import AgoraMechanisms
import AgoraTopology
import Foundation

// The A/B probe: times Agora's key kernels and prints one JSON object on stdout, for the
// interleaved A/B driver (AgoraBenchTrack ab) and the history recorder (AgoraBenchTrack record).
//
//   AgoraABProbe [--only mix/ring,glm_grad,...] [--size default|small] [--reps R] [--list] [--serve]
//
// With --serve it stays resident and times one block per benchmark name read from stdin, so the
// A/B driver can alternate two builds block by block (seconds apart rather than minutes).
//
// Every benchmark times `reps` samples; a sample is `inner` (10) calls of the kernel on fixed,
// seeded inputs after one warm-up call. The output names each benchmark, its samples in
// microseconds per call, and a digest of its answer (so a change that alters results is flagged).
//
// The workloads repeat the inputs of AgoraBench's sections on purpose: this package is built
// against old revisions too, so it may depend only on Agora's public library products, never on
// the benchmark's own (evolving) code.
//
// Injected slowdown (to prove the A/B test detects one): AGORA_AB_INJECT="name:fraction" makes
// every sample of that benchmark run round(fraction * inner) extra calls of the same kernel while
// still dividing by `inner`: a real, proportional increase of the kernel's work (granularity
// 1/inner = 10 %).

struct Sample: Encodable {
    var name: String
    var inner: Int
    var samples_us: [Double]
    var digest: [Double]
    var injected: Double?
}

struct ProbeContext: Encodable {
    var cpu_model: String
    var num_cpus: Int
    var caches: [String]
    var openblas_config: String
    var openblas_corename: String
    var threads: Int
    var size: String
}

struct ProbeOutput: Encodable {
    var context: ProbeContext
    var benchmarks: [Sample]
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("AgoraABProbe: " + message + "\n").utf8))
    exit(2)
}

func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

/// Sum, sum of squares and two sampled entries of a result: enough to tell that two builds computed
/// the same numbers (identical builds agree exactly; a reordered sum differs in the last bits).
func digest(_ v: [Float]) -> [Double] {
    var s = 0.0, q = 0.0
    for x in v {
        s += Double(x)
        q += Double(x) * Double(x)
    }
    return [s, q, Double(v.first ?? 0), Double(v.isEmpty ? 0 : v[v.count / 2])]
}

struct Benchmark {
    let name: String
    /// Builds the inputs and returns the kernel call and the digest of its last answer.
    let setup: (_ small: Bool) throws -> (run: () -> Void, digest: () -> [Double])
}

/// `cols` overrides the row length (d = 1024 floats: every neighbour row at the same L1 set offset).
/// `agents` and `cols` override the sizes (both for the default and the small size).
func mixBenchmark(_ name: String, _ topology: Topology, agents: Int? = nil, cols: Int? = nil) -> Benchmark {
    Benchmark(name: name) { small in
        let n = agents ?? (small ? 256 : 512), d = cols ?? (small ? 4000 : 10_000)
        var g = SeededGenerator(seed: 11)
        let graph = try topology.graph(agents: n)
        let w = try MixingMatrix(graph: graph, scheme: .metropolis)
        let op: MixingOperator<Float> = w.mixingOperator(strategy: .sparse)
        let x: Matrix<Float> = g.normalMatrix(rows: n, cols: d)
        var y = Matrix<Float>(rows: n, cols: d)
        return ({ try! Kernels.mix(op, x, into: &y) }, { digest(y.storage) })
    }
}

let benchmarks: [Benchmark] = [
    mixBenchmark("mix/ring", .ring),
    mixBenchmark("mix/exponential", .exponential),
    mixBenchmark("mix/exponential_d1024", .exponential, cols: 1024),
    // A mix far larger than the caches: 256 agents x 1e5 (X and Y 100 MB each), many column
    // tiles, outputs written with streaming stores.
    mixBenchmark("mix/torus_dram", .torus(rows: 16, cols: 16), agents: 256, cols: 100_000),
    Benchmark(name: "glm_grad") { small in
        let agents = 256, batch = 64, d = small ? 128 : 500
        var g = SeededGenerator(seed: 17)
        let x: Matrix<Float> = g.normalMatrix(rows: agents * batch, cols: d)
        let y = (0..<(agents * batch)).map { _ in Float(g.uniform() < 0.5 ? -1 : 1) }
        let theta: Matrix<Float> = g.normalMatrix(rows: agents, cols: d, scale: 0.05)
        let batches = (0..<agents).map { a in Array((a * batch)..<((a + 1) * batch)) }
        var grads = Matrix<Float>(rows: agents, cols: d), losses = [Float](repeating: 0, count: agents)
        return (
            {
                try! Kernels.glmGradients(
                    loss: .logistic, l2: 1e-4, features: .dense(x), targets: y, parameters: theta,
                    batches: batches, gradients: &grads, losses: &losses)
            }, { digest(grads.storage) }
        )
    },
    Benchmark(name: "dsgd_iteration") { small in
        let agents = 256, rowsPer = 64, batch = 32, d = small ? 100 : 500
        var g = SeededGenerator(seed: 23)
        let x: Matrix<Float> = g.normalMatrix(rows: agents * rowsPer, cols: d)
        let y = (0..<(agents * rowsPer)).map { _ in Float(g.uniform() < 0.5 ? -1 : 1) }
        let theta: Matrix<Float> = g.normalMatrix(rows: agents, cols: d, scale: 0.05)
        let batches = (0..<agents).map { a in (0..<batch).map { _ in a * rowsPer + Int(g.next() % UInt64(rowsPer)) } }
        let ex = try InProcessExchange(topology: .exponential, weights: .metropolis, agents: agents, seed: 1)
        let mech = TruthfulDSGD(
            stepSize: PowerSchedule(initial: 0.1, exponent: 0.6),
            payments: PaymentRule(coefficient: PowerSchedule(initial: 1e-3, exponent: 0.1)))
        var grads = Matrix<Float>(rows: agents, cols: d), next = grads, losses = [Float](repeating: 0, count: agents)
        var pay: [Double] = []
        return (
            {
                try! Kernels.glmGradients(
                    loss: .logistic, l2: 1e-4, features: .dense(x), targets: y, parameters: theta,
                    batches: batches, gradients: &grads, losses: &losses, computeLosses: false)
                let norms = Kernels.rowSquaredNorms(grads).map(Double.init)
                pay = try! mech.step(iteration: 0, parameters: theta, applied: grads, reports: norms, exchange: ex, into: &next)
            }, { digest(next.storage) + [pay.reduce(0, +)] }
        )
    },
    Benchmark(name: "market_step") { small in
        let m = small ? 100 : 200, p = small ? 2000 : 10_000, clusters = 10
        var g = SeededGenerator(seed: 31)
        let origin = (0..<p).map { _ in Float(0.01 * g.normal()) }
        let centres: Matrix<Float> = g.normalMatrix(rows: clusters, cols: p)
        var theta = Matrix<Float>(rows: m, cols: p)
        for i in 0..<m {
            for q in 0..<p { theta.storage[i * p + q] = origin[q] + centres.storage[(i % clusters) * p + q] + Float(0.7 * g.normal()) }
        }
        let econ = (0..<m).map { _ in ClientEconomics(dataSize: (1000 + 9000 * g.uniform()).rounded(), cost: 1, eagerness: 5e5) }
        let market = ModelMarket(lambda: 2, eta: 5)
        var ws = ModelMarket.Workspace<Float>()
        var net: [Double] = []
        return (
            {
                net = try! market.step(uploaded: theta, origin: origin, reports: econ, workspace: &ws).outcome.netPayments
            }, { digest(ws.centres.storage) + [net.reduce(0) { $0 + abs($1) }] }
        )
    },
]

// Command line.
let args = CommandLine.arguments
func option(_ flag: String) -> String? { args.firstIndex(of: flag).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }
// Every argument must be known (a typo is an error, not an ignored flag and a run of everything).
do {
    var k = 1
    while k < args.count {
        if ["--only", "--size", "--reps"].contains(args[k]) {
            if k + 1 >= args.count { fail("\(args[k]) expects a value") }
            k += 2
        } else if ["--list", "--serve"].contains(args[k]) {
            k += 1
        } else {
            fail("unknown argument \(args[k]); usage: AgoraABProbe [--only a,b] [--size default|small] [--reps R] [--list] [--serve]")
        }
    }
}
if args.contains("--list") {
    for b in benchmarks { print(b.name) }
    exit(0)
}
restartWithBetterBLASCoreIfNeeded()
let size = option("--size") ?? "default"
guard size == "default" || size == "small" else { fail("--size must be default or small, not \(size)") }
guard let reps = Int(option("--reps") ?? "5"), reps >= 1 else { fail("--reps must be a positive integer") }
let inner = 10
var selected = benchmarks
if let only = option("--only") {
    let names = only.split(separator: ",").map(String.init)
    for n in names where !benchmarks.contains(where: { $0.name == n }) {
        fail("unknown benchmark \(n); known: \(benchmarks.map(\.name).joined(separator: ", "))")
    }
    selected = benchmarks.filter { names.contains($0.name) }
}
var injection: (name: String, fraction: Double)? = nil
if let spec = ProcessInfo.processInfo.environment["AGORA_AB_INJECT"], !spec.isEmpty {
    guard let colon = spec.lastIndex(of: ":"), let f = Double(spec[spec.index(after: colon)...]), f >= 0 else {
        fail("AGORA_AB_INJECT must be name:fraction (e.g. mix/ring:0.10), not \(spec)")
    }
    injection = (String(spec[..<colon]), f)
}

/// Times one block of `reps` samples (after one warm-up call, which also refills the caches the
/// other side of an A/B evicted).
@MainActor func timeBlock(_ name: String, _ run: () -> Void, _ answer: () -> [Double]) -> Sample {
    let extra = injection?.name == name ? Int((injection!.fraction * Double(inner)).rounded()) : 0
    run()
    var samples: [Double] = []
    for _ in 0..<reps {
        let s = now()
        for _ in 0..<(inner + extra) { run() }
        samples.append(Double(now() - s) * 1e-3 / Double(inner))
    }
    return Sample(
        name: name, inner: inner, samples_us: samples, digest: answer(), injected: extra > 0 ? Double(extra) / Double(inner) : nil)
}

/// One line on stdout, unbuffered (the A/B driver waits for it).
func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func encode<T: Encodable>(_ v: T) -> String {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys]
    return String(decoding: try! enc.encode(v), as: UTF8.self)
}

let cpu =
    read("/proc/cpuinfo").split(separator: "\n").first { $0.hasPrefix("model name") }
    .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown"
var caches: [String] = []
for k in 0..<8 {
    let dir = "/sys/devices/system/cpu/cpu0/cache/index\(k)"
    let level = read(dir + "/level").trimmingCharacters(in: .whitespacesAndNewlines)
    if level.isEmpty { break }
    caches.append(
        "L\(level)-\(read(dir + "/type").trimmingCharacters(in: .whitespacesAndNewlines)):\(read(dir + "/size").trimmingCharacters(in: .whitespacesAndNewlines))"
    )
}
let ctx = ProbeContext(
    cpu_model: cpu, num_cpus: ProcessInfo.processInfo.activeProcessorCount, caches: caches,
    openblas_config: OpenBLAS.config, openblas_corename: OpenBLAS.coreName,
    threads: ThreadPool.shared.maxThreads, size: size)

if args.contains("--serve") {
    // Server mode for the interleaved A/B: the context on the first line, then one line per request
    // "NAME" read from stdin: a block of `reps` samples as JSON. Inputs are built once, on first use.
    emit(encode(ctx))
    var prepared: [String: (run: () -> Void, digest: () -> [Double])] = [:]
    while let line = readLine() {
        let name = line.trimmingCharacters(in: .whitespaces)
        if name.isEmpty { continue }
        guard let b = selected.first(where: { $0.name == name }) else { fail("unknown benchmark \(name)") }
        if prepared[name] == nil {
            do { prepared[name] = try b.setup(size == "small") } catch { fail("\(name): \(error)") }
        }
        emit(encode(timeBlock(name, prepared[name]!.run, prepared[name]!.digest)))
    }
    exit(0)
}

var out: [Sample] = []
for b in selected {
    let (run, answer): (() -> Void, () -> [Double])
    do { (run, answer) = try b.setup(size == "small") } catch { fail("\(b.name): \(error)") }
    out.append(timeBlock(b.name, run, answer))
}
print(encode(ProbeOutput(context: ctx, benchmarks: out)))

/// The OpenBLAS kernels the CPU can run, as the benchmark chooses them: when OpenBLAS picked a core
/// below the CPU's instruction set and the user set none, start again with the better one (OpenBLAS
/// reads OPENBLAS_CORETYPE only when it loads). Written here with the public API every measured
/// revision has (`advice`, `CPUFeatures`, `OpenBLAS.coreName`), since the probe builds against each.
func restartWithBetterBLASCoreIfNeeded() {
    let env = ProcessInfo.processInfo.environment
    guard env["AGORA_BLAS_SELECT"] != "0", env["OPENBLAS_CORETYPE"] == nil, env["AGORA_BLAS_CORE_SELECTED"] == nil,
        let (core, reason) = BLASCoreSelection.advice(current: OpenBLAS.coreName, cpu: CPUFeatures.current())
    else { return }
    setenv("OPENBLAS_CORETYPE", core, 1)
    setenv("AGORA_BLAS_CORE_SELECTED", reason, 1)
    _ = execv("/proc/self/exe", CommandLine.unsafeArgv)
}
