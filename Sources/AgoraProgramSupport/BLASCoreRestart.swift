import AgoraKernels
import Foundation

// Process-level work for Agora's programs (the `agora` CLI, AgoraBench), kept out of every library
// product: this target is a dependency of executables only, never a product, so no embedder links
// a function that restarts its host.

/// Before anything else: the OpenBLAS kernels this CPU can run. OpenBLAS reads
/// `OPENBLAS_CORETYPE` only when it loads, so choosing another core means starting this program
/// again with it set; the library only decides (`BLASCoreSelection.decide`), the program acts.
/// Returns when no restart is needed (or when `execv` fails, which leaves OpenBLAS's own choice).
public func restartWithBetterBLASCoreIfNeeded() {
    let decision = BLASCoreSelection.decide(
        environment: ProcessInfo.processInfo.environment,
        currentCore: OpenBLAS.coreName, cpu: CPUFeatures.current())
    switch decision {
    case .keep:
        return
    case .verified:
        setenv("AGORA_BLAS_VERIFIED", "1", 1)
    case .restart(let set, let unset, let warning):
        if let warning { FileHandle.standardError.write(Data((warning + "\n").utf8)) }
        for name in unset { unsetenv(name) }
        for (name, value) in set { setenv(name, value, 1) }
        _ = execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
