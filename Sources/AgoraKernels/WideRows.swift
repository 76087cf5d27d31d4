// Rows of any scalar type read with Double arithmetic ("wide"): what the reference solve and the
// evaluations need on data that training keeps in Float. Float to Double is exact, so these give
// the numbers of a Double copy of the rows without holding that copy (8 bytes per stored entry:
// 3.2 GB for 10^5 agents of 200 x 20 features).

extension RowAccess {
    /// x_i . w in Double, in `fixedOrderDot`'s order (16 lanes, then the tail).
    @inline(__always)
    func dotWide(row i: Int, _ w: UnsafePointer<Double>) -> Double {
        if let dense {
            let x = dense + i * cols
            var acc = SIMD16<Double>.zero
            var k = 0
            while k + vecWidth <= cols {
                acc += T.wide(loadVec(x + k)) * loadVec(w + k)
                k += vecWidth
            }
            var s = horizontalSum(acc)
            while k < cols {
                s += x[k].wide * w[k]
                k += 1
            }
            return s
        }
        var s = 0.0
        for q in rowStart![i]..<rowStart![i + 1] { s += values![q].wide * w[Int(columns![q])] }
        return s
    }

    /// out[0..<cols] += s x_i in Double.
    @inline(__always)
    func addScaledWide(row i: Int, _ s: Double, into out: UnsafeMutablePointer<Double>) {
        if let dense {
            let x = dense + i * cols
            let sv = SIMD16<Double>(repeating: s)
            var q = 0
            while q + vecWidth <= cols {
                storeVec(loadVec(out + q) + sv * T.wide(loadVec(x + q)), out + q)
                q += vecWidth
            }
            while q < cols {
                out[q] += s * x[q].wide
                q += 1
            }
            return
        }
        for q in rowStart![i]..<rowStart![i + 1] { out[Int(columns![q])] += s * values![q].wide }
    }
}

extension Kernels {
    /// Rows per block of the full-data kernels (fixed: sums do not depend on the thread count).
    static let rowBlock = 4096

    /// The one scaffold of the full-data kernels (`glmObjective`, `glmValueAndGradient`): checks
    /// the shapes, cuts the rows into fixed blocks of `rowBlock`, runs `body` on the blocks in
    /// parallel and adds the blocks' results in block order, so nothing depends on the thread
    /// count. `body(rows, theta, targets, range, extra, scratch)` returns its block's loss sum and
    /// count of rows with y x . theta > 0; it may write its own `extraPerBlock` doubles at
    /// `extra` (summed over blocks into `extra` of the result); `scratch` holds 16 doubles.
    /// Requires at least one row.
    @inline(__always)
    static func fullDataPass<T: AgoraScalar>(
        _ kernel: String, features x: FeatureRows<T>, targets y: [Double], parameters theta: [Double], extraPerBlock: Int,
        pool: ThreadPool,
        _ body: (
            RowAccess<T>, UnsafePointer<Double>, UnsafePointer<Double>, Range<Int>, UnsafeMutablePointer<Double>,
            UnsafeMutablePointer<Double>
        )
            -> (Double, Int)
    ) throws -> (lossSum: Double, correct: Int, extra: [Double]) {
        let n = x.rows, d = x.cols
        guard theta.count == d, y.count == n, n > 0 else {
            throw AgoraError.shape("\(kernel): \(theta.count) parameters and \(y.count) targets for \(n) rows x \(d) features")
        }
        let blocks = (n + rowBlock - 1) / rowBlock
        var sums = [Double](repeating: 0, count: blocks), right = [Int](repeating: 0, count: blocks)
        var partial = [Double](repeating: 0, count: max(1, blocks * extraPerBlock))
        theta.withUnsafeBufferPointer { tb in
            y.withUnsafeBufferPointer { yb in
                sums.withUnsafeMutableBufferPointer { sb in
                    right.withUnsafeMutableBufferPointer { rb in
                        partial.withUnsafeMutableBufferPointer { pb in
                            let w = tb.baseAddress!, targets = yb.baseAddress!
                            let outS = sb.baseAddress!, outR = rb.baseAddress!, outE = pb.baseAddress!
                            x.withRowAccess { rows in
                                pool.parallelFor(blocks, bytes: n * d * MemoryLayout<T>.stride) { r in
                                    withUnsafeTemporaryAllocation(of: Double.self, capacity: 16) { scratch in
                                        for b in r {
                                            let range = (b * rowBlock)..<min(n, (b + 1) * rowBlock)
                                            (outS[b], outR[b]) = body(
                                                rows, w, targets, range, outE + b * extraPerBlock, scratch.baseAddress!)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var extra = [Double](repeating: 0, count: extraPerBlock)
        for b in 0..<blocks { for k in 0..<extraPerBlock { extra[k] += partial[b * extraPerBlock + k] } }
        return (sums.reduce(0, +), right.reduce(0, +), extra)
    }

    /// One model on all rows, in Double: f = (1/n) sum_i l(x_i . theta, y_i) + (l2/2) ||theta||^2,
    /// its gradient, and for the logistic loss the accuracy (share of rows with y_i x_i . theta > 0).
    /// Rows of any scalar type (Float data is read as Double, exactly), in fixed blocks
    /// (`fullDataPass`): deterministic on any thread count. The objective of the reference solve
    /// and of `LinearModel.evaluate`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func glmValueAndGradient<T: AgoraScalar>(
        loss: GLMLoss, l2: Double, features x: FeatureRows<T>, targets y: [Double], parameters theta: [Double],
        pool: ThreadPool = .shared
    ) throws -> (value: Double, gradient: [Double], accuracy: Double?) {
        let norm = theta.reduce(0.0) { $0 + $1 * $1 }
        if x.rows == 0, theta.count == x.cols, y.isEmpty { return (0.5 * l2 * norm, theta.map { l2 * $0 }, nil) }
        let pass = try fullDataPass(
            "glmValueAndGradient", features: x, targets: y, parameters: theta, extraPerBlock: x.cols, pool: pool
        ) { rows, w, targets, range, g, _ in
            var total = 0.0, correct = 0
            for i in range {
                let z = rows.dotWide(row: i, w), yi = targets[i]
                let (l, dz) = loss.evaluate(z, yi)
                total += l
                if z * yi > 0 { correct += 1 }
                rows.addScaledWide(row: i, dz, into: g)
            }
            return (total, correct)
        }
        let inv = 1 / Double(x.rows)
        let gradient = (0..<x.cols).map { pass.extra[$0] * inv + l2 * theta[$0] }
        return (pass.lossSum * inv + 0.5 * l2 * norm, gradient, loss == .logistic ? Double(pass.correct) * inv : nil)
    }

    /// The margins x_i . theta of every row, in Double (rows in parallel, each in a fixed order).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func wideMargins<T: AgoraScalar>(
        _ x: FeatureRows<T>, parameters theta: [Double], pool: ThreadPool = .shared
    ) throws
        -> [Double]
    {
        guard theta.count == x.cols else { throw AgoraError.shape("wideMargins: \(theta.count) parameters for \(x.cols) features") }
        var out = [Double](repeating: 0, count: x.rows)
        guard x.rows > 0 else { return out }
        theta.withUnsafeBufferPointer { tb in
            out.withUnsafeMutableBufferPointer { ob in
                let w = tb.baseAddress!, o = ob.baseAddress!
                x.withRowAccess { rows in
                    pool.parallelFor(x.rows, bytes: x.rows * x.cols * MemoryLayout<T>.stride) { r in
                        for i in r { o[i] = rows.dotWide(row: i, w) }
                    }
                }
            }
        }
        return out
    }

    /// ||x_i||^2 of every row, in Double.
    public static func wideRowSquaredNorms<T: AgoraScalar>(_ x: FeatureRows<T>) -> [Double] {
        x.withRowAccess { rows in
            (0..<x.rows).map { i in
                if let dense = rows.dense {
                    let p = dense + i * rows.cols
                    var s = 0.0
                    for k in 0..<rows.cols { s += p[k].wide * p[k].wide }
                    return s
                }
                var s = 0.0
                for q in rows.rowStart![i]..<rows.rowStart![i + 1] { s += rows.values![q].wide * rows.values![q].wide }
                return s
            }
        }
    }
}
