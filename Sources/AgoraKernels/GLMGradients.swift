import Foundation

/// The per-example loss of a generalized linear model on the margin z = x . theta.
public enum GLMLoss: String, Sendable, Codable {
    /// log(1 + exp(-y z)) with y in {-1, +1}.
    case logistic
    /// (z - y)^2 / 2.
    case squared

    /// Loss and its derivative in z (computed stably for large |z|).
    @inline(__always)
    public func evaluate(_ z: Double, _ y: Double) -> (loss: Double, dz: Double) {
        switch self {
        case .logistic:
            let m = -y * z
            let loss = m > 0 ? m + log1p(exp(-m)) : log1p(exp(m))
            let s = 1 / (1 + exp(-m))   // sigma(-y z)
            return (loss, -y * s)
        case .squared:
            let r = z - y
            return (0.5 * r * r, r)
        }
    }
}

/// Rows of a feature matrix for the gradient kernels: dense row-major or CSR.
public enum FeatureRows<T: AgoraScalar>: Sendable {
    case dense(Matrix<T>)
    case sparse(CSRMatrix<T>)
    public var cols: Int { switch self { case let .dense(m): return m.cols; case let .sparse(s): return s.cols } }
    public var rows: Int { switch self { case let .dense(m): return m.rows; case let .sparse(s): return s.rows } }
}

extension Kernels {
    /// Mini-batch gradients of an L2-regularised generalized linear model for every agent at once:
    /// row a of `gradients` becomes (1/|B_a|) sum_{i in B_a} l'(x_i . theta_a, y_i) x_i + l2 theta_a,
    /// and `losses[a]` the matching mean loss plus (l2/2) ||theta_a||^2.
    ///
    /// Agents run in parallel (each writes only its own row); within an agent the examples are
    /// visited in batch order, so results do not depend on the thread count. Dense rows use SIMD
    /// dot/axpy; sparse rows touch only their non-zeros. Memory-bound: it reads each batch row
    /// twice (margin, then update) while it is still in cache.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func glmGradients<T: AgoraScalar>(
        loss: GLMLoss, l2: T, features x: FeatureRows<T>, targets y: [T], parameters theta: Matrix<T>,
        batches: [[Int]], gradients g: inout Matrix<T>, losses: inout [T], pool: ThreadPool = .shared
    ) throws {
        let d = x.cols
        guard theta.cols == d, g.cols == d, theta.rows == g.rows, batches.count == theta.rows, losses.count == theta.rows else {
            throw ShapeError("glmGradients: parameters \(theta.rows) x \(theta.cols), gradients \(g.rows) x \(g.cols), \(batches.count) batches and \(losses.count) losses for \(d) features")
        }
        guard y.count == x.rows else { throw ShapeError("glmGradients: \(y.count) targets for \(x.rows) rows") }
        for (a, b) in batches.enumerated() {
            if let bad = b.first(where: { $0 < 0 || $0 >= x.rows }) {
                throw ShapeError("glmGradients: batch of agent \(a) names row \(bad), outside 0..<\(x.rows)")
            }
        }
        let agents = theta.rows
        var traffic = 0
        for b in batches { traffic += b.count }
        traffic *= MemoryLayout<T>.size * max(1, d / 4)
        theta.storage.withUnsafeBufferPointer { tb in
            g.storage.withUnsafeMutableBufferPointer { gb in
                losses.withUnsafeMutableBufferPointer { lb in
                    guard let tbase = tb.baseAddress, let gbase = gb.baseAddress, let lbase = lb.baseAddress else { return }
                    let tp = SendablePointer(UnsafeMutablePointer(mutating: tbase))
                    let gp = SendablePointer(gbase), lp = SendablePointer(lbase)
                    pool.parallelFor(agents, bytes: traffic) { range in
                        for a in range {
                            let th = tp.p + a * d, gr = gp.p + a * d
                            for k in 0..<d { gr[k] = 0 }
                            var total = 0.0
                            switch x {
                            case let .dense(m):
                                m.storage.withUnsafeBufferPointer { xb in
                                    let xp = xb.baseAddress!
                                    for i in batches[a] {
                                        let row = xp + i * d
                                        let z = fixedOrderDot(row, th, d)
                                        let (l, dz) = loss.evaluate(Double(z), Double(y[i]))
                                        total += l
                                        let s = T(dz)
                                        var k = 0
                                        let sv = SIMD16<T>(repeating: s)
                                        while k + vecWidth <= d { storeVec(loadVec(gr + k) + sv * loadVec(row + k), gr + k); k += vecWidth }
                                        while k < d { gr[k] += s * row[k]; k += 1 }
                                    }
                                }
                            case let .sparse(c):
                                for i in batches[a] {
                                    let lo = c.rowStart[i], hi = c.rowStart[i + 1]
                                    var z: T = 0
                                    for q in lo..<hi { z += c.values[q] * th[Int(c.columns[q])] }
                                    let (l, dz) = loss.evaluate(Double(z), Double(y[i]))
                                    total += l
                                    let s = T(dz)
                                    for q in lo..<hi { gr[Int(c.columns[q])] += s * c.values[q] }
                                }
                            }
                            let nb = batches[a].count
                            let inv: T = nb > 0 ? 1 / T(nb) : 0
                            var reg: T = 0
                            for k in 0..<d { gr[k] = gr[k] * inv + l2 * th[k]; reg += th[k] * th[k] }
                            lp.p[a] = T(nb > 0 ? total / Double(nb) : 0) + l2 / 2 * reg
                        }
                    }
                }
            }
        }
    }
}
