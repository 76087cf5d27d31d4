import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

struct MarketCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "market",
        abstract:
            "The iPFL model-sharing market: training with graph learning, payments and prox personalization, baselines, incentive audit.",
        discussion: "`agora market [options]` is `agora market run [options]`: its options are listed by `agora market run --help`.",
        subcommands: [MarketRunCommand.self, MarketAuditCommand.self, MarketReproduceCommand.self],
        defaultSubcommand: MarketRunCommand.self)
}
