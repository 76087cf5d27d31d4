import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraProgramSupport
import AgoraReports
import AgoraTopology
import ArgumentParser
import CAgoraSupport
import Foundation

@main
struct Agora: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agora",
        abstract: "Incentive-compatible collaborative machine learning: mechanisms, kernels, experiments.",
        subcommands: [
            DSGDCommand.self, MarketCommand.self, MixCommand.self, TopologyCommand.self, ContractCommand.self, DataCommand.self,
            InfoCommand.self, SweepCommand.self, ReportCommand.self,
        ]
    )

    /// Before anything else: the OpenBLAS kernels this CPU can run (restarts once when OpenBLAS
    /// chose generic ones; see `restartWithBetterBLASCoreIfNeeded`).
    static func main() {
        restartWithBetterBLASCoreIfNeeded()
        Self.main(nil)
        // Output that never arrived is a failure: a full disk or /dev/full behind `--json >` must
        // not exit 0 with the result lost.
        if agora_flush_stdout() != 0 {
            FileHandle.standardError.write(Data("Error: writing standard output failed (\(String(cString: strerror(errno))))\n".utf8))
            Foundation.exit(1)
        }
    }
}
