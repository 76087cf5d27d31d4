import Foundation

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
        guard k >= 2 else { throw ShapeError("softmaxGradients: need at least 2 classes, got \(k)") }
        guard theta.cols == k * d, g.cols == k * d, g.rows == theta.rows, batches.count == theta.rows, losses.count == theta.rows else {
            throw ShapeError("softmaxGradients: parameters \(theta.rows) x \(theta.cols) and gradients \(g.rows) x \(g.cols) must be agents x (classes * features) = \(batches.count) x \(k * d), one batch and loss per agent")
        }
        guard labels.count == x.rows else { throw ShapeError("softmaxGradients: \(labels.count) labels for \(x.rows) rows") }
        if let bad = labels.first(where: { $0 < 0 || $0 >= k }) { throw ShapeError("softmaxGradients: label \(bad) outside 0..<\(k)") }
        for (a, b) in batches.enumerated() {
            if let bad = b.first(where: { $0 < 0 || $0 >= x.rows }) {
                throw ShapeError("softmaxGradients: batch of agent \(a) names row \(bad), outside 0..<\(x.rows)")
            }
        }
        let p = k * d
        var traffic = 0
        for b in batches { traffic += b.count }
        traffic *= MemoryLayout<T>.size * max(1, d / 4) * k
        theta.storage.withUnsafeBufferPointer { tb in
            g.storage.withUnsafeMutableBufferPointer { gb in
                losses.withUnsafeMutableBufferPointer { lb in
                    guard let tbase = tb.baseAddress, let gbase = gb.baseAddress, let lbase = lb.baseAddress else { return }
                    let tp = SendablePointer(UnsafeMutablePointer(mutating: tbase))
                    let gp = SendablePointer(gbase), lp = SendablePointer(lbase)
                    pool.parallelFor(theta.rows, bytes: traffic) { range in
                        var z = [Double](repeating: 0, count: k)
                        for a in range {
                            let th = tp.p + a * p, gr = gp.p + a * p
                            for q in 0..<p { gr[q] = 0 }
                            var total = 0.0
                            for i in batches[a] {
                                // Logits.
                                switch x {
                                case let .dense(m):
                                    m.storage.withUnsafeBufferPointer { xb in
                                        let row = xb.baseAddress! + i * d
                                        for c in 0..<k { z[c] = Double(fixedOrderDot(row, th + c * d, d)) }
                                    }
                                case let .sparse(cs):
                                    for c in 0..<k {
                                        var s: T = 0
                                        for q in cs.rowStart[i]..<cs.rowStart[i + 1] { s += cs.values[q] * th[c * d + Int(cs.columns[q])] }
                                        z[c] = Double(s)
                                    }
                                }
                                var zmax = -Double.infinity
                                for c in 0..<k { zmax = max(zmax, z[c]) }
                                var sum = 0.0
                                for c in 0..<k { z[c] = exp(z[c] - zmax); sum += z[c] }
                                let y = labels[i]
                                total += -(log(z[y] / sum))
                                // Gradient: (p_c - 1[c = y]) x for each class.
                                for c in 0..<k {
                                    let s = T(z[c] / sum - (c == y ? 1 : 0))
                                    let gc = gr + c * d
                                    switch x {
                                    case let .dense(m):
                                        m.storage.withUnsafeBufferPointer { xb in
                                            let row = xb.baseAddress! + i * d
                                            var q = 0
                                            let sv = SIMD16<T>(repeating: s)
                                            while q + vecWidth <= d { storeVec(loadVec(gc + q) + sv * loadVec(row + q), gc + q); q += vecWidth }
                                            while q < d { gc[q] += s * row[q]; q += 1 }
                                        }
                                    case let .sparse(cs):
                                        for q in cs.rowStart[i]..<cs.rowStart[i + 1] { gc[Int(cs.columns[q])] += s * cs.values[q] }
                                    }
                                }
                            }
                            let nb = batches[a].count
                            let inv: T = nb > 0 ? 1 / T(nb) : 0
                            var reg: T = 0
                            for q in 0..<p { gr[q] = gr[q] * inv + l2 * th[q]; reg += th[q] * th[q] }
                            lp.p[a] = T(nb > 0 ? total / Double(nb) : 0) + l2 / 2 * reg
                        }
                    }
                }
            }
        }
    }
}
