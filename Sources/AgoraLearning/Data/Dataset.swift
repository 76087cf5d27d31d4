import AgoraKernels
import Foundation

/// A problem in a data file: which file, line and column, and what was expected.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int?
    public let column: Int?
    public let message: String
    public init(file: String, line: Int? = nil, column: Int? = nil, _ message: String) {
        self.file = file; self.line = line; self.column = column; self.message = message
    }
    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        if let column { s += ":\(column)" }
        return s + ": " + message
    }
}

/// Features of a data set: dense row-major, or sparse CSR (LIBSVM files stay sparse).
public enum FeatureMatrix: Sendable {
    case dense(Matrix<Float>)
    case sparse(CSRMatrix<Float>)

    public var rows: Int { switch self { case let .dense(m): return m.rows; case let .sparse(s): return s.rows } }
    public var cols: Int { switch self { case let .dense(m): return m.cols; case let .sparse(s): return s.cols } }
    /// Stored entries (all of them for dense data).
    public var nonzeros: Int {
        switch self {
        case let .dense(m): return m.storage.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        case let .sparse(s): return s.nonzeros
        }
    }
    /// Fraction of entries that are non-zero.
    public var density: Double { rows * cols == 0 ? 0 : Double(nonzeros) / Double(rows * cols) }
}

/// A labelled data set. Labels are class indices 0..<classes; `labelNames` keeps the file's own
/// label values in class order (e.g. ["-1", "+1"]) so the mapping is explicit, never assumed.
public struct Dataset: Sendable {
    public var name: String
    public var features: FeatureMatrix
    public var labels: [Int]
    public var labelNames: [String]
    /// Real-valued targets for regression data (synthetic least squares); nil for classification.
    public var targets: [Double]? = nil
    public var classes: Int { labelNames.count }

    public init(name: String, features: FeatureMatrix, labels: [Int], labelNames: [String]) {
        self.name = name; self.features = features; self.labels = labels; self.labelNames = labelNames
    }
    public var rows: Int { labels.count }

    /// Number of rows per class.
    public var labelCounts: [Int] {
        var c = [Int](repeating: 0, count: classes)
        for l in labels { c[l] += 1 }
        return c
    }
}
