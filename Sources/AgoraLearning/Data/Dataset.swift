import AgoraKernels
import Foundation

/// Features of a data set: `FeatureRows<Float>` (dense row-major or sparse CSR).
public typealias FeatureMatrix = FeatureRows<Float>

/// A labelled data set. Labels are class indices 0..<classes; `labelNames` keeps the file's own
/// label values in class order (e.g. ["-1", "+1"]) so the mapping is explicit, never assumed.
public struct Dataset: Sendable {
    public var name: String
    public var features: FeatureMatrix
    public var labels: [Int]
    public var labelNames: [String]
    /// The header of a CSV file (nil when the file had none, or for other formats).
    public var columnNames: [String]? = nil
    /// Real-valued targets for regression data (synthetic least squares); nil for classification.
    public var targets: [Double]? = nil
    public var classes: Int { labelNames.count }

    public init(name: String, features: FeatureMatrix, labels: [Int], labelNames: [String]) {
        self.name = name
        self.features = features
        self.labels = labels
        self.labelNames = labelNames
    }
    public var rows: Int { labels.count }

    /// Number of rows per class.
    public var labelCounts: [Int] {
        var c = [Int](repeating: 0, count: classes)
        for l in labels { c[l] += 1 }
        return c
    }
}
