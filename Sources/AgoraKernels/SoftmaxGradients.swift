extension Kernels {
    /// Mini-batch gradients of L2-regularised multinomial softmax regression for every agent.
    ///
    /// Parameters of one agent are K weight rows of length d, stored flat ([K x d] row-major, so the
    /// agent's row of `parameters` has K d entries). Loss: mean of -log softmax(W x)_y plus
    /// (l2/2) ||W||^2. `labels` are class indices 0..<K. Logits are shifted by their maximum before
    /// exponentiation (no overflow). Same parallel and ordering guarantees as `glmGradients`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func softmaxGradients<T: AgoraScalar>(
        classes k: Int, l2: T, features x: FeatureRows<T>, labels: [Int], parameters theta: Matrix<T>,
        batches: [[Int]], gradients g: inout Matrix<T>, losses: inout [T], pool: ThreadPool = .shared
    ) throws {
        let d = x.cols
        guard k >= 2 else { throw AgoraError.shape("softmaxGradients: need at least 2 classes, got \(k)") }
        guard theta.cols == k * d, g.cols == k * d, g.rows == theta.rows, batches.count == theta.rows, losses.count == theta.rows else {
            throw AgoraError.shape(
                "softmaxGradients: parameters \(theta.rows) x \(theta.cols) and gradients \(g.rows) x \(g.cols) must be agents x (classes * features) = \(batches.count) x \(k * d), one batch and loss per agent"
            )
        }
        try checkLabels(labels, rows: x.rows, classes: k, kernel: "softmaxGradients")
        try checkBatches(batches, rows: x.rows, kernel: "softmaxGradients")
        let traffic = batchTraffic(batches, cols: d, passes: k, T.self)
        x.withRowAccess { rows in
            perAgentGradients(
                parameters: theta, gradients: &g, losses: &losses, batches: batches, l2: l2,
                bytes: traffic, pool: pool
            ) { a, th, gr in
                var z = [Double](repeating: 0, count: k)
                var total = 0.0
                rows.forEachPrefetched(batches[a]) { i in
                    var zmax = -Double.infinity
                    for c in 0..<k {
                        z[c] = Double(rows.dot(row: i, th + c * d))
                        zmax = max(zmax, z[c])
                    }
                    var sum = 0.0
                    for c in 0..<k {
                        z[c] = Math.exp(z[c] - zmax)
                        sum += z[c]
                    }
                    let y = labels[i]
                    total += -Math.log(z[y] / sum)
                    // Gradient: (p_c - 1[c = y]) x for each class.
                    for c in 0..<k { rows.addScaled(row: i, T(z[c] / sum - (c == y ? 1 : 0)), into: gr + c * d) }
                }
                return total
            }
        }
    }
}
