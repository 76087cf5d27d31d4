import AgoraBenchCore
import AgoraReports
import Foundation

/// The settings of one A/B comparison.
struct ABSettings {
    var base: String
    var head: String
    var baseLabel: String
    var headLabel: String
    var only: String?
    var size: String
    var sessions: Int
    var rounds: Int
    var reps: Int
    var rule: ABRule
    var injectHead: String?
    var forceMachine: Bool
}

/// The record of one A/B comparison (ab.json).
struct ABReport: Encodable {
    var base: String
    var head: String
    var identity: MachineIdentity
    var warnings: [String]
    var size: String
    var sessions: Int
    var rounds_per_session: Int
    var reps_per_block: Int
    var rule: ABRule
    var injected_in_head: String?
    var results: [ABResult]
}

/// Runs the A/B in `sessions` sessions. In each, both probes are started fresh (which one first
/// alternates) and stay resident; for round r and benchmark k they are asked for a block in turn,
/// base first when r + k is even, head first otherwise (ABBA), so a drift of the machine's speed
/// hits both sides equally. A block's time is its fastest sample (interference from other
/// processes or the hypervisor only ever adds time). A session's value per side is the median of
/// its blocks; the sessions are the pairs the test compares. Fresh processes per session matter:
/// a process's memory placement (page colouring, huge pages) shifts its timings by a few percent
/// for its whole life, so pairs inside one pair of processes are not independent.
func runComparison(_ s: ABSettings, progress: String = "") throws -> ABReport {
    let names = try probeBenchmarks(s.head, only: s.only)
    let baseNames = try probeBenchmarks(s.base, only: nil)
    var warnings: [String] = []
    for n in names where !baseNames.contains(n) { warnings.append("\(n) only in head") }
    let common = names.filter { baseNames.contains($0) }
    var baseSessions: [String: [Double]] = [:], headSessions: [String: [Double]] = [:]
    var baseDigest: [String: [Double]] = [:], headDigest: [String: [Double]] = [:]
    var identity: MachineIdentity? = nil
    for session in 0..<s.sessions {
        printErr("\(progress)session \(session + 1)/\(s.sessions)")
        let start = { (side: Int) in
            try ProbeServer(
                side == 0 ? s.base : s.head, only: common.joined(separator: ","), size: s.size, reps: s.reps,
                inject: side == 0 ? nil : s.injectHead)
        }
        let first = try start(session % 2), second = try start(1 - session % 2)
        let (a, b) = session % 2 == 0 ? (first, second) : (second, first)
        defer {
            a.close()
            b.close()
        }
        if identity == nil {
            identity = b.identity
            let blocking = b.identity.blockingDifferences(from: a.identity)
            if !blocking.isEmpty {
                warnings += blocking.map { "head vs base: \($0)" }
                guard s.forceMachine else {
                    throw ProbeError(
                        description: "the two sides ran in different configurations (\(blocking.joined(separator: "; "))); "
                            + "their timings are not comparable (--force-machine compares anyway)")
                }
            }
        }
        var baseBlocks: [String: [Double]] = [:], headBlocks: [String: [Double]] = [:]
        for round in 0..<s.rounds {
            for (k, name) in common.enumerated() {
                for side in ((round + k + session) % 2 == 0 ? [0, 1] : [1, 0]) {
                    let r = try (side == 0 ? a : b).block(name)
                    let t = r.samples_us.min() ?? .nan
                    if side == 0 {
                        baseBlocks[name, default: []].append(t)
                        baseDigest[name] = r.digest
                    } else {
                        headBlocks[name, default: []].append(t)
                        headDigest[name] = r.digest
                    }
                }
            }
        }
        for name in common {
            baseSessions[name, default: []].append(Statistics.median(baseBlocks[name]!))
            headSessions[name, default: []].append(Statistics.median(headBlocks[name]!))
        }
    }
    let results = s.rule.compare(common.map { ($0, baseSessions[$0]!, headSessions[$0]!, baseDigest[$0]!, headDigest[$0]!) })
    return ABReport(
        base: s.baseLabel, head: s.headLabel, identity: identity!, warnings: warnings, size: s.size, sessions: s.sessions,
        rounds_per_session: s.rounds, reps_per_block: s.reps, rule: s.rule, injected_in_head: s.injectHead, results: results)
}

func printReport(_ r: ABReport) {
    print(
        "A/B: head \(r.head) against base \(r.base); \(r.sessions) sessions of fresh processes x \(r.rounds_per_session) rounds of blocks alternated ABBA, \(r.reps_per_block) samples of 10 calls per block, size \(r.size)"
    )
    print("machine: \(r.identity.summary)")
    if let inj = r.injected_in_head { print("injected slowdown in head: \(inj)") }
    for w in r.warnings { print("warning: \(w)") }
    print(
        pad("benchmark", 18) + pad("base us", 11) + pad("head us", 11) + pad("head/base", 10) + pad("95% interval", 17)
            + pad("p (Holm)", 10) + "verdict")
    for x in r.results {
        var line =
            pad(x.name, 18) + pad(String(format: "%.1f", Statistics.median(x.base_us)), 11)
            + pad(String(format: "%.1f", Statistics.median(x.head_us)), 11) + pad(String(format: "%.3f", x.ratio), 10)
            + pad(String(format: "[%.3f, %.3f]", x.ratio_low, x.ratio_high), 17) + pad(String(format: "%.2g", x.p_adjusted), 10)
            + x.verdict.rawValue
        if x.gated { line += String(format: " (beyond the %.0f%% gate)", 100 * r.rule.threshold) }
        if x.answers_differ { line += String(format: "; ANSWERS DIFFER (relative %.1e)", x.answer_difference) }
        print(line)
    }
    print(
        String(
            format:
                "base/head us: median over sessions of each session's median block (fastest sample of a block)\nverdicts: Wilcoxon signed-rank on the sessions' paired ratios, Holm-corrected at alpha %.2f; a change must exceed %.0f%% and its bootstrap interval exclude 1",
            r.rule.alpha, 100 * r.rule.minimumEffect))
}

func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }

func writeReport(_ r: ABReport, to dir: String) throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try JSONOutput.write(r, to: dir + "/ab.json")
    var csv = CSVTable(columns: [
        "benchmark", "base_median_us", "head_median_us", "ratio", "ratio_low", "ratio_high", "p_value",
        "p_adjusted", "verdict", "answers_differ", "gated",
    ])
    for x in r.results {
        csv.append([
            x.name, "\(Statistics.median(x.base_us))", "\(Statistics.median(x.head_us))", "\(x.ratio)", "\(x.ratio_low)",
            "\(x.ratio_high)", "\(x.p_value)", "\(x.p_adjusted)", x.verdict.rawValue, "\(x.answers_differ)", "\(x.gated)",
        ])
    }
    try csv.write(to: dir + "/ab.csv")
}

/// `ab`: one comparison (exit 1 on a gated slowdown unless --report-only), or with --trials K, K
/// comparisons and the rate of each verdict per benchmark (the false-positive and detection rates).
func runAB(_ o: CommandLineOptions) throws -> Int32 {
    let rule = ABRule(
        alpha: try o.number("--alpha", default: 0.05, min: 0), minimumEffect: try o.number("--min-effect", default: 0.02, min: 0),
        threshold: try o.number("--threshold", default: 0.05, min: 0),
        answerTolerance: try o.number("--answer-tolerance", default: 1e-5, min: 0))
    let base = try o.string("--base"), head = try o.string("--head")
    let s = ABSettings(
        base: base, head: head, baseLabel: o.value("--base-label") ?? base, headLabel: o.value("--head-label") ?? head,
        only: o.value("--only"), size: o.value("--size") ?? "default",
        sessions: try o.number("--sessions", default: 20, min: 2), rounds: try o.number("--rounds", default: 2, min: 1),
        reps: try o.number("--reps", default: 3, min: 1),
        rule: rule, injectHead: o.value("--inject-head"), forceMachine: o.has("--force-machine"))
    let out = o.value("--out")
    let trials = try o.number("--trials", default: 0, min: 0)
    if trials == 0 {
        let r = try runComparison(s)
        printReport(r)
        if let out {
            try writeReport(r, to: out)
            print("wrote \(out)/ab.json and \(out)/ab.csv")
        }
        let gated = r.results.filter(\.gated)
        if !gated.isEmpty {
            print(
                "\(gated.count) benchmark(s) significantly slower beyond the \(Int(100 * rule.threshold))% threshold: \(gated.map(\.name).joined(separator: ", "))"
            )
            return o.has("--report-only") ? 0 : 1
        }
        return 0
    }
    // Repeated trials: how often each verdict comes out.
    var tally: [String: [ABVerdict: Int]] = [:], order: [String] = []
    var clean = 0
    var csv = CSVTable(columns: ["trial", "benchmark", "ratio", "ratio_low", "ratio_high", "p_adjusted", "verdict"])
    for t in 0..<trials {
        let r = try runComparison(s, progress: "trial \(t + 1)/\(trials): ")
        print(
            "trial \(t + 1): "
                + r.results.map { String(format: "%@ %.3f %@", $0.name, $0.ratio, $0.verdict.rawValue) }.joined(separator: "; "))
        if r.results.allSatisfy({ $0.verdict == .noChange }) { clean += 1 }
        for x in r.results {
            if tally[x.name] == nil { order.append(x.name) }
            tally[x.name, default: [:]][x.verdict, default: 0] += 1
            csv.append(["\(t + 1)", x.name, "\(x.ratio)", "\(x.ratio_low)", "\(x.ratio_high)", "\(x.p_adjusted)", x.verdict.rawValue])
        }
    }
    print("\n\(trials) trials, head \(s.headLabel) against base \(s.baseLabel)\(s.injectHead.map { ", injected in head: \($0)" } ?? "")")
    for n in order {
        let c = tally[n]!
        print(pad(n, 18) + "slower \(c[.slower] ?? 0), faster \(c[.faster] ?? 0), no change \(c[.noChange] ?? 0)")
    }
    print("trials with no change in any benchmark: \(clean) of \(trials)")
    if let out {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try csv.write(to: out + "/trials.csv")
        print("wrote \(out)/trials.csv")
    }
    return 0
}
