import AgoraKernels
import Dispatch

extension DSGDExperiment {
    /// Per-evaluation metrics of one run.
    public struct Point: Codable, Sendable {
        public var iteration: Int
        /// f(theta_bar) - f*, pooled objective at the network average.
        public var optimalityGap: Double
        /// mean_i ||theta_i - theta*||.
        public var distance: Double
        /// sum_i ||theta_i - theta_bar||^2.
        public var consensusError: Double
        /// |sum_i P_i| at this iteration.
        public var budgetResidual: Double
        /// Accuracy of theta_bar on the pooled training data (logistic only).
        public var accuracy: Double?
        /// Accuracy of theta_bar on the held-out file (`DataFile.testPath`), if any.
        public var testAccuracy: Double? = nil
        /// Per agent: cumulative payments and utility = -f_i(theta_i) - cumulative payments.
        public var cumulativePayments: [Double]
        public var utilities: [Double]
        /// `Kernels.bitDigest` of every agent's parameters at this evaluation: equal digests
        /// mean bit-identical parameters (in process against MPI at any rank count).
        public var parametersDigest: String? = nil
    }

    /// Which run of an experiment: the configured one, payments off, everyone truthful, or a
    /// strategic agent's counterfactual (that agent truthful, the others as configured). `label`
    /// is the run's name in `Result.runs`, checkpoints and the CSV files.
    public enum RunID: Hashable, Sendable {
        case payments
        case noPayments
        case allTruthful
        case truthful(agent: Int, payments: Bool)

        public var label: String {
            switch self {
            case .payments: "payments"
            case .noPayments: "no-payments"
            case .allTruthful: "all-truthful"
            case .truthful(let agent, let payments): (payments ? "payments" : "no-payments") + "/truthful-\(agent)"
            }
        }
    }

    public struct Run: Codable, Sendable {
        public var label: String
        public var points: [Point]
    }

    public struct Result: Codable, Sendable {
        public var config: DSGDExperiment
        public var fStar: Double
        public var warnings: [String]
        /// Runs: "payments" (as configured), "no-payments", "all-truthful" (what deterrence buys:
        /// payments never change the updates, only the incentives), and per strategic agent
        /// "payments/truthful-<i>" and "no-payments/truthful-<i>" for its counterfactual.
        public var runs: [Run]
        /// For each strategic agent: cumulative gain (utility minus its utility in the same run with
        /// it truthful) at each evaluation, with and without payments.
        public var gains: [Gain]
        /// Wall time of the runs divided by the iterations simulated (a payments-off run that
        /// shares its twin's trajectory is not simulated again), evaluations included.
        public var secondsPerIteration: Double
        /// Where the time went (nil in results written before it was recorded).
        public var timing: Timing? = nil

        /// The run `id`, nil when this experiment did not make it (`.allTruthful` and the
        /// counterfactuals exist only with strategic agents).
        public func run(_ id: RunID) -> Run? { runs.first { $0.label == id.label } }

        /// The run `id`, or an error naming it when the result lacks it (a result file edited or
        /// from another version).
        public func requiredRun(_ id: RunID) throws -> Run {
            guard let r = run(id) else {
                throw AgoraError.configuration(
                    "the DSGD result has no '\(id.label)' run (runs: \(runs.map(\.label).joined(separator: ", ")))")
            }
            return r
        }
    }

    public struct Gain: Codable, Sendable {
        public var agent: Int
        public var behaviour: String
        public var iterations: [Int]
        public var withPayments: [Double]
        public var withoutPayments: [Double]
    }

    /// Where an experiment's time went, in seconds: the set-up (data, graph, reference solve), the
    /// iterations without their evaluations, and the evaluations (every agent's loss, the network
    /// average's objective and accuracy, distances, consensus, digest).
    public struct Timing: Codable, Sendable {
        public var setupSeconds: Double
        public var loopSeconds: Double
        public var evaluationSeconds: Double
        /// Evaluations made (a shared trajectory's evaluation counts once) and iterations simulated.
        public var evaluations: Int
        public var simulatedIterations: Int
    }

    /// Accumulates the time spent in evaluations across runs.
    struct EvaluationClock {
        var nanoseconds: UInt64 = 0
        var count = 0
        var seconds: Double { Double(nanoseconds) * 1e-9 }
        mutating func time<R>(_ body: () throws -> R) rethrows -> R {
            let t0 = DispatchTime.now().uptimeNanoseconds
            defer {
                nanoseconds += DispatchTime.now().uptimeNanoseconds - t0
                count += 1
            }
            return try body()
        }
    }
}
