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
        let caches = CPUCaches.current().map(\.label)
        var c = Context(
            date: ISO8601DateFormatter().string(from: Date()), host_name: ProcessInfo.processInfo.hostName,
            executable: executable, num_cpus: ProcessInfo.processInfo.activeProcessorCount, cpu_model: cpu,
            caches: caches, openblas_config: openblasConfig, openblas_corename: openblasCoreName,
            openblas_env: ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("OPENBLAS_") },
            agora_threads: threads, git_revision: git.isEmpty ? "unknown" : git, quick: quick)
        c.compiler = MachineIdentity.currentCompiler()
        c.build_flags = MachineIdentity.currentBuildFlags()
        return c
    }
}

/// The caches of CPU 0 as sysfs lists them (level, type, size): the context's labels and the
/// bench's cache-level bounds read them from here.
public struct CPUCaches: Sendable, Equatable {
    public var level: Int
    public var type: String
    /// Size in bytes.
    public var bytes: Int
    /// sysfs's own size text (e.g. "32K").
    public var size: String
    /// e.g. "L1-Data:32K" (the form recorded in every result's context).
    public var label: String { "L\(level)-\(type):\(size)" }

    public static func current() -> [CPUCaches] {
        var out: [CPUCaches] = []
        for k in 0..<16 {
            let dir = "/sys/devices/system/cpu/cpu0/cache/index\(k)/"
            func read(_ f: String) -> String {
                ((try? String(contentsOfFile: dir + f, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let level = Int(read("level")) else { break }
            let size = read("size")
            let digits = Int(size.filter(\.isNumber)) ?? 0
            let bytes = digits * (size.hasSuffix("M") ? 1 << 20 : (size.hasSuffix("K") ? 1024 : 1))
            out.append(CPUCaches(level: level, type: read("type"), bytes: bytes, size: size))
        }
        return out
    }

    /// Bytes of the data (or unified) cache at `level`, 0 when sysfs does not list it.
    public static func dataBytes(level: Int, in caches: [CPUCaches] = current()) -> Int {
        caches.first { $0.level == level && $0.type != "Instruction" }?.bytes ?? 0
    }
}
