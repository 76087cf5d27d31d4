import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

@main
struct Agora: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agora",
        abstract: "Incentive-compatible collaborative machine learning: mechanisms, kernels, experiments.",
        subcommands: [
            DSGDCommand.self, MarketCommand.self, MixCommand.self, TopologyCommand.self, ContractCommand.self, DataCommand.self,
            InfoCommand.self,
        ]
    )

    /// Before anything else: the OpenBLAS kernels this CPU can run (restarts once when OpenBLAS
    /// chose generic ones; see `restartWithBetterBLASCoreIfNeeded`).
    static func main() {
        restartWithBetterBLASCoreIfNeeded()
        Self.main(nil)
    }
}
