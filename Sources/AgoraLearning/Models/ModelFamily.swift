import AgoraKernels
import Foundation

/// Loss and accuracy of trained parameters on a data set (all rows), for every model family.
public enum ModelFamily: Sendable, Equatable, Codable {
    case linear(LinearModel)
    case softmax(classes: Int, l2: Double)
    case mlp(MLPShape, l2: Double)
    /// A convolutional network on images (rows in (C, H, W) order), softmax cross-entropy; l2
    /// decays every parameter, biases included (PyTorch's weight decay).
    case cnn(CNNShape, l2: Double)

    public func parameterCount(features: Int) -> Int {
        switch self {
        case .linear: return features
        case let .softmax(k, _): return k * features
        case let .mlp(s, _): return s.parameterCount
        case let .cnn(s, _): return s.parameterCount
        }
    }

    /// The starting parameters every client shares: N(0, 0.01^2) for the linear models and the MLP;
    /// for a CNN PyTorch's default initialisation, uniform in +-1/sqrt(fan-in) for every weight and
    /// bias of a layer (a network of five layers started at 0.01 barely passes a signal).
    public func initialParameters(features: Int, using rng: inout SeededGenerator) -> [Float] {
        switch self {
        case let .cnn(s, _):
            var theta = [Float](repeating: 0, count: s.parameterCount)
            for (range, fanIn) in s.layerRanges {
                let bound = 1 / Double(fanIn).squareRoot()
                for q in range { theta[q] = Float((2 * rng.uniform() - 1) * bound) }
            }
            return theta
        default:
            return (0..<parameterCount(features: features)).map { _ in Float(rng.normal() * 0.01) }
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
        case let .cnn(s, l2):
            // From the scores (forward passes only, in parallel chunks): mean cross-entropy and accuracy.
            let z = try Kernels.cnnLogits(shape: s, features: x, parameters: t, rows: all)[0]
            let k = s.classes
            var loss = 0.0, right = 0
            for r in 0..<data.rows {
                let zr = z[(r * k)..<((r + 1) * k)]
                let m = Double(zr.max()!)
                loss += Foundation.log(zr.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) }) - (Double(zr[r * k + data.labels[r]]) - m)
                if Self.argmax(zr) == data.labels[r] { right += 1 }
            }
            let reg = theta.reduce(0.0) { $0 + Double($1) * Double($1) }
            return (loss / Double(max(1, data.rows)) + l2 / 2 * reg, data.rows > 0 ? Double(right) / Double(data.rows) : .nan)
        }
    }
}

/// The convolutional networks of the iPFL reference code, by the names its scripts use.
public enum NetworkPreset: String, Sendable, Codable, CaseIterable {
    /// `SimpleCNN` on 3 x 32 x 32 images (CIFAR-10): 62,006 parameters for 10 classes.
    case simplecnn
    /// `SimpleCNN` on 1 x 28 x 28 images (MNIST, Fashion-MNIST): 44,426 parameters for 10 classes.
    case simplecnnMNIST = "simplecnn-mnist"

    public func shape(classes: Int) -> CNNShape {
        switch self {
        case .simplecnn: return .simpleCNN(channels: 3, height: 32, width: 32, classes: classes)
        case .simplecnnMNIST: return .simpleCNN(channels: 1, height: 28, width: 28, classes: classes)
        }
    }
}

extension ModelFamily {
    /// The model family a classification data set calls for: binary logistic regression for two
    /// classes, softmax regression otherwise, or a one-hidden-layer MLP when `hidden` > 0.
    public static func classifier(for data: Dataset, hidden: Int = 0, network: NetworkPreset? = nil, l2: Double) throws -> ModelFamily {
        guard data.classes >= 2 else {
            throw AgoraError.data(file: data.name, "classification needs at least 2 classes, the data has \(data.classes)")
        }
        if let network {
            let s = network.shape(classes: data.classes)
            guard data.features.cols == s.inputs else {
                throw AgoraError.data(
                    file: data.name,
                    "\(network.rawValue) takes \(s.channels) x \(s.height) x \(s.width) images (\(s.inputs) features); the data has \(data.features.cols) features per row"
                )
            }
            guard case .dense = data.features else {
                throw AgoraError.data(file: data.name, "\(network.rawValue) needs dense image rows; the data is sparse")
            }
            return .cnn(s, l2: l2)
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
        case let .cnn(s, l2):
            try Kernels.cnnGradients(
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
        case let .cnn(s, _):
            let z = try Kernels.cnnLogits(
                shape: s, features: x, parameters: try Matrix(rows: 1, cols: theta.count, storage: theta), rows: [rows])[0]
            return rows.indices.map { Self.argmax(z[($0 * s.classes)..<(($0 + 1) * s.classes)]) }
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
        case let .cnn(s, _):
            // Every model on the same rows: one parallel pass over (model, chunk) pairs.
            let z = try Kernels.cnnLogits(shape: s, features: x, parameters: thetas, rows: [[Int]](repeating: rows, count: m))
            return z.map { za in
                let right = rows.indices.filter { q in Self.argmax(za[(q * s.classes)..<((q + 1) * s.classes)]) == labels[rows[q]] }
                return Double(right.count) / Double(rows.count)
            }
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
