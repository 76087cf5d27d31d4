import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Print the numeric back-end configuration.")
    func run() {
        print("OpenBLAS config   \(OpenBLAS.config)")
        print("OpenBLAS core     \(OpenBLAS.coreName)")
        print("OpenBLAS threads  \(OpenBLAS.threads)")
        print("Agora threads     \(ThreadPool.shared.threads)")
        let env = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("OPENBLAS_") || $0.key.hasPrefix("AGORA_") }
        for (k, v) in env.sorted(by: { $0.key < $1.key }) { print("env \(k)=\(v)") }
    }
}
