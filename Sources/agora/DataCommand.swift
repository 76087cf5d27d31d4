import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data", abstract: "Data-set tools.", subcommands: [Inspect.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rows, features, sparsity and label counts of a data file; with --partition, the per-agent split.")

        @Argument(
            help:
                "A named data set (mnist, a9a, mushrooms, digits), a LIBSVM/svmlight file, an IDX image file (its labels file is found by name), or a CSV file (.gz accepted)."
        )
        var file: String
        @Option(help: "Format (default: from the file name).") var format: DataFormat?
        @Option(help: "Feature count for LIBSVM files (default: the largest index).") var features: Int = 0
        @Option(help: "IDX labels file (default: the images file name with 'images-idx3' replaced by 'labels-idx1').") var labels: String?
        @Option(help: "CSV files: is the first row a header? (auto: decided from the row; reported)") var header: CSVHeader = .auto
        @Option(help: "Partition across agents: iid, dirichlet:BETA, shards:S, groups:G, skew, quantity:ALPHA.") var partition: String?
        @Option(help: "Number of agents for --partition.") var agents: Int = 10
        @Option(help: "Seed for --partition.") var seed: UInt64 = 1
        @Flag(help: "Print one JSON object on stdout.") var json = false

        struct Summary: Codable {
            let file: String, format: String, rows: Int, features: Int, storage: String
            let nonzeros: Int, density: Double, labels: [String], labelCounts: [Int]
            let partition: String?, agentSizes: [Int]?, agentLabelHistograms: [[Int]]?
            /// CSV: the header row read (null when the first row was data or the file is not CSV).
            let header: [String]?

            private enum CodingKeys: String, CodingKey {
                case file, format, rows, features, storage, nonzeros, density, labels, labelCounts
                case partition, agentSizes, agentLabelHistograms, header
            }

            /// `header` is always written (null when absent); the partition keys only with --partition.
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(file, forKey: .file)
                try c.encode(format, forKey: .format)
                try c.encode(rows, forKey: .rows)
                try c.encode(features, forKey: .features)
                try c.encode(storage, forKey: .storage)
                try c.encode(nonzeros, forKey: .nonzeros)
                try c.encode(density, forKey: .density)
                try c.encode(labels, forKey: .labels)
                try c.encode(labelCounts, forKey: .labelCounts)
                try c.encodeIfPresent(partition, forKey: .partition)
                try c.encodeIfPresent(agentSizes, forKey: .agentSizes)
                try c.encodeIfPresent(agentLabelHistograms, forKey: .agentLabelHistograms)
                try c.encode(header, forKey: .header)
            }
        }

        func run() throws {
            try reportingErrors {
                // A named data set resolves as `--data NAME` does; anything else is a path.
                var source = try resolveDataFile(file, format: format, features: features, partition: "iid")
                source.labelsPath = labels
                source.csvHeader = header
                let fmt = source.format, h = header
                let d = try source.read(source.path)
                var part: Partition? = nil
                if let partition {
                    part = try Partition(
                        labels: d.labels, classes: d.classes, agents: agents,
                        scheme: PartitionScheme(parsing: partition), seed: seed)
                }
                let storage: String
                if case .sparse = d.features { storage = "sparse (CSR)" } else { storage = "dense" }
                let s = Summary(
                    file: file, format: fmt.rawValue, rows: d.rows, features: d.features.cols, storage: storage,
                    nonzeros: d.features.nonzeros, density: d.features.density, labels: d.labelNames,
                    labelCounts: d.labelCounts, partition: partition, agentSizes: part?.sizes,
                    agentLabelHistograms: part?.labelHistograms, header: d.columnNames)
                if json {
                    print(try JSONOutput.line(s))
                    return
                }
                print("file      \(file) (\(fmt))")
                if fmt == .csv {
                    print(
                        "header    "
                            + (d.columnNames.map { "\($0.joined(separator: ", "))\(h == .auto ? " (detected)" : "")" }
                                ?? "none\(h == .auto ? " (the first row is data)" : "")"))
                }
                print("rows      \(s.rows)")
                print("features  \(s.features), \(storage), \(s.nonzeros) non-zeros, density \(fmt4(s.density))")
                print(
                    "labels    "
                        + zip(s.labels, s.labelCounts).enumerated().map { "class \($0.offset) = '\($0.element.0)': \($0.element.1)" }
                        .joined(separator: ", "))
                if let part, let partition {
                    print("")
                    print("partition \(partition) over \(agents) agents (seed \(seed))")
                    print(pad("agent", 7) + pad("rows", 8) + "label histogram")
                    for (a, h) in part.labelHistograms.enumerated() {
                        print(pad("\(a)", 7) + pad("\(part.sizes[a])", 8) + h.map(String.init).joined(separator: " "))
                    }
                }
            }
        }

        func fmt4(_ x: Double) -> String { String(format: "%.4f", x) }
    }
}
