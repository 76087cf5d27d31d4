import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

/// Options shared by commands that build a graph.
struct GraphOptions: ParsableArguments {
    @Option(
        help:
            "Topology: ring, torus[:RxC], star, complete, exponential, one-peer-exponential, erdos-renyi:P, regular:K, small-world:K:BETA, file:PATH."
    )
    var topology: String = "exponential"
    @Option(help: "Mixing weights (uniform needs a regular graph).")
    var weights: WeightScheme = .metropolis
    @Option(help: "Number of agents.")
    var agents: Int = 64
    @Option(help: "Seed for every random choice.")
    var seed: UInt64 = 1

    func parsed() throws -> (Topology, WeightScheme) {
        (try Topology(parsing: topology), weights)
    }
}

/// Options shared by commands that read a data set (`agora dsgd`, `agora market run`).
struct DataOptions: ParsableArguments {
    @Option(
        help:
            "Data: synthetic (generated, the default), mnist, a9a, mushrooms, digits (from $AGORA_DATA or ../shared/data), or a file path (LIBSVM, IDX images, CSV)."
    )
    var data: String?
    @Option(help: "Format of a --data path (default: from the name).")
    var format: DataFormat?
    @Option(
        help:
            "Partition across agents: iid, dirichlet:BETA, shards:S, groups:G (cluster:G), skew (2 disjoint class groups), quantity:ALPHA (default: iid for dsgd, dirichlet:0.1 for market run)."
    )
    var partition: String?
    @Option(help: "LIBSVM feature count for --data (default: the largest index).")
    var dataFeatures: Int = 0
    @Option(help: "CSV --data: is the first row a header? (auto: decided from the row)")
    var header: CSVHeader = .auto

    /// Whether a data file was asked for (anything but nothing or "synthetic").
    var usesFile: Bool { data.map { $0.lowercased() != "synthetic" } ?? false }

    /// The data file to read, or nil for synthetic data.
    func file(defaultPartition: String, test: String? = nil) throws -> DataFile? {
        guard usesFile, let data else { return nil }
        var file = try resolveDataFile(data, format: format, features: dataFeatures, partition: partition ?? defaultPartition, test: test)
        if header != .auto { file.csvHeader = header }
        return file
    }
}

/// The folder of the named data sets: $AGORA_DATA when set; else `../shared/data` beside the
/// project this binary was built in (found by walking up from the executable to the folder that
/// holds Package.swift), so the named sets resolve from any working folder; else `../shared/data`
/// from the working folder (an installed binary run from the project root).
func sharedDataRoot() -> String {
    if let set = ProcessInfo.processInfo.environment["AGORA_DATA"] { return set }
    let fm = FileManager.default
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        folder = URL(fileURLWithPath: exe).deletingLastPathComponent()
    }
    for _ in 0..<6 {
        if fm.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
            let candidate = folder.deletingLastPathComponent().appendingPathComponent("shared/data").path
            if fm.fileExists(atPath: candidate) { return candidate }
            break
        }
        folder = folder.deletingLastPathComponent()
    }
    return "../shared/data"
}

/// Resolves --data: a named data set (mnist, a9a, mushrooms, digits) in the shared data folder, or
/// a path; the format comes from --format or the file name.
func resolveDataFile(_ name: String, format: DataFormat?, features: Int, partition: String, test: String? = nil) throws -> DataFile {
    let named: [String: (String, String, Int)] = [
        "mnist": ("mnist/t10k-images-idx3-ubyte.gz", "idx", 0), "a9a": ("libsvm/a9a", "libsvm", 123),
        "mushrooms": ("libsvm/mushrooms", "libsvm", 112), "digits": ("uci/digits.csv.gz", "csv", 0),
    ]
    var path = name, fmt = format, nf = features
    if let (rel, f, k) = named[name.lowercased()] {
        path = sharedDataRoot() + "/" + rel
        fmt = try fmt ?? DataFormat(parsing: f)
        if nf == 0 { nf = k }
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("data set '\(name)' not found at \(path); set AGORA_DATA to the folder holding mnist/, libsvm/ and uci/")
        }
    }
    var file = DataFile(
        path: path, format: fmt ?? DataFormat.guess(path: path), features: nf, partition: try PartitionScheme(parsing: partition))
    if let test {
        // "auto": the conventional held-out file beside a LIBSVM training file (a9a -> a9a.t).
        file.testPath = test == "auto" ? path + ".t" : test
        guard FileManager.default.fileExists(atPath: file.testPath!) else { throw CLIError("test data \(file.testPath!) not found") }
    }
    return file
}
