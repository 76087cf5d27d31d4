import AgoraBenchCore
import Foundation
import XCTest

/// The statistics of regression tracking against scipy and closed forms, the decision rule on
/// synthetic timings with known effects, step detection, machine identity and the history store.
final class TrackingTests: XCTestCase {
    // scipy.stats.mannwhitneyu(a, b, alternative='two-sided', method=...) (scipy 1.16).
    func testMannWhitneyMatchesScipy() {
        let a = [1.0, 2.5, 3.1, 4.7, 5.2, 6.9, 7.3], b = [3.3, 4.8, 5.9, 8.1, 9.4, 10.2, 11.0, 12.5]
        let r = Statistics.mannWhitney(a, b)
        XCTAssertTrue(r.exact)
        XCTAssertEqual(r.u, 9)
        XCTAssertEqual(r.p, 0.028904428904428903, accuracy: 1e-12)
        // Completely separated samples of 10: p = 2 / C(20, 10).
        let lo = (0..<10).map { 10.0 + Double($0) }, hi = (0..<10).map { 20.0 + Double($0) }
        XCTAssertEqual(Statistics.mannWhitney(hi, lo).p, 1.082508822446903e-05, accuracy: 1e-15)
        XCTAssertEqual(Statistics.mannWhitney(hi, lo).u, 100)
        // Ties: the normal approximation with tie and continuity corrections.
        let t = Statistics.mannWhitney([1, 2, 2, 3, 3, 3, 4], [2, 3, 4, 4, 5, 5, 6])
        XCTAssertFalse(t.exact)
        XCTAssertEqual(t.u, 8.5)
        XCTAssertEqual(t.p, 0.043051432728945134, accuracy: 1e-12)
        // Identical samples: no evidence at all.
        XCTAssertEqual(Statistics.mannWhitney(a, a).p, 1, accuracy: 1e-12)
    }

    func testHolmAdjustment() {
        // Sorted 0.005, 0.01, 0.03, 0.04 -> 0.02, 0.03, 0.06, max(0.06, 0.04).
        let adj = Statistics.holm([0.01, 0.04, 0.03, 0.005])
        for (x, y) in zip(adj, [0.03, 0.06, 0.06, 0.02]) { XCTAssertEqual(x, y, accuracy: 1e-15) }
        XCTAssertEqual(Statistics.holm([0.9, 0.8]), [1, 1])  // 2 x 0.8 capped at 1, then monotone
    }

    func testBootstrapIntervalCoversTheRatioAndIsSeeded() {
        var g = SplitMix64(seed: 3)
        func noise() -> Double { Double(g.next() % 1000) / 1000 - 0.5 }
        // Paired log ratios of a 10 % slowdown with +-2 % noise per pair.
        let logs = (0..<15).map { _ in log(1.10 * (1 + 0.04 * noise())) }
        let ci = Statistics.bootstrapPairedRatioInterval(logs)
        XCTAssertLessThan(ci.low, 1.10 + 0.001)
        XCTAssertGreaterThan(ci.high, 1.10 - 0.001)
        XCTAssertGreaterThan(ci.low, 1.0)
        XCTAssertLessThan(ci.high - ci.low, 0.05)
        let again = Statistics.bootstrapPairedRatioInterval(logs)
        XCTAssertEqual(ci.low, again.low)
        XCTAssertEqual(ci.high, again.high)
        let none = Statistics.bootstrapPairedRatioInterval((0..<15).map { _ in 0.02 * noise() })
        XCTAssertLessThanOrEqual(none.low, 1)
        XCTAssertGreaterThanOrEqual(none.high, 1)
    }

    /// Synthetic paired session values with a known effect: 10 % slower is found and gated, an
    /// identical distribution is "no change", a 1 % shift is below the minimum effect, a changed
    /// answer is flagged.
    func testDecisionRule() {
        var g = SplitMix64(seed: 9)
        func draw(_ level: Double) -> [Double] { (0..<10).map { _ in level * (1 + 0.03 * (Double(g.next() % 1000) / 1000 - 0.5)) } }
        let base = draw(100)
        let rows = [
            ("slow", base, draw(110), [1.0, 2], [1.0, 2]),
            ("same", base, base, [1.0, 2], [1.0, 2]),
            ("tiny", base, base.map { $0 * 1.01 }, [1.0, 2], [1.0, 2]),
            ("fast", base, draw(80), [1.0, 2], [1.0, 2.001]),
        ]
        let r = ABRule().compare(rows.map { (name: $0.0, base: $0.1, head: $0.2, baseDigest: $0.3, headDigest: $0.4) })
        XCTAssertEqual(r.map(\.verdict), [.slower, .noChange, .noChange, .faster])
        XCTAssertEqual(r.map(\.gated), [true, false, false, false])
        XCTAssertEqual(r[0].ratio, 1.10, accuracy: 0.02)
        XCTAssertEqual(r.map(\.answers_differ), [false, false, false, true])
        XCTAssertEqual(r[3].answer_difference, 0.001 / 2.001, accuracy: 1e-12)
        // A slowdown below the gate's threshold is reported but does not gate.
        let mild = ABRule(threshold: 0.15).compare([(name: "slow", base: base, head: draw(110), baseDigest: [], headDigest: [])])
        XCTAssertEqual(mild[0].verdict, .slower)
        XCTAssertFalse(mild[0].gated)
    }

    func testChangePointsFindOneLastingStepAndNoSpuriousOnes() {
        var g = SplitMix64(seed: 5)
        func commit(_ level: Double) -> [Double] { (0..<5).map { _ in level * (1 + 0.04 * (Double(g.next() % 1000) / 1000 - 0.5)) } }
        let d = ChangePointDetector()
        let stepped = (0..<12).map { commit($0 < 7 ? 100 : 115) }
        let steps = d.detect(stepped)
        XCTAssertEqual(steps.map(\.index), [7])
        XCTAssertEqual(steps[0].change, 0.15, accuracy: 0.03)
        let levels = d.levels(stepped, steps: steps)
        XCTAssertEqual(levels[0], 100, accuracy: 2)
        XCTAssertEqual(levels[11], 115, accuracy: 2)
        XCTAssertEqual(d.detect((0..<12).map { _ in commit(100) }), [])
        // One noisy commit between equal levels is not a lasting step.
        var spike = (0..<12).map { _ in commit(100) }
        spike[6] = commit(130)
        XCTAssertEqual(d.detect(spike), [])
        // Two steps (up, then back down).
        let twice = (0..<15).map { commit($0 < 5 ? 100 : ($0 < 10 ? 125 : 100)) }
        XCTAssertEqual(d.detect(twice).map(\.index), [5, 10])
    }

    func testMachineIdentity() {
        let a = MachineIdentity(
            cpu_model: "AMD EPYC 9B45", num_cpus: 2, caches: ["L1-Data:48K", "L2-Unified:1024K"],
            openblas_corename: "Zen", threads: 2, compiler: "Swift version 6.3.1", build_flags: "-march=native")
        var b = a
        XCTAssertEqual(a.slug, b.slug)
        XCTAssertTrue(a.slug.hasPrefix("amd-epyc-9b45-2cpu-zen-t2-"))
        b.openblas_corename = "Prescott"
        b.threads = 1
        XCTAssertEqual(a.blockingDifferences(from: b).count, 2)
        XCTAssertNotEqual(a.slug, b.slug)
        var c = a
        c.compiler = "Swift version 6.4"
        XCTAssertEqual(a.blockingDifferences(from: c), [])
        XCTAssertEqual(a.noteworthyDifferences(from: c).count, 1)
        XCTAssertNotEqual(a.slug, c.slug)  // a history file per full identity
    }

    func testHistoryStoreRoundTripAndErrors() throws {
        let dir = NSTemporaryDirectory() + "agora-history-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let id = MachineIdentity(
            cpu_model: "X", num_cpus: 2, caches: [], openblas_corename: "Haswell", threads: 2, compiler: "s", build_flags: "f")
        let store = HistoryStore(folder: dir)
        let e1 = HistoryEntry(
            commit: "abc", subject: "one", dirty: false, date: "2026-12-01T00:00:00Z", identity: id, size: "small",
            benchmarks: ["mix/ring": .init(median_us: 10, invocations_us: [9, 10, 11], digest: [1])])
        var e2 = e1
        e2.commit = "def"
        let path = try store.append(e1)
        XCTAssertEqual(try store.append(e2), path)
        let loaded = try store.load()
        XCTAssertEqual(loaded.count, 1)
        XCTAssertEqual(loaded[0].slug, id.slug)
        XCTAssertEqual(loaded[0].entries, [e1, e2])
        try (String(contentsOfFile: path, encoding: .utf8) + "{not json\n").write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try store.load()) { XCTAssertTrue("\($0)".contains(path + ":3:"), "\($0)") }
        XCTAssertThrowsError(try HistoryStore(folder: dir + "/missing").load())
    }
}

extension TrackingTests {
    // scipy.stats.wilcoxon(x, alternative='two-sided', method=...) (scipy 1.16).
    func testWilcoxonSignedRankMatchesScipy() {
        let x = [0.12, -0.05, 0.31, 0.08, 0.22, -0.11, 0.17, 0.26, 0.04, 0.15]
        let r = Statistics.wilcoxonSignedRank(x)
        XCTAssertTrue(r.exact)
        XCTAssertEqual(r.statistic, 6)
        XCTAssertEqual(r.p, 0.02734375, accuracy: 1e-14)
        let ties = Statistics.wilcoxonSignedRank([0.1, 0.1, -0.2, 0.3, 0.3, 0.3, -0.05, 0.4, 0.2, 0.1, 0.25, -0.1])
        XCTAssertFalse(ties.exact)
        XCTAssertEqual(ties.statistic, 11)
        XCTAssertEqual(ties.p, 0.030019570024188102, accuracy: 1e-12)
        // All twelve positive: p = 2 / 2^12.
        XCTAssertEqual(Statistics.wilcoxonSignedRank((1...12).map { 0.01 * Double($0) }).p, 0.00048828125, accuracy: 1e-15)
        // Zeros are dropped; nothing left means no evidence.
        XCTAssertEqual(Statistics.wilcoxonSignedRank([0, 0, 0]).p, 1)
    }
}

extension TrackingTests {
    /// The cache reader against the shell reading of sysfs it replaced (the labels recorded in
    /// every result must not change form).
    func testCacheLabelsMatchSysfs() throws {
        let viaShell = shell(
            "for d in /sys/devices/system/cpu/cpu0/cache/index*; do echo L$(cat $d/level)-$(cat $d/type):$(cat $d/size); done 2>/dev/null"
        )
        .split(separator: "\n").map(String.init)
        let caches = CPUCaches.current()
        if viaShell.isEmpty { throw XCTSkip("no cache information in sysfs on this machine") }
        XCTAssertEqual(caches.map(\.label), viaShell)
        for c in caches { XCTAssertGreaterThan(c.bytes, 0, c.label) }
        XCTAssertEqual(CPUCaches.dataBytes(level: 1, in: caches), caches.first { $0.level == 1 && $0.type == "Data" }?.bytes)
    }
}
