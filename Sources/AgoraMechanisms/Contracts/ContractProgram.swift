import AgoraKernels
import AgoraTopology
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Expectations over all Multinomial outcomes of v(a(n . m)) and their derivatives: totals
/// x = N m, per-outcome values and derivatives (vectorised), then every weighted sum one Newton step
/// needs from one fused pass (`Kernels.weightedMoments`: values, N^T diag(w) v', N^T diag(w v'') N).
struct OutcomeExpectations {
    let outcomes: MultinomialOutcomes
    let accuracy: AccuracyFunction
    let valuation: ValuationFunction
    let pairs: [(Int, Int)]
    /// [types x outcomes]: the outcome counts transposed, one contiguous row per type, so that the
    /// per-outcome products in the fused kernel are unit-stride; in single precision (small
    /// integers, exact), which halves the bytes every pass over the outcomes reads for them.
    let countsT: Matrix<Float>
    /// [types + 1 x outcomes]: the conditional weights of every type's budget, then -pmf (the
    /// objective -E[v]). Every expectation of one Newton step is a product with these rows.
    let weightRows: Matrix<Double>

    init(outcomes: MultinomialOutcomes, accuracy: AccuracyFunction, valuation: ValuationFunction) {
        self.outcomes = outcomes
        self.accuracy = accuracy
        self.valuation = valuation
        let counts = outcomes.counts
        pairs = Kernels.upperTrianglePairs(counts.cols)
        var t = Matrix<Float>(rows: counts.cols, cols: counts.rows)
        for o in 0..<counts.rows { for i in 0..<counts.cols { t[i, o] = Float(counts[o, i]) } }
        countsT = t
        let cond = outcomes.conditional
        weightRows = try! Matrix(rows: cond.rows + 1, cols: cond.cols, storage: cond.storage + outcomes.pmf.map { -$0 })
    }

    struct Evaluation {
        var totals: [Double]
        var accuracy: [Double]
        var value: [Double]      // v(a(x))
        var dvalue: [Double]     // d v(a(x)) / dx
        var d2value: [Double]    // d2 v(a(x)) / dx2
        /// weightRows . value: the budgets tbar_i, then the objective -E[v].
        var weighted: [Double]
    }

    /// Remembers the last evaluation and the last derivatives: the solver asks for the objective and
    /// the constraints at the same point, and line searches for values only.
    final class Cache: @unchecked Sendable {
        var m: [Double] = []
        var e: Evaluation? = nil
        var dm: [Double] = []
        var d: Derivatives? = nil
        var fm: [Double] = []
        var fc: [Double]? = nil
        var first: FirstOrder? = nil
    }

    /// Values and gradients of every weight row, and one Hessian: that of sum_h c_h (row h's
    /// expectation), when coefficients were given.
    struct FirstOrder {
        /// weightRows . v: the budgets, then the objective.
        var values: [Double]
        /// [types + 1 x types], rows as in `Derivatives.gradients`.
        var gradients: Matrix<Double>
        var hessian: Matrix<Double>?
    }

    /// `FirstOrder` at m from one pass (`Kernels.weightedMoments(..., combiningPairsWith:)`): a
    /// Newton step needs every gradient but only the Hessian of the combination its barrier or KKT
    /// system forms, 36 pair sums per outcome instead of 9 x 36.
    func firstOrder(_ m: [Double], hessianCoefficients c: [Double]?) -> FirstOrder {
        if let f = cache.first, cache.fm == m, c == nil || cache.fc == c { return f }
        let e = evaluate(m)
        let k = countsT.rows, h = weightRows.rows
        let perRow: Matrix<Double>
        var hessian: Matrix<Double>? = nil
        if let c {
            let r = try! Kernels.weightedMoments(columns: countsT, weights: weightRows, f0: e.value, f1: e.dvalue, f2: e.d2value,
                                                 combiningPairsWith: c)
            perRow = r.perRow
            var hess = Matrix<Double>(rows: k, cols: k)
            for (q, (a, b)) in pairs.enumerated() { hess[a, b] = r.pairs[q]; hess[b, a] = r.pairs[q] }
            hessian = hess
        } else {
            perRow = try! Kernels.weightedMoments(columns: countsT, weights: weightRows, f0: e.value, f1: e.dvalue)
        }
        var gradients = Matrix<Double>(rows: h, cols: k)
        for row in 0..<h { for a in 0..<k { gradients[row, a] = perRow[row, 1 + a] } }
        let f = FirstOrder(values: e.weighted, gradients: gradients, hessian: hessian)
        cache.fm = m; cache.fc = c; cache.first = f
        return f
    }

    /// Every weight row's gradient and Hessian at m, from one fused pass over the outcomes: rows
    /// 0..<types are the budgets tbar_i, row `types` the objective -E[v]. The reduced program's
    /// Newton steps use `firstOrder` (one combined Hessian); this serves `objective`/`constraints`
    /// (the full program, which checks the reduced one).
    struct Derivatives {
        var budgets: [Double]
        /// [types + 1 x types]: row i = grad tbar_i, row `types` = grad of the objective.
        var gradients: Matrix<Double>
        /// types + 1 Hessians, in the same order.
        var hessians: [Matrix<Double>]
        var objective: Double
    }

    func derivatives(_ m: [Double]) -> Derivatives {
        if let d = cache.d, cache.dm == m { return d }
        let e = evaluate(m)
        let k = countsT.rows, h = weightRows.rows
        let r = try! Kernels.weightedMoments(columns: countsT, weights: weightRows, f0: e.value, f1: e.dvalue, f2: e.d2value)
        var gradients = Matrix<Double>(rows: h, cols: k)
        var hessians: [Matrix<Double>] = []
        for row in 0..<h {
            for a in 0..<k { gradients[row, a] = r[row, 1 + a] }
            var hess = Matrix<Double>(rows: k, cols: k)
            for (q, (a, b)) in pairs.enumerated() { hess[a, b] = r[row, 1 + k + q]; hess[b, a] = r[row, 1 + k + q] }
            hessians.append(hess)
        }
        // Values from the evaluation (the same sums the line search's constraint values use).
        let values = e.weighted
        let d = Derivatives(budgets: Array(values.dropLast()), gradients: gradients, hessians: hessians, objective: values.last!)
        cache.dm = m; cache.d = d
        return d
    }
    let cache = Cache()

    func evaluate(_ m: [Double]) -> Evaluation {
        if let e = cache.e, cache.m == m { return e }
        let e = evaluateUncached(m)
        cache.m = m; cache.e = e
        return e
    }

    func evaluateUncached(_ m: [Double]) -> Evaluation {
        let x = try! Kernels.rowCombination(countsT, coefficients: m)
        // On the pool, chunk by chunk (at 888k outcomes the accuracy's logarithms were a sixth of
        // the solve in scalar code): a(x) vectorised, then v(a(x)) and its first two derivatives in
        // x by the chain rule (da and d2a pass through the derivative outputs).
        let accuracy = self.accuracy, valuation = self.valuation
        let (acc, val, dval, d2val) = Kernels.map4Chunks(x) { xs, a, v, dv, d2v in
            accuracy.evaluate(xs, a: a, da: dv, d2a: d2v)
            for i in xs.indices {
                let (vv, dvv, d2vv) = valuation.evaluate(a[i])
                let da = dv[i], d2a = d2v[i]
                v[i] = vv; dv[i] = dvv * da; d2v[i] = d2vv * da * da + dvv * d2a
            }
        }
        let weighted = try! Kernels.weightedMoments(columns: countsT, weights: weightRows, f0: val).storage
        return Evaluation(totals: x, accuracy: acc, value: val, dvalue: dval, d2value: d2val, weighted: weighted)
    }

    /// The budgets tbar_i(m) = E[v(a(n . m)) | n_i >= 1] of every type, with their gradients
    /// ([types x types], row i = grad tbar_i) and Hessians (from `derivatives`).
    func budgets(_ m: [Double]) -> (values: [Double], gradients: Matrix<Double>, hessians: [Matrix<Double>]) {
        let d = derivatives(m)
        return (d.budgets, d.gradients, Array(d.hessians.prefix(d.budgets.count)))
    }
}

/// The reduced first-moment program in m alone (types sorted by cost, highest first):
/// t follows from m through the binding constraints t_1 = f_1 + c_1 m_1 and
/// t_{i+1} = t_i + c_{i+1}(m_{i+1} - m_i). Minimizes -E[v(a(n . m))] subject to
/// budget t_i(m) <= tbar_i(m), IR t_i - c_i m_i >= f_i (i >= 2), m_1 <= ... <= m_I, m_1 >= 0.
struct ReducedContractProgram: SmoothConvexProgram {
    let exp: OutcomeExpectations
    let c: [Double]
    let f: [Double]
    var types: Int { c.count }
    var dimension: Int { types }
    var constraintCount: Int { types + (types - 1) + (types - 1) + 1 }

    /// t = T m + f_1 (T lower triangular).
    var tMap: Matrix<Double> {
        var t = Matrix<Double>(rows: types, cols: types)
        for i in 0..<types {
            if i > 0 { for k in 0..<types { t[i, k] = t[i - 1, k] } ; t[i, i - 1] -= c[i] }
            t[i, i] += c[i]
        }
        return t
    }

    func t(_ m: [Double]) -> [Double] {
        let tm = tMap
        return (0..<types).map { i in f[0] + (0..<types).reduce(0.0) { $0 + tm[i, $1] * m[$1] } }
    }

    func objective(_ m: [Double]) -> (value: Double, gradient: [Double], hessian: Matrix<Double>) {
        let d = exp.derivatives(m)
        return (d.objective, d.gradients.row(types), d.hessians[types])
    }

    func objectiveValue(_ m: [Double]) -> Double {
        exp.evaluate(m).weighted[types]
    }

    func constraintValues(_ m: [Double]) -> [Double] {
        let tbar = exp.evaluate(m).weighted
        let tv = t(m)
        var vals = (0..<types).map { tv[$0] - tbar[$0] }
        for i in 1..<max(1, types) { vals.append(f[i] - (tv[i] - c[i] * m[i])) }
        for i in 0..<max(0, types - 1) { vals.append(m[i] - m[i + 1]) }
        vals.append(-m[0])
        return vals
    }

    func constraints(_ m: [Double]) -> (values: [Double], jacobian: Matrix<Double>, hessians: [Matrix<Double>?]) {
        let (tbar, grads, hess) = exp.budgets(m)
        let (vals, jac) = linearised(m, budgets: tbar, budgetGradients: grads)
        // Budget: t_i - tbar_i <= 0 (convex: tbar_i is concave, its Hessian enters negated); the rest are linear.
        let hs: [Matrix<Double>?] = (0..<constraintCount).map { j in
            j < types ? try! Matrix(rows: types, cols: types, storage: hess[j].storage.map { -$0 }) : nil
        }
        return (vals, jac, hs)
    }

    /// One pass over the outcomes: the Hessian asked for is objectiveWeight (-E v) + sum_i w_i
    /// (t_i - tbar_i) (only the budgets are nonlinear), i.e. the weight rows combined with
    /// coefficients -w_i for the budgets' rows and objectiveWeight for the objective's.
    func derivatives(_ m: [Double], objectiveWeight: Double, constraintWeights: [Double]?) -> ProgramDerivatives {
        let coefficients = constraintWeights.map { w in (0..<types).map { -w[$0] } + [objectiveWeight] }
        let first = exp.firstOrder(m, hessianCoefficients: coefficients)
        let (vals, jac) = linearised(m, budgets: first.values, budgetGradients: first.gradients)
        return ProgramDerivatives(value: first.values[types], gradient: first.gradients.row(types), constraintValues: vals,
                                  jacobian: jac, hessian: first.hessian)
    }

    /// Constraint values and Jacobian from the budgets and their gradients (rows 0..<types of
    /// `budgetGradients`).
    func linearised(_ m: [Double], budgets tbar: [Double], budgetGradients grads: Matrix<Double>) -> ([Double], Matrix<Double>) {
        let tm = tMap
        let tv = t(m)
        var vals: [Double] = []
        var jac = Matrix<Double>(rows: constraintCount, cols: types)
        var row = 0
        // Budget: t_i - tbar_i <= 0.
        for i in 0..<types {
            vals.append(tv[i] - tbar[i])
            for q in 0..<types { jac[row, q] = tm[i, q] - grads[i, q] }
            row += 1
        }
        // IR for i >= 2: f_i - (t_i - c_i m_i) <= 0.
        for i in 1..<max(1, types) {
            vals.append(f[i] - (tv[i] - c[i] * m[i]))
            for k in 0..<types { jac[row, k] = -tm[i, k] }
            jac[row, i] += c[i]
            row += 1
        }
        // Monotone m_i - m_{i+1} <= 0.
        for i in 0..<max(0, types - 1) {
            vals.append(m[i] - m[i + 1])
            jac[row, i] = 1; jac[row, i + 1] = -1
            row += 1
        }
        // m_1 >= 0.
        vals.append(-m[0]); jac[row, 0] = -1
        return (vals, jac)
    }
}

/// The full first-moment program in (m, t): every pairwise IC, every IR, the budget, m, t >= 0.
/// Used to check that the reduced program reaches the same optimum.
struct FullContractProgram: SmoothConvexProgram {
    let exp: OutcomeExpectations
    let c: [Double]
    let f: [Double]
    var types: Int { c.count }
    var dimension: Int { 2 * types }
    var constraintCount: Int { types + types + types * (types - 1) + 2 * types }

    func objective(_ y: [Double]) -> (value: Double, gradient: [Double], hessian: Matrix<Double>) {
        let red = ReducedContractProgram(exp: exp, c: c, f: f)
        let (v, g, h) = red.objective(Array(y[0..<types]))
        var hh = Matrix<Double>(rows: dimension, cols: dimension)
        for a in 0..<types { for b in 0..<types { hh[a, b] = h[a, b] } }
        return (v, g + [Double](repeating: 0, count: types), hh)
    }

    func constraints(_ y: [Double]) -> (values: [Double], jacobian: Matrix<Double>, hessians: [Matrix<Double>?]) {
        let m = Array(y[0..<types]), t = Array(y[types...])
        var vals: [Double] = []
        var jac = Matrix<Double>(rows: constraintCount, cols: dimension)
        var hs: [Matrix<Double>?] = []
        var row = 0
        let (tbar, grads, hess) = exp.budgets(m)
        for i in 0..<types {
            vals.append(t[i] - tbar[i])
            for k in 0..<types { jac[row, k] = -grads[i, k] }
            jac[row, types + i] = 1
            var h = Matrix<Double>(rows: dimension, cols: dimension)
            for a in 0..<types { for b in 0..<types { h[a, b] = -hess[i][a, b] } }
            hs.append(h); row += 1
        }
        for i in 0..<types {  // IR: f_i - t_i + c_i m_i <= 0
            vals.append(f[i] - t[i] + c[i] * m[i]); jac[row, types + i] = -1; jac[row, i] = c[i]; hs.append(nil); row += 1
        }
        for i in 0..<types { for j in 0..<types where j != i {  // IC: (t_j - c_i m_j) - (t_i - c_i m_i) <= 0
            vals.append(t[j] - c[i] * m[j] - t[i] + c[i] * m[i])
            jac[row, types + j] = 1; jac[row, j] = -c[i]; jac[row, types + i] = -1; jac[row, i] += c[i]
            hs.append(nil); row += 1
        } }
        for i in 0..<types { vals.append(-m[i]); jac[row, i] = -1; hs.append(nil); row += 1 }
        for i in 0..<types { vals.append(-t[i]); jac[row, types + i] = -1; hs.append(nil); row += 1 }
        return (vals, jac, hs)
    }
}
