#if canImport(Glibc)
import Glibc
#endif
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

    /// Four rows' `dotWide` at once, each bit-identical to it: four independent accumulators hide
    /// the latency that bounds one short dot (evaluations are a stream of such dots).
    @inline(__always)
    func dotWide4(rows i0: Int, _ i1: Int, _ i2: Int, _ i3: Int, _ w: UnsafePointer<Double>) -> (Double, Double, Double, Double) {
        guard let dense else { return (dotWide(row: i0, w), dotWide(row: i1, w), dotWide(row: i2, w), dotWide(row: i3, w)) }
        let x0 = dense + i0 * cols, x1 = dense + i1 * cols, x2 = dense + i2 * cols, x3 = dense + i3 * cols
        var a0 = SIMD16<Double>.zero, a1 = SIMD16<Double>.zero, a2 = SIMD16<Double>.zero, a3 = SIMD16<Double>.zero
        var k = 0
        while k + vecWidth <= cols {
            let wv: SIMD16<Double> = loadVec(w + k)
            a0 += T.wide(loadVec(x0 + k)) * wv
            a1 += T.wide(loadVec(x1 + k)) * wv
            a2 += T.wide(loadVec(x2 + k)) * wv
            a3 += T.wide(loadVec(x3 + k)) * wv
            k += vecWidth
        }
        var s0 = horizontalSum(a0), s1 = horizontalSum(a1), s2 = horizontalSum(a2), s3 = horizontalSum(a3)
        while k < cols {
            let wk = w[k]
            s0 += x0[k].wide * wk
            s1 += x1[k].wide * wk
            s2 += x2[k].wide * wk
            s3 += x3[k].wide * wk
            k += 1
        }
        return (s0, s1, s2, s3)
    }

    /// Four rows' `dot(row:)` at once (each bit-identical to it), widened to Double.
    @inline(__always)
    func dot4Wide(rows i0: Int, _ i1: Int, _ i2: Int, _ i3: Int, _ w: UnsafePointer<T>) -> (Double, Double, Double, Double) {
        guard let dense else { return (dot(row: i0, w).wide, dot(row: i1, w).wide, dot(row: i2, w).wide, dot(row: i3, w).wide) }
        let z = fixedOrderDot4(dense + i0 * cols, dense + i1 * cols, dense + i2 * cols, dense + i3 * cols, w, cols)
        return (z.0.wide, z.1.wide, z.2.wide, z.3.wide)
    }

    /// Dense rows only: out += s.0 x_i0, then s.1 x_i1, s.2 x_i2, s.3 x_i3, in Double: per element
    /// the same operations in the same order as four `addScaledWide` calls, out loaded and stored
    /// once.
    @inline(__always)
    func addScaledWide4(
        rows i0: Int, _ i1: Int, _ i2: Int, _ i3: Int, _ s: (Double, Double, Double, Double), into out: UnsafeMutablePointer<Double>
    ) {
        let x = dense!
        let x0 = x + i0 * cols, x1 = x + i1 * cols, x2 = x + i2 * cols, x3 = x + i3 * cols
        let v0 = SIMD16<Double>(repeating: s.0), v1 = SIMD16<Double>(repeating: s.1)
        let v2 = SIMD16<Double>(repeating: s.2), v3 = SIMD16<Double>(repeating: s.3)
        var q = 0
        while q + vecWidth <= cols {
            var g: SIMD16<Double> = loadVec(out + q)
            g = g + v0 * T.wide(loadVec(x0 + q))
            g = g + v1 * T.wide(loadVec(x1 + q))
            g = g + v2 * T.wide(loadVec(x2 + q))
            g = g + v3 * T.wide(loadVec(x3 + q))
            storeVec(g, out + q)
            q += vecWidth
        }
        while q < cols {
            var g = out[q]
            g += s.0 * x0[q].wide
            g += s.1 * x1[q].wide
            g += s.2 * x2[q].wide
            g += s.3 * x3[q].wide
            out[q] = g
            q += 1
        }
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
                                    withUnsafeTemporaryAllocation(of: Double.self, capacity: lossScratch) { scratch in
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
            var i = range.lowerBound
            // Dense rows four at a time: the dots first (they do not read g), then the four losses
            // and updates in row order: the same sums as the row loop below, bit for bit.
            if rows.dense != nil {
                while i + 4 <= range.upperBound {
                    let z = rows.dotWide4(rows: i, i + 1, i + 2, i + 3, w)
                    let y0 = targets[i], y1 = targets[i + 1], y2 = targets[i + 2], y3 = targets[i + 3]
                    let e0 = loss.evaluate(z.0, y0), e1 = loss.evaluate(z.1, y1), e2 = loss.evaluate(z.2, y2), e3 = loss.evaluate(z.3, y3)
                    total += e0.loss
                    total += e1.loss
                    total += e2.loss
                    total += e3.loss
                    if z.0 * y0 > 0 { correct += 1 }
                    if z.1 * y1 > 0 { correct += 1 }
                    if z.2 * y2 > 0 { correct += 1 }
                    if z.3 * y3 > 0 { correct += 1 }
                    rows.addScaledWide4(rows: i, i + 1, i + 2, i + 3, (e0.dz, e1.dz, e2.dz, e3.dz), into: g)
                    i += 4
                }
            }
            for i in i..<range.upperBound {
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
        try mapMargins("wideMargins", x, theta, pool: pool) { $0 }
    }

    /// l''(z_i) of the logistic loss at every row's margin, sigma(z) (1 - sigma(z)) with libm's
    /// exponential: the row weights of the Newton reference's Hessian, in the same parallel pass as
    /// the margins (each row's value does not depend on the thread count).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func logisticCurvatures<T: AgoraScalar>(
        _ x: FeatureRows<T>, parameters theta: [Double], pool: ThreadPool = .shared
    ) throws -> [Double] {
        try mapMargins("logisticCurvatures", x, theta, pool: pool) { z in
            let s = 1 / (1 + exp(-z))
            return s * (1 - s)
        }
    }

    /// f(x_i . theta) for every row, rows in parallel (the one loop of `wideMargins` and
    /// `logisticCurvatures`).
    @inline(__always)
    static func mapMargins<T: AgoraScalar>(
        _ kernel: String, _ x: FeatureRows<T>, _ theta: [Double], pool: ThreadPool, _ f: (Double) -> Double
    ) throws -> [Double] {
        guard theta.count == x.cols else { throw AgoraError.shape("\(kernel): \(theta.count) parameters for \(x.cols) features") }
        var out = [Double](repeating: 0, count: x.rows)
        guard x.rows > 0 else { return out }
        theta.withUnsafeBufferPointer { tb in
            out.withUnsafeMutableBufferPointer { ob in
                let w = tb.baseAddress!, o = ob.baseAddress!
                x.withRowAccess { rows in
                    pool.parallelFor(x.rows, bytes: x.rows * x.cols * MemoryLayout<T>.stride) { r in
                        for i in r { o[i] = f(rows.dotWide(row: i, w)) }
                    }
                }
            }
        }
        return out
    }

    /// ||x_i||^2 of every row, in Double.
    /// Rows in parallel (each summed in order: the result does not depend on the thread count).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func wideRowSquaredNorms<T: AgoraScalar>(_ x: FeatureRows<T>, pool: ThreadPool = .shared) -> [Double] {
        var out = [Double](repeating: 0, count: x.rows)
        guard x.rows > 0 else { return out }
        out.withUnsafeMutableBufferPointer { ob in
            let o = SendablePointer(ob.baseAddress!)
            x.withRowAccess { rows in
                pool.parallelFor(x.rows, bytes: x.rows * x.cols * MemoryLayout<T>.stride) { r in
                    for i in r {
                        var s = 0.0
                        if let dense = rows.dense {
                            let p = dense + i * rows.cols
                            for k in 0..<rows.cols { s += p[k].wide * p[k].wide }
                        } else {
                            for q in rows.rowStart![i]..<rows.rowStart![i + 1] { s += rows.values![q].wide * rows.values![q].wide }
                        }
                        o.p[i] = s
                    }
                }
            }
        }
        return out
    }
}
