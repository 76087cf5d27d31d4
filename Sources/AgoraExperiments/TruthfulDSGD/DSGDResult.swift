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
        /// Every agent's reward -f_i(theta_i) on held-out rows of its own distribution (the
        /// individual-rationality audit's objective; set on the configured run's points when the
        /// data give held-out rows).
        public var heldOutRewards: [Double]? = nil
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
        /// Would the honest agents rather train alone? (nil on the non-reporting processes and in
        /// results written before the audit.)
        public var individualRationality: IndividualRationality? = nil

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

    /// The individual-rationality audit of the run with payments as configured: for each honest
    /// (non-strategic) agent, its utility in the network (reward minus cumulative payments, under
    /// the experiment's utility model) minus its utility training alone on its own data for the
    /// same iterations (the same step sizes and mini-batches, no neighbours, no payments). A
    /// negative margin means the agent would have done better alone: joining was not
    /// individually rational for it.
    public struct IndividualRationality: Codable, Sendable {
        /// What the rewards were scored on: "held-out" (rows of each agent's own distribution it
        /// did not train on) or "training" (its own training rows, where training alone is
        /// always at least as good: see docs/dsgd.md).
        public var objective: String
        /// The evaluations' iterations.
        public var iterations: [Int]
        /// Per agent, the margin at the last iteration (nil for strategic agents).
        public var margins: [Double?]
        /// Per evaluation, the smallest margin over the honest agents: under the final utility,
        /// the k-th is the margin of the same run stopped at iterations[k] (a plot over T).
        public var minimumMargins: [Double]
        /// The same without the payments, per evaluation.
        public var minimumMarginsWithoutPayments: [Double]
        /// Per agent, its reward -f_i(theta_i) at the last iteration when training alone.
        public var aloneRewards: [Double]
        /// The smallest final margin over the honest agents (nil when every agent is strategic).
        public var marginMin: Double?
        /// The same without the payments (the payments-off run follows the same trajectory): what
        /// the collaboration itself is worth to the agent least served by it, before the mechanism
        /// charges anything.
        public var marginMinWithoutPayments: Double?
        /// The honest agents whose final margin is negative.
        public var agentsBelowZero: [Int]

        /// The audit of `points` (a run's evaluations) against `alone` ([evaluation][agent] rewards
        /// training alone at the same iterations, on the same objective), for the agents not in
        /// `strategic`. The network's rewards are the points' held-out rewards when they have
        /// them, else their training rewards.
        public init(points: [Point], alone: [[Double]], strategic: Set<Int>, model: UtilityModel) {
            let heldOut = points.allSatisfy { $0.heldOutRewards != nil }
            self.init(
                iterations: points.map(\.iteration),
                network: points.map { p in heldOut ? p.heldOutRewards! : zip(p.utilities, p.cumulativePayments).map { $0 + $1 } },
                alone: alone, payments: points.map(\.cumulativePayments), strategic: strategic, model: model,
                objective: heldOut ? "held-out" : "training")
        }

        /// The audit from its parts, each [evaluation][agent] at `iterations`: the rewards in the
        /// network and alone (on `objective`) and the cumulative payments. The margin of agent i
        /// at evaluation k is reward_net - reward_alone (under `model`, which may integrate over
        /// the evaluations) minus payments.
        public init(
            iterations its: [Int], network: [[Double]], alone: [[Double]], payments: [[Double]], strategic: Set<Int>,
            model: UtilityModel, objective: String
        ) {
            let n = alone.first?.count ?? 0
            let honest = (0..<n).filter { !strategic.contains($0) }
            // [agent][evaluation]: the network's rewards and the rewards alone.
            let net = (0..<n).map { i in network.map { $0[i] } }, solo = (0..<n).map { i in alone.map { $0[i] } }
            func collaboration(_ i: Int, _ k: Int) -> Double {
                model.reward(net[i], iterations: its, at: k) - model.reward(solo[i], iterations: its, at: k)
            }
            func margin(_ i: Int, _ k: Int) -> Double { collaboration(i, k) - payments[k][i] }
            self.objective = objective
            iterations = its
            let last = its.count - 1
            let final = (0..<n).map { strategic.contains($0) ? nil : margin($0, last) }
            margins = final
            minimumMargins = its.indices.map { k in honest.map { margin($0, k) }.min() ?? .nan }
            minimumMarginsWithoutPayments = its.indices.map { k in honest.map { collaboration($0, k) }.min() ?? .nan }
            aloneRewards = alone.last ?? []
            marginMin = honest.map { final[$0]! }.min()
            marginMinWithoutPayments = honest.isEmpty ? nil : minimumMarginsWithoutPayments[last]
            agentsBelowZero = honest.filter { final[$0]! < 0 }
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
