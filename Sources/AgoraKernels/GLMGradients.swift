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
            // One exponential serves both: e = exp(-|m|), m = -y z. Inline polynomials instead of
            // libm calls (Kernels.fastExp, fastLog1p: under 1.5 ulp), one per example.
            let m = -y * z
            let e = Kernels.fastExp(-abs(m))
            let loss = max(m, 0) + Kernels.fastLog1p(unit: e)
            let s = m > 0 ? 1 / (1 + e) : e / (1 + e)  // sigma(m) = sigma(-y z)
            return (loss, -y * s)
        case .squared:
            let r = z - y
            return (0.5 * r * r, r)
        }
    }

    /// The loss alone (evaluations: no derivative needed).
    @inline(__always)
    public func value(_ z: Double, _ y: Double) -> Double {
        switch self {
        case .logistic:
            let m = -y * z
            return max(m, 0) + Kernels.fastLog1p(unit: Kernels.fastExp(-abs(m)))
        case .squared:
            let r = z - y
            return 0.5 * r * r
        }
    }

    /// The derivative in z alone (one exponential, no logarithm): for loops that do not need the loss.
    @inline(__always)
    public func derivative(_ z: Double, _ y: Double) -> Double {
        switch self {
        case .logistic:
            // -y sigma(-y z), from e = exp(-|y z|) (never overflows).
            let m = -y * z
            let e = Kernels.fastExp(-abs(m))
            return -y * (m > 0 ? 1 / (1 + e) : e / (1 + e))
        case .squared: return z - y
        }
    }
}

extension Kernels {
    /// The full-data objective (1/n) sum_i l(x_i . theta, y_i) + (l2/2) ||theta||^2 of one model
    /// and, for the logistic loss, its accuracy (the share of rows with y_i x_i . theta > 0), in one
    /// pass over the rows and without a gradient: what an evaluation reports. Rows in fixed blocks
    /// (`fullDataPass`), each summed in row order with the logistic loss eight rows at a time
    /// (`lossSum`): the result does not depend on the thread count.
    ///
    /// Rows of any scalar type, parameters and sums in Double (`RowAccess.dotWide`: Float rows
    /// are read exactly as a Double copy of them would be).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func glmObjective<T: AgoraScalar>(
        loss: GLMLoss, l2: Double, features x: FeatureRows<T>, targets y: [Double], parameters theta: [Double],
        pool: ThreadPool = .shared
    ) throws -> (value: Double, accuracy: Double?) {
        let norm = theta.reduce(0.0) { $0 + $1 * $1 }
        if x.rows == 0, theta.count == x.cols, y.isEmpty { return (0.5 * l2 * norm, nil) }
        let pass = try fullDataPass(
            "glmObjective", features: x, targets: y, parameters: theta, extraPerBlock: 0, pool: pool
        ) { rows, w, targets, range, _, scratch in
            lossSum(
                loss, count: range.count, scratch: scratch, row: { range.lowerBound + $0 }, margin: { rows.dotWide(row: $0, w) },
                target: { targets[$0] })
        }
        let inv = 1 / Double(x.rows)
        return (pass.lossSum * inv + 0.5 * l2 * norm, loss == .logistic ? Double(pass.correct) * inv : nil)
    }

    /// The sum over `count` rows (the k-th is `row(k)`) of l(x . w, y) in row order, the logistic
    /// loss's exponential and logarithm taken eight rows at a time (`logisticLosses`, equal to the
    /// scalar formula lane by lane), and how many rows have y x . w > 0. `scratch` holds 16
    /// doubles. The one loop of `glmObjective` and `glmBatchLosses`.
    @inline(__always)
    static func lossSum(
        _ loss: GLMLoss, count: Int, scratch m: UnsafeMutablePointer<Double>, row: (Int) -> Int,
        margin: (Int) -> Double, target: (Int) -> Double
    ) -> (total: Double, right: Int) {
        let l = m + 8
        var total = 0.0, right = 0, j = 0
        while j < count {
            let c = min(8, count - j)
            for q in 0..<c {
                let i = row(j + q)
                let z = margin(i), yi = target(i)
                if z * yi > 0 { right += 1 }
                m[q] = loss == .logistic ? -yi * z : 0.5 * (z - yi) * (z - yi)
            }
            if loss == .logistic {
                logisticLosses(m, count: c, into: l)
                for q in 0..<c { total += l[q] }
            } else {
                for q in 0..<c { total += m[q] }
            }
            j += c
        }
        return (total, right)
    }

    /// Every agent's mean loss on its batch plus (l2/2) ||theta_a||^2, without gradients: the
    /// numbers `glmGradients` writes into `losses` (the same sums in the same order, bit for bit),
    /// at half its work, for evaluations that report losses only. Agents run in parallel.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func glmBatchLosses<T: AgoraScalar>(
        loss: GLMLoss, l2: T, features x: FeatureRows<T>, targets y: [T], parameters theta: Matrix<T>, batches: [[Int]],
        pool: ThreadPool = .shared
    ) throws -> [T] {
        let d = x.cols, agents = theta.rows
        guard theta.cols == d, batches.count == agents, y.count == x.rows else {
            throw AgoraError.shape(
                "glmBatchLosses: parameters \(theta.rows) x \(theta.cols), \(batches.count) batches, \(y.count) targets for \(x.rows) rows x \(d) features"
            )
        }
        try checkBatches(batches, rows: x.rows, kernel: "glmBatchLosses")
        var out = [T](repeating: 0, count: agents)
        guard agents > 0, d > 0 else { return out }
        let traffic = batchTraffic(batches, cols: d, passes: 1, T.self)
        theta.storage.withUnsafeBufferPointer { tb in
            y.withUnsafeBufferPointer { yb in
                out.withUnsafeMutableBufferPointer { ob in
                    let tp = tb.baseAddress!, targets = yb.baseAddress!, lp = ob.baseAddress!
                    x.withRowAccess { rows in
                        pool.parallelFor(agents, bytes: traffic) { range in
                            for a in range {
                                let th = tp + a * d
                                // Losses eight rows at a time (`lossSum`), in batch order: the scalar
                                // loop's sum, bit for bit.
                                let rowsOfA = batches[a]
                                let total = withUnsafeTemporaryAllocation(of: Double.self, capacity: 16) { buf in
                                    lossSum(
                                        loss, count: rowsOfA.count, scratch: buf.baseAddress!, row: { rowsOfA[$0] },
                                        margin: { rows.dot(row: $0, th).wide }, target: { targets[$0].wide }
                                    ).total
                                }
                                // The regulariser as perAgentGradientsRaw sums it (16-lane partial sums).
                                var acc = SIMD16<T>.zero
                                var q = 0
                                while q + vecWidth <= d {
                                    let t = loadVec(th + q)
                                    acc += t * t
                                    q += vecWidth
                                }
                                var reg = horizontalSum(acc)
                                while q < d {
                                    reg += th[q] * th[q]
                                    q += 1
                                }
                                let nb = batches[a].count
                                lp[a] = T(nb > 0 ? total / Double(nb) : 0) + l2 / 2 * reg
                            }
                        }
                    }
                }
            }
        }
        return out
    }

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
                        let z = zt.wide
                        if computeLosses {
                            let (l, d) = loss.evaluate(z, y[i].wide)
                            total += l
                            return T(d)
                        }
                        return T(loss.derivative(z, y[i].wide))
                    }
                    return total
                }
                rows.forEachPrefetched(batches[a]) { i in
                    let z = rows.dot(row: i, th).wide
                    let dz: Double
                    if computeLosses {
                        let (l, d) = loss.evaluate(z, y[i].wide)
                        total += l
                        dz = d
                    } else {
                        dz = loss.derivative(z, y[i].wide)
                    }
                    rows.addScaled(row: i, T(dz), into: gr)
                }
                return total
            }
        }
    }
}
