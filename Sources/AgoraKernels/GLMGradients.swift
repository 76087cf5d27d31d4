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

    /// `derivative` of four examples at once (the logistic's exponential on lanes of
    /// `Kernels.fastExp(SIMD8)`): each lane equals the scalar function bit for bit (tests). The
    /// scalar form is a chain of dependent operations per example; four in lanes overlap.
    @inline(__always)
    public func derivatives(_ z: SIMD4<Double>, _ y: SIMD4<Double>) -> SIMD4<Double> {
        switch self {
        case .logistic:
            let m = -y * z
            // -|m| by setting the sign bit (what -abs(m) gives, NaN and -0 included).
            let negAbs = unsafeBitCast(unsafeBitCast(m, to: SIMD4<UInt64>.self) | 0x8000_0000_0000_0000, to: SIMD4<Double>.self)
            let e = Kernels.fastExp(SIMD8(lowHalf: negAbs, highHalf: .zero)).lowHalf
            let s = (e / (1 + e)).replacing(with: 1 / (1 + e), where: m .> 0)
            return -y * s
        case .squared: return z - y
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
                loss, count: range.count, scratch: scratch, list: nil, first: range.lowerBound,
                WideMargins(rows: rows, w: w, y: targets))
        }
        let inv = 1 / Double(x.rows)
        return (pass.lossSum * inv + 0.5 * l2 * norm, loss == .logistic ? Double(pass.correct) * inv : nil)
    }

    /// Doubles of scratch `lossSum` needs.
    static let lossScratch = 24

    /// The sum over `count` rows (the k-th is `list[k]`, or `first + k` without a list) of
    /// l(x . w, y) in row order, the logistic loss's exponential and logarithm taken eight rows at a
    /// time (`logisticLosses`, equal to the scalar formula lane by lane), and how many rows have
    /// y x . w > 0. The margins come four rows at a time (`MarginSource.margins4`, each equal to
    /// `margin` of its row: independent dots overlap), the rest one by one. `scratch` holds
    /// `lossScratch` doubles. The one loop of `glmObjective`, `glmBatchLosses` and the pooled pass;
    /// generic over the margin source (specialized: no call per row).
    @inline(__always)
    static func lossSum<M: MarginSource>(
        _ loss: GLMLoss, count: Int, scratch m: UnsafeMutablePointer<Double>, list: UnsafePointer<Int>?, first: Int, _ source: M
    ) -> (total: Double, right: Int) {
        let l = m + 8, z = m + 16
        var total = 0.0, right = 0, j = 0
        @inline(__always) func row(_ k: Int) -> Int { list.map { $0[k] } ?? first + k }
        while j < count {
            let c = min(8, count - j)
            var q = 0
            while q + 4 <= c {
                (z[q], z[q + 1], z[q + 2], z[q + 3]) = source.margins4(row(j + q), row(j + q + 1), row(j + q + 2), row(j + q + 3))
                q += 4
            }
            while q < c {
                z[q] = source.margin(row(j + q))
                q += 1
            }
            if c == 8 {
                // A full group: targets gathered, then the products, signs and margins in one
                // vector (the same operations lane by lane as the scalar loop below).
                let y = SIMD8<Double>(
                    source.target(row(j)), source.target(row(j + 1)), source.target(row(j + 2)), source.target(row(j + 3)),
                    source.target(row(j + 4)), source.target(row(j + 5)), source.target(row(j + 6)), source.target(row(j + 7)))
                let zv = loadVec8(z)
                right += Int(SIMD8<Int64>.zero.replacing(with: 1, where: (zv * y) .> 0).wrappedSum())
                storeVec8(loss == .logistic ? -y * zv : 0.5 * (zv - y) * (zv - y), m)
            } else {
                for q in 0..<c {
                    let zi = z[q], yi = source.target(row(j + q))
                    if zi * yi > 0 { right += 1 }
                    m[q] = loss == .logistic ? -yi * zi : 0.5 * (zi - yi) * (zi - yi)
                }
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
        try batchLossPass(
            "glmBatchLosses", loss: loss, l2: l2, features: x, targets: y, parameters: theta, batches: batches, pooled: nil, pool: pool
        ).losses
    }

    /// `glmBatchLosses` and, in the same pass over the rows, the loss of one more model (`pooled`,
    /// in Double: the network average) on every batch's rows: per agent its sum over its rows in
    /// batch order and how many rows it classifies right, then the sums in agent order. When the
    /// batches cover every row once, that is the pooled objective's loss sum (what `glmObjective`
    /// sums in blocks of rows; equal up to rounding) at half the memory traffic of two passes: an
    /// evaluation reads the data once. Rows of an agent are read twice, the second time from cache.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func glmBatchAndPooledLosses<T: AgoraScalar>(
        loss: GLMLoss, l2: T, features x: FeatureRows<T>, targets y: [T], parameters theta: Matrix<T>, batches: [[Int]],
        pooled: [Double], pooledTargets: [Double], pool: ThreadPool = .shared
    ) throws -> (losses: [T], pooledLossSum: Double, pooledCorrect: Int) {
        guard pooled.count == x.cols, pooledTargets.count == x.rows else {
            throw AgoraError.shape(
                "glmBatchAndPooledLosses: \(pooled.count) pooled parameters and \(pooledTargets.count) targets for \(x.rows) rows x \(x.cols) features"
            )
        }
        let r = try pooled.withUnsafeBufferPointer { pb in
            try pooledTargets.withUnsafeBufferPointer { yb in
                try batchLossPass(
                    "glmBatchAndPooledLosses", loss: loss, l2: l2, features: x, targets: y, parameters: theta, batches: batches,
                    pooled: (pb.baseAddress!, yb.baseAddress!), pool: pool)
            }
        }
        var total = 0.0, correct = 0
        for (sum, right) in r.pooled {
            total += sum
            correct += right
        }
        return (r.losses, total, correct)
    }

    /// The one pass of `glmBatchLosses` and `glmBatchAndPooledLosses`.
    @inline(__always)
    static func batchLossPass<T: AgoraScalar>(
        _ kernel: String, loss: GLMLoss, l2: T, features x: FeatureRows<T>, targets y: [T], parameters theta: Matrix<T>,
        batches: [[Int]], pooled: (theta: UnsafePointer<Double>, targets: UnsafePointer<Double>)?, pool: ThreadPool
    ) throws -> (losses: [T], pooled: [(Double, Int)]) {
        let d = x.cols, agents = theta.rows
        guard theta.cols == d, batches.count == agents, y.count == x.rows else {
            throw AgoraError.shape(
                "\(kernel): parameters \(theta.rows) x \(theta.cols), \(batches.count) batches, \(y.count) targets for \(x.rows) rows x \(d) features"
            )
        }
        try checkBatches(batches, rows: x.rows, kernel: kernel)
        var out = [T](repeating: 0, count: agents)
        var sums = [(Double, Int)](repeating: (0, 0), count: agents)
        guard agents > 0, d > 0 else { return (out, pooled == nil ? [] : sums) }
        let traffic = batchTraffic(batches, cols: d, passes: pooled == nil ? 1 : 2, T.self)
        theta.storage.withUnsafeBufferPointer { tb in
            y.withUnsafeBufferPointer { yb in
                out.withUnsafeMutableBufferPointer { ob in
                    sums.withUnsafeMutableBufferPointer { sb in
                        let tp = tb.baseAddress!, targets = yb.baseAddress!, lp = ob.baseAddress!
                        let sp = SendablePointer(sb.baseAddress!)
                        x.withRowAccess { rows in
                            pool.parallelFor(agents, bytes: traffic) { range in
                                withUnsafeTemporaryAllocation(of: Double.self, capacity: lossScratch) { buf in
                                    for a in range {
                                        let th = tp + a * d
                                        // Losses eight rows at a time (`lossSum`), in batch order: the
                                        // scalar loop's sum, bit for bit.
                                        batches[a].withUnsafeBufferPointer { list in
                                            let total = lossSum(
                                                loss, count: list.count, scratch: buf.baseAddress!, list: list.baseAddress, first: 0,
                                                NarrowMargins(rows: rows, w: th, y: targets)
                                            ).total
                                            if let (w, py) = pooled {
                                                let r = lossSum(
                                                    loss, count: list.count, scratch: buf.baseAddress!, list: list.baseAddress, first: 0,
                                                    WideMargins(rows: rows, w: w, y: py))
                                                sp.p[a] = (r.total, r.right)
                                            }
                                            // The regulariser as perAgentGradientsRaw sums it (16-lane
                                            // partial sums).
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
                                            let nb = list.count
                                            lp[a] = T(nb > 0 ? total / Double(nb) : 0) + l2 / 2 * reg
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (out, pooled == nil ? [] : sums)
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
                    func scale(_ i: Int, _ zt: T) -> T {
                        let z = zt.wide
                        if computeLosses {
                            let (l, d) = loss.evaluate(z, y[i].wide)
                            total += l
                            return T(d)
                        }
                        return T(loss.derivative(z, y[i].wide))
                    }
                    rows.forEachDenseBlock(
                        batches[a], th, into: gr, scale,
                        scale4: { r, z in
                            // Without losses the four derivatives go in lanes (bit-identical to the
                            // scalar ones); with losses row by row, the loss sum in row order.
                            if computeLosses { return (scale(r.0, z.0), scale(r.1, z.1), scale(r.2, z.2), scale(r.3, z.3)) }
                            let d = loss.derivatives(
                                SIMD4(z.0.wide, z.1.wide, z.2.wide, z.3.wide), SIMD4(y[r.0].wide, y[r.1].wide, y[r.2].wide, y[r.3].wide))
                            return (T(d[0]), T(d[1]), T(d[2]), T(d[3]))
                        })
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

/// Where `Kernels.lossSum` gets a row's margin and target.
protocol MarginSource {
    func margin(_ row: Int) -> Double
    func margins4(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> (Double, Double, Double, Double)
    func target(_ row: Int) -> Double
}

/// Margins in Double of Double parameters (`RowAccess.dotWide`): the pooled objective's.
struct WideMargins<T: AgoraScalar>: MarginSource {
    let rows: RowAccess<T>
    let w: UnsafePointer<Double>
    let y: UnsafePointer<Double>
    @inline(__always) func margin(_ row: Int) -> Double { rows.dotWide(row: row, w) }
    @inline(__always) func margins4(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> (Double, Double, Double, Double) {
        rows.dotWide4(rows: a, b, c, d, w)
    }
    @inline(__always) func target(_ row: Int) -> Double { y[row] }
}

/// Margins in the rows' own type, widened (`RowAccess.dot`): an agent's, as its gradients see them.
struct NarrowMargins<T: AgoraScalar>: MarginSource {
    let rows: RowAccess<T>
    let w: UnsafePointer<T>
    let y: UnsafePointer<T>
    @inline(__always) func margin(_ row: Int) -> Double { rows.dot(row: row, w).wide }
    @inline(__always) func margins4(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> (Double, Double, Double, Double) {
        rows.dot4Wide(rows: a, b, c, d, w)
    }
    @inline(__always) func target(_ row: Int) -> Double { y[row].wide }
}
