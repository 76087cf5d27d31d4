import Foundation

/// What a timing depends on besides the code: the machine (CPU model, core count, caches), the
/// BLAS kernels and thread count it ran with, and the compiler and flags that built it.
///
/// Timings from different machines, OpenBLAS cores or thread counts say nothing about the code, so
/// comparisons across them are refused unless forced; a different compiler or flags is reported
/// but allowed (comparing toolchains is a legitimate question). History files are kept one per
/// full identity.
public struct MachineIdentity: Codable, Sendable, Equatable, Hashable {
    public var cpu_model: String
    public var num_cpus: Int
    public var caches: [String]
    public var openblas_corename: String
    public var threads: Int
    public var compiler: String
    public var build_flags: String

    public init(
        cpu_model: String, num_cpus: Int, caches: [String], openblas_corename: String, threads: Int,
        compiler: String, build_flags: String
    ) {
        self.cpu_model = cpu_model
        self.num_cpus = num_cpus
        self.caches = caches
        self.openblas_corename = openblas_corename
        self.threads = threads
        self.compiler = compiler
        self.build_flags = build_flags
    }

    /// The identity of an AgoraBench run.
    public init(_ c: Context) {
        self.init(
            cpu_model: c.cpu_model, num_cpus: c.num_cpus, caches: c.caches, openblas_corename: c.openblas_corename,
            threads: c.agora_threads, compiler: c.compiler ?? "unknown", build_flags: c.build_flags ?? "unknown")
    }

    /// Fields whose difference makes timings incomparable.
    public func blockingDifferences(from other: MachineIdentity) -> [String] {
        var out: [String] = []
        if cpu_model != other.cpu_model { out.append("CPU model '\(cpu_model)' vs '\(other.cpu_model)'") }
        if num_cpus != other.num_cpus { out.append("CPUs \(num_cpus) vs \(other.num_cpus)") }
        if caches != other.caches { out.append("caches \(caches.joined(separator: " ")) vs \(other.caches.joined(separator: " "))") }
        if openblas_corename != other.openblas_corename { out.append("OpenBLAS core \(openblas_corename) vs \(other.openblas_corename)") }
        if threads != other.threads { out.append("threads \(threads) vs \(other.threads)") }
        return out
    }

    /// Fields that differ but leave the comparison meaningful (reported with it).
    public func noteworthyDifferences(from other: MachineIdentity) -> [String] {
        var out: [String] = []
        if compiler != other.compiler { out.append("compiler '\(compiler)' vs '\(other.compiler)'") }
        if build_flags != other.build_flags { out.append("flags '\(build_flags)' vs '\(other.build_flags)'") }
        return out
    }

    /// A file-name-safe key: readable machine part plus a hash of the whole identity, e.g.
    /// `amd-epyc-2cpu-zen-t2-1a2b3c4d`.
    public var slug: String {
        let cpu = cpu_model.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        let squeezed = String(cpu).split(separator: "-").joined(separator: "-")
        let text = [cpu_model, "\(num_cpus)", caches.joined(separator: ","), openblas_corename, "\(threads)", compiler, build_flags]
            .joined(separator: "|")
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a, stable across runs and platforms
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "\(squeezed.isEmpty ? "cpu" : squeezed)-\(num_cpus)cpu-\(openblas_corename.lowercased())-t\(threads)-"
            + String(h & 0xffff_ffff, radix: 16)
    }

    /// One line for reports.
    public var summary: String {
        "\(cpu_model), \(num_cpus) CPUs, caches \(caches.joined(separator: " ")), OpenBLAS \(openblas_corename), \(threads) threads, \(compiler), flags '\(build_flags)'"
    }

    /// The compiler that builds the benchmarks on this machine (`swift --version`, first line).
    public static func currentCompiler() -> String {
        let v = shell("swift --version 2>&1 | head -1")
        return v.isEmpty ? "unknown" : v
    }

    /// The build flags the Makefile passed (AGORA_BUILD_FLAGS), "unknown" when run by hand.
    public static func currentBuildFlags() -> String {
        ProcessInfo.processInfo.environment["AGORA_BUILD_FLAGS"].map { $0.isEmpty ? "none" : $0 } ?? "unknown"
    }
}
