import AgoraBenchCore
import Foundation

// AgoraBenchTrack: performance regression tracking over the A/B probe (Benchmarks/ABProbe).
//
//   ab      --base EXE --head EXE     interleaved A/B of two probe builds (make bench-ab)
//   record  --probe EXE --store DIR   appends a run to the per-machine history (make bench-record)
//   report  --store DIR --out DIR     draws the history and marks step changes (make bench-report)
//
// Exit status: 0 done; 1 a gated slowdown (ab, unless --report-only); 2 bad usage, a probe that
// failed, or results from different machines (refused unless --force-machine).

func printErr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

let usage = """
    usage: AgoraBenchTrack ab --base PROBE --head PROBE [--base-label L] [--head-label L] [--only a,b] [--size default|small]
                              [--sessions 20] [--rounds 2] [--reps 3] [--alpha 0.05] [--min-effect 0.02] [--threshold 0.05]
                              [--answer-tolerance 1e-5] [--inject-head NAME:FRACTION] [--trials K] [--report-only] [--force-machine] [--out DIR]
           AgoraBenchTrack record --probe PROBE --store DIR --commit SHA [--subject S] [--dirty] [--rounds 5] [--reps 5] [--size S] [--only a,b]
           AgoraBenchTrack report --store DIR --out DIR [--order FILE] [--alpha 0.01] [--min-step 0.05]
    """

// A probe that dies must surface as an error naming it, not as a silent SIGPIPE of the driver.
signal(SIGPIPE, SIG_IGN)
let argv = Array(CommandLine.arguments.dropFirst())
guard let command = argv.first, !["-h", "--help"].contains(command) else {
    print(usage)
    exit(argv.isEmpty ? 2 : 0)
}
// The flags each command knows (anything else is a usage error, not silently ignored).
let flags: [String: (valued: Set<String>, switches: Set<String>)] = [
    "ab": (
        [
            "--base", "--head", "--base-label", "--head-label", "--only", "--size", "--sessions", "--rounds", "--reps", "--alpha",
            "--min-effect", "--threshold", "--answer-tolerance", "--inject-head", "--trials", "--out",
        ], ["--report-only", "--force-machine"]
    ),
    "record": (["--probe", "--store", "--commit", "--subject", "--rounds", "--reps", "--size", "--only"], ["--dirty"]),
    "report": (["--store", "--out", "--order", "--alpha", "--min-step"], []),
]
do {
    guard let known = flags[command] else { throw UsageError(description: "unknown command '\(command)'") }
    let options = try CommandLineOptions(Array(argv.dropFirst()), valued: known.valued, switches: known.switches)
    if options.helpRequested {
        print(usage)
        exit(0)
    }
    switch command {
    case "ab": exit(try runAB(options))
    case "record": try runRecord(options)
    default: try runReport(options)
    }
} catch let e as UsageError {
    printErr("error: \(e.description)\n\(usage)")
    exit(2)
} catch {
    printErr("error: \(error)")
    exit(2)
}
