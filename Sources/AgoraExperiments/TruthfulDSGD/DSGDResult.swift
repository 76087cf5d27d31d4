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
        public var secondsPerIteration: Double
    }

    public struct Gain: Codable, Sendable {
        public var agent: Int
        public var behaviour: String
        public var iterations: [Int]
        public var withPayments: [Double]
        public var withoutPayments: [Double]
    }
}
