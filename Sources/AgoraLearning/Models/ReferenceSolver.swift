import AgoraKernels
import Foundation

/// A high-accuracy centralised solve of the pooled problem, for optimality gaps f(theta) - f*.
///
/// Newton's method with a backtracking line search on the full objective (Double): the Hessian
/// (1/n) X^T diag(l''(z)) X + l2 I is formed exactly and solved directly, so convergence is
/// quadratic and the gradient norm reaches ~1e-12 on problems of a few hundred features.
public enum ReferenceSolver {
    public struct Result: Sendable, Codable {
        public var theta: [Double]
        public var fStar: Double
        public var gradientNorm: Double
        public var iterations: Int
    }

    public static func solve(_ model: LinearModel, features x: FeatureRows<Double>, targets y: [Double],
                             tolerance: Double = 1e-11, maxIterations: Int = 50) throws -> Result {
        let d = x.cols, n = x.rows
        guard n > 0 else { throw AgoraError(.data, "reference solver: no rows") }
        if model.loss == .logistic { guard model.l2 > 0 else { throw AgoraError(.data, "reference solver: logistic regression needs l2 > 0 for a unique optimum (separable data has none)") } }
        try ResourceLimits.check(bytes: 2 * 8 * Double(d) * Double(d), for: "the Newton reference solve's \(d) x \(d) Hessian")
        var theta = [Double](repeating: 0, count: d)
        var (f, g, _) = try model.evaluate(theta, features: x, targets: y)
        var it = 0
        while it < maxIterations {
            let gn = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if gn <= tolerance { break }
            // Hessian: (1/n) X^T diag(l''(z)) X + l2 I.
            let curvature: [Double] = (0..<n).map { i in
                switch model.loss {
                case .logistic: let s = 1 / (1 + exp(-model.margin(x, i, theta))); return s * (1 - s)
                case .squared: return 1
                }
            }
            let h = try Kernels.weightedGram(x, rowWeights: curvature, divisor: Double(n), ridge: model.l2)
            let step = try SmallDense.solve(h, g.map { -$0 })
            var dec = 0.0
            for k in 0..<d { dec -= g[k] * step[k] }
            // Newton decrement at rounding level: the gradient is as small as the sums allow.
            if dec <= 1e-28 * max(1, abs(f)) { break }
            // Close to the optimum the predicted decrease is below the rounding noise of f (a sum of
            // n terms), so Armijo cannot see it: take the full Newton step (quadratic convergence).
            if dec < 1e-10 * max(1, abs(f)) {
                theta = (0..<d).map { theta[$0] + step[$0] }
                (f, g, _) = try model.evaluate(theta, features: x, targets: y)
                it += 1
                continue
            }
            var t = 1.0
            while true {
                let cand = (0..<d).map { theta[$0] + t * step[$0] }
                let (fc, gc, _) = try model.evaluate(cand, features: x, targets: y)
                if fc <= f - 0.25 * t * dec { theta = cand; f = fc; g = gc; break }
                if t < 1e-6 { it = maxIterations; break }  // no decrease left at this precision
                t *= 0.5
            }
            it += 1
        }
        return Result(theta: theta, fStar: f, gradientNorm: g.reduce(0) { $0 + $1 * $1 }.squareRoot(), iterations: it)
    }
}
