import Foundation

/// Output of a shell command, trimmed ("" when it cannot run): machine facts for the context.
public func shell(_ cmd: String) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", cmd]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return "" }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

extension Context {
    /// The machine and build a run measured: CPU model, caches, git revision, date, and the BLAS
    /// configuration the caller read from OpenBLAS (this module does not link it).
    public static func current(executable: String, openblasConfig: String, openblasCoreName: String, threads: Int, quick: Bool) -> Context {
        let git = shell("git rev-parse --short HEAD 2>/dev/null")
        let cpu = shell("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
        let caches = shell("for d in /sys/devices/system/cpu/cpu0/cache/index*; do echo L$(cat $d/level)-$(cat $d/type):$(cat $d/size); done 2>/dev/null")
            .split(separator: "\n").map(String.init)
        var c = Context(date: ISO8601DateFormatter().string(from: Date()), host_name: ProcessInfo.processInfo.hostName,
                        executable: executable, num_cpus: ProcessInfo.processInfo.activeProcessorCount, cpu_model: cpu,
                        caches: caches, openblas_config: openblasConfig, openblas_corename: openblasCoreName,
                        openblas_env: ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("OPENBLAS_") },
                        agora_threads: threads, git_revision: git.isEmpty ? "unknown" : git, quick: quick)
        c.compiler = MachineIdentity.currentCompiler()
        c.build_flags = MachineIdentity.currentBuildFlags()
        return c
    }
}
