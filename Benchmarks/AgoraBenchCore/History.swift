import Foundation

/// What the A/B probe prints: its context and, per benchmark, timed samples and an answer digest.
public struct ProbeRun: Codable, Sendable, Equatable {
    public struct Context: Codable, Sendable, Equatable {
        public var cpu_model: String
        public var num_cpus: Int
        public var caches: [String]
        public var openblas_config: String
        public var openblas_corename: String
        public var threads: Int
        public var size: String

        /// The probe's machine facts, plus the compiler and flags of this host (the same for both
        /// sides of an A/B, which are built here).
        public var identity: MachineIdentity {
            MachineIdentity(
                cpu_model: cpu_model, num_cpus: num_cpus, caches: caches, openblas_corename: openblas_corename,
                threads: threads, compiler: MachineIdentity.currentCompiler(), build_flags: MachineIdentity.currentBuildFlags())
        }
    }
    public struct Benchmark: Codable, Sendable, Equatable {
        public var name: String
        public var inner: Int
        public var samples_us: [Double]
        public var digest: [Double]
        public var injected: Double?
    }
    public var context: Context
    public var benchmarks: [Benchmark]

    /// The identity of the run: the probe's machine facts, plus the compiler and flags of this host.
    public var identity: MachineIdentity { context.identity }
}

/// One recorded run in the per-machine history (one JSON line).
public struct HistoryEntry: Codable, Sendable, Equatable {
    public struct Benchmark: Codable, Sendable, Equatable {
        /// Median over invocations of each invocation's median sample.
        public var median_us: Double
        /// Each invocation's median sample, in microseconds per call.
        public var invocations_us: [Double]
        public var digest: [Double]
        public init(median_us: Double, invocations_us: [Double], digest: [Double]) {
            self.median_us = median_us
            self.invocations_us = invocations_us
            self.digest = digest
        }
    }
    public var commit: String
    public var subject: String
    /// Uncommitted changes were present when the run was recorded.
    public var dirty: Bool
    public var date: String
    public var identity: MachineIdentity
    public var size: String
    public var benchmarks: [String: Benchmark]
    public init(
        commit: String, subject: String, dirty: Bool, date: String, identity: MachineIdentity, size: String,
        benchmarks: [String: Benchmark]
    ) {
        self.commit = commit
        self.subject = subject
        self.dirty = dirty
        self.date = date
        self.identity = identity
        self.size = size
        self.benchmarks = benchmarks
    }
}

/// The results store: a folder of JSON-lines files, one per machine identity (`<slug>.jsonl`).
public struct HistoryStore: Sendable {
    public let folder: String
    public init(folder: String) { self.folder = folder }

    public struct FormatError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Appends an entry to its identity's file (created if needed); returns the file's path.
    @discardableResult
    public func append(_ entry: HistoryEntry) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + entry.identity.slug + ".jsonl"
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var line = try enc.encode(entry)
        line.append(0x0A)
        if let h = FileHandle(forWritingAtPath: path) {
            defer { try? h.close() }
            try h.seekToEnd()
            try h.write(contentsOf: line)
        } else {
            try line.write(to: URL(fileURLWithPath: path))
        }
        return path
    }

    /// Every identity's entries, by file name (without .jsonl). A malformed line is an error naming
    /// the file and line; nothing is skipped silently.
    public func load() throws -> [(slug: String, entries: [HistoryEntry])] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw FormatError(description: "\(folder): no such results store (make bench-record writes one)")
        }
        var out: [(String, [HistoryEntry])] = []
        for name in names.sorted() where name.hasSuffix(".jsonl") {
            let path = folder + "/" + name
            let text = try String(contentsOfFile: path, encoding: .utf8)
            var entries: [HistoryEntry] = []
            for (k, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
                do { entries.append(try JSONDecoder().decode(HistoryEntry.self, from: Data(line.utf8))) } catch {
                    throw FormatError(description: "\(path):\(k + 1): not a history entry (\(error))")
                }
            }
            out.append((String(name.dropLast(6)), entries))
        }
        return out
    }
}
