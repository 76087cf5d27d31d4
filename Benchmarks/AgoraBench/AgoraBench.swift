import AgoraBenchCore
import AgoraKernels
import AgoraProgramSupport
import Foundation

// AgoraBench: measures the machine's bounds first (copy/triad bandwidth, sgemm throughput, fork/join
// cost), then the kernels, and reports each kernel against its bound as a same-run ratio.
// Output: a table on stdout, JSON in the google-benchmark format and CSV under bench-results/.
//
// One file per section (Bounds, Kernels, Gradients, DSGD, Market, Contracts, Sweep, Targets,
// Output); they share one `BenchSession` (options, records, the measured bounds, the peer ratios).
// Options: --quick, --out DIR, --only kernels,glm,dsgd,experiment,market,cnn,contracts,contended,sweep (the bounds always
// run), --save-baseline FILE, --baseline FILE [--threshold 0.1] [--force-machine]. Interleaved A/B
// between revisions and the per-machine history: AgoraBenchTrack (make bench-ab, bench-record).

@main
struct AgoraBench {
    static func main() throws {
        let args = CommandLine.arguments
        let session = CommandLineOptions.parseOrExit(
            Array(args.dropFirst()), valued: BenchSession.valuedFlags, switches: BenchSession.switches,
            usage: BenchSession.usage
        ) { try BenchSession(executable: args[0], options: $0) }
        restartWithBetterBLASCoreIfNeeded()  // the kernels the CPU can run (recorded in the context)
        session.printHeader()
        session.runBounds()
        if session.want("kernels") { try session.runKernels() }
        session.runSection("glm", "batched logistic-regression gradients (dense), against numpy on identical inputs") {
            try $0.runGradients()
        }
        session.runSection("dsgd", "one truthful-DSGD iteration (gradients + mix + payments), against numpy/scipy") { try $0.runDSGD() }
        session.runSection("experiment", "the DSGD experiment loop as agora dsgd runs it, against its kernels, from 16 agents up") {
            try $0.runExperimentProfile()
            try $0.runMixAndMarketLoops()
        }
        session.runSection("market", "one iPFL market step (Gram distances + graph + payments + prox centres), against numpy") {
            try $0.runMarket()
        }
        session.runSection("cnn", "simplecnn-mnist: one local step of 9 clients x batch 64 and a whole round, against JAX jit") {
            try $0.runCNN()
        }
        session.runSection("contracts", "contracts (exact solver vs scipy trust-constr peer on the same program)") { $0.runContracts() }
        session.runSection("contended", "threads under contention: 1 vs all threads, quiet and beside a CPU-bound process") {
            try $0.runContended()
        }
        if session.want("sweep") { try session.runSweep() }
        session.printTargets()
        try session.writeOutputs()
        try session.compareWithBaseline()
    }
}
