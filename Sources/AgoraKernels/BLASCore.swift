/// Which OpenBLAS core kernels to run, and why.
///
/// Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernels from the CPU model it recognises; on a CPU
/// newer than the library it falls back to generic SSE kernels ("Prescott"): measured 59 GFLOP/s
/// sgemm on an AVX-512 Xeon against 220-231 with `OPENBLAS_CORETYPE=SkylakeX`/`Cooperlake`. OpenBLAS
/// reads the variable when the library loads, so a process that wants another core must set it and
/// start again: `decide` says when, and the programs (the CLI, the benchmark) restart themselves;
/// no library does. The chosen core is then checked against naive products and
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
        return (
            best,
            "OpenBLAS chose its \(current) kernels (\(["generic SSE", "AVX", "AVX2", "AVX-512"][level(ofCore: current)])) on a CPU with \(isa) (\(cpu.modelName.isEmpty ? cpu.vendor : cpu.modelName)): \(best) selected"
        )
    }

    /// sgemm, ssyrk, dgemm and dsyev on small inputs against naive references; nil when all agree,
    /// else what disagreed.
    public static func verify() -> String? {
        var rng = SeededGenerator(seed: 0xB1A5, stream: 1)
        /// The first entry (i, j) of `rows x cols` where got(i, j) differs from the Double sum of
        /// term(i, j, k) over k by more than `tol` relative.
        func mismatch(
            _ what: String, _ rows: Int, _ cols: Int, upper: Bool = false, inner: Int, tol: Double,
            _ got: (Int, Int) -> Double, _ term: (Int, Int, Int) -> Double
        ) -> String? {
            for i in 0..<rows {
                for j in (upper ? i : 0)..<cols {
                    var s = 0.0
                    for k in 0..<inner { s += term(i, j, k) }
                    if abs(got(i, j) - s) > tol * max(1, abs(s)) { return "\(what) differs at (\(i), \(j)): \(got(i, j)) vs \(s)" }
                }
            }
            return nil
        }
        let a: Matrix<Float> = rng.normalMatrix(rows: 37, cols: 29)
        let b: Matrix<Float> = rng.normalMatrix(rows: 29, cols: 41)
        var c = Matrix<Float>(rows: 37, cols: 41), g = Matrix<Float>(rows: 37, cols: 37)
        let ad: Matrix<Double> = rng.normalMatrix(rows: 23, cols: 31)
        let bd: Matrix<Double> = rng.normalMatrix(rows: 31, cols: 19)
        var cd = Matrix<Double>(rows: 23, cols: 19)
        do {
            try BLAS.gemm(a, b, into: &c)
            try BLAS.syrk(a, into: &g)
            try BLAS.gemm(ad, bd, into: &cd)
        } catch { return "\(error)" }
        if let m = mismatch("sgemm", 37, 41, inner: 29, tol: 1e-4, { Double(c[$0, $1]) }, { Double(a[$0, $2]) * Double(b[$2, $1]) }) {
            return m
        }
        if let m = mismatch(
            "ssyrk", 37, 37, upper: true, inner: 29, tol: 1e-4, { Double(g[$0, $1]) }, { Double(a[$0, $2]) * Double(a[$1, $2]) })
        {
            return m
        }
        if let m = mismatch("dgemm", 23, 19, inner: 31, tol: 1e-12, { cd[$0, $1] }, { ad[$0, $2] * bd[$2, $1] }) { return m }
        // A symmetric matrix with known eigenvalues 1...n: Q diag(1...n) Q^T for a Householder Q.
        let n = 12
        let v: [Double] = (0..<n).map { _ in rng.normal() }
        let vv = v.reduce(0) { $0 + $1 * $1 }
        var sym = Matrix<Double>(rows: n, cols: n)
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for k in 0..<n {
                    let qik = (i == k ? 1 : 0) - 2 * v[i] * v[k] / vv, qjk = (j == k ? 1 : 0) - 2 * v[j] * v[k] / vv
                    s += qik * Double(k + 1) * qjk
                }
                sym[i, j] = s
            }
        }
        guard let ev = try? BLAS.symmetricEigenvalues(sym) else { return "dsyev failed" }
        for (k, e) in ev.sorted().enumerated() where abs(e - Double(k + 1)) > 1e-10 * Double(n) {
            return "dsyev eigenvalue \(k): \(e) vs \(k + 1)"
        }
        return nil
    }

    /// What a program should do about OpenBLAS's kernels before its real work starts.
    public enum Decision: Equatable, Sendable {
        /// Nothing: OpenBLAS's choice, the user's `OPENBLAS_CORETYPE` or a checked choice stands.
        case keep
        /// The core in force was chosen by an earlier start and its answers are right: record that
        /// (`AGORA_BLAS_VERIFIED=1`) and go on.
        case verified
        /// Start the program again with this environment (OpenBLAS reads `OPENBLAS_CORETYPE` only
        /// when it loads); `warning`, when set, goes to standard error first.
        case restart(set: [String: String], unset: [String], warning: String?)
    }

    /// The decision for a program whose environment is `environment` and whose OpenBLAS runs
    /// `currentCore`, on `cpu`. Pure: it reads no global state and changes none, so a library or
    /// an embedder can ask it; only a program's `main` (the CLI, the benchmark) acts on it, because
    /// acting means restarting the process. `verify` is called only in a restarted process, to
    /// check the selected core's answers (`verify()` by default).
    ///
    /// Environment it reads: `AGORA_BLAS_SELECT=0` turns selection off; `OPENBLAS_CORETYPE` set by
    /// the user wins; `AGORA_BLAS_CORE_SELECTED` / `_REJECTED` / `_VERIFIED` / `_ORIGINAL_CORE`
    /// carry the decision across the restart (and `agora info` prints them); `AGORA_BLAS_ASSUME_CORE`
    /// pretends OpenBLAS chose that core (for tests on machines whose core is already right).
    public static func decide(
        environment env: [String: String], currentCore: String, cpu: CPUFeatures?,
        verify: () -> String? = { verify() }
    ) -> Decision {
        if env["AGORA_BLAS_SELECT"] == "0" || env["AGORA_BLAS_CORE_REJECTED"] != nil { return .keep }
        if let selected = env["AGORA_BLAS_CORE_SELECTED"] {
            guard env["AGORA_BLAS_VERIFIED"] == nil else { return .keep }
            guard let problem = verify() else { return .verified }
            let original = env["AGORA_BLAS_ORIGINAL_CORE"] ?? ""
            let fallBack = original.isEmpty || original.lowercased() == "assumed"
            let warning =
                "warning: OpenBLAS's \(currentCore) kernels gave wrong answers here (\(problem)); back to \(original.isEmpty ? "OpenBLAS's own choice" : original)"
            var set = ["AGORA_BLAS_CORE_REJECTED": "\(selected): \(problem)"]
            var unset = ["AGORA_BLAS_CORE_SELECTED"]
            if fallBack { unset.append("OPENBLAS_CORETYPE") } else { set["OPENBLAS_CORETYPE"] = original }
            return .restart(set: set, unset: unset, warning: warning)
        }
        guard env["OPENBLAS_CORETYPE"] == nil else { return .keep }  // the user's choice stands
        let assumed = env["AGORA_BLAS_ASSUME_CORE"]
        guard let (core, reason) = advice(current: assumed ?? currentCore, cpu: cpu) else { return .keep }
        return .restart(
            set: [
                "OPENBLAS_CORETYPE": core, "AGORA_BLAS_CORE_SELECTED": reason,
                "AGORA_BLAS_ORIGINAL_CORE": assumed == nil ? currentCore : "assumed",
            ],
            unset: [], warning: nil)
    }
}
