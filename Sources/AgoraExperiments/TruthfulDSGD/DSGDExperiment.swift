import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

/// A complete truthful-DSGD experiment as data (echoed into every output).
public struct DSGDExperiment: Codable, Sendable, Equatable {
    public struct Strategic: Codable, Sendable, Equatable {
        public var agent: Int
        public var behaviour: Behaviour
        public init(agent: Int, behaviour: Behaviour) {
            self.agent = agent
            self.behaviour = behaviour
        }
    }
    public var data = SyntheticProblem()
    /// A data file (LIBSVM, IDX images, CSV) split across `data.agents` agents by `partition`;
    /// when nil the synthetic problem is used. The model is `data.loss`.
    public var dataFile: DataFile? = nil
    public var l2 = 1e-3
    public var topology: Topology = .exponential
    public var weights: WeightScheme = .metropolis
    public var mechanism = TruthfulDSGD(
        stepSize: PowerSchedule(initial: 0.5, exponent: 0.6),
        payments: PaymentRule(coefficient: PowerSchedule(initial: 1e-4, exponent: 0.1)))
    public var batch = 16
    public var iterations = 1000
    public var evaluateEvery = 10
    public var seed: UInt64 = 1
    public var strategic: [Strategic] = []
    /// Append a constant feature (the intercept) to the data; nil: on for data files, off for the
    /// synthetic problem (see `usesIntercept`).
    public var intercept: Bool? = nil
    /// How an agent values the model (nil: `.final`, the spec's reading of the paper).
    public var utility: UtilityModel? = nil
    /// The individual-rationality audit (nil: `.on`): every honest agent's utility in the network
    /// against training alone for the same iterations (`Result.individualRationality`), scored on
    /// held-out rows of the agent's distribution when the data give them (synthetic data), else
    /// on its training rows. It costs one more simulation (gradients only) and its evaluations.
    public var irAudit: AuditSwitch? = nil

    /// On or off.
    public enum AuditSwitch: String, Codable, Sendable, CaseIterable {
        case on, off
    }
    /// The mixing kernel (nil: `.auto`, GEMM for dense W). The MPI back-end makes the same choice
    /// (`MPIExchange(strategy:)`), so both give the same numbers bit for bit.
    public var mixStrategy: MixStrategy? = nil
    /// Whether a payments-on run and its payments-off twin share one simulated trajectory when no
    /// behaviour reads the payment coefficient (the default). Not part of the experiment: off only
    /// in tests, to check that sharing changes no number.
    var sharesTrajectories = true
    public init() {}

    /// The evaluation interval `agora dsgd` uses unless told: about 21 points per run under the
    /// final utility, about 101 under the average and cumulative ones. Why: an evaluation reads
    /// every agent's full data twice (its own loss and the network average's), about ten kernel
    /// iterations at the synthetic defaults, so 101 points cost three times the iterations they
    /// describe. The final utility needs only the last point (always evaluated); the others draw
    /// the curves, and 21 draw them well enough. The average and cumulative utilities integrate
    /// the losses over the evaluations, so they keep the finer grid. The trajectory and the final
    /// numbers do not depend on the grid.
    public static func defaultEvaluationInterval(iterations: Int, utility: UtilityModel) -> Int {
        max(1, iterations / (utility == .final ? 20 : 100))
    }

    private enum CodingKeys: String, CodingKey {
        case data, dataFile, l2, topology, weights, mechanism, batch, iterations, evaluateEvery, seed, strategic, intercept
        case utility, mixStrategy, irAudit
    }

    public func validate() throws {
        try data.validate()
        try mechanism.validate()
        guard batch >= 1, batch <= 1_000_000 else { throw AgoraError.configuration("must be in 1...1000000, got \(batch)", field: "batch") }
        guard iterations >= 1, iterations <= 1_000_000_000 else {
            throw AgoraError.configuration("must be in 1...1000000000, got \(iterations)", field: "iterations")
        }
        guard data.agents <= Topology.maxAgents else {
            throw AgoraError(.resources, "at most \(Topology.maxAgents) agents are supported, got \(data.agents)")
        }
        guard evaluateEvery >= 1 else { throw AgoraError.configuration("evaluateEvery must be at least 1, got \(evaluateEvery)") }
        guard l2 >= 0, l2.isFinite else { throw AgoraError.configuration("l2 must be non-negative, got \(l2)") }
        for s in strategic {
            guard s.agent >= 0 && s.agent < data.agents else {
                throw AgoraError.configuration("strategic agent index \(s.agent) is outside 0..<\(data.agents)")
            }
            try s.behaviour.validate(agent: s.agent)
        }
        if Set(strategic.map(\.agent)).count != strategic.count { throw AgoraError.configuration("an agent is listed twice in strategic") }
    }

    /// The labels of the runs `run` makes, in order: "payments", "no-payments", then with
    /// strategic agents "all-truthful" and per agent its two counterfactuals.
    public var runLabels: [String] {
        var ids: [RunID] = [.payments, .noPayments]
        if !strategic.isEmpty { ids.append(.allTruthful) }
        for s in strategic { ids += [.truthful(agent: s.agent, payments: true), .truthful(agent: s.agent, payments: false)] }
        return ids.map(\.label)
    }

    /// Runs the configured experiment, the payments-off baseline, and the counterfactual runs.
    /// With `checkpoints`, the state is written every `every` iterations of every run; with
    /// `resume`, the experiment continues from a checkpoint of this same experiment.
    ///
    /// With `exchange` (an MPI back-end) this process simulates the exchange's local agents and
    /// the root's result equals the in-process run's (same numbers; other ranks return a result
    /// without evaluations). Under MPI the root writes checkpoints and every rank resumes its own
    /// agents from the same file (a file system all ranks see).
    public func run(
        progress: ((Int, Int) -> Void)? = nil, checkpoints: CheckpointPolicy? = nil,
        resume: Checkpoint? = nil, referenceProgress: ((Int, Double) -> Void)? = nil,
        exchange: (any NeighborExchange)? = nil
    ) throws -> Result {
        try validate()
        let setupStart = DispatchTime.now().uptimeNanoseconds
        let context = try prepare(referenceProgress: referenceProgress, exchange: exchange)
        var variants: [(String, TruthfulDSGD, [Strategic])] = []
        let off = TruthfulDSGD(stepSize: mechanism.stepSize, payments: nil)
        variants.append((RunID.payments.label, mechanism, strategic))
        variants.append((RunID.noPayments.label, off, strategic))
        if !strategic.isEmpty { variants.append((RunID.allTruthful.label, mechanism, [])) }
        for s in strategic {
            let others = strategic.filter { $0.agent != s.agent }
            variants.append((RunID.truthful(agent: s.agent, payments: true).label, mechanism, others))
            variants.append((RunID.truthful(agent: s.agent, payments: false).label, off, others))
        }
        assert(variants.map(\.0) == runLabels)
        if let resume { try resume.check(against: self, runs: runLabels) }
        var runs: [Run] = resume?.finishedRuns ?? []
        // Payments never change the updates unless a behaviour reads C_t: a payments-on run and
        // the payments-off run with the same strategic agents then follow one trajectory, so it
        // is simulated once and both runs are evaluated on it (`simulate(companion:)`), the
        // payments-off run with a zero ledger. The numbers equal two separate simulations bit for
        // bit (tested); only the time halves.
        func pairs(_ k: Int) -> Bool {
            guard sharesTrajectories, k + 1 < variants.count else { return false }
            let on = variants[k], off = variants[k + 1]
            return on.1.payments != nil && off.1.payments == nil && on.2 == off.2 && off.1.stepSize == on.1.stepSize
                && !on.2.contains { $0.behaviour.dependsOnPayments }
        }
        // The simulated trajectories still to run: (first run, whether its successor is paired).
        var plan: [(run: Int, paired: Bool)] = []
        var next = runs.count
        while next < variants.count {
            let state = resume.flatMap { $0.run == next ? $0 : nil }
            // A checkpoint of a run simulated alone (no companion points) resumes alone.
            let paired = pairs(next) && (state == nil || state?.companionPoints != nil)
            plan.append((next, paired))
            next += paired ? 2 : 1
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var done = 0
        var clock = EvaluationClock()
        for (step, item) in plan.enumerated() {
            let k = item.run, v = variants[k]
            let state = resume.flatMap { $0.run == k ? $0 : nil }
            let doneBefore = done
            let save: ((Int, Checkpoint?) throws -> Void)? = checkpoints.map { policy in
                { iteration, c in
                    if var c {
                        c.run = k
                        c.finishedRuns = runs
                        try c.write(path: policy.path)
                    }  // the root's
                    let sessionIterations = doneBefore + iteration - (state?.iteration ?? 0)
                    if let stop = policy.stopAfter, sessionIterations >= stop {
                        throw Stopped(checkpoint: policy.path, iterations: sessionIterations)
                    }
                }
            }
            // The configured run (the first) carries the held-out rewards the audit scores.
            let simulated = try simulate(
                v.1, v.2, context: context, companion: item.paired, audited: k == 0 && irAudit != .off, resume: state,
                checkpointEvery: checkpoints?.every ?? 0,
                save: save, clock: &clock
            ) { t in
                progress?(step * iterations + t, plan.count * iterations)
            }
            done += iterations - (state?.iteration ?? 0)
            runs.append(Run(label: v.0, points: simulated.points))
            if let companion = simulated.companion { runs.append(Run(label: variants[k + 1].0, points: companion)) }
        }
        assert(runs.map(\.label) == runLabels)
        // The outside option of the individual-rationality audit: every agent training alone
        // (every process trains its own agents; the root evaluates).
        let alone = irAudit == .off ? nil : try aloneRewards(context, clock: &clock)
        if irAudit != .off { done += iterations }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        let secs = elapsed / Double(max(1, done))
        let timing = Timing(
            setupSeconds: Double(start - setupStart) * 1e-9, loopSeconds: elapsed - clock.seconds, evaluationSeconds: clock.seconds,
            evaluations: clock.count, simulatedIterations: done)
        // Only the root evaluated (under MPI): the others' runs hold no points to compare.
        guard context.exchange.isRoot else {
            return Result(
                config: self, fStar: context.reference.fStar, warnings: [], runs: [], gains: [], secondsPerIteration: secs, timing: timing)
        }
        var gains: [Gain] = []
        for s in strategic {
            func curve(_ a: RunID, _ b: RunID) -> [Double] {
                let ra = runs.first { $0.label == a.label }!, rb = runs.first { $0.label == b.label }!
                return ra.points.indices.map { k in
                    utilityModel.utility(ra.points, agent: s.agent, at: k) - utilityModel.utility(rb.points, agent: s.agent, at: k)
                }
            }
            gains.append(
                Gain(
                    agent: s.agent, behaviour: s.behaviour.description, iterations: runs[0].points.map(\.iteration),
                    withPayments: curve(.payments, .truthful(agent: s.agent, payments: true)),
                    withoutPayments: curve(.noPayments, .truthful(agent: s.agent, payments: false))))
        }
        var warnings = mechanism.warnings
        for r in runs {
            guard let first = r.points.first?.optimalityGap, let last = r.points.last?.optimalityGap else { continue }
            if !(last <= max(10 * first, 1e-12)) {
                warnings.append(
                    "run '\(r.label)' diverges: the optimality gap grew from \(first) to \(last); lower the step size (stepSize.initial)")
            }
        }
        // runs[0] is the configured run (`runLabels`).
        let audit = alone.map {
            IndividualRationality(points: runs[0].points, alone: $0, strategic: Set(strategic.map(\.agent)), model: utilityModel)
        }
        if let audit, let m = audit.marginMin, m < 0 {
            let why =
                (audit.marginMinWithoutPayments ?? 0) < 0
                ? "even without payments the common model serves some of them worse than their own (\(audit.objective) objective)"
                : "the payments cost them more than the collaboration gave"
            warnings.append(
                "\(audit.agentsBelowZero.count) of \(data.agents - strategic.count) honest agents would have done better training alone (smallest margin \(m)): \(why) (individualRationality)"
            )
        }
        return Result(
            config: self, fStar: context.reference.fStar, warnings: warnings, runs: runs, gains: gains, secondsPerIteration: secs,
            timing: timing, individualRationality: audit)
    }

}
