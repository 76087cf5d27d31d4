#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPU features that decide which OpenBLAS kernels can run, from /proc/cpuinfo (Linux).
public struct CPUFeatures: Sendable, Equatable {
    public var vendor: String
    public var family: Int
    public var model: Int
    public var modelName: String
    public var flags: Set<String>

    public init(vendor: String, family: Int, model: Int, modelName: String, flags: Set<String>) {
        self.vendor = vendor; self.family = family; self.model = model; self.modelName = modelName; self.flags = flags
    }

    /// The first processor of a /proc/cpuinfo text (nil when it names none).
    public init?(cpuinfo text: String) {
        var vendor = "", family = -1, model = -1, name = "", flags: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty && family >= 0 { break }  // end of the first processor's block
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingWhitespace(), value = parts[1].trimmingWhitespace()
            switch key {
            case "vendor_id": vendor = value
            case "cpu family": family = Int(value) ?? -1
            case "model": model = Int(value) ?? -1
            case "model name": name = value
            case "flags": flags = Set(value.split(separator: " ").map(String.init))
            default: break
            }
        }
        guard !vendor.isEmpty || !flags.isEmpty else { return nil }
        self.init(vendor: vendor, family: family, model: model, modelName: name, flags: flags)
    }

    /// This machine's CPU (nil where /proc/cpuinfo cannot be read).
    public static func current() -> CPUFeatures? {
        guard let f = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count < 1 << 22 {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return CPUFeatures(cpuinfo: String(decoding: bytes, as: UTF8.self))
    }

    /// The instruction-set level the flags allow: 3 AVX-512 (F, BW, VL, DQ), 2 AVX2 with FMA,
    /// 1 AVX, 0 otherwise.
    public var isaLevel: Int {
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) { return 3 }
        if flags.contains("avx2") && flags.contains("fma") { return 2 }
        if flags.contains("avx") { return 1 }
        return 0
    }
}

private extension Substring {
    func trimmingWhitespace() -> String {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}

/// Which OpenBLAS core kernels to run, and why.
///
/// Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernels from the CPU model it recognises; on a CPU
/// newer than the library it falls back to generic SSE kernels ("Prescott"): measured 59 GFLOP/s
/// sgemm on an AVX-512 Xeon against 220-231 with `OPENBLAS_CORETYPE=SkylakeX`/`Cooperlake`. OpenBLAS
/// reads the variable when the library loads, so a process that wants another core must set it and
/// start again (`reexecIfNeeded`). The chosen core is then checked against naive products and
/// abandoned, with a warning, if its answers are wrong (some OpenBLAS builds compute wrong results
/// with some cores on some CPUs).
public enum BLASCoreSelection {
    /// Instruction-set level each OpenBLAS core needs (cores not listed: 0, generic).
    static let coreLevels: [String: Int] = [
        "sandybridge": 1, "bulldozer": 1, "piledriver": 1, "steamroller": 1, "excavator": 2,
        "haswell": 2, "zen": 2, "skylakex": 3, "cooperlake": 3, "sapphirerapids": 3,
    ]

    public static func level(ofCore core: String) -> Int { coreLevels[core.lowercased()] ?? 0 }

    /// The core to ask for on this CPU: AVX-512 Intel parts SkylakeX (Cooperlake with BF16),
    /// AVX2 parts Haswell (Zen on AMD), AVX parts Sandybridge; nil below AVX. AMD parts with
    /// AVX-512 get Zen: OpenBLAS recognises them itself and its choice there is the faster one.
    public static func bestCore(for cpu: CPUFeatures) -> String? {
        let amd = cpu.vendor == "AuthenticAMD"
        switch cpu.isaLevel {
        case 3: return amd ? "Zen" : (cpu.flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX")
        case 2: return amd ? "Zen" : "Haswell"
        case 1: return "Sandybridge"
        default: return nil
        }
    }

    /// A better core than `current` for `cpu`, and why; nil when `current` already uses the
    /// instruction set the CPU offers (or the CPU is unknown).
    public static func advice(current: String, cpu: CPUFeatures?) -> (core: String, reason: String)? {
        guard let cpu, let best = bestCore(for: cpu), level(ofCore: best) > level(ofCore: current) else { return nil }
        let isa = ["SSE", "AVX", "AVX2", "AVX-512"][cpu.isaLevel]
        return (best, "OpenBLAS chose its \(current) kernels (\(["generic SSE", "AVX", "AVX2", "AVX-512"][level(ofCore: current)])) on a CPU with \(isa) (\(cpu.modelName.isEmpty ? cpu.vendor : cpu.modelName)): \(best) selected")
    }

    /// sgemm, ssyrk, dgemm and dsyev on small inputs against naive references; nil when all agree,
    /// else what disagreed.
    public static func verify() -> String? {
        var rng = SeededGenerator(seed: 0xB1A5, stream: 1)
        /// The first entry (i, j) of `rows x cols` where got(i, j) differs from the Double sum of
        /// term(i, j, k) over k by more than `tol` relative.
        func mismatch(_ what: String, _ rows: Int, _ cols: Int, upper: Bool = false, inner: Int, tol: Double,
                      _ got: (Int, Int) -> Double, _ term: (Int, Int, Int) -> Double) -> String? {
            for i in 0..<rows { for j in (upper ? i : 0)..<cols {
                var s = 0.0
                for k in 0..<inner { s += term(i, j, k) }
                if abs(got(i, j) - s) > tol * max(1, abs(s)) { return "\(what) differs at (\(i), \(j)): \(got(i, j)) vs \(s)" }
            } }
            return nil
        }
        let a: Matrix<Float> = rng.normalMatrix(rows: 37, cols: 29)
        let b: Matrix<Float> = rng.normalMatrix(rows: 29, cols: 41)
        var c = Matrix<Float>(rows: 37, cols: 41), g = Matrix<Float>(rows: 37, cols: 37)
        let ad: Matrix<Double> = rng.normalMatrix(rows: 23, cols: 31)
        let bd: Matrix<Double> = rng.normalMatrix(rows: 31, cols: 19)
        var cd = Matrix<Double>(rows: 23, cols: 19)
        do { try BLAS.gemm(a, b, into: &c); try BLAS.syrk(a, into: &g); try BLAS.gemm(ad, bd, into: &cd) } catch { return "\(error)" }
        if let m = mismatch("sgemm", 37, 41, inner: 29, tol: 1e-4, { Double(c[$0, $1]) }, { Double(a[$0, $2]) * Double(b[$2, $1]) }) { return m }
        if let m = mismatch("ssyrk", 37, 37, upper: true, inner: 29, tol: 1e-4, { Double(g[$0, $1]) }, { Double(a[$0, $2]) * Double(a[$1, $2]) }) { return m }
        if let m = mismatch("dgemm", 23, 19, inner: 31, tol: 1e-12, { cd[$0, $1] }, { ad[$0, $2] * bd[$2, $1] }) { return m }
        // A symmetric matrix with known eigenvalues 1...n: Q diag(1...n) Q^T for a Householder Q.
        let n = 12
        let v: [Double] = (0..<n).map { _ in rng.normal() }
        let vv = v.reduce(0) { $0 + $1 * $1 }
        var sym = Matrix<Double>(rows: n, cols: n)
        for i in 0..<n { for j in 0..<n {
            var s = 0.0
            for k in 0..<n {
                let qik = (i == k ? 1 : 0) - 2 * v[i] * v[k] / vv, qjk = (j == k ? 1 : 0) - 2 * v[j] * v[k] / vv
                s += qik * Double(k + 1) * qjk
            }
            sym[i, j] = s
        } }
        guard let ev = try? BLAS.symmetricEigenvalues(sym) else { return "dsyev failed" }
        for (k, e) in ev.sorted().enumerated() where abs(e - Double(k + 1)) > 1e-10 * Double(n) {
            return "dsyev eigenvalue \(k): \(e) vs \(k + 1)"
        }
        return nil
    }

    /// For programs (the CLI, the benchmark): if OpenBLAS picked kernels below what the CPU offers
    /// and the user did not set OPENBLAS_CORETYPE, start this program again with the better core;
    /// in the restarted process, check it and fall back (restart with the original core and a
    /// warning on standard error) if its answers are wrong. Returns only when no restart is needed.
    ///
    /// Environment: AGORA_BLAS_SELECT=0 turns it off; AGORA_BLAS_CORE_SELECTED / _REJECTED carry
    /// the decision across the restart (and `agora info` prints it); AGORA_BLAS_ASSUME_CORE
    /// pretends OpenBLAS chose that core (for tests on machines whose core is already right).
    public static func reexecIfNeeded() {
        if let v = getenv("AGORA_BLAS_SELECT"), String(cString: v) == "0" { return }
        if getenv("AGORA_BLAS_CORE_REJECTED") != nil { return }
        if let selected = getenv("AGORA_BLAS_CORE_SELECTED").map({ String(cString: $0) }) {
            guard getenv("AGORA_BLAS_VERIFIED") == nil else { return }
            if let problem = verify() {
                let original = getenv("AGORA_BLAS_ORIGINAL_CORE").map { String(cString: $0) } ?? ""
                let message = "warning: OpenBLAS's \(OpenBLAS.coreName) kernels gave wrong answers here (\(problem)); back to \(original.isEmpty ? "OpenBLAS's own choice" : original)\n"
                var bytes = Array(message.utf8)
                _ = write(2, &bytes, bytes.count)  // standard error, unbuffered
                unsetenv("AGORA_BLAS_CORE_SELECTED")
                if original.isEmpty || original.lowercased() == "assumed" { unsetenv("OPENBLAS_CORETYPE") } else { setenv("OPENBLAS_CORETYPE", original, 1) }
                setenv("AGORA_BLAS_CORE_REJECTED", "\(selected): \(problem)", 1)
                restart()
                return
            }
            setenv("AGORA_BLAS_VERIFIED", "1", 1)
            return
        }
        guard getenv("OPENBLAS_CORETYPE") == nil else { return }  // the user's choice stands
        let current = getenv("AGORA_BLAS_ASSUME_CORE").map { String(cString: $0) } ?? OpenBLAS.coreName
        guard let (core, reason) = advice(current: current, cpu: CPUFeatures.current()) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("AGORA_BLAS_CORE_SELECTED", reason, 1)
        setenv("AGORA_BLAS_ORIGINAL_CORE", getenv("AGORA_BLAS_ASSUME_CORE") == nil ? current : "assumed", 1)
        restart()
    }

    /// execv of this program with its own arguments (returns only if execv fails).
    static func restart() {
        let argv = CommandLine.unsafeArgv
        _ = execv("/proc/self/exe", argv)
    }
}
