import Foundation

/// Layout of a one-hidden-layer ReLU network's parameters in one flat row:
/// W1 [hidden x inputs], b1 [hidden], W2 [classes x hidden], b2 [classes].
public struct MLPShape: Sendable, Codable, Equatable {
    public var inputs: Int, hidden: Int, classes: Int
    public init(inputs: Int, hidden: Int, classes: Int) { self.inputs = inputs; self.hidden = hidden; self.classes = classes }
    public var w1: Int { 0 }
    public var b1: Int { hidden * inputs }
    public var w2: Int { b1 + hidden }
    public var b2: Int { w2 + classes * hidden }
    public var parameterCount: Int { b2 + classes }
}

extension Kernels {
    /// Mini-batch gradients of a one-hidden-layer ReLU network with a softmax output, for every
    /// agent at once (row a of `parameters` is agent a's flat parameter vector, see `MLPShape`).
    /// Loss: mean cross-entropy plus (l2/2) ||weights||^2 (biases are not decayed). ReLU'(0) = 0.
    /// Same parallel and ordering guarantees as `glmGradients`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func mlpGradients<T: AgoraScalar>(
        shape s: MLPShape, l2: T, features x: FeatureRows<T>, labels: [Int], parameters theta: Matrix<T>,
        batches: [[Int]], gradients g: inout Matrix<T>, losses: inout [T], pool: ThreadPool = .shared
    ) throws {
        let d = x.cols, h = s.hidden, k = s.classes, p = s.parameterCount
        guard s.inputs == d, h >= 1, k >= 2 else {
            throw ShapeError("mlpGradients: shape \(s.inputs) -> \(s.hidden) -> \(s.classes) does not fit \(d) features (need hidden >= 1, classes >= 2)")
        }
        guard theta.cols == p, g.cols == p, g.rows == theta.rows, batches.count == theta.rows, losses.count == theta.rows else {
            throw ShapeError("mlpGradients: parameters \(theta.rows) x \(theta.cols) and gradients \(g.rows) x \(g.cols) must be agents x \(p), one batch and loss per agent")
        }
        guard labels.count == x.rows else { throw ShapeError("mlpGradients: \(labels.count) labels for \(x.rows) rows") }
        if let bad = labels.first(where: { $0 < 0 || $0 >= k }) { throw ShapeError("mlpGradients: label \(bad) outside 0..<\(k)") }
        for (a, b) in batches.enumerated() {
            if let bad = b.first(where: { $0 < 0 || $0 >= x.rows }) {
                throw ShapeError("mlpGradients: batch of agent \(a) names row \(bad), outside 0..<\(x.rows)")
            }
        }
        var traffic = 0
        for b in batches { traffic += b.count }
        traffic *= MemoryLayout<T>.size * max(1, h * d / 4)
        theta.storage.withUnsafeBufferPointer { tb in
            g.storage.withUnsafeMutableBufferPointer { gb in
                losses.withUnsafeMutableBufferPointer { lb in
                    guard let tbase = tb.baseAddress, let gbase = gb.baseAddress, let lbase = lb.baseAddress else { return }
                    let tp = SendablePointer(UnsafeMutablePointer(mutating: tbase))
                    let gp = SendablePointer(gbase), lp = SendablePointer(lbase)
                    pool.parallelFor(theta.rows, bytes: traffic) { range in
                        var act = [T](repeating: 0, count: h), relu = act, dr = act
                        var z = [Double](repeating: 0, count: k)
                        for a in range {
                            let th = tp.p + a * p, gr = gp.p + a * p
                            for q in 0..<p { gr[q] = 0 }
                            var total = 0.0
                            for i in batches[a] {
                                // Hidden pre-activations a = W1 x + b1.
                                switch x {
                                case let .dense(m):
                                    m.storage.withUnsafeBufferPointer { xb in
                                        let row = xb.baseAddress! + i * d
                                        for j in 0..<h { act[j] = fixedOrderDot(th + s.w1 + j * d, row, d) + th[s.b1 + j] }
                                    }
                                case let .sparse(cs):
                                    for j in 0..<h {
                                        var v = th[s.b1 + j]
                                        for q in cs.rowStart[i]..<cs.rowStart[i + 1] { v += th[s.w1 + j * d + Int(cs.columns[q])] * cs.values[q] }
                                        act[j] = v
                                    }
                                }
                                for j in 0..<h { relu[j] = act[j] > 0 ? act[j] : 0 }
                                var zmax = -Double.infinity
                                for c in 0..<k {
                                    var v = th[s.b2 + c]
                                    for j in 0..<h { v += th[s.w2 + c * h + j] * relu[j] }
                                    z[c] = Double(v); zmax = max(zmax, z[c])
                                }
                                var sum = 0.0
                                for c in 0..<k { z[c] = exp(z[c] - zmax); sum += z[c] }
                                let y = labels[i]
                                total += -log(z[y] / sum)
                                for j in 0..<h { dr[j] = 0 }
                                for c in 0..<k {
                                    let dz = T(z[c] / sum - (c == y ? 1 : 0))
                                    gr[s.b2 + c] += dz
                                    for j in 0..<h {
                                        gr[s.w2 + c * h + j] += dz * relu[j]
                                        dr[j] += dz * th[s.w2 + c * h + j]
                                    }
                                }
                                for j in 0..<h where act[j] > 0 {
                                    let da = dr[j]
                                    gr[s.b1 + j] += da
                                    let gw = gr + s.w1 + j * d
                                    switch x {
                                    case let .dense(m):
                                        m.storage.withUnsafeBufferPointer { xb in
                                            let row = xb.baseAddress! + i * d
                                            var q = 0
                                            let sv = SIMD16<T>(repeating: da)
                                            while q + vecWidth <= d { storeVec(loadVec(gw + q) + sv * loadVec(row + q), gw + q); q += vecWidth }
                                            while q < d { gw[q] += da * row[q]; q += 1 }
                                        }
                                    case let .sparse(cs):
                                        for q in cs.rowStart[i]..<cs.rowStart[i + 1] { gw[Int(cs.columns[q])] += da * cs.values[q] }
                                    }
                                }
                            }
                            let nb = batches[a].count
                            let inv: T = nb > 0 ? 1 / T(nb) : 0
                            var reg: T = 0
                            for q in 0..<p {
                                let isWeight = q < s.b1 || (q >= s.w2 && q < s.b2)
                                gr[q] = gr[q] * inv + (isWeight ? l2 * th[q] : 0)
                                if isWeight { reg += th[q] * th[q] }
                            }
                            lp.p[a] = T(nb > 0 ? total / Double(nb) : 0) + l2 / 2 * reg
                        }
                    }
                }
            }
        }
    }
}
