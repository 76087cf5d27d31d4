import AgoraKernels

/// Loss and accuracy of trained parameters on a data set (all rows), for every model family.
public enum ModelFamily: Sendable, Equatable, Codable {
    case linear(LinearModel)
    case softmax(classes: Int, l2: Double)
    case mlp(MLPShape, l2: Double)

    public func parameterCount(features: Int) -> Int {
        switch self {
        case .linear: return features
        case let .softmax(k, _): return k * features
        case let .mlp(s, _): return s.parameterCount
        }
    }

    /// Mean loss (with its regulariser) and accuracy of one parameter vector on all rows.
    public func evaluate(_ theta: [Float], data: Dataset) throws -> (loss: Double, accuracy: Double) {
        let x = data.features.float
        let all = [Array(0..<data.rows)]
        let t = try Matrix(rows: 1, cols: theta.count, storage: theta)
        var g = Matrix<Float>(rows: 1, cols: theta.count), l: [Float] = [0]
        switch self {
        case let .linear(m):
            let r = try m.evaluate(theta.map(Double.init), features: data.features.double, targets: try m.targets(data))
            return (r.value, r.accuracy ?? .nan)
        case let .softmax(k, l2):
            try Kernels.softmaxGradients(classes: k, l2: Float(l2), features: x, labels: data.labels, parameters: t,
                                         batches: all, gradients: &g, losses: &l)
            return (Double(l[0]), try accuracy(theta, features: x, labels: data.labels, rows: Array(0..<data.rows)))
        case let .mlp(s, l2):
            try Kernels.mlpGradients(shape: s, l2: Float(l2), features: x, labels: data.labels, parameters: t,
                                     batches: all, gradients: &g, losses: &l)
            return (Double(l[0]), try accuracy(theta, features: x, labels: data.labels, rows: Array(0..<data.rows)))
        }
    }
}
