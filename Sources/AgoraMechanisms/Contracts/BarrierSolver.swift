import AgoraKernels

/// A smooth convex program with few variables:  minimize f(x)  subject to  g_j(x) <= 0.
///
/// Implementations return exact first and second derivatives; f and every g_j must be convex.
/// The solver never needs a constraint's Hessian on its own, only the one combination its barrier
/// (t H_f + sum_j H_gj / -g_j) or KKT system (H_f + sum_j lam_j H_gj) forms, so that is what a
/// program returns: for the contract programs one pass over ~1e6 outcomes.
public protocol SmoothConvexProgram {
    var dimension: Int { get }
    var constraintCount: Int { get }
    /// f(x) alone (line searches).
    func objectiveValue(_ x: [Double]) -> Double
    /// g(x) alone (line searches).
    func constraintValues(_ x: [Double]) -> [Double]
    /// What a Newton step needs: f, its gradient, g, its Jacobian and, when `constraintWeights` is
    /// given, the Hessian of objectiveWeight f + sum_j constraintWeights[j] g_j.
    func derivatives(_ x: [Double], objectiveWeight: Double, constraintWeights: [Double]?) -> ProgramDerivatives
}

/// The result of `SmoothConvexProgram.derivatives`.
public struct ProgramDerivatives {
    public var value: Double
    public var gradient: [Double]
    public var constraintValues: [Double]
    /// [constraints x dimension].
    public var jacobian: Matrix<Double>
    /// The Hessian of objectiveWeight f + sum_j w_j g_j; nil when no weights were asked for.
    public var hessian: Matrix<Double>?
    public init(value: Double, gradient: [Double], constraintValues: [Double], jacobian: Matrix<Double>, hessian: Matrix<Double>?) {
        self.value = value
        self.gradient = gradient
        self.constraintValues = constraintValues
        self.jacobian = jacobian
        self.hessian = hessian
    }
}

/// The result of `BarrierSolver.solve`.
public struct ConvexSolution: Sendable, Codable {
    public var x: [Double]
    public var objective: Double
    /// Lagrange multipliers (>= 0), one per constraint.
    public var multipliers: [Double]
    /// Indices of constraints treated as active (equalities) in the final KKT solve.
    public var active: [Int]
    /// max of stationarity ||grad f + J^T lambda||_inf (relative to ||grad f||_inf), primal
    /// infeasibility max(g, 0) (relative to the constraint scale) and complementarity |lambda_j g_j|.
    public var kktResidual: Double
    public var newtonSteps: Int
    /// "active-set polish" when the final KKT solve was accepted, else "barrier".
    public var finish: String
}

/// A primal log-barrier interior-point method with exact Newton steps, followed by an active-set
/// Newton polish on the KKT equations.
///
/// Why this method (see docs/contracts.md for the measurement): the contract programs have a handful
/// of variables, exact Hessians are cheap (one pass over the enumerated outcomes), and the problem is
/// very flat with variables spanning 1e2..1e4. Newton's method is affine invariant, so neither the
/// flatness nor the scale slows it down, unlike the first-order steps that make scipy's
/// `trust-constr` stop early. The barrier alone approaches active constraints (e.g. pooling
/// m_i = m_{i+1}) only to within 1/t; the final KKT solve with the active set as equalities lands
/// on them exactly and drives the residual to rounding level.
public struct BarrierSolver {
    public var tolerance = 1e-12
    public var maxNewtonSteps = 2000
    /// Squared Newton decrement below which centring takes full steps (see `centre`); for a
    /// self-concordant barrier full steps converge quadratically from 0.06, so 1e-3 is conservative.
    public var quadraticRegion = 1e-3
    public init() {}

    public func solve<P: SmoothConvexProgram>(_ p: P, start: [Double]) throws -> ConvexSolution {
        precondition(start.count == p.dimension)
        var x = start
        let g0 = p.constraintValues(x)
        if g0.contains(where: { !($0 < 0) }) {
            x = try phaseOne(p, start: x)
        }
        var steps = 0
        let mCount = Double(max(1, p.constraintCount))
        var t = 1.0
        // Scale t to the objective's gradient so the first centring is well conditioned.
        let gnorm = p.derivatives(x, objectiveWeight: 0, constraintWeights: nil).gradient.map(abs).max() ?? 1
        t = gnorm > 0 ? mCount / max(1e-300, gnorm * max(1, x.map(abs).max() ?? 1)) : 1
        var best: ConvexSolution? = nil
        while true {
            try centre(p, &x, t: t, steps: &steps)
            let gap = mCount / t
            let scale = max(1, abs(p.objectiveValue(x)))
            // Once the barrier is close, try to finish exactly on the active set.
            if gap < 1e-5 * scale, let s = tryPolish(p, x: x, t: t, steps: &steps), s.kktResidual < 1e-10 {
                best = s
                break
            }
            if gap < tolerance * scale || steps > maxNewtonSteps { break }
            t *= 20
        }
        if let best { return best }
        let g = p.constraintValues(x)
        let lambda = g.map { 1 / (t * max(1e-300, -$0)) }
        let barrier = ConvexSolution(
            x: x, objective: p.objectiveValue(x), multipliers: lambda, active: [],
            kktResidual: kkt(p, x, lambda), newtonSteps: steps, finish: "barrier")
        if let s = tryPolish(p, x: x, t: t, steps: &steps), s.kktResidual <= barrier.kktResidual { return s }
        return barrier
    }

    /// Newton on the KKT equations of the constraints the barrier multipliers mark as active
    /// (independent subset), dropping any that come out with a negative multiplier.
    func tryPolish<P: SmoothConvexProgram>(_ p: P, x: [Double], t: Double, steps: inout Int) -> ConvexSolution? {
        let first = p.derivatives(x, objectiveWeight: 0, constraintWeights: nil)
        let g = first.constraintValues, jac = first.jacobian
        let lambda = g.map { 1 / (t * max(1e-300, -$0)) }
        let lmax = lambda.max() ?? 0
        let candidates = (0..<g.count).filter { lambda[$0] > 1e-6 * max(lmax, 1e-300) }
            .sorted { lambda[$0] > lambda[$1] }
        var active = independentSubset(candidates, jacobian: jac)
        for _ in 0..<4 {
            guard let (xp, lp) = try? polish(p, from: x, active: active, steps: &steps) else { return nil }
            let drop = Set(active.filter { lp[$0] < -1e-12 })
            if drop.isEmpty {
                let feasible = p.constraintValues(xp).allSatisfy { $0 <= 1e-9 * constraintScale(p, xp) }
                if !feasible { return nil }
                let lam = lp.map { max(0, $0) }
                return ConvexSolution(
                    x: xp, objective: p.objectiveValue(xp), multipliers: lam, active: active,
                    kktResidual: kkt(p, xp, lam), newtonSteps: steps, finish: "active-set polish")
            }
            active.removeAll { drop.contains($0) }
        }
        return nil
    }

    /// A maximal subset of `candidates` (in order) whose constraint gradients are linearly
    /// independent. Degenerate optima (e.g. every type pooled with every budget binding at once)
    /// have more active constraints than variables; the KKT system keeps only independent ones and
    /// the rest are checked for feasibility afterwards.
    func independentSubset(_ candidates: [Int], jacobian: Matrix<Double>) -> [Int] {
        var basis: [[Double]] = []
        var chosen: [Int] = []
        for j in candidates {
            var v = jacobian.row(j)
            let norm0 = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm0 == 0 { continue }
            for b in basis {
                let d = zip(v, b).reduce(0) { $0 + $1.0 * $1.1 }
                for k in v.indices { v[k] -= d * b[k] }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 1e-7 * norm0 {
                basis.append(v.map { $0 / norm })
                chosen.append(j)
            }
            if chosen.count == jacobian.cols { break }
        }
        return chosen
    }

    func constraintScale<P: SmoothConvexProgram>(_ p: P, _ x: [Double]) -> Double {
        max(1, x.map(abs).max() ?? 1)
    }

    /// KKT residual (see `ConvexSolution.kktResidual`).
    public func kkt<P: SmoothConvexProgram>(_ p: P, _ x: [Double], _ lambda: [Double]) -> Double {
        let first = p.derivatives(x, objectiveWeight: 0, constraintWeights: nil)
        let grad = first.gradient, g = first.constraintValues, jac = first.jacobian
        var r = grad
        for j in 0..<g.count { for k in 0..<x.count { r[k] += lambda[j] * jac[j, k] } }
        let scale = max(1e-300, grad.map(abs).max() ?? 1)
        let stat = (r.map(abs).max() ?? 0) / scale
        let feas = (g.map { max(0, $0) }.max() ?? 0) / constraintScale(p, x)
        let comp = (0..<g.count).map { abs(lambda[$0] * g[$0]) }.max() ?? 0
        return max(stat, feas, comp / scale)
    }

    /// Damped Newton on t f - sum log(-g); returns the number of steps.
    func centre<P: SmoothConvexProgram>(
        _ p: P, _ x: inout [Double], t: Double, steps: inout Int,
        until done: (([Double]) -> Bool)? = nil
    ) throws {
        let n = p.dimension
        func phi(_ y: [Double]) -> Double? {
            let g = p.constraintValues(y)
            var s = t * p.objectiveValue(y)
            for v in g {
                if !(v < 0) { return nil }
                s -= Math.log(-v)
            }
            return s
        }
        var lastFullStepDecrement = Double.infinity
        for _ in 0..<200 {
            if let done, done(x) { return }
            // The barrier's Hessian t H_f + sum_j (1/-g_j) H_gj comes from the program in one piece.
            let inverse = p.constraintValues(x).map { 1 / -$0 }
            let d = p.derivatives(x, objectiveWeight: t, constraintWeights: inverse)
            let g = d.constraintValues, jac = d.jacobian
            var grad = d.gradient.map { t * $0 }
            var h = d.hessian!
            for j in 0..<g.count {
                let inv = 1 / -g[j]
                for a in 0..<n {
                    grad[a] += inv * jac[j, a]
                    for b in 0..<n { h[a, b] += inv * inv * jac[j, a] * jac[j, b] }
                }
            }
            let dx: [Double]
            do { dx = try SmallDense.solve(h, grad.map { -$0 }) } catch {
                // Regularise a singular Hessian (flat directions) and retry.
                var hr = h
                let d = (0..<n).map { abs(h[$0, $0]) }.max() ?? 1
                for a in 0..<n { hr[a, a] += 1e-10 * max(d, 1e-300) }
                dx = try SmallDense.solve(hr, grad.map { -$0 })
            }
            var dec = 0.0
            for a in 0..<n { dec -= grad[a] * dx[a] }
            // The Newton decrement bounds the barrier suboptimality (scale-free: barrier terms are O(1)).
            if dec / 2 <= 1e-10 { break }
            // Deep in the quadratic region take the full step, without the Armijo test: there the
            // decrease it asks for (~dec) is below the rounding noise of phi itself (t f sums ~1e6
            // outcome terms: at t = 1e5 the noise is ~1e-6, the decrease ~1e-8), and the test
            // rejected good steps at random, stalling at 1e-6-sized steps for up to 200 iterations.
            // Stop once a full step no longer halves the decrement: that is the noise floor.
            if dec < quadraticRegion {
                if dec > 0.5 * lastFullStepDecrement { break }
                let y = (0..<n).map { x[$0] + dx[$0] }
                if phi(y) != nil {
                    x = y
                    lastFullStepDecrement = dec
                    steps += 1
                    continue
                }
            }
            lastFullStepDecrement = .infinity
            guard let base = phi(x) else { throw AgoraError.configuration("barrier iterate left the feasible set") }
            var s = 1.0
            while s > 1e-12 {
                let y = (0..<n).map { x[$0] + s * dx[$0] }
                if let v = phi(y), v <= base - 0.25 * s * dec {
                    x = y
                    break
                }
                s *= 0.5
            }
            steps += 1
            if s <= 1e-12 { break }  // no progress possible at this precision
        }
    }

    /// Newton on the KKT equations with `active` constraints as equalities.
    func polish<P: SmoothConvexProgram>(_ p: P, from start: [Double], active: [Int], steps: inout Int) throws -> ([Double], [Double]) {
        let n = p.dimension, k = active.count
        var x = start
        var lam = [Double](repeating: 0, count: p.constraintCount)
        var previousStepNorm = Double.infinity
        for _ in 0..<30 {
            // The Lagrangian's Hessian H_f + sum_active lam_j H_gj (lam from the previous step).
            var weights = [Double](repeating: 0, count: p.constraintCount)
            for j in active { weights[j] = lam[j] }
            let d = p.derivatives(x, objectiveWeight: 1, constraintWeights: weights)
            let gf = d.gradient, g = d.constraintValues, jac = d.jacobian, hl = d.hessian!
            var kk = Matrix<Double>(rows: n + k, cols: n + k)
            var rhs = [Double](repeating: 0, count: n + k)
            for a in 0..<n {
                for b in 0..<n { kk[a, b] = hl[a, b] }
                rhs[a] = -gf[a]
            }
            for (r, j) in active.enumerated() {
                for a in 0..<n {
                    kk[n + r, a] = jac[j, a]
                    kk[a, n + r] = jac[j, a]
                }
                rhs[n + r] = -g[j]
            }
            // Solve for the step and the new multipliers directly: H dx + J^T lam = -grad f.
            let sol = try SmallDense.solve(kk, rhs)
            for a in 0..<n { x[a] += sol[a] }
            for (r, j) in active.enumerated() { lam[j] = sol[n + r] }
            steps += 1
            let stepNorm = (0..<n).map { abs(sol[$0]) / max(1, abs(x[$0])) }.max() ?? 0
            // Converged, or at the noise floor: Newton's steps shrink quadratically until rounding
            // in the ~1e6-term expectations takes over (about 1e-12 relative at 888k outcomes), and
            // there they stop shrinking; an exact 1e-15 test ran out all 30 iterations there.
            if stepNorm < 1e-15 || (stepNorm < 1e-9 && stepNorm > 0.1 * previousStepNorm) { break }
            previousStepNorm = stepNorm
        }
        return (x, lam)
    }

    /// Finds a strictly feasible point by minimizing s subject to g_j(x) <= s.
    func phaseOne<P: SmoothConvexProgram>(_ p: P, start: [Double]) throws -> [Double] {
        let ph = PhaseOneProgram(q: p)
        let g = p.constraintValues(start)
        var y = start + [(g.max() ?? 0) + 1 + 0.01 * abs(g.max() ?? 0)]
        var t = 1.0
        var steps = 0
        // Any iterate with s < 0 is strictly feasible: stop there rather than centre to the end
        // (full centrings at t = 1 and 10 cost 20-odd Newton steps on the I = 8, N = 20 contract).
        for _ in 0..<60 {
            try centre(ph, &y, t: t, steps: &steps, until: { $0.last! < 0 })
            if y.last! < 0 { return Array(y.dropLast()) }
            t *= 10
        }
        throw AgoraError.configuration("no strictly feasible point: the constraints cannot all hold (infeasible setting)")
    }
}

/// Phase one of the barrier method: minimize s subject to g_j(x) - s <= 0 (and s >= -1e6).
struct PhaseOneProgram<Q: SmoothConvexProgram>: SmoothConvexProgram {
    let q: Q
    var dimension: Int { q.dimension + 1 }
    var constraintCount: Int { q.constraintCount + 1 }
    func objectiveValue(_ y: [Double]) -> Double { y[dimension - 1] }
    func constraintValues(_ y: [Double]) -> [Double] {
        let s = y.last!
        return q.constraintValues(Array(y.dropLast())).map { $0 - s } + [-s - 1e6]
    }
    /// The wrapped program's derivatives with the s column appended; the objective s and the
    /// bound on s are linear, so the Hessian is the wrapped program's constraint combination alone.
    func derivatives(_ y: [Double], objectiveWeight: Double, constraintWeights: [Double]?) -> ProgramDerivatives {
        let x = Array(y.dropLast()), s = y.last!
        let d = q.derivatives(x, objectiveWeight: 0, constraintWeights: constraintWeights.map { Array($0.prefix(q.constraintCount)) })
        var jac = Matrix<Double>(rows: constraintCount, cols: dimension)
        for r in 0..<q.constraintCount {
            for c in 0..<q.dimension { jac[r, c] = d.jacobian[r, c] }
            jac[r, q.dimension] = -1
        }
        jac[q.constraintCount, q.dimension] = -1
        var gr = [Double](repeating: 0, count: dimension)
        gr[dimension - 1] = 1
        let hessian = d.hessian.map { h in
            var e = Matrix<Double>(rows: dimension, cols: dimension)
            for a in 0..<q.dimension { for b in 0..<q.dimension { e[a, b] = h[a, b] } }
            return e
        }
        return ProgramDerivatives(
            value: s, gradient: gr, constraintValues: d.constraintValues.map { $0 - s } + [-s - 1e6],
            jacobian: jac, hessian: hessian)
    }
}
