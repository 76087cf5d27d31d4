import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

extension BenchSession {
    /// The targets of performance.md, each with its measured value and PASS/FAIL (reported, never
    /// an exit code: timings vary between runs and machines).
    func printTargets() {
        print("")
        print("== targets (performance.md)")
        let big = quick ? 20000 : 100_000, n = mixAgents
        if let bigT = mixResults["sparse/\(big)/\(allThreads)"], let denseT = mixResults["dense/1000"], let smallT = mixResults["sparse/1000/\(allThreads)"] {
            let bigFrac = (2.0 * Double(n * big) * 4 / bigT / 1e9) / copyBound[allThreads]!
            target("sparse mix n=1024 d=\(big), all cores, >= 0.8 of copy bandwidth", bigFrac, 0.8, quick: quick && big != 100_000)
            print(String(format: "   dense GEMM / sparse kernel time at n=1024, d=1e3: %.1fx (density-based choice: sparse)", denseT / smallT))
            if allThreads > 1, let oneT = mixResults["sparse/\(big)/1"] {
                target("parallel speed-up, sparse mix d=\(big), \(allThreads) threads, >= 1.7x", oneT / bigT, 1.7, quick: false)
            }
        }
        if let (rs, rn) = mixPeerRatios {
            target("sparse mix n=1024 d=1e3 >= 2x faster than scipy CSR", rs / 2, 1.0, quick: false, shown: String(format: "%.1fx", rs))
            target("sparse mix n=1024 d=1e3 >= 10x faster than numpy", rn / 10, 1.0, quick: false, shown: String(format: "%.1fx", rn))
        }
        if let r = records.last(where: { $0.name.hasPrefix("glm_grad/") }), let f = r.fraction_of_bound {
            target("batched logistic gradient >= 0.6 of copy bandwidth", f / 0.6, 1.0, quick: quick, shown: String(format: "%.2f", f))
        }
        if let dsgdRatio {
            target("one DSGD iteration, 256 agents, >= 10x faster than numpy", dsgdRatio / 10, 1.0, quick: quick, shown: String(format: "%.1fx", dsgdRatio))
        }
        if let marketRatio {
            target("iPFL market step, m=1000, P=\(quick ? "1e4" : "1e5"), >= 10x faster than numpy", marketRatio / 10, 1.0, quick: quick, shown: String(format: "%.1fx", marketRatio))
        }
        if let glmRatio { print(String(format: "   batched logistic gradient vs numpy: %.1fx (no target in performance.md; reported)", glmRatio)) }
        if let s3 = contractRatios["s3"] {
            target("contract S3 >= 100x faster than scipy trust-constr, objective not lower", s3.ours >= s3.peer - 1e-9 ? s3.ratio / 100 : 0, 1.0,
                   quick: false, shown: String(format: "%.0fx, objective %+.2e", s3.ratio, s3.ours - s3.peer))
        }
        for (key, s) in contendedSpeedups.sorted(by: { $0.key < $1.key }) {
            target("\(allThreads) threads never slower than 1 (\(key.replacingOccurrences(of: "/", with: ", ")) mix)", s, 0.95, quick: false,
                   shown: String(format: "%.2fx", s))
        }
        target("fork/join overhead per parallel region <= 5 us", 5.0 / max(1e-9, forkJoin.median * 1e6), 1.0, quick: false,
               shown: String(format: "%.2f us", forkJoin.median * 1e6))
    }

    static func target(_ what: String, _ value: Double, _ goal: Double, quick: Bool, shown: String? = nil) {
        let verdict = value >= goal ? "PASS" : "FAIL"
        print("   [\(verdict)] \(what): \(shown ?? String(format: "%.2f", value))\(quick ? " (quick mode: smaller size)" : "")")
    }

    func target(_ what: String, _ value: Double, _ goal: Double, quick: Bool, shown: String? = nil) {
        Self.target(what, value, goal, quick: quick, shown: shown)
    }
}
