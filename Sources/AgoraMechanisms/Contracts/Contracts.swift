import AgoraKernels
import AgoraTopology

/// A contract-design setting: N participants with types drawn i.i.d. from p, type i having marginal
/// contribution cost c_i. Types may be given in any order; they are sorted by cost (highest first)
/// internally and every result is reported in the caller's order.
public struct ContractSetting: Codable, Sendable, Equatable {
    /// N, the number of participants.
    public var participants: Int
    /// p, the type distribution (sums to 1).
    public var probabilities: [Double]
    /// c, marginal costs (positive, distinct).
    public var costs: [Double]
    /// f, reservation utilities; computed from the stand-alone problem when nil.
    public var reservationUtilities: [Double]?
    /// k of the generalization-bound accuracy a(x).
    public var accuracyK: Double = 1
    /// Scale of the linear valuation v(r) = scale * r.
    public var valuationScale: Double = 100
    /// Conditioning on n_i >= 1 (truncated, as the reference code; or size-biased).
    public var conditioning: MultinomialOutcomes.Conditioning = .truncated

    public init(participants: Int, probabilities: [Double], costs: [Double], reservationUtilities: [Double]? = nil) {
        self.participants = participants
        self.probabilities = probabilities
        self.costs = costs
        self.reservationUtilities = reservationUtilities
    }

    enum CodingKeys: String, CodingKey {
        case participants = "N", probabilities = "p", costs = "c", reservationUtilities = "f"
        case accuracyK = "k", valuationScale = "valuation_scale", conditioning
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        participants = try c.decode(Int.self, forKey: .participants)
        probabilities = try c.decode([Double].self, forKey: .probabilities)
        costs = try c.decode([Double].self, forKey: .costs)
        reservationUtilities = try c.decodeIfPresent([Double].self, forKey: .reservationUtilities)
        accuracyK = try c.decodeIfPresent(Double.self, forKey: .accuracyK) ?? 1
        valuationScale = try c.decodeIfPresent(Double.self, forKey: .valuationScale) ?? 100
        conditioning = try c.decodeIfPresent(MultinomialOutcomes.Conditioning.self, forKey: .conditioning) ?? .truncated
    }

    /// The most types a setting may have: the program has I^2 incentive constraints and a dense
    /// Newton system over the menu; 20 types solve in seconds.
    public static let maxTypes = 20
    /// The most participants N a setting may have.
    public static let maxParticipants = 1_000_000

    /// Checks the setting; every message names the field.
    public func validate() throws {
        let i = costs.count
        guard i >= 1 else { throw AgoraError.configuration("c: at least one type is needed") }
        guard probabilities.count == i else {
            throw AgoraError.configuration("p has \(probabilities.count) entries but c has \(i): one probability per type")
        }
        guard i <= ContractSetting.maxTypes else {
            throw AgoraError.configuration(
                "c has \(i) types; at most \(ContractSetting.maxTypes) are supported (the program has I^2 incentive constraints)")
        }
        guard participants >= 1 else { throw AgoraError.configuration("N must be at least 2, got \(participants)") }
        // One participant: its only outcome is itself, so a type's budget v(a(m_i)) minus its cost
        // reaches its reservation utility only at its stand-alone contribution (equality). The menu
        // is then every type's stand-alone contract, a point with no interior for the barrier solver.
        guard participants >= 2 else {
            throw AgoraError.configuration(
                "N = 1: a lone participant can only be offered its stand-alone contract (every IR binds, no "
                    + "collaboration to share), which has no strictly feasible interior; N must be at least 2")
        }
        guard participants <= ContractSetting.maxParticipants else {
            throw AgoraError.configuration("N = \(participants): at most \(ContractSetting.maxParticipants) participants are supported")
        }
        for (k, v) in probabilities.enumerated() where !(v > 0 && v <= 1) {
            throw AgoraError.configuration("p[\(k)] = \(v): every type probability must be in (0, 1]")
        }
        let s = probabilities.reduce(0, +)
        guard abs(s - 1) <= 1e-9 else { throw AgoraError.configuration("p sums to \(s), expected 1 (within 1e-9)") }
        for (k, v) in costs.enumerated() where !(v > 0 && v.isFinite) {
            throw AgoraError.configuration("c[\(k)] = \(v): marginal costs must be positive and finite")
        }
        let sorted = costs.sorted()
        for k in 1..<max(1, sorted.count) where sorted[k] == sorted[k - 1] {
            throw AgoraError.configuration(
                "c has the cost \(sorted[k]) twice: types must have distinct costs (merge equal types and add their probabilities)")
        }
        if let f = reservationUtilities {
            guard f.count == i else { throw AgoraError.configuration("f has \(f.count) entries but c has \(i)") }
            for (k, v) in f.enumerated() where !(v >= 0 && v.isFinite) {
                throw AgoraError.configuration("f[\(k)] = \(v): reservation utilities must be non-negative and finite")
            }
        }
        guard accuracyK > 0 else { throw AgoraError.configuration("k must be positive, got \(accuracyK)") }
        guard valuationScale > 0 else { throw AgoraError.configuration("valuation_scale must be positive, got \(valuationScale)") }
    }
}

/// The optimal menu and everything derived from it, in the caller's type order.
public struct ContractMenu: Codable, Sendable {
    public var setting: ContractSetting
    /// Required contributions m_i.
    public var contributions: [Double]
    /// Expected model values t_i = E[v(r_i) | n_i >= 1].
    public var values: [Double]
    /// Utilities u_i = t_i - c_i m_i.
    public var utilities: [Double]
    /// Reservation utilities f_i used.
    public var reservationUtilities: [Double]
    /// Stand-alone contributions (what each type would contribute alone).
    public var standAloneContributions: [Double]
    /// Information rents u_i - f_i.
    public var rents: [Double]
    /// tbar_i(m) = E[v(a(n . m)) | n_i >= 1], the budget of each type.
    public var budgets: [Double]
    /// E[v(a(n . m))], the objective (value units) and E[a] (accuracy).
    public var expectedValue: Double
    public var expectedAccuracy: Double
    /// Complete-information benchmark E[v(a(M(n)))] and information cost (incomplete - complete);
    /// NaN when not computed.
    public var completeInformationValue: Double
    public var informationCost: Double
    /// Groups of types (caller's indices) offered identical contracts.
    public var pooling: [[Int]]
    public var kktResidual: Double
    public var newtonSteps: Int
    public var solverFinish: String
    public var outcomes: Int
    /// Monte-Carlo draws behind the expectations (nil: exact enumeration) and the standard error
    /// of `expectedValue` under sampling.
    public var samples: Int?
    public var expectedValueStandardError: Double?
    /// Objective of the full program (all pairwise IC) solved independently, when checked.
    public var fullProgramValue: Double?
}

/// Optimal contracts paid with models (Wang, Wu, Liu, Low, AAAI 2025), solved exactly.
///
/// Algorithm box:
///  1. sort types by cost, c_1 > ... > c_I; f_i from the stand-alone first-order condition;
///  2. enumerate the Multinomial(N, p) outcomes once;
///  3. maximize E[v(a(n . m))] over m in the reduced convex program (t from the binding IR of type 1
///     and the binding local downward ICs), with exact derivatives, by a barrier method and an
///     active-set KKT polish;
///  4. report m, t, u, rents, pooling, the complete-information benchmark and the information cost;
///  5. map back to reward distributions: v(r_i(n)) = (t_i / tbar_i) v(a(n . m)).
public struct ContractDesigner {
    public let setting: ContractSetting
    let order: [Int]  // internal position -> caller index (costs descending)
    let c: [Double]
    let f: [Double]
    let standAlone: [Double]
    let expectations: OutcomeExpectations
    /// a(x): the setting's generalization bound unless another function was given.
    public let accuracy: any AccuracyFunction
    /// v(r): the setting's linear valuation unless another function was given.
    public let valuation: any ValuationFunction

    /// - Parameters:
    ///   - outcomeLimit: largest exact enumeration accepted.
    ///   - sampledOutcomes: when set, replace the exact enumeration by this many Monte-Carlo draws
    ///     (sample-average approximation, seeded by `seed`); the menu then reports the standard error
    ///     of its objective.
    public init(
        _ setting: ContractSetting, outcomeLimit: Int = MultinomialOutcomes.defaultLimit,
        sampledOutcomes: Int? = nil, seed: UInt64 = 1,
        accuracy: (any AccuracyFunction)? = nil, valuation: (any ValuationFunction)? = nil
    ) throws {
        try setting.validate()
        self.setting = setting
        let acc: any AccuracyFunction = accuracy ?? GeneralizationBoundAccuracy(k: setting.accuracyK)
        let val: any ValuationFunction = valuation ?? LinearValuation(scale: setting.valuationScale)
        self.accuracy = acc
        self.valuation = val
        order = setting.costs.indices.sorted { setting.costs[$0] > setting.costs[$1] }
        c = order.map { setting.costs[$0] }
        let sa = c.map { reservationUtility(cost: $0, accuracy: acc, valuation: val) }
        standAlone = sa.map(\.m)
        let ord = order
        f = setting.reservationUtilities.map { given in ord.map { given[$0] } } ?? sa.map(\.f)
        let p = order.map { setting.probabilities[$0] }
        let outcomes =
            try sampledOutcomes.map {
                try MultinomialOutcomes(
                    trials: setting.participants, probabilities: p, sampling: $0, seed: seed,
                    conditioning: setting.conditioning)
            }
            ?? MultinomialOutcomes(
                trials: setting.participants, probabilities: p,
                conditioning: setting.conditioning, limit: outcomeLimit)
        expectations = OutcomeExpectations(outcomes: outcomes, accuracy: acc, valuation: val)
    }

    /// Reservation utilities in the caller's order.
    public var reservationUtilities: [Double] { unsort(f) }

    func unsort(_ v: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: v.count)
        for (pos, idx) in order.enumerated() { out[idx] = v[pos] }
        return out
    }

    /// Solves the reduced program (and, with `checkFullProgram`, the full one for comparison).
    public func solve(checkFullProgram: Bool = false, completeInformation: Bool = true) throws -> ContractMenu {
        let prog = ReducedContractProgram(exp: expectations, c: c, f: f)
        let types = c.count
        // Start where every outcome's total lies on the positive branch of a.
        let base = max(100, standAlone.max() ?? 100)
        let start = (0..<types).map { base * (1 + 0.01 * Double($0)) }
        // The products here are short and wide ([types + 1 x outcomes] times [outcomes x types^2]):
        // OpenBLAS's threads cost more than they save at every size measured (I = 8, N = 20, 888k
        // outcomes, 2 Zen 3 cores: 16.3 s on one OpenBLAS thread, 21.3 s on two, with 10 s of
        // system time in their yields). The per-outcome evaluation runs on Agora's pool instead.
        let sol = try OpenBLAS.singleThreaded { try BarrierSolver().solve(prog, start: start) }
        var m = sol.x
        // Contracts within rounding of each other are pooled exactly.
        var pools: [[Int]] = []
        var group = [0]
        for i in 1..<max(1, types) {
            if m[i] - m[i - 1] <= 1e-9 * max(1, m[i]) {
                group.append(i)
                m[i] = m[i - 1]
            } else {
                pools.append(group)
                group = [i]
            }
        }
        pools.append(group)
        let t = prog.t(m)
        let u = (0..<types).map { t[$0] - c[$0] * m[$0] }
        let e = expectations.evaluate(m)
        let pmf = expectations.outcomes.pmf
        var ev = 0.0, ea = 0.0
        for o in pmf.indices {
            ev += pmf[o] * e.value[o]
            ea += pmf[o] * e.accuracy[o]
        }
        let cond = expectations.outcomes.conditional
        let budgets = (0..<types).map { i in (0..<pmf.count).reduce(0.0) { $0 + cond[i, $1] * e.value[$1] } }
        let complete = completeInformation ? completeInformationValue() : .nan
        var full: Double? = nil
        if checkFullProgram {
            let fp = FullContractProgram(exp: expectations, c: c, f: f)
            let fs = try BarrierSolver().solve(fp, start: start + start.indices.map { f[$0] + c[$0] * start[$0] })
            full = -fs.objective
        }
        return ContractMenu(
            setting: setting, contributions: unsort(m), values: unsort(t), utilities: unsort(u),
            reservationUtilities: unsort(f), standAloneContributions: unsort(standAlone),
            rents: unsort((0..<types).map { u[$0] - f[$0] }), budgets: unsort(budgets),
            expectedValue: ev, expectedAccuracy: ea, completeInformationValue: complete,
            informationCost: ev - complete,
            pooling: pools.filter { $0.count > 1 }.map { $0.map { order[$0] }.sorted() },
            kktResidual: sol.kktResidual, newtonSteps: sol.newtonSteps, solverFinish: sol.finish,
            outcomes: pmf.count, samples: expectations.outcomes.samples,
            expectedValueStandardError: expectations.outcomes.samples.map { sN in
                var second = 0.0
                for o in pmf.indices { second += pmf[o] * e.value[o] * e.value[o] }
                return (max(0, second - ev * ev) / Double(sN)).squareRoot()
            },
            fullProgramValue: full)
    }

    /// E over outcomes of v(a(M(n))), M(n) the largest root of M = sum_i n_i (v(a(M)) - f_i) / c_i
    /// (complete information: every type's IR binds, each contributes what its value allows).
    ///
    /// For an outcome n, g(M) = S v(a(M)) - F - M with S = sum_i n_i / c_i and F = sum_i n_i f_i / c_i,
    /// so only two scalars per outcome matter. g is concave on the positive branch of a: its
    /// maximum is where g'(M) = S v'(a) a'(M) - 1 changes sign (safeguarded Newton, `decreasingRoot`), and the largest root lies
    /// between that maximum and S v(1) (where g is surely negative). Outcomes are processed in
    /// parallel and summed in a fixed order.
    public func completeInformationValue(pool: ThreadPool = .shared) -> Double {
        let counts = expectations.outcomes.counts
        let pmf = expectations.outcomes.pmf
        let types = c.count
        let acc = accuracy, val = valuation
        let vmax = val.evaluate(1).v
        // Where a turns positive (the start of the concave branch).
        var lo0 = 1e-9, hi0 = 1.0
        while acc.evaluate(hi0).a <= 0 { hi0 *= 2 }
        for _ in 0..<200 {
            let mid = 0.5 * (lo0 + hi0)
            if acc.evaluate(mid).a > 0 { hi0 = mid } else { lo0 = mid }
        }
        let m0 = hi0
        let cc = c, ff = f
        let contributions = pool.parallelMap(counts.rows, bytes: counts.rows * 4096) { o -> Double in
            var sS = 0.0, fF = 0.0
            for i in 0..<types {
                let n = counts[o, i]
                sS += n / cc[i]
                fF += n * ff[i] / cc[i]
            }
            // g, g' and g'' at M by the chain rule.
            func derivatives(_ mm: Double) -> (g: Double, dg: Double, d2g: Double) {
                let e = acc.evaluate(mm), v = val.evaluate(e.a)
                return (sS * v.v - fF - mm, sS * v.dv * e.da - 1, sS * (v.d2v * e.da * e.da + v.dv * e.d2a))
            }
            let top = max(m0 * 2, sS * vmax + 1)
            var arg = m0
            if derivatives(m0 * (1 + 1e-12)).dg > 0 {
                arg = Self.decreasingRoot(from: m0, to: top, tolerance: 1e-13) {
                    let d = derivatives($0)
                    return (d.dg, d.d2g)
                }
            }
            if derivatives(arg).g < 0 { return 0 }  // no positive root: nothing is trained, a = 0
            let root = Self.decreasingRoot(from: arg, to: top, tolerance: 1e-14) {
                let d = derivatives($0)
                return (d.g, d.dg)
            }
            return pmf[o] * val.evaluate(acc.evaluate(root).a).v
        }
        var total = 0.0
        for v in contributions { total += v }
        return total
    }

    /// Where a decreasing f crosses zero in [l, r] (f(l) >= 0 > f(r)), to relative `tolerance`:
    /// Newton steps while they land inside the bracket, bisection otherwise (rtsafe). Newton from
    /// one side converges while the bracket's other end stays put, so convergence is also declared
    /// when a step is below the tolerance. (Plain bisection took ~45 halvings per root, two roots per
    /// outcome: 3 of the 6 s that `agora contract` spent on the I = 8, N = 20 setting.)
    static func decreasingRoot(from l0: Double, to r0: Double, tolerance: Double, _ f: (Double) -> (value: Double, slope: Double)) -> Double
    {
        var l = l0, r = r0, x = 0.5 * (l0 + r0)
        for _ in 0..<200 {
            let (v, slope) = f(x)
            if v >= 0 { l = x } else { r = x }
            if r - l <= tolerance * r { return l }
            let step = v / slope
            let newton = x - step
            if newton > l && newton < r {
                if abs(step) <= tolerance * abs(newton) { return newton }
                x = newton
            } else {
                x = 0.5 * (l + r)
            }
        }
        return l
    }

    /// One type's reward distribution under the proportional map-back, in the caller's indexing.
    public struct RewardOutcome: Codable, Sendable {
        public var counts: [Int]  // type counts n (caller's order)
        public var probability: Double  // conditional probability given n_i >= 1
        public var modelAccuracy: Double  // a(n . m)
        public var rewardAccuracy: Double  // r_i(n)
    }

    /// The map-back v(r_i(n)) = (t_i / tbar_i) v(a(n . m)) for caller type `type`.
    public func rewardDistribution(_ menu: ContractMenu, type: Int) -> [RewardOutcome] {
        guard let pos = order.firstIndex(of: type) else { return [] }
        let m = order.map { menu.contributions[$0] }
        let e = expectations.evaluate(m)
        let cond = expectations.outcomes.conditional
        let counts = expectations.outcomes.counts
        let ratio = menu.budgets[type] > 0 ? menu.values[type] / menu.budgets[type] : 0
        var out: [RewardOutcome] = []
        for o in 0..<counts.rows where cond[pos, o] > 0 {
            var n = [Int](repeating: 0, count: m.count)
            for (p, idx) in order.enumerated() { n[idx] = Int(counts[o, p]) }
            out.append(
                RewardOutcome(
                    counts: n, probability: cond[pos, o], modelAccuracy: e.accuracy[o],
                    rewardAccuracy: valuation.inverse(ratio * e.value[o])))
        }
        return out
    }
}

/// The named scenarios of the paper (N = 10, p uniform, I = 5).
public enum ContractScenario: String, CaseIterable, Sendable {
    case s1, s2, s3
    public var setting: ContractSetting {
        switch self {
        case .s1: return ContractSetting(participants: 10, probabilities: [0.2, 0.2, 0.2, 0.2, 0.2], costs: [0.2, 0.16, 0.12, 0.08, 0.04])
        case .s2: return ContractSetting(participants: 10, probabilities: [0.2, 0.2, 0.2, 0.2, 0.2], costs: [1, 0.85, 0.7, 0.55, 0.4])
        case .s3: return ContractSetting(participants: 10, probabilities: [0.2, 0.2, 0.2, 0.2, 0.2], costs: [0.5, 0.4, 0.03, 0.02, 0.001])
        }
    }
    public var summary: String {
        switch self {
        case .s1: return "S1: every type would train alone"
        case .s2: return "S2: no type would train alone (prohibitive costs)"
        case .s3: return "S3: big and small parties"
        }
    }
}
