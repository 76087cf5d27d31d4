import AgoraKernels
import Foundation

/// All agents strategic (the paper's experiment: manipulation lowers accuracy, payments restore
/// it): iterated best responses. In each round every agent in turn picks, from `family` and
/// truthful play, the deviation that maximises its utility at the horizon against the others'
/// current choices (one counterfactual run per candidate, on the same seeds); a change needs a
/// gain above `tolerance`. Stops when a round changes nobody (an equilibrium within the family)
/// or after `rounds` rounds (reported as not converged). Run with payments and without.
public struct EquilibriumStudy: Codable, Sendable, Equatable {
    public var family: DeviationFamily = .equilibrium
    public var rounds = 3
    public var tolerance = 1e-4
    public init() {}

    public func validate() throws {
        guard rounds >= 1, rounds <= 100 else { throw AgoraError.configuration("must be in 1...100, got \(rounds)", field: "rounds") }
        guard tolerance >= 0, tolerance.isFinite else {
            throw AgoraError.configuration("must be a finite number >= 0, got \(tolerance)", field: "tolerance")
        }
    }

    /// The network and the agents where the best responses stopped.
    public struct Outcome: Codable, Sendable {
        /// Per agent: "truthful" or its deviation.
        public var profile: [String]
        public var deviators: Int
        public var rounds: Int
        public var converged: Bool
        /// Optimality gap, accuracy and test accuracy of the network average at the horizon.
        public var gap: Double
        public var accuracy: Double?
        public var testAccuracy: Double?
        public var consensusError: Double
        public var utilities: [Double]
        public var payments: [Double]
    }

    public struct Result: Codable, Sendable {
        public var config: DSGDExperiment
        public var study: EquilibriumStudy
        public var utility: UtilityModel
        public var c0: Double
        public var calibration: DSGDExperiment.Calibration?
        public var allTruthful: Outcome
        public var withPayments: Outcome
        public var withoutPayments: Outcome
        public var runs: Int
        public var seconds: Double
    }
}

extension DSGDExperiment {
    /// Runs the all-strategic study at the experiment's C_0 (or `calibration`'s). `progress`
    /// receives the number of runs so far.
    public func equilibrium(
        _ study: EquilibriumStudy, calibration: Calibration? = nil,
        progress: ((Int) -> Void)? = nil
    ) throws -> EquilibriumStudy.Result {
        try validate()
        try study.validate()
        let start = DispatchTime.now().uptimeNanoseconds
        let context = try prepare()
        let n = data.agents, T = iterations, model = utilityModel
        let grid = model == .final ? [T] : Self.grid(every: evaluateEvery, horizon: T, including: [T])
        let c0 = calibration?.c0 ?? mechanism.payments?.coefficient.initial ?? 0
        var cache: [String: Trace] = [:]
        var runs = 0
        func key(_ p: [Behaviour?], _ c: Double?) -> String {
            p.map { $0?.description ?? "-" }.joined(separator: "|") + "@\(c.map { "\($0)" } ?? "unit")"
        }
        func traced(_ p: [Behaviour?], c0: Double) throws -> Trace {
            let s = p.enumerated().compactMap { i, b in b.map { Strategic(agent: i, behaviour: $0) } }
            let coefficient: Double? = s.contains { $0.behaviour.dependsOnPayments } ? c0 : nil
            let k = key(p, coefficient)
            if let t = cache[k] { return t }
            let t = try trace(context, strategic: s, coefficient: coefficient, iterations: T, evaluateAt: grid)
            runs += 1
            progress?(runs)
            cache[k] = t
            return t
        }
        func outcome(_ p: [Behaviour?], c0: Double, rounds: Int, converged: Bool) throws -> EquilibriumStudy.Outcome {
            let t = try traced(p, c0: c0), last = t.iterations.count - 1
            return .init(
                profile: p.map { $0?.description ?? "truthful" }, deviators: p.compactMap { $0 }.count, rounds: rounds,
                converged: converged,
                gap: t.finalGap, accuracy: t.finalAccuracy, testAccuracy: t.finalTestAccuracy, consensusError: t.finalConsensusError,
                utilities: (0..<n).map { t.utility(agent: $0, at: last, c0: c0, model: model) },
                payments: (0..<n).map { t.payments[last][$0] * (t.unitPayments ? c0 : 1) })
        }
        func iterate(c0: Double) throws -> EquilibriumStudy.Outcome {
            var profile = [Behaviour?](repeating: nil, count: n)
            var converged = false, round = 0
            while round < study.rounds && !converged {
                round += 1
                var changed = false
                for i in 0..<n {
                    let last = grid.count
                    var bestUtility = try traced(profile, c0: c0).utility(agent: i, at: last, c0: c0, model: model)
                    var best = profile[i]
                    for b in [nil] + study.family.deviations.map(Optional.some) where b != profile[i] {
                        var p = profile
                        p[i] = b
                        let u = try traced(p, c0: c0).utility(agent: i, at: last, c0: c0, model: model)
                        if u > bestUtility + study.tolerance {
                            bestUtility = u
                            best = b
                        }
                    }
                    if best != profile[i] {
                        profile[i] = best
                        changed = true
                    }
                }
                converged = !changed
            }
            return try outcome(profile, c0: c0, rounds: round, converged: converged)
        }
        let truthful = try outcome([Behaviour?](repeating: nil, count: n), c0: c0, rounds: 0, converged: true)
        let on = try iterate(c0: c0)
        let off = try iterate(c0: 0)
        return .init(
            config: withCoefficient(c0), study: study, utility: model, c0: c0, calibration: calibration,
            allTruthful: truthful, withPayments: on, withoutPayments: off, runs: runs,
            seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
}
