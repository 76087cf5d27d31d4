import AgoraKernels
import AgoraTopology

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
        var value: [Double]  // v(a(x))
        var dvalue: [Double]  // d v(a(x)) / dx
        var d2value: [Double]  // d2 v(a(x)) / dx2
        /// weightRows . value: the budgets tbar_i, then the objective -E[v].
        var weighted: [Double]
    }

    /// Remembers the last evaluation and the last derivatives: the solver asks for the objective and
    /// the constraints at the same point, and line searches for values only.
    final class Cache: @unchecked Sendable {
        var m: [Double] = []
        var e: Evaluation? = nil
        var fm: [Double] = []
        var fc: [Double]? = nil
        var first: FirstOrder? = nil
    }

    /// Values and gradients of every weight row, and the one Hessian a Newton step uses.
    struct FirstOrder {
        /// weightRows . v: the budgets, then the objective.
        var values: [Double]
        /// [types + 1 x types]: row i = grad tbar_i, row `types` = grad of the objective.
        var gradients: Matrix<Double>
        /// The Hessian of objectiveWeight (-E v) + sum_i budgetWeights[i] (t_i - tbar_i) (t is
        /// linear in the programs' variables), when budget weights were given.
        var hessian: Matrix<Double>?
    }

    /// `FirstOrder` at m from one pass (`Kernels.weightedMoments(..., combiningPairsWith:)`): a
    /// Newton step needs every gradient but only the Hessian of the combination its barrier or KKT
    /// system forms, 36 pair sums per outcome instead of 9 x 36. The weight rows' coefficients are
    /// -budgetWeights[i] (tbar_i enters the budget constraint negated) and objectiveWeight (the
    /// objective's row is -pmf).
    func firstOrder(_ m: [Double], objectiveWeight: Double, budgetWeights: [Double]?) -> FirstOrder {
        let c = budgetWeights.map { $0.map { -$0 } + [objectiveWeight] }
        if let f = cache.first, cache.fm == m, c == nil || cache.fc == c { return f }
        let e = evaluate(m)
        let k = countsT.rows, h = weightRows.rows
        let perRow: Matrix<Double>
        var hessian: Matrix<Double>? = nil
        if let c {
            let r = try! Kernels.weightedMoments(
                columns: countsT, weights: weightRows, f0: e.value, f1: e.dvalue, f2: e.d2value,
                combiningPairsWith: c)
            perRow = r.perRow
            var hess = Matrix<Double>(rows: k, cols: k)
            for (q, (a, b)) in pairs.enumerated() {
                hess[a, b] = r.pairs[q]
                hess[b, a] = r.pairs[q]
            }
            hessian = hess
        } else {
            perRow = try! Kernels.weightedMoments(columns: countsT, weights: weightRows, f0: e.value, f1: e.dvalue)
        }
        var gradients = Matrix<Double>(rows: h, cols: k)
        for row in 0..<h { for a in 0..<k { gradients[row, a] = perRow[row, 1 + a] } }
        let f = FirstOrder(values: e.weighted, gradients: gradients, hessian: hessian)
        cache.fm = m
        cache.fc = c
        cache.first = f
        return f
    }

    let cache = Cache()

    func evaluate(_ m: [Double]) -> Evaluation {
        if let e = cache.e, cache.m == m { return e }
        let e = evaluateUncached(m)
        cache.m = m
        cache.e = e
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
                v[i] = vv
                dv[i] = dvv * da
                d2v[i] = d2vv * da * da + dvv * d2a
            }
        }
        let weighted = try! Kernels.weightedMoments(columns: countsT, weights: weightRows, f0: val).storage
        return Evaluation(totals: x, accuracy: acc, value: val, dvalue: dval, d2value: d2val, weighted: weighted)
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
            if i > 0 {
                for k in 0..<types { t[i, k] = t[i - 1, k] }
                t[i, i - 1] -= c[i]
            }
            t[i, i] += c[i]
        }
        return t
    }

    func t(_ m: [Double]) -> [Double] {
        let tm = tMap
        return (0..<types).map { i in f[0] + (0..<types).reduce(0.0) { $0 + tm[i, $1] * m[$1] } }
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

    /// One pass over the outcomes: the Hessian asked for is objectiveWeight (-E v) + sum_i w_i
    /// (t_i - tbar_i) (only the budgets are nonlinear), i.e. the weight rows combined with
    /// coefficients -w_i for the budgets' rows and objectiveWeight for the objective's.
    func derivatives(_ m: [Double], objectiveWeight: Double, constraintWeights: [Double]?) -> ProgramDerivatives {
        let first = exp.firstOrder(m, objectiveWeight: objectiveWeight, budgetWeights: constraintWeights.map { Array($0.prefix(types)) })
        let (vals, jac) = linearised(m, budgets: first.values, budgetGradients: first.gradients)
        return ProgramDerivatives(
            value: first.values[types], gradient: first.gradients.row(types), constraintValues: vals,
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
            jac[row, i] = 1
            jac[row, i + 1] = -1
            row += 1
        }
        // m_1 >= 0.
        vals.append(-m[0])
        jac[row, 0] = -1
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

    func objectiveValue(_ y: [Double]) -> Double {
        exp.evaluate(Array(y[0..<types])).weighted[types]
    }

    func constraintValues(_ y: [Double]) -> [Double] {
        linearised(y, budgets: exp.evaluate(Array(y[0..<types])).weighted, budgetGradients: nil).0
    }

    /// As the reduced program: only the budgets (rows 0..<types, t_i - tbar_i(m)) and the
    /// objective depend nonlinearly on m; their combined Hessian fills the m block.
    func derivatives(_ y: [Double], objectiveWeight: Double, constraintWeights: [Double]?) -> ProgramDerivatives {
        let m = Array(y[0..<types])
        let first = exp.firstOrder(m, objectiveWeight: objectiveWeight, budgetWeights: constraintWeights.map { Array($0.prefix(types)) })
        let (vals, jac) = linearised(y, budgets: first.values, budgetGradients: first.gradients)
        let hessian = first.hessian.map { h in
            var e = Matrix<Double>(rows: dimension, cols: dimension)
            for a in 0..<types { for b in 0..<types { e[a, b] = h[a, b] } }
            return e
        }
        return ProgramDerivatives(
            value: first.values[types], gradient: first.gradients.row(types) + [Double](repeating: 0, count: types),
            constraintValues: vals, jacobian: jac, hessian: hessian)
    }

    /// Constraint values, and the Jacobian when the budgets' gradients are given.
    func linearised(_ y: [Double], budgets tbar: [Double], budgetGradients grads: Matrix<Double>?) -> ([Double], Matrix<Double>) {
        let m = Array(y[0..<types]), t = Array(y[types...])
        var vals: [Double] = []
        var jac = Matrix<Double>(rows: grads == nil ? 0 : constraintCount, cols: grads == nil ? 0 : dimension)
        func set(_ r: Int, _ c: Int, _ v: Double) { if grads != nil { jac[r, c] += v } }
        var row = 0
        for i in 0..<types {  // budget: t_i - tbar_i(m) <= 0
            vals.append(t[i] - tbar[i])
            if let grads { for k in 0..<types { set(row, k, -grads[i, k]) } }
            set(row, types + i, 1)
            row += 1
        }
        for i in 0..<types {  // IR: f_i - t_i + c_i m_i <= 0
            vals.append(f[i] - t[i] + c[i] * m[i])
            set(row, types + i, -1)
            set(row, i, c[i])
            row += 1
        }
        for i in 0..<types {
            for j in 0..<types where j != i {  // IC: (t_j - c_i m_j) - (t_i - c_i m_i) <= 0
                vals.append(t[j] - c[i] * m[j] - t[i] + c[i] * m[i])
                set(row, types + j, 1)
                set(row, j, -c[i])
                set(row, types + i, -1)
                set(row, i, c[i])
                row += 1
            }
        }
        for i in 0..<types {
            vals.append(-m[i])
            set(row, i, -1)
            row += 1
        }
        for i in 0..<types {
            vals.append(-t[i])
            set(row, types + i, -1)
            row += 1
        }
        return (vals, jac)
    }
}
