import AgoraKernels
import AgoraMechanisms
import AgoraTopology
import Foundation

/// The paper's central claim measured: the best gain epsilon_hat(T) an agent can get from a
/// family of deviations, over horizons T, with payments and without (spec: "empirical best
/// response"). Each deviation is one counterfactual run to the largest horizon on the same seeds
/// as the truthful run; the utilities at every smaller horizon are read off the same run, and
/// with payments on and off from the same run (payments never change the updates).
public struct HorizonStudy: Codable, Sendable, Equatable {
    public var horizons: [Int] = [250, 500, 1000, 2000, 4000, 8000, 16000]
    /// The agents examined, each deviating alone against truthful others.
    public var agents: [Int] = [0]
    public var family: DeviationFamily = .all
    /// Evaluations every this many iterations (the average utility is taken over them); nil:
    /// a tenth of the smallest horizon.
    public var evaluateEvery: Int? = nil
    /// Choose C_0 by `DSGDExperiment.calibrate` on a pilot of `pilotHorizon` iterations (nil: the
    /// smallest horizon) instead of the experiment's C_0.
    public var calibrate = false
    /// How thoroughly `calibrate` searches (every agent and inflation, or the quick sample).
    public var calibrationScope: DSGDExperiment.CalibrationScope = .full
    public var pilotHorizon: Int? = nil
    public var calibrationMargin = 1.5
    public init() {}

    public func validate(agents n: Int) throws {
        guard !horizons.isEmpty, horizons.allSatisfy({ $0 >= 1 && $0 <= 100_000_000 }) else {
            throw AgoraError.configuration("horizons must be a non-empty list of iteration counts in 1...100000000", field: "horizons")
        }
        guard Set(horizons).count == horizons.count else { throw AgoraError.configuration("a horizon is listed twice", field: "horizons") }
        guard !agents.isEmpty, agents.allSatisfy({ $0 >= 0 && $0 < n }) else {
            throw AgoraError.configuration("deviating agents must be in 0..<\(n), got \(agents)", field: "agents")
        }
        if let e = evaluateEvery {
            guard e >= 1 else { throw AgoraError.configuration("must be at least 1, got \(e)", field: "evaluateEvery") }
        }
        if let p = pilotHorizon {
            guard p >= 2 else { throw AgoraError.configuration("must be at least 2, got \(p)", field: "pilotHorizon") }
        }
        guard calibrationMargin >= 1, calibrationMargin.isFinite else {
            throw AgoraError.configuration("must be a finite number >= 1, got \(calibrationMargin)", field: "calibrationMargin")
        }
    }

    /// One deviation's gains at every horizon.
    public struct Curve: Codable, Sendable {
        public var agent: Int
        public var behaviour: String
        public var lowersReport: Bool
        public var withPayments: [Double]
        public var withoutPayments: [Double]
    }

    public struct Result: Codable, Sendable {
        public var config: DSGDExperiment
        public var study: HorizonStudy
        public var utility: UtilityModel
        /// The C_0 the payments used, and how it was chosen.
        public var c0: Double
        public var calibration: DSGDExperiment.Calibration?
        public var horizons: [Int]
        /// epsilon_hat(T): the best gain over the agents examined and the deviations that do not
        /// lower the report (the paper's manipulation model; truthful play included, so >= 0).
        public var epsilonWithPayments: [Double]
        public var bestWithPayments: [String]
        public var epsilonWithoutPayments: [Double]
        public var bestWithoutPayments: [String]
        /// The best gain of report-lowering deviations (free-riding, under-reporting), which the
        /// rule pays for whatever C_0 is; nil when the family has none.
        public var reportLoweringWithPayments: [Double]?
        /// Least-squares slope of log epsilon_hat against log T over the horizons where it is
        /// positive (nil with fewer than two): ~0 bounded, > 0 growing.
        public var slopeWithPayments: Double?
        public var slopeWithoutPayments: Double?
        /// From the all-truthful run: the largest |cumulative payment| of any agent, and per iteration.
        public var honestTransferMax: [Double]
        public var honestTransferPerIteration: [Double]
        /// The individual-rationality audit of the all-truthful run at each horizon: the smallest
        /// margin over the agents of utility in the network (at C_0) minus utility training alone
        /// for the same iterations, and the same without payments (what collaboration itself is
        /// worth to the agent it serves least); scored on `irObjective` ("held-out" rows of each
        /// agent's distribution for synthetic data, else "training"). nil when `irAudit` is off.
        public var irMarginMin: [Double]? = nil
        public var irMarginMinWithoutPayments: [Double]? = nil
        public var irObjective: String? = nil
        public var curves: [Curve]
        public var runs: Int
        public var seconds: Double
    }
}

extension DSGDExperiment {
    /// A C_0 chosen so that inflation does not pay (`--c0 auto`).
    public struct Calibration: Codable, Sendable {
        /// margin x the largest ratio (reward gain) / (extra unit payments) of any agent and any
        /// inflation at any evaluation of the pilot run.
        public var c0: Double
        public var pilotHorizon: Int
        public var margin: Double
        /// The agent, deviation and iteration that set C_0.
        public var binding: String
        /// lambda_0 / (2 min_i omega_i): the C_0 that makes the myopic best response truthful at
        /// t = 0 when the mini-batch gradient equals the true one (an upper reference; it ignores
        /// gradient noise and how mixing dilutes a push).
        public var myopicBound: Double
        /// Which calibration, and the agents it examined.
        public var scope: CalibrationScope? = nil
        public var agents: [Int]? = nil
        /// Deviations whose reward gain came with no extra payment: no C_0 deters them.
        public var undeterrable: [String]
        public var runs: Int
    }

    /// Chooses C_0 from pilot runs of `pilot` iterations: for every agent and every inflation in
    /// `family` (see `Behaviour.isInflation`), the pilot gives the agent's reward
    /// gain dR(t) and its extra unit payments dQ(t) at each evaluation; inflation pays at C_0 iff
    /// dR > C_0 dQ, so C_0 = margin * max dR / dQ deters every one of them up to the pilot
    /// horizon. With the final-model utility the reward gain saturates while the extra payments
    /// keep growing (sum_t C_t diverges for u < 1), so deterrence at the pilot horizon carries to
    /// longer ones; the horizon study measures whether it does.
    public func calibrate(
        pilot: Int, family: DeviationFamily = .manipulation, margin: Double = 1.5, scope: CalibrationScope = .full,
        progress: ((Int) -> Void)? = nil
    ) throws -> Calibration {
        try validate()
        return try calibrate(try prepare(), pilot: pilot, family: family, margin: margin, scope: scope, progress: progress)
    }

    /// How many pilots a calibration runs.
    public enum CalibrationScope: String, Codable, Sendable, CaseIterable {
        /// Every agent, every inflation of the family: 1 + agents x inflations pilot runs.
        case full
        /// The `quickAgents` agents the truthful pilot serves worst (the lowest rewards at its end:
        /// the most to gain from pulling the others their way), each inflating by 1.1 only, and
        /// deterred at the pilot's horizon (not at every evaluation before it, whose earliest
        /// point sets the full calibration's C_0): at most 1 + 4 pilot runs whatever the size.
        /// Why 1.1: the extra payment grows with alpha^2 - 1 while the reward gain saturates, so
        /// the ratio the calibration bounds is largest for the mildest inflation (the full
        /// calibrations measured here were all set by x1.1; docs/dsgd.md).
        case quick
    }

    /// Agents a quick calibration examines.
    public static let quickAgents = 4

    /// Pilot runs a calibration of this scope makes (the truthful pilot included).
    public func calibrationRuns(_ scope: CalibrationScope, family: DeviationFamily = .manipulation) -> Int {
        scope == .full ? 1 + data.agents * family.deviations.filter(\.isInflation).count : 1 + min(data.agents, Self.quickAgents)
    }

    func calibrate(
        _ context: Prepared, pilot: Int, family: DeviationFamily, margin: Double, scope: CalibrationScope = .full,
        progress: ((Int) -> Void)?
    ) throws -> Calibration {
        let n = data.agents, model = utilityModel
        // Quick under the final utility needs the pilot's end only (the others integrate the
        // rewards over the evaluations).
        let grid =
            scope == .quick && model == .final ? [pilot] : Self.grid(every: max(1, pilot / 10), horizon: pilot, including: [pilot])
        let truthful = try trace(context, strategic: [], coefficient: nil, iterations: pilot, evaluateAt: grid)
        var need = 0.0, binding = "no inflation pays on the pilot, even without payments: the configured C_0 is kept"
        var undeterrable: [String] = [], runs = 1
        let members: [Behaviour] = scope == .full ? family.deviations.filter(\.isInflation) : [.inflate(alpha: 1.1)]
        // Quick: the agents with the lowest reward at the pilot's end (ties by index).
        let examined =
            scope == .full
            ? Array(0..<n)
            : Array((0..<n).sorted { (truthful.rewards.last![$0], $0) < (truthful.rewards.last![$1], $1) }.prefix(Self.quickAgents))
        for i in examined {
            for b in members {
                let tr = try trace(
                    context, strategic: [Strategic(agent: i, behaviour: b)], coefficient: nil, iterations: pilot, evaluateAt: grid)
                runs += 1
                progress?(runs)
                // Full: deterred at every evaluation of the pilot (the earliest usually binds);
                // quick: at the pilot's horizon, where the final utility is taken.
                for k in scope == .full ? Array(1..<tr.iterations.count) : [tr.iterations.count - 1] {
                    let dR =
                        model.reward(tr.rewards.map { $0[i] }, iterations: tr.iterations, at: k)
                        - model.reward(truthful.rewards.map { $0[i] }, iterations: truthful.iterations, at: k)
                    let dQ = tr.payments[k][i] - truthful.payments[k][i]
                    guard dR > 0 else { continue }
                    if dQ > 0 {
                        if dR / dQ > need {
                            need = dR / dQ
                            binding = "agent \(i), \(b), iteration \(tr.iterations[k])"
                        }
                    } else if !undeterrable.contains("agent \(i), \(b)") {
                        undeterrable.append("agent \(i), \(b)")
                    }
                }
            }
        }
        let rule = mechanism.payments ?? PaymentRule(coefficient: PowerSchedule(initial: 1e-4, exponent: 0.1))
        let omega = rule.edgeWeightSums(iteration: 0, exchange: context.exchange).min() ?? 1
        return Calibration(
            c0: need > 0 ? margin * need : rule.coefficient.initial, pilotHorizon: pilot, margin: margin, binding: binding,
            myopicBound: mechanism.stepSize.initial / (2 * max(omega, 1e-300)), scope: scope, agents: examined,
            undeterrable: undeterrable, runs: runs)
    }

    /// This experiment with payment coefficient C_0 = c0 (other schedule settings kept).
    public func withCoefficient(_ c0: Double) -> DSGDExperiment {
        var e = self
        let rule = mechanism.payments ?? PaymentRule(coefficient: PowerSchedule(initial: c0, exponent: 0.1))
        e.mechanism.payments = PaymentRule(
            coefficient: PowerSchedule(initial: c0, exponent: rule.coefficient.exponent), edgeWeighting: rule.edgeWeighting)
        return e
    }

    /// Runs a horizon study (see `HorizonStudy`). `progress` receives (runs done, runs in all).
    public func horizonStudy(_ study: HorizonStudy, progress: ((Int, Int) -> Void)? = nil) throws -> HorizonStudy.Result {
        try validate()
        try study.validate(agents: data.agents)
        let start = DispatchTime.now().uptimeNanoseconds
        let context = try prepare()
        let horizons = study.horizons.sorted(), T = horizons.last!
        let grid = Self.grid(every: study.evaluateEvery ?? max(1, horizons[0] / 10), horizon: T, including: horizons)
        let paid = study.family.deviations.filter(\.dependsOnPayments).count
        let calibrationRuns = study.calibrate ? calibrationRuns(study.calibrationScope, family: study.family) : 0
        let total = calibrationRuns + 1 + study.agents.count * (study.family.deviations.count + paid)
        var runs = 0
        let calibration =
            try study.calibrate
            ? calibrate(
                context, pilot: study.pilotHorizon ?? horizons[0], family: study.family, margin: study.calibrationMargin,
                scope: study.calibrationScope
            ) { k in
                progress?(k, total)
            }
            : nil
        runs += calibration?.runs ?? 0
        let c0 = calibration?.c0 ?? mechanism.payments?.coefficient.initial ?? 0
        let truthful = try trace(context, strategic: [], coefficient: nil, iterations: T, evaluateAt: grid, heldOut: irAudit != .off)
        runs += 1
        progress?(runs, total)
        let at = horizons.map { h in truthful.iterations.firstIndex(of: h)! }
        let model = utilityModel
        var curves: [HorizonStudy.Curve] = []
        for i in study.agents {
            for b in study.family.deviations {
                let s = [Strategic(agent: i, behaviour: b)]
                let on: Trace, off: Trace
                if b.dependsOnPayments {
                    on = try trace(context, strategic: s, coefficient: c0, iterations: T, evaluateAt: grid)
                    off = try trace(context, strategic: s, coefficient: 0, iterations: T, evaluateAt: grid)
                    runs += 2
                } else {
                    on = try trace(context, strategic: s, coefficient: nil, iterations: T, evaluateAt: grid)
                    off = on
                    runs += 1
                }
                progress?(runs, total)
                func gain(_ t: Trace, _ c: Double, _ k: Int) -> Double {
                    Self.gain(t.utility(agent: i, at: k, c0: c, model: model), over: truthful.utility(agent: i, at: k, c0: c, model: model))
                }
                curves.append(
                    .init(
                        agent: i, behaviour: b.description, lowersReport: b.lowersReport,
                        withPayments: at.map { gain(on, c0, $0) }, withoutPayments: at.map { gain(off, 0, $0) }))
            }
        }
        func best(_ pick: (HorizonStudy.Curve) -> [Double], _ keep: (HorizonStudy.Curve) -> Bool) -> ([Double], [String]) {
            var eps = [Double](repeating: 0, count: horizons.count), who = [String](repeating: "truthful", count: horizons.count)
            for c in curves where keep(c) {
                for (k, g) in pick(c).enumerated() where g > eps[k] {
                    eps[k] = g
                    who[k] = "agent \(c.agent): \(c.behaviour)"
                }
            }
            return (eps, who)
        }
        let (epsOn, whoOn) = best(\.withPayments) { !$0.lowersReport }
        let (epsOff, whoOff) = best(\.withoutPayments) { !$0.lowersReport }
        let lowering = curves.contains(where: \.lowersReport) ? best(\.withPayments) { $0.lowersReport }.0 : nil
        let honest = at.map { k in truthful.payments[k].map { abs(c0 * $0) }.max() ?? 0 }
        // The audit: the truthful run's held-out (or training) rewards against every agent alone.
        var irOn: [Double]? = nil, irOff: [Double]? = nil, objective: String? = nil
        if irAudit != .off {
            var clock = EvaluationClock()
            let audit = DSGDExperiment.IndividualRationality(
                iterations: truthful.iterations, network: truthful.heldOutRewards ?? truthful.rewards,
                alone: try aloneRewards(context, iterations: T, evaluateAt: truthful.iterations, clock: &clock)!,
                payments: truthful.payments.map { $0.map { c0 * $0 } }, strategic: [], model: model,
                objective: truthful.heldOutRewards == nil ? "training" : "held-out")
            irOn = at.map { audit.minimumMargins[$0] }
            irOff = at.map { audit.minimumMarginsWithoutPayments[$0] }
            objective = audit.objective
        }
        return HorizonStudy.Result(
            config: withCoefficient(c0), study: study, utility: model, c0: c0, calibration: calibration, horizons: horizons,
            epsilonWithPayments: epsOn, bestWithPayments: whoOn, epsilonWithoutPayments: epsOff, bestWithoutPayments: whoOff,
            reportLoweringWithPayments: lowering,
            slopeWithPayments: Self.logLogSlope(horizons, epsOn), slopeWithoutPayments: Self.logLogSlope(horizons, epsOff),
            honestTransferMax: honest, honestTransferPerIteration: zip(honest, horizons).map { $0 / Double($1) },
            irMarginMin: irOn, irMarginMinWithoutPayments: irOff, irObjective: objective,
            curves: curves, runs: runs, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }

    /// u - truthful, with differences at rounding level (a deviation that left the trajectory
    /// unchanged, such as a myopic best response that stays at alpha = 1) reported as 0.
    static func gain(_ u: Double, over truthful: Double) -> Double {
        let d = u - truthful
        return abs(d) <= 1e-9 * max(1, abs(u), abs(truthful)) ? 0 : d
    }

    /// Least-squares slope of log y on log x over the points with y > 0 (nil with fewer than two).
    public static func logLogSlope(_ x: [Int], _ y: [Double]) -> Double? {
        let pts = zip(x, y).filter { $0.1 > 0 }.map { (log(Double($0.0)), log($0.1)) }
        guard pts.count >= 2 else { return nil }
        let mx = pts.map(\.0).reduce(0, +) / Double(pts.count), my = pts.map(\.1).reduce(0, +) / Double(pts.count)
        let sxx = pts.reduce(0.0) { $0 + ($1.0 - mx) * ($1.0 - mx) }, sxy = pts.reduce(0.0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        return sxx > 0 ? sxy / sxx : nil
    }
}
