/// The per-example loss of a generalized linear model on the margin z = x . theta.
public enum GLMLoss: String, Sendable, Codable, CaseIterable {
    /// log(1 + exp(-y z)) with y in {-1, +1}.
    case logistic
    /// (z - y)^2 / 2.
    case squared

    /// Loss and its derivative in z (computed stably for large |z|).
    @inline(__always)
    public func evaluate(_ z: Double, _ y: Double) -> (loss: Double, dz: Double) {
        switch self {
        case .logistic:
            // One exponential serves both: e = exp(-|m|), m = -y z.
            let m = -y * z
            let e = Math.exp(-abs(m))
            let loss = max(m, 0) + Math.log1p(e)
            let s = m > 0 ? 1 / (1 + e) : e / (1 + e)  // sigma(m) = sigma(-y z)
            return (loss, -y * s)
        case .squared:
            let r = z - y
            return (0.5 * r * r, r)
        }
    }

    /// The derivative in z alone (one exponential, no logarithm): for loops that do not need the loss.
    @inline(__always)
    public func derivative(_ z: Double, _ y: Double) -> Double {
        switch self {
        case .logistic: return -y / (1 + Math.exp(y * z))
        case .squared: return z - y
        }
    }
}

extension Kernels {
    /// Mini-batch gradients of an L2-regularised generalized linear model for every agent at once:
    /// row a of `gradients` becomes (1/|B_a|) sum_{i in B_a} l'(x_i . theta_a, y_i) x_i + l2 theta_a,
    /// and `losses[a]` the matching mean loss plus (l2/2) ||theta_a||^2 (only the regulariser when
    /// `computeLosses` is false: training loops skip the logarithm, which costs as much as the row).
    ///
    /// Agents run in parallel (each writes only its own row); within an agent the examples are
    /// visited in batch order, so results do not depend on the thread count. Dense rows use SIMD
    /// dot/axpy; sparse rows touch only their non-zeros. Memory-bound: it reads each batch row
    /// twice (margin, then update) while it is still in cache.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func glmGradients<T: AgoraScalar>(
        loss: GLMLoss, l2: T, features x: FeatureRows<T>, targets y: [T], parameters theta: Matrix<T>,
        batches: [[Int]], gradients g: inout Matrix<T>, losses: inout [T], computeLosses: Bool = true,
        pool: ThreadPool = .shared
    ) throws {
        let d = x.cols
        guard theta.cols == d, g.cols == d, theta.rows == g.rows, batches.count == theta.rows, losses.count == theta.rows else {
            throw AgoraError.shape(
                "glmGradients: parameters \(theta.rows) x \(theta.cols), gradients \(g.rows) x \(g.cols), \(batches.count) batches and \(losses.count) losses for \(d) features"
            )
        }
        guard y.count == x.rows else { throw AgoraError.shape("glmGradients: \(y.count) targets for \(x.rows) rows") }
        try checkBatches(batches, rows: x.rows, kernel: "glmGradients")
        guard theta.rows > 0, d > 0 else { return }
        try theta.storage.withUnsafeBufferPointer { tb in
            try g.storage.withUnsafeMutableBufferPointer { gb in
                try losses.withUnsafeMutableBufferPointer { lb in
                    try glmGradients(
                        loss: loss, l2: l2, features: x, targets: y, parameters: tb.baseAddress!, agents: theta.rows,
                        batches: batches, gradients: gb.baseAddress!, losses: lb.baseAddress!,
                        computeLosses: computeLosses, pool: pool)
                }
            }
        }
    }

    /// `glmGradients` on caller-owned row-major buffers: `parameters` and `gradients` of agents x
    /// `features.cols`, `losses` of `agents` (the C ABI's entry: no copies). The caller guarantees
    /// the buffer sizes; targets and batches are checked here.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func glmGradients<T: AgoraScalar>(
        loss: GLMLoss, l2: T, features x: FeatureRows<T>, targets y: [T], parameters: UnsafePointer<T>, agents: Int,
        batches: [[Int]], gradients: UnsafeMutablePointer<T>, losses: UnsafeMutablePointer<T>, computeLosses: Bool = true,
        pool: ThreadPool = .shared
    ) throws {
        let d = x.cols
        guard batches.count == agents else { throw AgoraError.shape("glmGradients: \(batches.count) batches for \(agents) agents") }
        guard y.count == x.rows else { throw AgoraError.shape("glmGradients: \(y.count) targets for \(x.rows) rows") }
        try checkBatches(batches, rows: x.rows, kernel: "glmGradients")
        let traffic = batchTraffic(batches, cols: d, passes: 1, T.self)
        x.withRowAccess { rows in
            perAgentGradientsRaw(
                parameters: parameters, gradients: gradients, losses: losses, agents: agents, cols: d,
                batches: batches, l2: l2, bytes: traffic, pool: pool
            ) { a, th, gr in
                var total = 0.0
                if rows.dense != nil && !isContiguous(batches[a]) {
                    // Gathered rows in blocks of four: the same numbers in the same order as the loop
                    // below. (Measured by A/B on a 2-core Zen 3: the DSGD iteration's random batches
                    // 11 % faster; contiguous batches, one stream the hardware prefetcher follows, 14 %
                    // slower in blocks, so they keep the row loop.)
                    rows.forEachDenseBlock(batches[a], th, into: gr) { i, zt in
                        let z = Double(zt)
                        if computeLosses {
                            let (l, d) = loss.evaluate(z, Double(y[i]))
                            total += l
                            return T(d)
                        }
                        return T(loss.derivative(z, Double(y[i])))
                    }
                    return total
                }
                rows.forEachPrefetched(batches[a]) { i in
                    let z = Double(rows.dot(row: i, th))
                    let dz: Double
                    if computeLosses {
                        let (l, d) = loss.evaluate(z, Double(y[i]))
                        total += l
                        dz = d
                    } else {
                        dz = loss.derivative(z, Double(y[i]))
                    }
                    rows.addScaled(row: i, T(dz), into: gr)
                }
                return total
            }
        }
    }
}
