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
    @Flag(
        help:
            "Print only the OpenBLAS core Agora selected for this CPU (empty when OpenBLAS's own choice stands); `make test` runs the tests on it."
    )
    var selectedCore = false

    func run() {
        if selectedCore {
            let env = ProcessInfo.processInfo.environment
            print(env["AGORA_BLAS_CORE_SELECTED"] != nil && env["AGORA_BLAS_CORE_REJECTED"] == nil ? OpenBLAS.coreName : "")
            return
        }
        print("OpenBLAS config   \(OpenBLAS.config)")
        print("OpenBLAS core     \(OpenBLAS.coreName)")
        let env = ProcessInfo.processInfo.environment
        if let cpu = CPUFeatures.current() {
            print(
                "CPU               \(cpu.modelName) (\(cpu.vendor), family \(cpu.family), model \(cpu.model)), \(["SSE", "AVX", "AVX2", "AVX-512"][cpu.isaLevel])"
            )
        }
        if let rejected = env["AGORA_BLAS_CORE_REJECTED"] {
            print("core choice       rejected after a wrong answer: \(rejected)")
        } else if let selected = env["AGORA_BLAS_CORE_SELECTED"] {
            print(
                "core choice       \(selected) (checked against naive products: \(env["AGORA_BLAS_VERIFIED"] != nil ? "correct" : "not checked"))"
            )
        } else if env["OPENBLAS_CORETYPE"] != nil {
            print("core choice       OPENBLAS_CORETYPE set by the user")
        } else {
            print("core choice       OpenBLAS's own (it matches the CPU's instruction set)")
        }
        print("OpenBLAS threads  \(OpenBLAS.threads)")
        print("Agora threads     \(ThreadPool.shared.threads)")
        let pool = ThreadPool.shared
        switch pool.schedule {
        case .measured:
            print(
                "parallel regions  measured per kernel loop: serial below \(pool.measuredFromBytes >> 10) KiB, parallel from \(pool.alwaysParallelBytes >> 20) MiB, the faster of the two measured in between"
            )
        case .threshold:
            print("parallel regions  fixed threshold: parallel from \(pool.minParallelBytes >> 10) KiB (AGORA_PARALLEL_SCHEDULE=threshold)")
        }
        if let v = env["AGORA_PARALLEL_SCHEDULE"], ThreadPool.Schedule(rawValue: v) == nil {
            print(
                "warning           AGORA_PARALLEL_SCHEDULE=\(v) not understood (expected one of \(ThreadPool.Schedule.allCases.map(\.rawValue).joined(separator: ", "))): measured is used"
            )
        }
        for (k, v) in env.filter({ $0.key.hasPrefix("OPENBLAS_") || $0.key.hasPrefix("AGORA_") }).sorted(by: { $0.key < $1.key }) {
            print("env \(k)=\(v)")
        }
    }
}
