/// Layout of a one-hidden-layer ReLU network's parameters in one flat row:
/// W1 [hidden x inputs], b1 [hidden], W2 [classes x hidden], b2 [classes].
public struct MLPShape: Sendable, Codable, Equatable {
    public var inputs: Int, hidden: Int, classes: Int
    public init(inputs: Int, hidden: Int, classes: Int) {
        self.inputs = inputs
        self.hidden = hidden
        self.classes = classes
    }
    public var w1: Int { 0 }
    public var b1: Int { hidden * inputs }
    public var w2: Int { b1 + hidden }
    public var b2: Int { w2 + classes * hidden }
    public var parameterCount: Int { b2 + classes }
}

extension Kernels {
    /// Mini-batch gradients of a one-hidden-layer ReLU network with a softmax output, for every
    /// agent at once (row a of `parameters` is agent a's flat parameter vector, see `MLPShape`).
    /// Loss: mean cross-entropy plus (l2/2) ||weights||^2 (biases are not decayed). ReLU'(0) = 0.
    /// Same parallel and ordering guarantees as `glmGradients`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func mlpGradients<T: AgoraScalar>(
        shape s: MLPShape, l2: T, features x: FeatureRows<T>, labels: [Int], parameters theta: Matrix<T>,
        batches: [[Int]], gradients g: inout Matrix<T>, losses: inout [T], pool: ThreadPool = .shared
    ) throws {
        let d = x.cols, h = s.hidden, k = s.classes, p = s.parameterCount
        guard s.inputs == d, h >= 1, k >= 2 else {
            throw AgoraError.shape(
                "mlpGradients: shape \(s.inputs) -> \(s.hidden) -> \(s.classes) does not fit \(d) features (need hidden >= 1, classes >= 2)"
            )
        }
        guard theta.cols == p, g.cols == p, g.rows == theta.rows, batches.count == theta.rows, losses.count == theta.rows else {
            throw AgoraError.shape(
                "mlpGradients: parameters \(theta.rows) x \(theta.cols) and gradients \(g.rows) x \(g.cols) must be agents x \(p), one batch and loss per agent"
            )
        }
        try checkLabels(labels, rows: x.rows, classes: k, kernel: "mlpGradients")
        try checkBatches(batches, rows: x.rows, kernel: "mlpGradients")
        let traffic = batchTraffic(batches, cols: d, passes: h, T.self)
        // Weights decay, biases do not.
        let decayed: (Int) -> Bool = { q in q < s.b1 || (q >= s.w2 && q < s.b2) }
        x.withRowAccess { rows in
            perAgentGradients(
                parameters: theta, gradients: &g, losses: &losses, batches: batches, l2: l2,
                decayed: decayed, bytes: traffic, pool: pool
            ) { a, th, gr in
                var act = [T](repeating: 0, count: h), relu = act, dr = act
                var z = [Double](repeating: 0, count: k)
                var total = 0.0
                rows.forEachPrefetched(batches[a]) { i in
                    // Hidden pre-activations a = W1 x + b1.
                    for j in 0..<h { act[j] = rows.dot(row: i, th + s.w1 + j * d) + th[s.b1 + j] }
                    for j in 0..<h { relu[j] = act[j] > 0 ? act[j] : 0 }
                    var zmax = -Double.infinity
                    for c in 0..<k {
                        var v = th[s.b2 + c]
                        for j in 0..<h { v += th[s.w2 + c * h + j] * relu[j] }
                        z[c] = Double(v)
                        zmax = max(zmax, z[c])
                    }
                    var sum = 0.0
                    for c in 0..<k {
                        z[c] = Math.exp(z[c] - zmax)
                        sum += z[c]
                    }
                    let y = labels[i]
                    total += -Math.log(z[y] / sum)
                    for j in 0..<h { dr[j] = 0 }
                    for c in 0..<k {
                        let dz = T(z[c] / sum - (c == y ? 1 : 0))
                        gr[s.b2 + c] += dz
                        for j in 0..<h {
                            gr[s.w2 + c * h + j] += dz * relu[j]
                            dr[j] += dz * th[s.w2 + c * h + j]
                        }
                    }
                    for j in 0..<h where act[j] > 0 {
                        gr[s.b1 + j] += dr[j]
                        rows.addScaled(row: i, dr[j], into: gr + s.w1 + j * d)
                    }
                }
                return total
            }
        }
    }
}
