import AgoraBenchCore
import AgoraKernels
import Foundation

/// The state one benchmark run shares across its sections: the options, the records written at the
/// end, the machine bounds measured first (every later ratio divides by them), and the peer ratios
/// the targets section reports.
final class BenchSession {
    /// The program's path (recorded with the results).
    let executable: String
    let options: CommandLineOptions
    let quick: Bool
    let outDir: String
    /// Sections named by --only (nil: all).
    let only: Set<String>?
    /// The regression threshold of --baseline (a fraction of the time).
    let threshold: Double
    let reps: Int
    let pool = ThreadPool.shared
    let allThreads: Int
    var records: [Record] = []
    /// One random stream for the bounds and kernels sections, in their order (fixed inputs).
    var rng = SeededGenerator(seed: 7)

    // Bounds (section "bounds").
    var copyBound: [Int: Double] = [:]
    /// Copy bandwidth with the working set inside each cache level, per thread count, smallest level
    /// first: (level, largest working set in bytes the level holds at that thread count, GB/s).
    var cacheCopyBound: [Int: [(level: String, capacity: Double, gbs: Double)]] = [:]
    var triadBound: [Int: Double] = [:]
    var sgemmRate = 0.0
    var forkJoin: (median: Double, min: Double, max: Double) = (0, 0, 0)

    // Results the targets section reads.
    /// The sparse mix's agents in the kernels section.
    let mixAgents = 1024
    var mixResults: [String: Double] = [:]
    var mixPeerRatios: (scipy: Double, numpy: Double)? = nil
    var glmRatio: Double? = nil
    var dsgdRatio: Double? = nil
    /// The DSGD iteration's bound time / its measured time.
    var dsgdBoundFraction: Double? = nil
    /// ssyrk time on the market's update matrix / the market step's time (the Gram is the step's
    /// unavoidable work: 1 = the step costs no more than its Gram matrix).
    var marketSyrkFraction: Double? = nil
    /// The target for `marketSyrkFraction` (docs/performance.md, "The targets").
    static let marketSyrkTarget = 0.85
    var marketRatio: Double? = nil
    /// JAX (jit) peer time / Agora time per kernel ("glm", "mix", "dsgd", "market").
    var jaxRatios: [String: Double] = [:]
    /// The CNN section: step and round throughput as fractions of the sgemm rate; the largest
    /// gradient difference from the JAX peer relative to the largest gradient.
    var cnnStepFraction: Double? = nil, cnnRoundFraction: Double? = nil, cnnGradientAgreement: Double? = nil
    /// Sparse mix at n = 1024, d = 1e4 per topology: name, mean degree, fraction of the
    /// unique-traffic bound, and of the neighbour-read floor (reads from `floorLevel`; see
    /// `measureMixByDegree`).
    var mixByDegree: [(name: String, degree: Double, fraction: Double, floorFraction: Double, floorLevel: String)] = []
    /// all-threads / 1-thread speed-ups of the contended section ("quiet/small", "contended/large", ...).
    var contendedSpeedups: [String: Double] = [:]
    var contractRatios: [String: (ratio: Double, ours: Double, peer: Double)] = [:]

    /// The sections `--only` can name (the bounds always run).
    static let sections = ["kernels", "glm", "dsgd", "experiment", "market", "cnn", "contracts", "contended", "sweep"]

    static let usage = """
        usage: AgoraBench [--quick] [--only \(sections.joined(separator: ","))] [--out DIR]
                          [--save-baseline FILE] [--baseline FILE [--threshold 0.10] [--force-machine]]
        Measures the machine's bounds, then each selected section against them; writes DIR/agora-bench.{json,csv}
        (default DIR: bench-results). Exit status: 0 done; 1 a regression against --baseline; 2 bad usage or a
        baseline from another machine. (make bench runs it with native code generation; see README "Benchmarks".)
        """

    /// The flags AgoraBench knows.
    static let valuedFlags: Set<String> = ["--out", "--only", "--save-baseline", "--baseline", "--threshold"]
    static let switches: Set<String> = ["--quick", "--force-machine"]

    /// A session with the parsed options; a bad `--only` section or `--threshold` is a `UsageError`.
    init(executable: String, options: CommandLineOptions) throws {
        self.executable = executable
        self.options = options
        quick = options.has("--quick")
        outDir = options.value("--out") ?? "bench-results"
        only = try options.list("--only", allowed: Self.sections).map(Set.init)
        threshold = try options.number("--threshold", default: 0.10, min: 0)
        reps = quick ? 5 : 11
        allThreads = ThreadPool.shared.maxThreads
    }

    /// Whether --only selects `section` (every section when --only is absent).
    func want(_ section: String) -> Bool { only?.contains(section) ?? true }

    /// OPENBLAS_* variables of this process (recorded with the results).
    var openBLASEnvironment: [String: String] { ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("OPENBLAS_") } }

    /// The copy bound of the memory level a working set of `bytes` lives in at `threads` threads:
    /// the smallest cache level whose bandwidth was measured with a working set at least this
    /// large (half the level's capacity), else DRAM. A set between half and all of a level is
    /// not counted as living in it: the 33 MB of the DSGD data set "fit" a 32 MiB L3 by capacity,
    /// yet a victim L3 shared with everything else keeps only part of it (measured: its rows
    /// arrived at DRAM's rate). Such sets take the next level's bound; a fraction above 1.05 then
    /// says that part of the set stayed in the faster level.
    func copyBound(workingSet bytes: Double, threads: Int) -> (String, Double) {
        for c in cacheCopyBound[threads] ?? [] where bytes <= c.capacity / 2 { return ("copy in \(c.level)", c.gbs) }
        return ("copy in DRAM", copyBound[threads]!)
    }

    func printHeader() {
        print("OpenBLAS: \(OpenBLAS.config) core \(OpenBLAS.coreName); Agora threads \(allThreads)")
        let env = openBLASEnvironment
        if !env.isEmpty { print("OPENBLAS environment: \(env.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " "))") }
        print("")
    }

    /// Prints the section title, then runs it when --only selects it; a failing section is reported
    /// and skipped, never the whole run.
    func runSection(_ name: String, _ title: String, _ body: (BenchSession) throws -> Void) {
        print("")
        print("== \(title)")
        guard want(name) else { return }
        do { try body(self) } catch { print("   skipped: \(error)") }
    }

    /// Records one measurement and prints its line: time, GB/s or GFLOP/s, and the fraction of its
    /// bound when one is given.
    func add(
        _ name: String, _ t: (median: Double, min: Double, max: Double), threads: Int,
        bytes: Double? = nil, flops: Double? = nil, bound: (String, Double)? = nil, iterations: Int = 1
    ) {
        var r = Record(
            name: name, repetitions: reps, iterations: iterations, medianSeconds: t.median,
            minSeconds: t.min, maxSeconds: t.max, threads: threads)
        if let bytes {
            r.bytes = bytes
            r.gb_per_s = bytes / t.median / 1e9
        }
        if let flops {
            r.flops = flops
            r.gflop_per_s = flops / t.median / 1e9
        }
        if let (bn, bv) = bound {
            r.bound = bn
            r.fraction_of_bound = (r.gb_per_s ?? r.gflop_per_s ?? 0) / bv
        }
        records.append(r)
        var line = pad(name, 44) + pad(String(format: "%10.1f us", t.median * 1e6), 14)
        if let g = r.gb_per_s { line += String(format: "%8.1f GB/s", g) }
        if let g = r.gflop_per_s { line += String(format: "%8.1f GFLOP/s", g) }
        if let f = r.fraction_of_bound {
            line += String(format: "   %.2f of %@", f, r.bound!)
            // A fraction above 1 means the bound's level is the wrong model for this record.
            if f > 1.05 { line += " (above: part of the working set stays in a faster level between calls)" }
        }
        print(line)
    }
}
