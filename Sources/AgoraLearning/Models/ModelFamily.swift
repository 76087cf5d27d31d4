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
        let x = data.features
        let all = [Array(0..<data.rows)]
        let t = try Matrix(rows: 1, cols: theta.count, storage: theta)
        var g = Matrix<Float>(rows: 1, cols: theta.count), l: [Float] = [0]
        switch self {
        case let .linear(m):
            let r = try m.evaluate(theta.map(Double.init), features: data.features.double, targets: try m.targets(data))
            return (r.value, r.accuracy ?? .nan)
        case let .softmax(k, l2):
            try Kernels.softmaxGradients(
                classes: k, l2: Float(l2), features: x, labels: data.labels, parameters: t,
                batches: all, gradients: &g, losses: &l)
            return (Double(l[0]), try accuracy(theta, features: x, labels: data.labels, rows: Array(0..<data.rows)))
        case let .mlp(s, l2):
            try Kernels.mlpGradients(
                shape: s, l2: Float(l2), features: x, labels: data.labels, parameters: t,
                batches: all, gradients: &g, losses: &l)
            return (Double(l[0]), try accuracy(theta, features: x, labels: data.labels, rows: Array(0..<data.rows)))
        }
    }
}

extension ModelFamily {
    /// The model family a classification data set calls for: binary logistic regression for two
    /// classes, softmax regression otherwise, or a one-hidden-layer MLP when `hidden` > 0.
    public static func classifier(for data: Dataset, hidden: Int = 0, l2: Double) throws -> ModelFamily {
        guard data.classes >= 2 else {
            throw AgoraError.data(file: data.name, "classification needs at least 2 classes, the data has \(data.classes)")
        }
        if hidden > 0 { return .mlp(MLPShape(inputs: data.features.cols, hidden: hidden, classes: data.classes), l2: l2) }
        if data.classes == 2 { return .linear(LinearModel(loss: .logistic, l2: l2)) }
        return .softmax(classes: data.classes, l2: l2)
    }

    /// Mini-batch gradients and losses for every row of `theta` at once (one batch per row), through
    /// the batched kernels. `targets` are the real-valued targets of linear models (from
    /// `LinearModel.targets`), ignored otherwise.
    public func gradients(
        features x: FeatureRows<Float>, labels: [Int], targets: [Float], parameters theta: Matrix<Float>,
        batches: [[Int]], gradients g: inout Matrix<Float>, losses: inout [Float]
    ) throws {
        switch self {
        case let .linear(m):
            try Kernels.glmGradients(
                loss: m.loss, l2: Float(m.l2), features: x, targets: targets, parameters: theta,
                batches: batches, gradients: &g, losses: &losses)
        case let .softmax(k, l2):
            try Kernels.softmaxGradients(
                classes: k, l2: Float(l2), features: x, labels: labels, parameters: theta,
                batches: batches, gradients: &g, losses: &losses)
        case let .mlp(s, l2):
            try Kernels.mlpGradients(
                shape: s, l2: Float(l2), features: x, labels: labels, parameters: theta,
                batches: batches, gradients: &g, losses: &losses)
        }
    }

    /// The predicted class of each row in `rows` (scores through `FeatureRows.blockDots`).
    public func predict(_ theta: [Float], features x: FeatureRows<Float>, rows: [Int]) throws -> [Int] {
        switch self {
        case .linear:
            let z = try x.blockDots(rows: rows, weights: theta, blocks: 1)
            return z.indices.map { Self.predictedClass(z[$0...$0]) }
        case let .softmax(k, _):
            let z = try x.blockDots(rows: rows, weights: theta, blocks: k)
            return rows.indices.map { Self.predictedClass(z[($0 * k)..<(($0 + 1) * k)]) }
        case let .mlp(s, _):
            let pre = try x.blockDots(rows: rows, weights: theta, blocks: s.hidden)
            return rows.indices.map { r in
                let hid = (0..<s.hidden).map { j in max(0, pre[r * s.hidden + j] + theta[s.b1 + j]) }
                let z = (0..<s.classes).map { c in (0..<s.hidden).reduce(theta[s.b2 + c]) { $0 + theta[s.w2 + c * s.hidden + $1] * hid[$1] }
                }
                return Self.argmax(z[...])
            }
        }
    }

    /// The class a linear or softmax model predicts from its scores: for one score (logistic) 1
    /// when it is positive, else the first class of the largest score (0 when all are NaN).
    static func predictedClass(_ z: ArraySlice<Float>) -> Int {
        z.count == 1 ? (z.first! > 0 ? 1 : 0) : argmax(z)
    }

    /// The position of the first largest element (0 when none beats -infinity, e.g. all NaN).
    static func argmax(_ z: ArraySlice<Float>) -> Int {
        var best = z.startIndex, bz = -Float.infinity
        for c in z.indices where z[c] > bz {
            bz = z[c]
            best = c
        }
        return best - z.startIndex
    }

    /// The accuracy of every row of `thetas` (one model each) on the same `rows` (NaN for no rows).
    /// Linear and softmax models score all models at once (`blockScores`: one GEMM on dense rows,
    /// so the cost of the market's purchase check, m^2 n p per round, runs at BLAS speed; a score
    /// then differs from `predict`'s in rounding only, which flips a prediction only at an exact
    /// tie of two classes). An MLP goes model by model.
    public func accuracies(_ thetas: Matrix<Float>, features x: FeatureRows<Float>, labels: [Int], rows: [Int]) throws -> [Double] {
        let m = thetas.rows
        if rows.isEmpty { return [Double](repeating: .nan, count: m) }
        let k: Int
        switch self {
        case .linear: k = 1
        case let .softmax(classes, _): k = classes
        case .mlp: return try (0..<m).map { try accuracy(thetas.row($0), features: x, labels: labels, rows: rows) }
        }
        guard thetas.cols == k * x.cols else {
            throw AgoraError.shape("accuracies: models of \(thetas.cols) parameters for \(k) x \(x.cols) weights")
        }
        // thetas (m x k d, row-major) holds m k blocks of d weights: model a's class c is block a k + c.
        let z = try x.blockScores(rows: rows, weights: thetas.storage, blocks: m * k)
        return (0..<m).map { a in
            let right = rows.indices.filter { q in Self.predictedClass(z[(q * m + a) * k..<(q * m + a + 1) * k]) == labels[rows[q]] }
            return Double(right.count) / Double(rows.count)
        }
    }

    /// Fraction of `rows` classified correctly (NaN for no rows).
    public func accuracy(_ theta: [Float], features x: FeatureRows<Float>, labels: [Int], rows: [Int]) throws -> Double {
        if rows.isEmpty { return .nan }
        let p = try predict(theta, features: x, rows: rows)
        return Double(zip(p, rows).filter { $0.0 == labels[$0.1] }.count) / Double(rows.count)
    }
}
