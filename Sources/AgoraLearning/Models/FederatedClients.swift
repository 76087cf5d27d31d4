import AgoraKernels
import Foundation

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
        guard testFraction >= 0, testFraction < 1 else {
            throw AgoraError.data(file: data.name, "test fraction must be in [0, 1), got \(testFraction)")
        }
        var tr: [[Int]] = [], te: [[Int]] = []
        for (c, rows) in partition.enumerated() {
            guard !rows.isEmpty else { throw AgoraError.data(file: data.name, "client \(c) has no rows") }
            var rng = SeededGenerator(seed: seed, stream: 0x7E57 + UInt64(c))
            var r = rows
            r.shuffle(using: &rng)
            var nt = Int((Double(r.count) * testFraction).rounded())
            if testFraction > 0, r.count >= 2 { nt = min(max(nt, 1), r.count - 1) }
            tr.append(Array(r[..<(r.count - nt)]))
            te.append(Array(r[(r.count - nt)...]))
        }
        self.data = data
        self.model = model
        self.train = tr
        self.test = te
        self.x = data.features
        if case let .linear(m) = model { targets = try m.targets(data).map(Float.init) } else { targets = [] }
    }

    /// E steps of momentum SGD (PyTorch convention, fresh velocity each call) on every client with
    /// `training[i]`, minimising L_i(theta) + (strength_i / 2) ||theta - centre_i||^2. Mini-batches are
    /// drawn from each client's own seeded stream, so results do not depend on the thread count.
    /// With `only`, just those clients train and draw batches (the others' rows and streams are
    /// left as they are: another process trains them, see `RowPlacement`).
    public func train(
        _ theta: inout Matrix<Float>, steps: Int, batch: Int, optimizer: MomentumSGD,
        centres: Matrix<Float>? = nil, strengths: [Float]? = nil, training: [Bool],
        rngs: inout [SeededGenerator], only: Range<Int>? = nil, checkFinite: Bool = true
    ) throws {
        let m = theta.rows, p = theta.cols
        guard m == count, p == parameterCount, training.count == m, rngs.count == m else {
            throw AgoraError.shape(
                "train: \(m) x \(p) parameters, \(training.count) flags, \(rngs.count) streams for \(count) clients with \(parameterCount) parameters"
            )
        }
        if let centres {
            guard centres.rows == m, centres.cols == p, strengths?.count == m else {
                throw AgoraError.shape("train: centres must be \(m) x \(p) with \(m) strengths")
            }
        }
        var opt = optimizer
        let mask = only.map { r in training.indices.map { training[$0] && r.contains($0) } } ?? training
        var g = Matrix<Float>(rows: m, cols: p), losses = [Float](repeating: 0, count: m)
        for _ in 0..<steps {
            // Clients outside `only` (another process's) get no batch and draw nothing.
            let batches = (0..<m).map { i in
                only.map { $0.contains(i) } ?? true ? (0..<batch).map { _ in train[i][Int(rngs[i].next() % UInt64(train[i].count))] } : []
            }
            try model.gradients(
                features: x, labels: data.labels, targets: targets, parameters: theta, batches: batches,
                gradients: &g, losses: &losses)
            if let centres, let s = strengths {
                // g_i += s_i (theta_i - c_i), as two scaled-row updates in the kernels.
                Kernels.subtractScaledRows(s.map { -$0 }, theta, from: &g)
                Kernels.subtractScaledRows(s, centres, from: &g)
            }
            // Clients that do not train keep their parameters (and velocities) exactly.
            try opt.step(&theta, gradients: g, rows: mask)
        }
        if checkFinite { try Self.checkFinite(theta) }
    }

    /// Throws when a model has left the finite numbers (what `train` checks after its steps).
    public static func checkFinite(_ theta: Matrix<Float>) throws {
        if let row = Kernels.firstNonFiniteRow(theta) {
            throw AgoraError.numerical("local training diverged (client \(row)'s parameters are not finite): lower the learning rate")
        }
    }

    /// Mean loss (with the model's L2 term) of each client's own row of `theta` on its own test rows:
    /// a smoother criterion than accuracy on small held-out parts.
    public func testLosses(_ theta: Matrix<Float>) throws -> [Double] {
        try losses(theta, on: test)
    }

    /// Mean loss (with the L2 term) of row a of `theta` on the rows `batches[a]`, for every row:
    /// e.g. every client's model on one client's validation rows.
    public func losses(_ theta: Matrix<Float>, on batches: [[Int]]) throws -> [Double] {
        var g = Matrix<Float>(rows: theta.rows, cols: theta.cols), l = [Float](repeating: 0, count: theta.rows)
        try model.gradients(
            features: x, labels: data.labels, targets: targets, parameters: theta, batches: batches, gradients: &g, losses: &l)
        return l.map(Double.init)
    }

    /// The reference code's accuracy: each client's model on the pooled test rows of every client,
    /// class by class, weighted by the client's own training label distribution
    /// (sum_c p_i(c) acc_i(class c)). Classes with no pooled test row are left out (and the weights
    /// renormalised).
    public func labelWeightedAccuracies(_ theta: Matrix<Float>) throws -> [Double] {
        let classes = data.classes
        var pooled = [[Int]](repeating: [], count: classes)
        for rows in test { for r in rows { pooled[data.labels[r]].append(r) } }
        return try (0..<count).map { i in
            var share = [Double](repeating: 0, count: classes)
            for r in train[i] { share[data.labels[r]] += 1 }
            let row = theta.row(i)
            var acc = 0.0, weight = 0.0
            for c in 0..<classes where share[c] > 0 && !pooled[c].isEmpty {
                acc += share[c] * (try model.accuracy(row, features: x, labels: data.labels, rows: pooled[c]))
                weight += share[c]
            }
            return weight > 0 ? acc / weight : .nan
        }
    }

    /// accuracies[i][a]: row a of `theta` on the rows `rows[i]` (e.g. every uploaded model on each
    /// client's training rows); NaN for an empty row list.
    public func crossAccuracies(_ theta: Matrix<Float>, on rows: [[Int]]) throws -> [[Double]] {
        try rows.map { r in try model.accuracies(theta, features: x, labels: data.labels, rows: r) }
    }

    /// Test accuracy of each client's own row of `theta` on its own test rows.
    public func accuracies(_ theta: Matrix<Float>) throws -> [Double] {
        try accuracies(theta, on: test)
    }

    /// Accuracy of row i of `theta` on the rows `rows[i]`, for every row.
    public func accuracies(_ theta: Matrix<Float>, on rows: [[Int]]) throws -> [Double] {
        try rows.indices.map { i in try model.accuracy(theta.row(i), features: x, labels: data.labels, rows: rows[i]) }
    }
}
