import AgoraKernels
import Foundation

/// The file formats Agora reads.
public enum DataFormat: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// LIBSVM / svmlight text (sparse rows; also named "svmlight" or "svm").
    case libsvm
    /// IDX binary tensors (MNIST), images and labels in two files, optionally gzip-compressed.
    case idx
    /// Numeric CSV, label in the last column, optionally gzip-compressed.
    case csv

    /// A format by name: libsvm (or svmlight, svm), idx or csv, in any case.
    public init(parsing name: String) throws {
        switch name.lowercased() {
        case "libsvm", "svmlight", "svm": self = .libsvm
        case "idx": self = .idx
        case "csv": self = .csv
        default: throw AgoraError.configuration("format '\(name)' is not one of libsvm, idx, csv", field: "format")
        }
    }

    /// Decodes the same names as `init(parsing:)`, so configurations written with an alias load.
    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        do { self = try DataFormat(parsing: name) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    /// The format a file name suggests (the name only, never the folders): idx for MNIST-style
    /// names (`*-idx3-ubyte`, `*.idx`, with or without .gz), csv for .csv(.gz), else libsvm.
    public static func guess(path: String) -> DataFormat {
        let l = String(path.lowercased().split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        let base = l.hasSuffix(".gz") ? String(l.dropLast(3)) : l
        if base.contains("-idx") || base.hasSuffix(".idx") || base.hasSuffix("-ubyte") { return .idx }
        if l.hasSuffix(".csv") || l.hasSuffix(".csv.gz") { return .csv }
        return .libsvm
    }

    public var description: String { rawValue }
}

/// A data file for an experiment: where it is, its format, and how it is split across agents.
/// The one place that maps a format name to its reader (experiments and `agora data inspect`).
public struct DataFile: Codable, Sendable, Equatable {
    public var path: String
    public var format: DataFormat
    /// LIBSVM feature count (0: largest index).
    public var features: Int = 0
    public var partition: PartitionScheme = .iid
    /// A held-out file in the same format (e.g. a9a.t beside a9a) for test accuracy.
    public var testPath: String? = nil
    /// The IDX labels file (nil: the images file name with 'images-idx3' replaced by 'labels-idx1').
    public var labelsPath: String? = nil
    /// Whether a CSV file's first row is a header (nil: auto).
    public var csvHeader: CSVHeader? = nil

    public init(path: String, format: DataFormat, features: Int = 0, partition: PartitionScheme = .iid) {
        self.path = path
        self.format = format
        self.features = features
        self.partition = partition
    }

    /// Reads one file of this format (the training file or the held-out one).
    public func read(_ file: String) throws -> Dataset {
        let d = try readFormat(file)
        guard d.features.cols >= 1 else {
            throw AgoraError.data(file: file, "the data has no features (every row is a bare label): a model needs at least one")
        }
        return d
    }

    func readFormat(_ file: String) throws -> Dataset {
        switch format {
        case .libsvm: return try LIBSVMReader.read(path: file, features: features)
        case .csv: return try CSVReader.read(path: file, header: csvHeader ?? .auto)
        case .idx:
            let labels =
                file == path
                ? (labelsPath ?? file.replacingOccurrences(of: "images-idx3", with: "labels-idx1"))
                : file.replacingOccurrences(of: "images-idx3", with: "labels-idx1")
            guard labels != file else {
                throw AgoraError.data(file: file, "cannot tell the IDX labels file from this name; give it explicitly")
            }
            return try IDXReader.dataset(images: file, labels: labels)
        }
    }

    /// Loads the file and splits it across `agents`, each with at least `minRows` rows.
    public func load(agents: Int, seed: UInt64, minRows: Int = 1) throws -> (Dataset, [[Int]]) {
        let d = try read(path)
        let p = try Partition(labels: d.labels, classes: d.classes, agents: agents, scheme: partition, seed: seed, minRows: minRows)
        return (d, p.agents)
    }

    /// The held-out data, when `testPath` is set; its features and labels must match the training file's.
    public func loadTest(matching train: Dataset) throws -> Dataset? {
        guard let testPath else { return nil }
        let t = try read(testPath)
        guard t.features.cols == train.features.cols else {
            throw AgoraError.data(
                file: testPath, "has \(t.features.cols) features, the training file \(train.features.cols) (set the LIBSVM feature count)")
        }
        guard t.labelNames == train.labelNames else {
            throw AgoraError.data(file: testPath, "labels \(t.labelNames) differ from the training file's \(train.labelNames)")
        }
        return t
    }
}
