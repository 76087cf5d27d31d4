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

struct UsageError: Error, CustomStringConvertible { var description: String }

/// Command-line options: `--flag value` pairs and bare switches.
struct Options {
    let args: [String]
    init(_ args: [String]) { self.args = args }
    func value(_ flag: String) -> String? {
        args.firstIndex(of: flag).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
    }
    func has(_ flag: String) -> Bool { args.contains(flag) }
    func string(_ flag: String, default d: String? = nil) throws -> String {
        if let v = value(flag) { return v }
        if let d { return d }
        throw UsageError(description: "\(flag) is required")
    }
    func number<T: LosslessStringConvertible & Comparable>(_ flag: String, default d: T, min lo: T) throws -> T {
        guard let text = value(flag) else { return d }
        guard let v = T(text), v >= lo else { throw UsageError(description: "\(flag) expects a number >= \(lo), got '\(text)'") }
        return v
    }
}

func printErr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

let usage = """
usage: AgoraBenchTrack ab --base PROBE --head PROBE [--base-label L] [--head-label L] [--only a,b] [--size default|small]
                          [--sessions 20] [--rounds 2] [--reps 3] [--alpha 0.05] [--min-effect 0.02] [--threshold 0.05]
                          [--inject-head NAME:FRACTION] [--trials K] [--report-only] [--out DIR]
       AgoraBenchTrack record --probe PROBE --store DIR --commit SHA [--subject S] [--dirty] [--rounds 5] [--reps 5] [--size S] [--only a,b]
       AgoraBenchTrack report --store DIR --out DIR [--order FILE] [--alpha 0.01] [--min-step 0.05]
"""

// A probe that dies must surface as an error naming it, not as a silent SIGPIPE of the driver.
signal(SIGPIPE, SIG_IGN)
let argv = Array(CommandLine.arguments.dropFirst())
guard let command = argv.first, !["-h", "--help"].contains(command) else { print(usage); exit(argv.isEmpty ? 2 : 0) }
let options = Options(Array(argv.dropFirst()))
do {
    switch command {
    case "ab": exit(try runAB(options))
    case "record": try runRecord(options)
    case "report": try runReport(options)
    default: throw UsageError(description: "unknown command '\(command)'")
    }
} catch let e as UsageError {
    printErr("error: \(e.description)\n\(usage)"); exit(2)
} catch {
    printErr("error: \(error)"); exit(2)
}
