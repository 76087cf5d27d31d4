import AgoraBenchCore
import Foundation
import XCTest

final class BaselineTests: XCTestCase {
    func rec(_ name: String, _ median: Double, _ min: Double, _ max: Double) -> Record {
        Record(
            name: name, repetitions: 5, iterations: 1, medianSeconds: median * 1e-6, minSeconds: min * 1e-6, maxSeconds: max * 1e-6,
            threads: 2)
    }

    func testRegressionsRespectThresholdAndSpread() {
        let base = [rec("a", 100, 99, 101), rec("b", 100, 99, 101), rec("noisy", 100, 70, 140), rec("gone", 5, 5, 5)]
        let cur = [rec("a", 105, 104, 106), rec("b", 125, 124, 126), rec("noisy", 150, 120, 160), rec("new", 1, 1, 1)]
        let c = BaselineComparison(baseline: base, current: cur, threshold: 0.10)
        XCTAssertEqual(c.rows.map(\.name), ["a", "b", "noisy"])
        XCTAssertFalse(c.rows[0].regressed, "5 % slower is inside the 10 % threshold")
        XCTAssertTrue(c.rows[1].regressed, "25 % slower with 4 % spread is a regression")
        XCTAssertEqual(c.rows[1].change, 0.25, accuracy: 1e-12)
        XCTAssertFalse(c.rows[2].regressed, "50 % slower but inside the measured spread (0.7 + 0.27)")
        XCTAssertEqual(c.rows[2].allowance, 0.7 + 40.0 / 150, accuracy: 1e-12)
        XCTAssertEqual(c.regressions.map(\.name), ["b"])
        XCTAssertEqual(c.onlyInBaseline, ["gone"])
        XCTAssertEqual(c.onlyInCurrent, ["new"])
        // Machine bounds and reference libraries are listed but never gate.
        let ref = BaselineComparison(
            baseline: [rec("reference/dispatch", 1, 1, 1), rec("bound/copy", 10, 10, 10)],
            current: [rec("reference/dispatch", 3, 3, 3), rec("bound/copy", 30, 30, 30)])
        XCTAssertEqual(ref.rows.count, 2)
        XCTAssertTrue(ref.regressions.isEmpty)
        // Faster is never a regression.
        XCTAssertTrue(BaselineComparison(baseline: base, current: [rec("b", 50, 49, 51)]).regressions.isEmpty)
    }

    func testJSONRoundTripKeepsGoogleBenchmarkFields() throws {
        var r = rec("mix/sparse", 320, 300, 350)
        r.bytes = 8e6
        r.gb_per_s = 25
        r.fraction_of_bound = 1.1
        r.bound = "copy"
        let ctx = Context(
            date: "2026-11-25T00:00:00Z", host_name: "h", executable: "AgoraBench", num_cpus: 2, cpu_model: "cpu",
            caches: ["L1-Data:48K"], openblas_config: "OpenBLAS 0.3.21", openblas_corename: "Zen",
            openblas_env: [:], agora_threads: 2, git_revision: "abc", quick: true)
        let data = try JSONEncoder().encode(Output(context: ctx, benchmarks: [r]))
        let obj = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let b = (obj["benchmarks"] as! [[String: Any]])[0]
        for key in ["name", "run_name", "run_type", "repetitions", "iterations", "real_time", "cpu_time", "time_unit"] {
            XCTAssertNotNil(b[key], "google-benchmark field \(key)")
        }
        XCTAssertEqual(b["time_unit"] as? String, "us")
        XCTAssertEqual(b["real_time"] as? Double, 320)
        XCTAssertEqual(try JSONDecoder().decode(Output.self, from: data), Output(context: ctx, benchmarks: [r]))
    }

    func testBoundFractions() {
        XCTAssertEqual(Bounds.fraction(achieved: 20, bound: 25), 0.8)
        XCTAssertNil(Bounds.fraction(achieved: 20, bound: 0))
        XCTAssertNil(Bounds.fraction(achieved: nil, bound: 3))
        XCTAssertEqual(Bounds.gigabytesPerSecond(bytes: 2e9, seconds: 0.5), 4)
    }
}

final class SweepPlanTests: XCTestCase {
    func testFullSweepFollowsThePerformanceSpecAndRespectsTheCap() {
        let p = SweepPlan(quick: false, maxThreads: 4, capBytes: 1 << 30)
        XCTAssertEqual(p.agents, [16, 64, 256, 1024, 4096])
        XCTAssertEqual(p.dimensions, [100, 1_000, 10_000, 100_000, 1_000_000])
        XCTAssertEqual(p.threads, [1, 4])
        for q in p.points { XCTAssertLessThanOrEqual(3 * q.agents * q.dimension * 4, 1 << 30) }
        // 4096 x 1e5 x 3 Floats = 4.9 GB: skipped; 256 x 1e5 = 307 MB: kept.
        XCTAssertTrue(p.skipped.contains { $0 == (4096, 100_000) })
        XCTAssertTrue(p.points.contains { $0.agents == 256 && $0.dimension == 100_000 })
        XCTAssertEqual(
            p.points.count + p.skipped.count * p.topologies.count * p.threads.count,
            p.agents.count * p.dimensions.count * p.topologies.count * p.threads.count)
        XCTAssertEqual(Set(p.points).count, p.points.count)
    }

    func testQuickSweepIsSmallAndSingleThreadedMachinesGetOneThreadCount() {
        let p = SweepPlan(quick: true, maxThreads: 1)
        XCTAssertEqual(p.threads, [1])
        XCTAssertLessThanOrEqual(p.points.count, 12)
    }
}
