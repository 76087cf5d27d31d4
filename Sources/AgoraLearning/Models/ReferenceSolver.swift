import AgoraKernels
import Foundation

/// A high-accuracy centralised solve of the pooled problem, for optimality gaps f(theta) - f*.
///
/// Newton's method with a backtracking line search on the full objective (Double). Up to
/// `directLimit` features the Hessian (1/n) X^T diag(l''(z)) X + l2 I is formed exactly and solved
/// directly, so convergence is quadratic and the gradient norm reaches ~1e-12 on problems of a few
/// hundred features. Wider problems use Newton-CG: the Newton system is solved by conjugate
/// gradients with Hessian-vector products on the (sparse) data, O(nnz) each, never forming the
/// d x d matrix; the forcing term min(0.1, sqrt(||g||)) keeps convergence superlinear.
public enum ReferenceSolver {
    public struct Result: Sendable, Codable {
        public var theta: [Double]
        public var fStar: Double
        public var gradientNorm: Double
        public var iterations: Int
    }

    /// Features up to which the Hessian is formed and solved directly.
    public static let directLimit = 1000

    /// `progress`, when given, hears about every Newton iteration (iteration, gradient norm): wide
    /// problems take a while.
    /// Rows of any scalar type: Float data is read as Double, exactly (no Double copy is held).
    public static func solve<T: AgoraScalar>(
        _ model: LinearModel, features x: FeatureRows<T>, targets y: [Double],
        tolerance: Double = 1e-11, maxIterations: Int = 50,
        progress: ((Int, Double) -> Void)? = nil
    ) throws -> Result {
        let d = x.cols, n = x.rows
        guard n > 0 else { throw AgoraError(.data, "reference solver: no rows") }
        if model.loss == .logistic {
            guard model.l2 > 0 else {
                throw AgoraError(.data, "reference solver: logistic regression needs l2 > 0 for a unique optimum (separable data has none)")
            }
        }
        if d > directLimit {
            return try newtonCG(model, features: x, targets: y, tolerance: tolerance, maxIterations: 4 * maxIterations, progress: progress)
        }
        try ResourceLimits.check(bytes: 2 * 8 * Double(d) * Double(d), for: "the Newton reference solve's \(d) x \(d) Hessian")
        var theta = [Double](repeating: 0, count: d)
        var (f, g, _) = try model.evaluate(theta, features: x, targets: y)
        var it = 0
        while it < maxIterations {
            let gn = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            progress?(it, gn)
            if gn <= tolerance { break }
            // Hessian: (1/n) X^T diag(l''(z)) X + l2 I.
            let curvature = try curvatures(model, x, theta)
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
                if fc <= f - 0.25 * t * dec {
                    theta = cand
                    f = fc
                    g = gc
                    break
                }
                if t < 1e-6 {
                    it = maxIterations
                    break
                }  // no decrease left at this precision
                t *= 0.5
            }
            it += 1
        }
        return Result(theta: theta, fStar: f, gradientNorm: g.reduce(0) { $0 + $1 * $1 }.squareRoot(), iterations: it)
    }

    /// l''(z_i) at the current margins (the Hessian's row weights).
    static func curvatures<T: AgoraScalar>(_ model: LinearModel, _ x: FeatureRows<T>, _ theta: [Double]) throws -> [Double] {
        switch model.loss {
        case .logistic: return try Kernels.logisticCurvatures(x, parameters: theta)
        case .squared: return [Double](repeating: 1, count: x.rows)
        }
    }

    /// Newton-CG (truncated Newton) with the same Armijo backtracking as the direct path.
    static func newtonCG<T: AgoraScalar>(
        _ model: LinearModel, features x: FeatureRows<T>, targets y: [Double], tolerance: Double,
        maxIterations: Int, progress: ((Int, Double) -> Void)?
    ) throws -> Result {
        let d = x.cols, n = Double(x.rows)
        var theta = [Double](repeating: 0, count: d)
        var (f, g, _) = try model.evaluate(theta, features: x, targets: y)
        var it = 0
        func norm(_ v: [Double]) -> Double { BLAS.nrm2(v) }
        while it < maxIterations {
            let gn = norm(g)
            progress?(it, gn)
            if gn <= tolerance { break }
            let w = try curvatures(model, x, theta)
            // CG on H p = -g, from p = 0, to the relative residual min(0.1, sqrt(||g||)).
            var p = [Double](repeating: 0, count: d)
            var r = g
            BLAS.scal(-1, &r)
            var s = r
            var rr = try BLAS.dot(r, r)
            let target = min(0.1, gn.squareRoot()) * gn
            for _ in 0..<min(d, 500) {
                let hs = try Kernels.weightedGramTimes(x, rowWeights: w, divisor: n, ridge: model.l2, s)
                let shs = try BLAS.dot(s, hs)
                guard shs > 0 else { break }
                let a = rr / shs
                try BLAS.axpy(a, s, &p)
                try BLAS.axpy(-a, hs, &r)
                let rrNew = try BLAS.dot(r, r)
                if rrNew.squareRoot() <= target { break }
                BLAS.scal(rrNew / rr, &s)
                try BLAS.axpy(1, r, &s)
                rr = rrNew
            }
            let dec = -(try BLAS.dot(g, p))
            guard dec > 0 else { break }
            var t = 1.0
            while true {
                var cand = theta
                try BLAS.axpy(t, p, &cand)
                let (fc, gc, _) = try model.evaluate(cand, features: x, targets: y)
                if fc <= f - 0.25 * t * dec || dec < 1e-10 * max(1, abs(f)) {
                    theta = cand
                    f = fc
                    g = gc
                    break
                }
                if t < 1e-6 {
                    it = maxIterations
                    break
                }
                t *= 0.5
            }
            it += 1
        }
        return Result(theta: theta, fStar: f, gradientNorm: norm(g), iterations: it)
    }
}
