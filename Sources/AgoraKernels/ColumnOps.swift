extension Kernels {
    /// y[i, o] = x[i, o] s[o]: every column of `x` scaled by its own factor (a matrix times a
    /// diagonal on the right), e.g. conditional outcome weights times the derivative of the
    /// valuation at each outcome.
    public static func scaleColumns<T: AgoraScalar>(_ x: Matrix<T>, by s: [T]) throws -> Matrix<T> {
        var y = Matrix<T>(rows: 0, cols: 0)
        try scaleColumns(x, by: s, into: &y)
        return y
    }

    /// `scaleColumns` written into `y`, reallocated only when its shape differs: the contract
    /// solver scales [types x outcomes] matrices of up to ~1e6 columns at every Newton step, where
    /// a fresh 57 MB result page-faulted on every step (and a generic element loop over a copy cost
    /// a fifth of the solve).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func scaleColumns<T: AgoraScalar>(_ x: Matrix<T>, by s: [T], into y: inout Matrix<T>) throws {
        guard s.count == x.cols else { throw AgoraError.shape("scaleColumns: \(s.count) factors for \(x.cols) columns") }
        if y.rows != x.rows || y.cols != x.cols { y = Matrix(uninitializedRows: x.rows, cols: x.cols) }  // every element is written below
        let k = x.cols
        guard k > 0, x.rows > 0 else { return }
        x.storage.withUnsafeBufferPointer { xb in
            s.withUnsafeBufferPointer { sb in
                y.storage.withUnsafeMutableBufferPointer { yb in
                    let xp = xb.baseAddress!, sp = sb.baseAddress!, yp = yb.baseAddress!
                    for i in 0..<x.rows {
                        let xr = xp + i * k, yr = yp + i * k
                        for o in 0..<k { yr[o] = xr[o] * sp[o] }
                    }
                }
            }
        }
    }

    /// (f_0(x_i), f_1(x_i), f_2(x_i), f_3(x_i)) for every element of `x`, as four arrays, on the
    /// pool: an element-wise map (each output element from its input alone), so the result does not
    /// depend on the thread count. For per-outcome function values and derivatives (e.g. a
    /// valuation of an accuracy, with its first and second derivatives) over ~1e6 outcomes.
    public static func map4(_ x: [Double], pool: ThreadPool = .shared,
                            _ f: (Double) -> (Double, Double, Double, Double)) -> ([Double], [Double], [Double], [Double]) {
        let n = x.count
        var r0 = [Double](repeating: 0, count: n), r1 = r0, r2 = r0, r3 = r0
        x.withUnsafeBufferPointer { xb in
            r0.withUnsafeMutableBufferPointer { b0 in
                r1.withUnsafeMutableBufferPointer { b1 in
                    r2.withUnsafeMutableBufferPointer { b2 in
                        r3.withUnsafeMutableBufferPointer { b3 in
                            pool.parallelFor(n, bytes: n * 40) { range in
                                for i in range { (b0[i], b1[i], b2[i], b3[i]) = f(xb[i]) }
                            }
                        }
                    }
                }
            }
        }
        return (r0, r1, r2, r3)
    }

    /// The index pairs (a, b) with a <= b of `k` columns in row-major order of the upper triangle:
    /// the columns of `pairProducts`.
    public static func upperTrianglePairs(_ k: Int) -> [(Int, Int)] {
        var pairs: [(Int, Int)] = []
        pairs.reserveCapacity(k * (k + 1) / 2)
        for a in 0..<max(0, k) { for b in a..<k { pairs.append((a, b)) } }
        return pairs
    }

    /// o[r, q] = x[r, a_q] x[r, b_q] for the pairs (a_q, b_q) of `upperTrianglePairs(x.cols)`: the
    /// distinct entries of each row's outer product x_r x_r^T, so that sum_r w_r x_r x_r^T for many
    /// weight vectors w becomes one GEMM.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func pairProducts<T: AgoraScalar>(_ x: Matrix<T>) -> Matrix<T> {
        let pairs = upperTrianglePairs(x.cols)
        var o = Matrix<T>(rows: x.rows, cols: pairs.count)
        let q = pairs.count
        o.storage.withUnsafeMutableBufferPointer { ob in
            x.storage.withUnsafeBufferPointer { xb in
                guard q > 0 else { return }
                for r in 0..<x.rows {
                    let row = xb.baseAddress! + r * x.cols, out = ob.baseAddress! + r * q
                    for (j, (a, b)) in pairs.enumerated() { out[j] = row[a] * row[b] }
                }
            }
        }
        return o
    }

    /// S[h, q] = sum_r W[h, r] x_r[a_q] x_r[b_q] for the pairs (a_q, b_q) of
    /// `upperTrianglePairs(x.cols)`: H weighted sums of the rows' outer products (e.g. the Hessians
    /// of expectations over enumerated outcomes), equal to `BLAS.product(w, pairProducts(x))`
    /// without keeping the [rows x pairs] matrix (256 MB at 888k rows and 8 columns).
    ///
    /// Rows are processed in fixed chunks of 1024: each chunk's pair products are built in cache and
    /// multiplied by the chunk's weight columns (one small GEMM, OpenBLAS single-threaded inside
    /// Agora's parallel region); the chunks' partial sums are added in chunk order, so the result
    /// does not depend on the thread count.
    public static func weightedPairSums(_ x: Matrix<Double>, weights w: Matrix<Double>, pool: ThreadPool = .shared) throws -> Matrix<Double> {
        let rows = x.rows, k = x.cols, h = w.rows
        guard w.cols == rows else { throw AgoraError.shape("weightedPairSums: weights have \(w.cols) columns for \(rows) rows") }
        let pairs = upperTrianglePairs(k), p = pairs.count
        var out = Matrix<Double>(rows: h, cols: p)
        guard rows > 0, p > 0, h > 0 else { return out }
        let chunk = 1024, chunks = (rows + chunk - 1) / chunk
        var partials = [Double](repeating: 0, count: chunks * h * p)
        let pairIndex = pairs.flatMap { [$0.0, $0.1] }
        x.storage.withUnsafeBufferPointer { xb in
            w.storage.withUnsafeBufferPointer { wb in
                partials.withUnsafeMutableBufferPointer { partb in
                    pairIndex.withUnsafeBufferPointer { ib in
                        let xp = xb.baseAddress!, wp = wb.baseAddress!, part = partb.baseAddress!, idx = ib.baseAddress!
                        OpenBLAS.singleThreaded {
                            pool.parallelFor(chunks, bytes: rows * (k + h) * 8) { range in
                                withUnsafeTemporaryAllocation(of: Double.self, capacity: chunk * p) { qb in
                                    let q = qb.baseAddress!
                                    for c in range {
                                        let lo = c * chunk, n = min(rows, lo + chunk) - lo
                                        for r in 0..<n {
                                            let xr = xp + (lo + r) * k, qr = q + r * p
                                            for j in 0..<p { qr[j] = xr[idx[2 * j]] * xr[idx[2 * j + 1]] }
                                        }
                                        Double._gemm(transA: false, transB: false, m: h, n: p, k: n, alpha: 1, a: wp + lo, lda: rows,
                                                     b: q, ldb: p, beta: 0, c: part + c * h * p, ldc: p)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out.storage.withUnsafeMutableBufferPointer { ob in
            for c in 0..<chunks { for e in 0..<(h * p) { ob[e] += partials[c * h * p + e] } }
        }
        return out
    }
}
