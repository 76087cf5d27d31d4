import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import ArgumentParser

// The library's choice-valued enums as command-line values: `--help` lists their choices and a
// wrong value gets ArgumentParser's one wording ("The value 'x' is invalid for '--weights'. Please
// provide one of ..."). Each enum's raw value is its spelling on the command line and in JSON.

extension WeightScheme: ExpressibleByArgument {}
extension MixStrategy: ExpressibleByArgument {}
extension GLMLoss: ExpressibleByArgument {}
extension PaymentRule.EdgeWeighting: ExpressibleByArgument {}
extension UtilityModel: ExpressibleByArgument {}
extension NetworkPreset: ExpressibleByArgument {}
extension MarketReproduction.FigurePartition: ExpressibleByArgument {}
extension DSGDExperiment.AuditSwitch: ExpressibleByArgument {}
extension DSGDExperiment.CalibrationScope: ExpressibleByArgument {}
extension CSVHeader: ExpressibleByArgument {}
extension MultinomialOutcomes.Conditioning: ExpressibleByArgument {}

extension DataFormat: ExpressibleByArgument {
    /// The format names and their aliases (`DataFormat(parsing:)`).
    public init?(argument: String) { try? self.init(parsing: argument) }
}
extension MarketDistance: ExpressibleByArgument {}
extension MarketTieBreak: ExpressibleByArgument {}
extension CentreStep: ExpressibleByArgument {}
extension DropoutRule: ExpressibleByArgument {}
extension AttackConvention: ExpressibleByArgument {}
extension MarketExperiment.ProxPilot.Scope: ExpressibleByArgument {}
extension MarketExperiment.ProxPilot.Criterion: ExpressibleByArgument {}

/// A yes/no choice (`--prox-without-imports yes|no`).
enum YesNo: String, CaseIterable, ExpressibleByArgument {
    case yes, no
    var isYes: Bool { self == .yes }
}

/// `agora market reproduce EXPERIMENT`: one of the paper's experiments, or all of them.
enum ReproductionChoice: String, CaseIterable, ExpressibleByArgument {
    case partitions, robustness, liars, inclusive, acceptance, gain, figure2, all
    /// `all` is every experiment but the convolutional figure (minutes per method).
    var experiments: [MarketReproduction] {
        MarketReproduction.allCases.filter { self == .all ? $0 != .figure2 : $0.rawValue == rawValue }
    }
}

/// `agora market run --preset`: the default market, or the reference code's personalization.
enum MarketPreset: String, CaseIterable, ExpressibleByArgument {
    case `default`
    case paper
}
