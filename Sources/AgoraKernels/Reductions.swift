extension Kernels {
    /// Elements per block in the blocked reductions. Fixed (never derived from the thread count),
    /// so that a sum is the same bit for bit on any number of threads.
    public static let reductionBlock = 1 << 14

    /// Sum of all elements: blocks of `reductionBlock` summed in parallel with `fixedOrderSum`, then
    /// the block sums added in block order.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func sum<T: AgoraScalar>(_ x: [T], pool: ThreadPool = .shared) -> T {
        blocked(x.count, pool: pool, bytes: x.count * MemoryLayout<T>.size) { lo, n in
            x.withUnsafeBufferPointer { fixedOrderSum($0.baseAddress! + lo, n) }
        }
    }

    /// x . y with the same fixed blocking as `sum`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func dot<T: AgoraScalar>(_ x: [T], _ y: [T], pool: ThreadPool = .shared) throws -> T {
        guard x.count == y.count else { throw AgoraError.shape("dot: lengths \(x.count) and \(y.count) differ") }
        return blocked(x.count, pool: pool, bytes: 2 * x.count * MemoryLayout<T>.size) { lo, n in
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeBufferPointer { yb in fixedOrderDot(xb.baseAddress! + lo, yb.baseAddress! + lo, n) }
            }
        }
    }

    /// ||x||^2 with the same fixed blocking as `sum`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func squaredNorm<T: AgoraScalar>(_ x: [T], pool: ThreadPool = .shared) -> T {
        try! dot(x, x, pool: pool)
    }

    /// Mean of the rows (the network average theta_bar), each column summed over agents in order.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func rowMean<T: AgoraScalar>(_ x: Matrix<T>) -> [T] {
        var mean = [T](repeating: 0, count: x.cols)
        if x.rows == 0 { return mean }
        let d = x.cols
        x.storage.withUnsafeBufferPointer { xb in
            mean.withUnsafeMutableBufferPointer { mb in
                guard let xp = xb.baseAddress, let mp = mb.baseAddress else { return }
                for i in 0..<x.rows {
                    var k = 0
                    while k + vecWidth <= d {
                        storeVec(loadVec(mp + k) + loadVec(xp + i * d + k), mp + k)
                        k += vecWidth
                    }
                    while k < d {
                        mp[k] += xp[i * d + k]
                        k += 1
                    }
                }
                let s = 1 / T(x.rows)
                for k in 0..<d { mp[k] *= s }
            }
        }
        return mean
    }

    /// sum_i w_i x_i, the weighted sum of the rows (e.g. FedAvg's data-size-weighted average with
    /// weights summing to one; zero weights skip their rows). Rows are added in order for every
    /// column, columns are split across threads, so the result does not depend on the thread count.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func weightedRowSum<T: AgoraScalar>(_ x: Matrix<T>, weights w: [T], pool: ThreadPool = .shared) throws -> [T] {
        guard w.count == x.rows else { throw AgoraError.shape("weightedRowSum: \(w.count) weights for \(x.rows) rows") }
        var out = [T](repeating: 0, count: x.cols)
        let d = x.cols
        if x.rows == 0 || d == 0 { return out }
        let blocks = (d + reductionBlock - 1) / reductionBlock
        x.storage.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                let xp = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!)), op = SendablePointer(ob.baseAddress!)
                pool.parallelFor(blocks, bytes: x.storage.count * MemoryLayout<T>.size) { r in
                    for b in r {
                        let lo = b * reductionBlock, hi = min(d, lo + reductionBlock)
                        for i in 0..<x.rows where w[i] != 0 {
                            let wv = SIMD16<T>(repeating: w[i]), row = xp.p + i * d
                            var k = lo
                            while k + vecWidth <= hi {
                                storeVec(loadVec(op.p + k) + wv * loadVec(row + k), op.p + k)
                                k += vecWidth
                            }
                            while k < hi {
                                op.p[k] += w[i] * row[k]
                                k += 1
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Consensus error sum_i ||x_i - mean||^2, reduced in a fixed order.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func consensusError<T: AgoraScalar>(_ x: Matrix<T>, pool: ThreadPool = .shared) -> T {
        let mean = rowMean(x)
        let d = x.cols
        var perRow = [T](repeating: 0, count: x.rows)
        x.storage.withUnsafeBufferPointer { xb in
            mean.withUnsafeBufferPointer { mb in
                perRow.withUnsafeMutableBufferPointer { ob in
                    guard let xbase = xb.baseAddress, let mbase = mb.baseAddress else { return }
                    let xp = SendablePointer(UnsafeMutablePointer(mutating: xbase))
                    let mp = SendablePointer(UnsafeMutablePointer(mutating: mbase))
                    let op = SendablePointer(ob.baseAddress!)
                    pool.parallelFor(x.rows, bytes: x.storage.count * MemoryLayout<T>.size) { r in
                        for i in r {
                            var acc = SIMD16<T>.zero
                            var k = 0
                            let row = xp.p + i * d
                            while k + vecWidth <= d {
                                let e = loadVec(row + k) - loadVec(mp.p + k)
                                acc += e * e
                                k += vecWidth
                            }
                            var s = horizontalSum(acc)
                            while k < d {
                                let e = row[k] - mp.p[k]
                                s += e * e
                                k += 1
                            }
                            op.p[i] = s
                        }
                    }
                }
            }
        }
        var total: T = 0
        for v in perRow { total += v }
        return total
    }

    /// Runs `partial(lo, count)` over fixed blocks in parallel and adds the results in block order.
    static func blocked<T: AgoraScalar>(
        _ n: Int, pool: ThreadPool, bytes: Int, _ partial: (Int, Int) -> T
    ) -> T {
        if n == 0 { return 0 }
        let blocks = (n + reductionBlock - 1) / reductionBlock
        var partials = [T](repeating: 0, count: blocks)
        partials.withUnsafeMutableBufferPointer { pb in
            let pp = SendablePointer(pb.baseAddress!)
            pool.parallelFor(blocks, bytes: bytes) { r in
                for b in r {
                    let lo = b * reductionBlock
                    pp.p[b] = partial(lo, min(reductionBlock, n - lo))
                }
            }
        }
        var s: T = 0
        for p in partials { s += p }
        return s
    }
}
