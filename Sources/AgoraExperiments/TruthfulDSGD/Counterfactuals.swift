import AgoraKernels
import AgoraMechanisms
import Foundation

/// How an agent values the model (spec: "Agent i's reward is the quality of the final model on its
/// own objective"). Utility = reward - cumulative payments.
public enum UtilityModel: String, Codable, Sendable, CaseIterable {
    /// reward = -f_i(theta_i,T) at the horizon: the spec's reading of the paper. Anything that
    /// only helps along the way (noise, free-riding on others' work) is worthless under it.
    case final
    /// reward = the time average over (0, T] of -f_i(theta_i,t) (sampled at the evaluations, each
    /// weighted by the iterations since the previous one): the agent uses its model while
    /// training runs, so an early lead has a motive.
    case average
    /// reward = the sum over t in (0, T] of -f_i(theta_i,t) (sampled likewise): T times the average.
    /// The reading under which the paper's "cumulative gain ... finite as T -> infinity" is
    /// not automatic: a lasting advantage grows linearly in T unless payments take it back.
    case cumulative

    /// The reward at evaluation k of per-evaluation rewards (-f_i) taken at `iterations`.
    public func reward(_ rewards: [Double], iterations: [Int], at k: Int) -> Double {
        if self == .final || k == 0 { return rewards[k] }
        var sum = 0.0
        for j in 1...k { sum += rewards[j] * Double(iterations[j] - iterations[j - 1]) }
        return self == .cumulative ? sum : sum / Double(iterations[k] - iterations[0])
    }

    /// Utility of `agent` at evaluation k of a run's points.
    func utility(_ points: [DSGDExperiment.Point], agent: Int, at k: Int) -> Double {
        let rewards = points.map { $0.utilities[agent] + $0.cumulativePayments[agent] }
        return reward(rewards, iterations: points.map(\.iteration), at: k) - points[k].cumulativePayments[agent]
    }
}

extension DSGDExperiment {
    /// The utility model in force (`utility`, default `.final`).
    public var utilityModel: UtilityModel { utility ?? .final }

    /// A run reduced to what incentives need: per evaluation, every agent's reward and cumulative
    /// payments. Payments never change the updates (except under the myopic best response), so a
    /// run made with the unit coefficient C_0 = 1 (`unitPayments`) gives the utility at every C_0:
    /// utility = reward - C_0 * payments.
    public struct Trace: Codable, Sendable {
        public var iterations: [Int]
        /// [evaluation][agent]: -f_i(theta_i,t).
        public var rewards: [[Double]]
        /// [evaluation][agent]: -f_i(theta_i,t) on held-out rows of the agent's distribution (when
        /// asked for and the data give them).
        public var heldOutRewards: [[Double]]? = nil
        /// [evaluation][agent]: cumulative payments at the run's coefficient.
        public var payments: [[Double]]
        /// True when `payments` were made at C_0 = 1 and scale to any C_0.
        public var unitPayments: Bool
        /// The coefficient of a run that does not scale (nil for unit runs).
        public var coefficient: Double?
        /// The network average at the end: optimality gap, training and test accuracy.
        public var finalGap: Double
        public var finalAccuracy: Double?
        public var finalTestAccuracy: Double?
        public var finalConsensusError: Double

        /// Utility of `agent` at evaluation k when the payment coefficient is c0 (0: payments off).
        public func utility(agent: Int, at k: Int, c0: Double, model: UtilityModel) -> Double {
            let r = model.reward(rewards.map { $0[agent] }, iterations: iterations, at: k)
            if unitPayments { return r - c0 * payments[k][agent] }
            precondition(coefficient == c0, "a trace made at one coefficient used at another")
            return r - payments[k][agent]
        }
    }

    /// Runs `iterations` iterations with the given strategic agents and records a trace at the
    /// evaluation iterations `evaluateAt` (sorted, positive). With `coefficient` nil the run uses
    /// the unit coefficient (valid only when no behaviour reads C_t); otherwise that C_0 (0: off).
    func trace(
        _ context: Prepared, strategic: [Strategic], coefficient: Double?, iterations T: Int, evaluateAt: [Int], heldOut: Bool = false
    ) throws -> Trace {
        precondition(coefficient != nil || !strategic.contains { $0.behaviour.dependsOnPayments })
        let c = coefficient ?? 1
        let rule = mechanism.payments ?? PaymentRule(coefficient: PowerSchedule(initial: 1, exponent: 0.1))
        let mech = TruthfulDSGD(
            stepSize: mechanism.stepSize,
            payments: c > 0
                ? PaymentRule(
                    coefficient: PowerSchedule(initial: c, exponent: rule.coefficient.exponent),
                    edgeWeighting: rule.edgeWeighting) : nil)
        guard context.exchange.localAgents == 0..<data.agents else {
            throw AgoraError.configuration("counterfactual studies need the in-process exchange")
        }
        var sim = Simulation(context: context, mechanism: mech, strategic: strategic, batch: batch, seed: seed)
        var its = [0], rewards = [try sim.agentLosses().map { -$0 }], pays = [sim.cumulative]
        let scoresHeldOut = heldOut && context.heldOut != nil
        var held: [[Double]] = scoresHeldOut ? [try sim.heldOutRewards(sim.theta)!] : []
        var next = 0
        let stops = evaluateAt.filter { $0 > 0 && $0 <= T }
        for t in 0..<T {
            try sim.advance(t)
            if next < stops.count && stops[next] == t + 1 {
                its.append(t + 1)
                rewards.append(try sim.agentLosses().map { -$0 })
                if scoresHeldOut { held.append(try sim.heldOutRewards(sim.theta)!) }
                pays.append(sim.cumulative)
                next += 1
            }
        }
        let m = try sim.networkMetrics()
        return Trace(
            iterations: its, rewards: rewards, heldOutRewards: scoresHeldOut ? held : nil, payments: pays,
            unitPayments: coefficient == nil,
            coefficient: coefficient, finalGap: m.gap, finalAccuracy: m.accuracy, finalTestAccuracy: m.testAccuracy,
            finalConsensusError: Double(Kernels.consensusError(sim.theta)))
    }

    /// The evaluation grid of a study up to `horizon`: every `every` iterations and the horizons.
    static func grid(every: Int, horizon: Int, including: [Int]) -> [Int] {
        Array(Set(stride(from: every, through: horizon, by: every)).union(including.filter { $0 <= horizon })).sorted()
    }
}

/// The deviations an agent may choose from (spec: "empirical best response"). Truthful play is
/// always a member, so the best gain over a family is >= 0.
public struct DeviationFamily: Codable, Sendable, Equatable {
    public var deviations: [Behaviour]
    public init(_ deviations: [Behaviour]) { self.deviations = deviations }

    /// The paper's manipulation model: constant and fading inflation, noise, and the myopic best
    /// response. Noise levels are absolute (per coordinate of the update).
    public static let manipulation = DeviationFamily([
        .inflate(alpha: 1.1), .inflate(alpha: 1.25), .inflate(alpha: 1.5), .inflate(alpha: 2), .inflate(alpha: 3), .inflate(alpha: 5),
        .inflateSchedule(alpha: 3, decay: 0.5), .inflateSchedule(alpha: 10, decay: 1),
        .noise(sigma: 0.01), .noise(sigma: 0.1),
        .bestResponse(smoothness: nil),
    ])
    /// `manipulation` plus the deviations that lower the report (free-riding, under-reporting):
    /// the rule pays for those whatever C_0 is (reports are trusted), so they are measured apart.
    public static let all = DeviationFamily(manipulation.deviations + [.freeRide, .misreport(factor: 0), .misreport(factor: 0.5)])
    /// A small family for the all-strategic equilibrium (each member costs one run per agent and round).
    public static let equilibrium = DeviationFamily([.inflate(alpha: 1.5), .inflate(alpha: 2), .inflate(alpha: 4), .noise(sigma: 0.1)])

    /// Parses "manipulation", "all", "equilibrium" or a comma list of behaviours
    /// (inflate:A, fade:A:DECAY, noise:S, best-response[:L], free-ride, misreport:F).
    public init(parsing s: String) throws {
        switch s {
        case "manipulation":
            self = .manipulation
            return
        case "all":
            self = .all
            return
        case "equilibrium":
            self = .equilibrium
            return
        default: break
        }
        var out: [Behaviour] = []
        for item in s.split(separator: ",") {
            let p = item.split(separator: ":").map(String.init)
            let v = p.dropFirst().map { Double($0) }
            func need(_ k: Int) throws -> [Double] {
                guard v.count == k, v.allSatisfy({ $0 != nil }) else {
                    throw AgoraError.configuration("deviation '\(item)': expected \(p[0]) with \(k) number(s) after ':'", field: "family")
                }
                return v.map { $0! }
            }
            switch p[0] {
            case "inflate": out.append(.inflate(alpha: try need(1)[0]))
            case "fade":
                let x = try need(2)
                out.append(.inflateSchedule(alpha: x[0], decay: x[1]))
            case "noise": out.append(.noise(sigma: try need(1)[0]))
            case "best-response": out.append(.bestResponse(smoothness: v.isEmpty ? nil : try need(1)[0]))
            case "free-ride":
                _ = try need(0)
                out.append(.freeRide)
            case "misreport": out.append(.misreport(factor: try need(1)[0]))
            default:
                throw AgoraError.configuration(
                    "unknown deviation '\(item)': expected manipulation, all, equilibrium, or a comma list of inflate:A, fade:A:DECAY, noise:S, best-response[:L], free-ride, misreport:F",
                    field: "family")
            }
        }
        guard !out.isEmpty else { throw AgoraError.configuration("the deviation family is empty", field: "family") }
        for b in out { try b.validate(agent: 0) }
        self.init(out)
    }
}
