import AgoraKernels
import Foundation

extension ModelFamily {
    /// The model family a classification data set calls for: binary logistic regression for two
    /// classes, softmax regression otherwise, or a one-hidden-layer MLP when `hidden` > 0.
    public static func classifier(for data: Dataset, hidden: Int = 0, l2: Double) throws -> ModelFamily {
        guard data.classes >= 2 else { throw DataError(file: data.name, "classification needs at least 2 classes, the data has \(data.classes)") }
        if hidden > 0 { return .mlp(MLPShape(inputs: data.features.cols, hidden: hidden, classes: data.classes), l2: l2) }
        if data.classes == 2 { return .linear(LinearModel(loss: .logistic, l2: l2)) }
        return .softmax(classes: data.classes, l2: l2)
    }

    /// Mini-batch gradients and losses for every row of `theta` at once (one batch per row), through
    /// the batched kernels. `targets` are the real-valued targets of linear models (from
    /// `LinearModel.targets`), ignored otherwise.
    public func gradients(features x: FeatureRows<Float>, labels: [Int], targets: [Float], parameters theta: Matrix<Float>,
                          batches: [[Int]], gradients g: inout Matrix<Float>, losses: inout [Float]) throws {
        switch self {
        case let .linear(m):
            try Kernels.glmGradients(loss: m.loss, l2: Float(m.l2), features: x, targets: targets, parameters: theta,
                                     batches: batches, gradients: &g, losses: &losses)
        case let .softmax(k, l2):
            try Kernels.softmaxGradients(classes: k, l2: Float(l2), features: x, labels: labels, parameters: theta,
                                         batches: batches, gradients: &g, losses: &losses)
        case let .mlp(s, l2):
            try Kernels.mlpGradients(shape: s, l2: Float(l2), features: x, labels: labels, parameters: theta,
                                     batches: batches, gradients: &g, losses: &losses)
        }
    }

    /// The predicted class of each row in `rows` (scores through `FeatureRows.blockDots`).
    public func predict(_ theta: [Float], features x: FeatureRows<Float>, rows: [Int]) throws -> [Int] {
        func argmax(_ z: ArraySlice<Float>) -> Int {
            var best = z.startIndex, bz = -Float.infinity
            for c in z.indices where z[c] > bz { bz = z[c]; best = c }
            return best - z.startIndex
        }
        switch self {
        case .linear:
            return try x.blockDots(rows: rows, weights: theta, blocks: 1).map { $0 > 0 ? 1 : 0 }
        case let .softmax(k, _):
            let z = try x.blockDots(rows: rows, weights: theta, blocks: k)
            return rows.indices.map { argmax(z[($0 * k)..<(($0 + 1) * k)]) }
        case let .mlp(s, _):
            let pre = try x.blockDots(rows: rows, weights: theta, blocks: s.hidden)
            return rows.indices.map { r in
                let hid = (0..<s.hidden).map { j in max(0, pre[r * s.hidden + j] + theta[s.b1 + j]) }
                let z = (0..<s.classes).map { c in (0..<s.hidden).reduce(theta[s.b2 + c]) { $0 + theta[s.w2 + c * s.hidden + $1] * hid[$1] } }
                return argmax(z[...])
            }
        }
    }

    /// Fraction of `rows` classified correctly (NaN for no rows).
    public func accuracy(_ theta: [Float], features x: FeatureRows<Float>, labels: [Int], rows: [Int]) throws -> Double {
        if rows.isEmpty { return .nan }
        let p = try predict(theta, features: x, rows: rows)
        return Double(zip(p, rows).filter { $0.0 == labels[$0.1] }.count) / Double(rows.count)
    }
}

/// Clients of a federated simulation: one data set, each client's train and test rows, and local
/// SGD on all clients at once (every client's parameters are one row of a matrix).
public struct FederatedClients: Sendable {
    public let data: Dataset
    public let model: ModelFamily
    public let train: [[Int]]
    public let test: [[Int]]
    let x: FeatureRows<Float>
    let targets: [Float]
    public var count: Int { train.count }
    public var parameterCount: Int { model.parameterCount(features: data.features.cols) }

    /// Splits each client's rows (from a `Partition`) into train and test parts: a seeded shuffle,
    /// then the last `testFraction` (at least one row when the client has two or more) for testing.
    public init(data: Dataset, model: ModelFamily, partition: [[Int]], testFraction: Double, seed: UInt64) throws {
        guard testFraction >= 0, testFraction < 1 else { throw DataError(file: data.name, "test fraction must be in [0, 1), got \(testFraction)") }
        var tr: [[Int]] = [], te: [[Int]] = []
        for (c, rows) in partition.enumerated() {
            guard !rows.isEmpty else { throw DataError(file: data.name, "client \(c) has no rows") }
            var rng = SeededGenerator(seed: seed, stream: 0x7E57 + UInt64(c))
            var r = rows
            r.shuffle(using: &rng)
            var nt = Int((Double(r.count) * testFraction).rounded())
            if testFraction > 0, r.count >= 2 { nt = min(max(nt, 1), r.count - 1) }
            tr.append(Array(r[..<(r.count - nt)]))
            te.append(Array(r[(r.count - nt)...]))
        }
        self.data = data; self.model = model; self.train = tr; self.test = te
        self.x = data.features.float
        if case let .linear(m) = model { targets = try m.targets(data).map(Float.init) } else { targets = [] }
    }

    /// E steps of momentum SGD (PyTorch convention, fresh velocity each call) on every client with
    /// `training[i]`, minimising L_i(theta) + (strength_i / 2) ||theta - centre_i||^2. Mini-batches are
    /// drawn from each client's own seeded stream, so results do not depend on the thread count.
    public func train(_ theta: inout Matrix<Float>, steps: Int, batch: Int, optimizer: MomentumSGD,
                      centres: Matrix<Float>? = nil, strengths: [Float]? = nil, training: [Bool],
                      rngs: inout [SeededGenerator]) throws {
        let m = theta.rows, p = theta.cols
        guard m == count, p == parameterCount, training.count == m, rngs.count == m else {
            throw ShapeError("train: \(m) x \(p) parameters, \(training.count) flags, \(rngs.count) streams for \(count) clients with \(parameterCount) parameters")
        }
        if let centres { guard centres.rows == m, centres.cols == p, strengths?.count == m else { throw ShapeError("train: centres must be \(m) x \(p) with \(m) strengths") } }
        var opt = optimizer
        var g = Matrix<Float>(rows: m, cols: p), losses = [Float](repeating: 0, count: m)
        for _ in 0..<steps {
            let batches = (0..<m).map { i in (0..<batch).map { _ in train[i][Int(rngs[i].next() % UInt64(train[i].count))] } }
            try model.gradients(features: x, labels: data.labels, targets: targets, parameters: theta, batches: batches,
                                gradients: &g, losses: &losses)
            if let centres, let s = strengths {
                // g_i += s_i (theta_i - c_i), as two scaled-row updates in the kernels.
                Kernels.subtractScaledRows(s.map { -$0 }, theta, from: &g)
                Kernels.subtractScaledRows(s, centres, from: &g)
            }
            // Clients that do not train keep their parameters (and velocities) exactly.
            try opt.step(&theta, gradients: g, rows: training)
        }
        for v in theta.storage where !v.isFinite {
            throw ShapeError("local training diverged (non-finite parameters): lower the learning rate")
        }
    }

    /// Test accuracy of each client's own row of `theta` on its own test rows.
    public func accuracies(_ theta: Matrix<Float>) throws -> [Double] {
        try (0..<count).map { i in try model.accuracy(theta.row(i), features: x, labels: data.labels, rows: test[i]) }
    }
}

/// Euclidean projection onto the probability simplex {x >= 0, sum x = 1} (sort-based, O(n log n)):
/// x_i = max(v_i - tau, 0) with tau chosen so the result sums to one. pFedGraph's per-client QP
/// (identity quadratic term) is exactly this projection.
public func projectOntoSimplex(_ v: [Double]) -> [Double] {
    if v.isEmpty { return [] }
    let u = v.sorted(by: >)
    var cumulative = 0.0, tau = 0.0
    for (k, uk) in u.enumerated() {
        cumulative += uk
        let t = (cumulative - 1) / Double(k + 1)
        if uk - t > 0 { tau = t }
    }
    return v.map { max($0 - tau, 0) }
}
