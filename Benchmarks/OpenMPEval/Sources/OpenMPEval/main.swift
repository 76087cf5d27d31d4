// OpenMP (libomp) beside Agora's ThreadPool on identical work, quiet and beside a CPU-bound
// process: fork/join of an empty region, a small ring mix (256 x 100, the size where fork/join
// dominates) and a large one (1024 x 20000, memory-bound), each on 1 and all threads. Both run the
// same C row-range function (COpenMPShim), so only the runtime differs; the answers are compared.
// Usage: OpenMPEval [--out FILE.json] [--reps N]
import AgoraBenchCore
import AgoraKernels
import COpenMPShim
import Foundation

let args = CommandLine.arguments
let outPath = args.firstIndex(of: "--out").flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
let reps = args.firstIndex(of: "--reps").flatMap { $0 + 1 < args.count ? Int(args[$0 + 1]) : nil } ?? 9
let pool = ThreadPool.shared
let allThreads = pool.maxThreads

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

/// Median over `reps` blocks of the mean time of `inner` calls.
func measure(inner: Int, _ body: () -> Void) -> Double {
    body()
    var ts: [Double] = []
    for _ in 0..<reps {
        let t0 = now()
        for _ in 0..<inner { body() }
        ts.append((now() - t0) / Double(inner))
    }
    ts.sort()
    return ts[ts.count / 2]
}

struct Row: Codable {
    var condition: String, runtime: String, threads: Int
    var forkJoinMicros: Double?, smallMicros: Double, largeMillis: Double
}

let sizes = [(n: 256, d: 100, inner: 200), (n: 1024, d: 20_000, inner: 1)]
var g = SeededGenerator(seed: 5)
let inputs = sizes.map { s -> [Float] in (0..<(s.n * s.d)).map { _ in Float(g.normal()) } }
var outPool = sizes.map { [Float](repeating: 0, count: $0.n * $0.d) }
var outOMP = outPool

@MainActor func runPool(_ k: Int) {
    let s = sizes[k]
    inputs[k].withUnsafeBufferPointer { xb in
        outPool[k].withUnsafeMutableBufferPointer { yb in
            let x = xb.baseAddress!, y = yb.baseAddress!
            pool.parallelFor(s.n, bytes: .max) { r in shim_ring_rows(x, y, s.n, s.d, r.lowerBound, r.upperBound) }
        }
    }
}

@MainActor func runOMP(_ k: Int, _ threads: Int) {
    let s = sizes[k]
    inputs[k].withUnsafeBufferPointer { xb in
        outOMP[k].withUnsafeMutableBufferPointer { yb in shim_omp_ring(xb.baseAddress!, yb.baseAddress!, s.n, s.d, Int32(threads)) }
    }
}

print(
    "OpenMP evaluation: \(String(cString: shim_omp_version())), OMP_WAIT_POLICY=\(ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] ?? "(default)"), "
        + "KMP_BLOCKTIME=\(ProcessInfo.processInfo.environment["KMP_BLOCKTIME"] ?? "(default)"); Agora pool of \(allThreads) threads; \(reps) repetitions"
)
var rows: [Row] = []
for condition in ["quiet", "contended"] {
    let competitor = condition == "contended" ? try CompetingProcess() : nil
    for th in Set([1, allThreads]).sorted() {
        pool.threads = th
        let fjPool = th > 1 ? measure(inner: 2000) { pool.parallelFor(th, bytes: .max) { _ in } } : nil
        let fjOMP = th > 1 ? measure(inner: 2000) { shim_omp_empty(Int32(th)) } : nil
        let sp = measure(inner: sizes[0].inner) { runPool(0) }, so = measure(inner: sizes[0].inner) { runOMP(0, th) }
        let lp = measure(inner: sizes[1].inner) { runPool(1) }, lo = measure(inner: sizes[1].inner) { runOMP(1, th) }
        rows.append(
            Row(
                condition: condition, runtime: "agora-pool", threads: th, forkJoinMicros: fjPool.map { $0 * 1e6 }, smallMicros: sp * 1e6,
                largeMillis: lp * 1e3))
        rows.append(
            Row(
                condition: condition, runtime: "openmp", threads: th, forkJoinMicros: fjOMP.map { $0 * 1e6 }, smallMicros: so * 1e6,
                largeMillis: lo * 1e3))
    }
    pool.threads = allThreads
    competitor?.stop()
}
let same = outPool == outOMP
print("answers identical between the runtimes: \(same)")
print("condition  runtime     threads  fork/join us  small mix us  large mix ms  speed-up small / large")
for r in rows {
    let one = rows.first { $0.condition == r.condition && $0.runtime == r.runtime && $0.threads == 1 }!
    func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
    print(
        pad(r.condition, 11) + pad(r.runtime, 12)
            + String(
                format: "%7d  %12@  %12.1f  %12.2f  %.2fx / %.2fx", r.threads,
                (r.forkJoinMicros.map { String(format: "%.2f", $0) } ?? "-") as NSString, r.smallMicros, r.largeMillis,
                one.smallMicros / r.smallMicros, one.largeMillis / r.largeMillis))
}
if let outPath {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    try enc.encode(rows).write(to: URL(fileURLWithPath: outPath))
    print("wrote \(outPath)")
}
if !same { exit(1) }
