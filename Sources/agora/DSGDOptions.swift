import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

/// The flags that describe a truthful-DSGD experiment, shared by `dsgd run`, `dsgd horizon` and
/// `dsgd equilibrium`.
struct DSGDOptions: ParsableArguments {
    @Option(help: "A JSON experiment file (the 'config' object of a previous result); flags below override nothing when given.") var config:
        String?
    @Option(help: "Number of agents.") var agents: Int = 16
    @Option(help: "Topology (as in `agora topology`).") var topology: String = "exponential"
    @Option(help: "Mixing weights (uniform needs a regular graph).") var weights: WeightScheme = .metropolis
    @OptionGroup(title: "Data") var dataOptions: DataOptions
    @Option(help: "Seed for every random choice.") var seed: UInt64 = 1
    @OptionGroup(title: "Synthetic data (without --data)") var synthetic: DSGDSyntheticFlags
    @OptionGroup(title: "The mechanism") var mechanism: DSGDMechanismFlags
    @OptionGroup(title: "Model and training") var training: DSGDTrainingFlags
    @OptionGroup(title: "Strategic agents") var strategic: DSGDStrategicFlags

    // The options above live in groups (for --help); the code below reads them by their flag names.
    var rows: Int { synthetic.rows }
    var features: Int { synthetic.features }
    var heterogeneity: Double { synthetic.heterogeneity }
    var lr: Double { mechanism.lr }
    var v: Double { mechanism.v }
    var c0: String { mechanism.c0 }
    var u: Double { mechanism.u }
    var edgeWeighting: PaymentRule.EdgeWeighting { mechanism.edgeWeighting }
    var utility: UtilityModel { mechanism.utility }
    var pilot: Int? { mechanism.pilot }
    var model: GLMLoss { training.model }
    var testData: String? { training.testData }
    var l2: Double { training.l2 }
    var iterations: Int { training.iterations }
    var batch: Int { training.batch }
    var intercept: Bool? { training.intercept }
    var mixStrategy: MixStrategy { training.mixStrategy }
    var inflate: [String] { strategic.inflate }
    var noise: [String] { strategic.noise }
    var bestResponse: [String] { strategic.bestResponse }
    var freeRide: [Int] { strategic.freeRide }
    var misreport: [String] { strategic.misreport }

    func experiment() throws -> DSGDExperiment {
        if let config { return try loadJSONConfig(config, as: DSGDExperiment.self, what: "DSGD experiment") }
        var e = DSGDExperiment()
        e.data.agents = agents
        e.data.rowsPerAgent = rows
        e.data.features = features
        e.data.heterogeneity = heterogeneity
        e.data.loss = model
        e.data.seed = seed
        e.topology = try Topology(parsing: topology)
        e.weights = weights
        let ew = edgeWeighting
        let c0Value: Double
        if c0 == "auto" {
            c0Value = 1e-4
        } else {
            guard let x = Double(c0), x.isFinite, x > 0 else {
                throw ValidationError("--c0 must be a positive number or 'auto', got '\(c0)'")
            }
            c0Value = x
        }
        e.mechanism = TruthfulDSGD(
            stepSize: PowerSchedule(initial: lr, exponent: v),
            payments: PaymentRule(coefficient: PowerSchedule(initial: c0Value, exponent: u), edgeWeighting: ew))
        e.intercept = intercept
        e.mixStrategy = mixStrategy == .auto ? nil : mixStrategy
        e.utility = utility == .final ? nil : utility
        e.irAudit = mechanism.irAudit == .on ? nil : mechanism.irAudit
        e.iterations = iterations
        e.batch = batch
        e.seed = seed
        e.l2 = l2
        if dataOptions.usesFile {
            e.dataFile = try dataOptions.file(defaultPartition: "iid", test: testData)
        } else if testData != nil {
            throw ValidationError("--test-data needs --data")
        }
        e.evaluateEvery = DSGDExperiment.defaultEvaluationInterval(iterations: iterations, utility: e.utilityModel)
        func pair(_ s: String, _ flag: String, defaultValue: Double? = nil) throws -> (Int, Double) {
            let p = s.split(separator: ":", omittingEmptySubsequences: false)
            guard p.count == 2 || (p.count == 1 && defaultValue != nil), let a = Int(p[0]),
                let val = p.count > 1 ? Double(p[1]) : defaultValue, val.isFinite
            else {
                throw ValidationError(
                    "\(flag) '\(s)': expected AGENT:VALUE\(defaultValue != nil ? " or AGENT" : "") (an agent index and a finite number)")
            }
            return (a, val)
        }
        for s in inflate {
            let (a, x) = try pair(s, "--inflate")
            e.strategic.append(.init(agent: a, behaviour: .inflate(alpha: x)))
        }
        for s in noise {
            let (a, x) = try pair(s, "--noise")
            e.strategic.append(.init(agent: a, behaviour: .noise(sigma: x)))
        }
        for s in bestResponse {
            let (a, x) = try pair(s, "--best-response", defaultValue: 0)
            e.strategic.append(.init(agent: a, behaviour: .bestResponse(smoothness: x > 0 ? x : nil)))
        }
        for a in freeRide { e.strategic.append(.init(agent: a, behaviour: .freeRide)) }
        for s in misreport {
            let (a, x) = try pair(s, "--misreport")
            e.strategic.append(.init(agent: a, behaviour: .misreport(factor: x)))
        }
        return e
    }

    /// --c0 auto: the experiment with C_0 chosen by `DSGDExperiment.calibrate` (printed unless quiet).
    func calibrated(
        _ e: DSGDExperiment, horizon: Int, quiet: Bool, defaultScope: DSGDExperiment.CalibrationScope = .quick
    ) throws -> (DSGDExperiment, DSGDExperiment.Calibration?) {
        guard c0 == "auto" else { return (e, nil) }
        // At least 100 iterations, a sixteenth of long runs, never more than the run itself.
        let p = pilot ?? min(horizon, max(100, horizon / 16))
        guard p >= 2 else { throw ValidationError("--pilot must be at least 2, got \(p)") }
        let scope = mechanism.calibration ?? defaultScope
        let progress = Progress(total: e.calibrationRuns(scope), label: "calibrating C_0")
        let c = try e.calibrate(pilot: p, scope: scope, progress: { progress.update($0) })
        progress.finish()
        if !quiet {
            print(
                "C_0 = \(fmt(c.c0)) chosen on a \(c.pilotHorizon)-iteration pilot (margin \(c.margin); set by \(c.binding)); the myopic bound lambda_0 / (2 min omega_i) would be \(fmt(c.myopicBound))"
            )
            for u in c.undeterrable { print("warning: \(u) gained with no extra payment on the pilot: no C_0 deters it") }
        }
        return (e.withCoefficient(c.c0), c)
    }
}

/// `agora dsgd` options: synthetic data (without --data).
struct DSGDSyntheticFlags: ParsableArguments {
    @Option(help: "Synthetic data: rows per agent.") var rows: Int = 200
    @Option(help: "Synthetic data: features.") var features: Int = 20
    @Option(help: "Synthetic data: heterogeneity across agents.") var heterogeneity: Double = 1
}

/// `agora dsgd` options: the mechanism.
struct DSGDMechanismFlags: ParsableArguments {
    @Option(help: "lambda_0 of the step size lambda_t = lambda_0 (t+1)^-v.") var lr: Double = 0.5
    @Option(help: "v, the step-size exponent, in (0.5, 1].") var v: Double = 0.6
    @Option(
        help:
            "C_0 of the payment coefficient C_t = C_0 (t+1)^-u, or 'auto' (the default): chosen by pilot runs so that inflation does not pay (--calibration; docs/dsgd.md)."
    ) var c0: String = "auto"
    @Option(help: "u, the payment exponent.") var u: Double = 0.1
    @Option(help: "Edge weighting of the payments.") var edgeWeighting: PaymentRule.EdgeWeighting = .unit
    @Option(
        help:
            "Utility of an agent: final (reward -f_i at the end; our reading of the paper), average (time average of -f_i over the run) or cumulative (its sum)."
    ) var utility: UtilityModel = .final
    @Option(
        help:
            "With --c0 auto: pilot iterations (default: iterations / 16, at least 100 and at most the iterations; for `dsgd horizon`, the smallest horizon)."
    )
    var pilot: Int?
    @Option(
        help:
            "With --c0 auto: quick (the 4 agents the truthful pilot serves worst, each inflating x1.1: at most 5 pilot runs; the default of `dsgd run`) or full (every agent, every inflation of the manipulation family: 1 + 8 x agents runs; the default of the studies)."
    ) var calibration: DSGDExperiment.CalibrationScope?
    @Option(
        help:
            "The individual-rationality audit: every honest agent's utility against training alone (one more run, gradients only). on or off."
    ) var irAudit: DSGDExperiment.AuditSwitch = .on
}

/// `agora dsgd` options: model and training.
struct DSGDTrainingFlags: ParsableArguments {
    @Option(help: "Model: logistic regression or least squares.") var model: GLMLoss = .logistic
    @Option(help: "Held-out data for test accuracy (same format as --data), or 'auto' for the LIBSVM convention FILE.t (a9a -> a9a.t).")
    var testData: String?
    @Option(help: "L2 regularisation of the model.") var l2: Double = 1e-3
    @Option(help: "Iterations.") var iterations: Int = 1000
    @Option(help: "Mini-batch size per agent.") var batch: Int = 16
    @Flag(inversion: .prefixedNo, help: "Append a constant feature (the intercept); default: on with --data, off for synthetic data.")
    var intercept: Bool? = nil
    @Option(
        help:
            "Mixing kernel: auto (GEMM for dense graphs), sparse or dense. The MPI back-end makes the same choice and the same numbers."
    ) var mixStrategy: MixStrategy = .auto

}

/// `agora dsgd` options: strategic agents.
struct DSGDStrategicFlags: ParsableArguments {
    @Option(help: "Inflating agent as AGENT:ALPHA (repeatable).") var inflate: [String] = []
    @Option(help: "Noisy agent as AGENT:SIGMA (repeatable).") var noise: [String] = []
    @Option(
        help:
            "Myopic best-responding agent as AGENT[:L] (repeatable; L, the smoothness of its objective, defaults to a bound from its data)."
    ) var bestResponse: [String] = []
    @Option(help: "Free-riding agent (repeatable).") var freeRide: [Int] = []
    @Option(help: "Misreporting agent as AGENT:FACTOR (repeatable).") var misreport: [String] = []
}
