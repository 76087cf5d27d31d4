import Foundation

/// One benchmark record, in the google-benchmark JSON format plus Agora's counters.
public struct Record: Codable, Sendable, Equatable {
    public var name: String
    public var run_name: String
    public var run_type = "iteration"
    public var repetitions: Int
    public var iterations: Int
    public var real_time: Double  // median, in time_unit
    public var cpu_time: Double
    public var time_unit = "us"
    public var real_time_min: Double
    public var real_time_max: Double
    public var bytes: Double?
    public var flops: Double?
    public var gb_per_s: Double?
    public var gflop_per_s: Double?
    public var fraction_of_bound: Double?
    public var bound: String?
    public var threads: Int

    public init(
        name: String, repetitions: Int, iterations: Int, medianSeconds: Double, minSeconds: Double, maxSeconds: Double, threads: Int
    ) {
        self.name = name
        self.run_name = name
        self.repetitions = repetitions
        self.iterations = iterations
        self.real_time = medianSeconds * 1e6
        self.cpu_time = medianSeconds * 1e6
        self.real_time_min = minSeconds * 1e6
        self.real_time_max = maxSeconds * 1e6
        self.threads = threads
    }
}

/// The run's context: machine, BLAS configuration, threads, revision.
public struct Context: Codable, Sendable, Equatable {
    public var date: String
    public var host_name: String
    public var executable: String
    public var num_cpus: Int
    public var cpu_model: String
    public var caches: [String]
    public var openblas_config: String
    public var openblas_corename: String
    public var openblas_env: [String: String]
    public var agora_threads: Int
    public var git_revision: String
    public var library_build_type = "release"
    public var quick: Bool
    /// `swift --version` of the toolchain (absent in files written before it was recorded).
    public var compiler: String?
    /// The flags the Makefile built with (AGORA_BUILD_FLAGS; absent in older files).
    public var build_flags: String?

    public init(
        date: String, host_name: String, executable: String, num_cpus: Int, cpu_model: String, caches: [String],
        openblas_config: String, openblas_corename: String, openblas_env: [String: String], agora_threads: Int,
        git_revision: String, quick: Bool
    ) {
        self.date = date
        self.host_name = host_name
        self.executable = executable
        self.num_cpus = num_cpus
        self.cpu_model = cpu_model
        self.caches = caches
        self.openblas_config = openblas_config
        self.openblas_corename = openblas_corename
        self.openblas_env = openblas_env
        self.agora_threads = agora_threads
        self.git_revision = git_revision
        self.quick = quick
    }
}

/// A whole benchmark file.
public struct Output: Codable, Sendable, Equatable {
    public var context: Context
    public var benchmarks: [Record]
    public init(context: Context, benchmarks: [Record]) {
        self.context = context
        self.benchmarks = benchmarks
    }
}

/// Regression check of a run against a saved baseline.
///
/// A configuration regresses when its median time exceeds the baseline median by more than
/// max(threshold, spread), where spread is the sum of both runs' relative spreads
/// ((max - min) / median): on a noisy machine a slowdown inside the measured noise is not called a
/// regression. Configurations present in only one file are listed, never failed.
public struct BaselineComparison: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        public var name: String
        public var baselineMicroseconds: Double
        public var currentMicroseconds: Double
        /// current / baseline - 1
        public var change: Double
        /// The allowance used: max(threshold, spread).
        public var allowance: Double
        public var regressed: Bool
    }
    public var rows: [Row]
    public var onlyInBaseline: [String]
    public var onlyInCurrent: [String]
    public var regressions: [Row] { rows.filter(\.regressed) }

    /// Records whose names start with these prefixes are compared and listed but never fail the
    /// check: machine bounds and reference measurements of other libraries are not Agora's code.
    public static let ungatedPrefixes = ["bound/", "reference/"]

    public init(baseline: [Record], current: [Record], threshold: Double = 0.10) {
        let base = Dictionary(baseline.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let cur = Dictionary(current.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        func spread(_ r: Record) -> Double { r.real_time > 0 ? (r.real_time_max - r.real_time_min) / r.real_time : 0 }
        rows = current.compactMap { c in
            guard let b = base[c.name], b.real_time > 0 else { return nil }
            let change = c.real_time / b.real_time - 1
            let allowance = max(threshold, spread(b) + spread(c))
            return Row(
                name: c.name, baselineMicroseconds: b.real_time, currentMicroseconds: c.real_time,
                change: change, allowance: allowance,
                regressed: change > allowance && !Self.ungatedPrefixes.contains { c.name.hasPrefix($0) })
        }
        onlyInBaseline = baseline.map(\.name).filter { cur[$0] == nil }
        onlyInCurrent = current.map(\.name).filter { base[$0] == nil }
    }
}

/// Memory-bandwidth and compute bounds derived from records (bytes or flops per second).
public enum Bounds {
    /// Fraction of a bound: achieved rate / bound rate, nil when either is missing or zero.
    public static func fraction(achieved: Double?, bound: Double?) -> Double? {
        guard let a = achieved, let b = bound, b > 0 else { return nil }
        return a / b
    }
    /// GB/s for `bytes` moved in `seconds`.
    public static func gigabytesPerSecond(bytes: Double, seconds: Double) -> Double { bytes / seconds / 1e9 }
}

/// The configurations of the scaling sweep (performance.md): agent counts x model sizes x topology
/// families x thread counts, skipping those whose working set exceeds a memory cap.
public struct SweepPlan: Sendable, Equatable {
    public struct Point: Sendable, Equatable, Hashable {
        public var agents: Int
        public var dimension: Int
        public var topology: String
        public var threads: Int
    }
    public var agents: [Int]
    public var dimensions: [Int]
    public var topologies: [String]
    public var threads: [Int]
    /// Largest working set allowed, in bytes.
    public var capBytes: Int
    /// Matrices of [agents x dimension] Floats a configuration touches (X, Y and the update M).
    public var matrices = 3

    /// The full sweep of performance.md, or a quick subset that proves the harness in seconds.
    public init(quick: Bool, maxThreads: Int, capBytes: Int = 1 << 30) {
        agents = quick ? [16, 256, 1024] : [16, 64, 256, 1024, 4096]
        dimensions = quick ? [100, 10_000] : [100, 1_000, 10_000, 100_000, 1_000_000]
        topologies = quick ? ["ring", "exponential"] : ["ring", "torus", "exponential", "complete"]
        threads = Array(Set([1, maxThreads])).sorted()
        self.capBytes = capBytes
    }

    /// Bytes of the working set of one configuration.
    public func workingSet(agents n: Int, dimension d: Int) -> Int { matrices * n * d * MemoryLayout<Float>.size }

    /// Every configuration within the cap, in a fixed order (topology, threads, agents, dimension).
    public var points: [Point] {
        var out: [Point] = []
        for t in topologies {
            for th in threads {
                for n in agents {
                    for d in dimensions where workingSet(agents: n, dimension: d) <= capBytes {
                        out.append(Point(agents: n, dimension: d, topology: t, threads: th))
                    }
                }
            }
        }
        return out
    }

    /// Configurations left out by the cap (reported, so a reader knows the sweep is partial).
    public var skipped: [(agents: Int, dimension: Int)] {
        agents.flatMap { n in dimensions.filter { workingSet(agents: n, dimension: $0) > capBytes }.map { (n, $0) } }
    }
}
