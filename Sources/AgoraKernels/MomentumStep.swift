extension Kernels {
    /// One step of SGD with momentum and L2-style weight decay on every row with `rows[i]` (all
    /// rows when nil), PyTorch's convention:
    ///
    ///     v <- mu v + (g + wd theta)     (v <- g + wd theta when mu = 0)
    ///     theta <- theta - lr v
    ///
    /// Rows not flagged keep their parameters and velocities exactly. Each element is updated by
    /// the same fixed sequence of operations, so the result does not depend on the thread count.
    @_specialize(where T == Float)
    public static func momentumStep<T: AgoraScalar>(
        _ theta: inout Matrix<T>, velocity v: inout Matrix<T>, gradients g: Matrix<T>,
        learningRate lr: T, momentum mu: T, weightDecay wd: T, rows: [Bool]? = nil, pool: ThreadPool = .shared
    ) throws {
        guard g.rows == theta.rows, g.cols == theta.cols, v.rows == theta.rows, v.cols == theta.cols else {
            throw AgoraError.shape(
                "momentumStep: gradients \(g.rows) x \(g.cols) and velocity \(v.rows) x \(v.cols) for parameters \(theta.rows) x \(theta.cols)"
            )
        }
        try checkMask(theta, rows, "momentumStep")
        let d = theta.cols, n = theta.rows
        guard d > 0 else { return }
        let plain = mu == 0
        theta.storage.withUnsafeMutableBufferPointer { tb in
            v.storage.withUnsafeMutableBufferPointer { vb in
                g.storage.withUnsafeBufferPointer { gb in
                    let tp = SendablePointer(tb.baseAddress!), vp = SendablePointer(vb.baseAddress!)
                    let gp = SendablePointer(UnsafeMutablePointer(mutating: gb.baseAddress!))
                    pool.parallelFor(n, bytes: 5 * n * d * MemoryLayout<T>.size) { r in
                        for i in r where rows?[i] ?? true {
                            let t = tp.p + i * d, vel = vp.p + i * d, gr = gp.p + i * d
                            if plain {
                                for k in 0..<d {
                                    let gk = gr[k] + wd * t[k]
                                    vel[k] = gk
                                    t[k] -= lr * gk
                                }
                            } else {
                                for k in 0..<d {
                                    let gk = gr[k] + wd * t[k]
                                    let vk = mu * vel[k] + gk
                                    vel[k] = vk
                                    t[k] -= lr * vk
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
