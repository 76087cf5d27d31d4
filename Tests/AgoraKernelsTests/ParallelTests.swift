import AgoraKernels
import AgoraTestSupport
import Foundation
import Synchronization
import XCTest

final class ParallelTests: XCTestCase {
    func testEveryIndexExactlyOnce() {
        withThreads(2) {
            for count in [1, 2, 3, 7, 100, 1001] {
                for _ in 0..<50 {
                    var hits = [Int](repeating: 0, count: count)
                    hits.withUnsafeMutableBufferPointer { hb in
                        let p = hb.baseAddress!
                        nonisolated(unsafe) let hp = p
                        ThreadPool.shared.parallelFor(count) { r in for i in r { hp[i] += 1 } }
                    }
                    XCTAssertEqual(hits, [Int](repeating: 1, count: count))
                }
            }
        }
    }

    func testRegionsRunOnSeveralThreadsAndNestedRunsSerially() {
        let pool = thresholdPool(maxThreads: 2)
        let calls = Atomic<Int>(0), innerCalls = Atomic<Int>(0)
        for _ in 0..<1000 {
            pool.parallelFor(4) { r in
                calls.add(1, ordering: .relaxed)
                pool.parallelFor(3) { inner in
                    XCTAssertEqual(inner, 0..<3, "a nested region runs serially on the calling thread")
                    innerCalls.add(1, ordering: .relaxed)
                }
                _ = r
            }
        }
        XCTAssertEqual(calls.load(ordering: .relaxed), 2000, "4 items on 2 threads: 2 ranges per region")
        XCTAssertEqual(innerCalls.load(ordering: .relaxed), 2000)
    }

    func testParallelMapKeepsIndexOrderOnAnyThreadCount() {
        let f: (Int) -> Double = { i in Double(i * i) + 0.5 }
        let one = withThreads(1) { ThreadPool.shared.parallelMap(1001, f) }
        let two = withThreads(2) { ThreadPool.shared.parallelMap(1001, f) }
        XCTAssertEqual(one, (0..<1001).map(f))
        XCTAssertEqual(two, one)
        XCTAssertEqual(ThreadPool.shared.parallelMap(0) { Double($0) }, [])
    }

    func testSmallWorkStaysOnCallingThread() {
        let pool = thresholdPool(maxThreads: 2, minParallelBytes: 1 << 20)
        var ranges: [Range<Int>] = []
        pool.parallelFor(10, bytes: 1000) { r in ranges.append(r) }
        XCTAssertEqual(ranges, [0..<10])
    }

    func testIdleWorkersWakeAfterParking() {
        let pool = thresholdPool(maxThreads: 2)
        let seen = Atomic<Int>(0)
        pool.parallelFor(2) { _ in seen.add(1, ordering: .relaxed) }
        waitUntilParked(pool)
        pool.parallelFor(2) { _ in seen.add(1, ordering: .relaxed) }
        XCTAssertEqual(seen.load(ordering: .relaxed), 4)
    }

    /// More workers than cores (8 threads on a 2-core machine, the oversubscribed case): workers
    /// are often descheduled; every part must still run exactly once per region, with its fixed
    /// range, whoever claims it, and regions must not leak parts into each other.
    func testOversubscribedPoolRunsEveryPartOnceWithFixedRanges() {
        let pool = thresholdPool(maxThreads: 8)
        for count in [3, 8, 50] {
            let chunk = (count + 7) / 8
            for region in 0..<300 {
                var hits = [Int](repeating: 0, count: count)
                let rangesOK = Atomic<Bool>(true)
                hits.withUnsafeMutableBufferPointer { hb in
                    nonisolated(unsafe) let hp = hb.baseAddress!
                    pool.parallelFor(count) { r in
                        if r.lowerBound % chunk != 0 || r.count > chunk { rangesOK.store(false, ordering: .relaxed) }
                        for i in r { hp[i] += region + 1 }
                    }
                }
                XCTAssertEqual(hits, [Int](repeating: region + 1, count: count), "count \(count), region \(region)")
                XCTAssertTrue(rangesOK.load(ordering: .relaxed))
            }
        }
    }

    /// A region is cut into up to four parts per thread, each of at least 64 KiB of traffic, and
    /// always a multiple of the thread count (equal shares on a quiet machine); a forced region
    /// (bytes .max) keeps one part per thread. Checked through the ranges the body receives.
    func testRegionsAreCutIntoPartsByTheirTraffic() {
        let pool = thresholdPool(maxThreads: 2)
        func ranges(count: Int, bytes: Int) -> [Range<Int>] {
            // NSLock (pthread), not Mutex: ThreadSanitizer does not see the latter's futex on Linux
            // and reports the appends as a race when the parts really run on two threads.
            let lock = NSLock()
            var seen: [Range<Int>] = []
            pool.parallelFor(count, bytes: bytes) { r in
                lock.lock()
                seen.append(r)
                lock.unlock()
            }
            return seen.sorted { $0.lowerBound < $1.lowerBound }
        }
        let kib = 1024
        // (count, bytes, expected parts): 8 MiB over 2 threads: 4 per thread; 256 KiB: 2 per
        // thread (64 KiB each); 100 KiB: one per thread; forced: one per thread; fewer items than parts.
        for (count, bytes, parts) in [(64, 8 << 20, 8), (64, 256 * kib, 4), (64, 100 * kib, 2), (64, Int.max, 2), (5, 8 << 20, 5)] {
            let r = ranges(count: count, bytes: bytes)
            XCTAssertEqual(r.count, parts, "count \(count), bytes \(bytes)")
            XCTAssertEqual(r.first?.lowerBound, 0)
            XCTAssertEqual(r.last?.upperBound, count)
            for (a, b) in zip(r, r.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
        }
    }

    /// The measured choice as a rule, on synthetic times: warm-up alternates serial and parallel,
    /// the faster mode runs, the other is re-measured every 16th call, then every 32nd while the
    /// choice stands, and a probe that finds the other mode faster flips the choice.
    func testChooserPicksTheMeasuredFasterModeAndReprobes() {
        var c = ParallelChooser()
        let k = ParallelChooser.Key(site: 1, line: 2, sizeClass: 17, threads: 2)
        var modes: [Bool] = []
        func step(serial: Double, parallel: Double) {
            let p = c.runsParallel(k)
            modes.append(p)
            c.record(k, parallel: p, nanosecondsPerByte: p ? parallel : serial)
        }
        for _ in 0..<4 { step(serial: 1, parallel: 2) }
        XCTAssertEqual(modes, [false, false, true, true], "warm-up: serial twice, then parallel twice")
        XCTAssertEqual(c.choice(k), false, "serial measured faster")
        modes = []
        for _ in 0..<50 { step(serial: 1, parallel: 2) }
        XCTAssertEqual(
            modes.indices.filter { modes[$0] }, [15, 16, 48, 49],
            "a parallel probe (no wake-up measured: two calls) at the 16th call, then 32 calls later")
        XCTAssertEqual(c.choice(k), false)
        // The machine changes: parallel becomes faster; the next probe (64 calls on) sees it.
        modes = []
        for _ in 0..<65 { step(serial: 1, parallel: 0.4) }
        XCTAssertEqual(modes.indices.filter { modes[$0] }, [63, 64])
        XCTAssertEqual(c.choice(k), true, "one faster probe flips the choice")
        modes = []
        for _ in 0..<16 { step(serial: 1, parallel: 0.4) }
        XCTAssertEqual(modes.indices.filter { !modes[$0] }, [15], "after a flip, probes every 16th call again; a serial probe is one call")
        // Another key is independent; non-finite times are ignored.
        let other = ParallelChooser.Key(site: 1, line: 2, sizeClass: 18, threads: 2)
        XCTAssertNil(c.choice(other))
        c.record(other, parallel: false, nanosecondsPerByte: .nan)
        XCTAssertFalse(c.runsParallel(other))
    }

    /// The first parallel calls after serial ones pay the parked workers' wake-up (here 300 ns, two
    /// calls); steady parallel calls do not. A probe sized by the measured wake-up outlasts
    /// it and sees the steady cost; a probe of two calls would keep the region serial for good.
    func testChooserJudgesParallelByItsSteadyCostNotItsWakeUp() {
        func simulate(wakeUp: Double) -> (choice: Bool?, serialCalls: Int) {
            var c = ParallelChooser()
            let k = ParallelChooser.Key(site: 3, line: 4, sizeClass: 21, threads: 2)
            var sinceSerial = 0.0, serialCalls = 0
            func step(steady: Double) {
                let p = c.runsParallel(k, wakeUpNanoseconds: wakeUp)
                // Serial: 1 ns/byte, a 100 ns call. Parallel: 2 ns/byte for calls that start
                // within 300 ns of the last serial one (the workers are still waking), else `steady`.
                let t = p ? (sinceSerial < 300 ? 2 : steady) : 1
                c.record(k, parallel: p, nanosecondsPerByte: t, callNanoseconds: 100 * t)
                sinceSerial = p ? sinceSerial + 100 * t : 0
                if !p { serialCalls += 1 }
            }
            for _ in 0..<20 { step(steady: 3) }
            XCTAssertEqual(c.choice(k), false, "parallel truly slower: serial")
            for _ in 0..<40 { step(steady: 0.4) }
            serialCalls = 0
            for _ in 0..<100 { step(steady: 0.4) }
            return (c.choice(k), serialCalls)
        }
        let sized = simulate(wakeUp: 300)
        XCTAssertEqual(sized.choice, true, "parallel faster once awake: the probe's later calls show it")
        XCTAssertLessThanOrEqual(sized.serialCalls, 7, "serial only in probes, and the wake-up after one does not flip it back")
        let unsized = simulate(wakeUp: 0)
        XCTAssertEqual(unsized.choice, false, "two-call probes never see the steady parallel cost")
    }

    /// The pool's measured schedule on real executions, timed by a virtual clock: a region whose
    /// parallel runs take 2 s (each part but the first advances the clock by 1 s) and whose serial
    /// run takes 1 us is run serially except for the rule's two warm-up calls and one two-call probe
    /// at the 16th call; its results are those of the serial run. (Parallel calls longer than any
    /// recordable wake-up, under 1 s, make every probe the minimum two calls.)
    func testMeasuredScheduleRunsSeriallyWhereParallelIsSlower() {
        let pool = ThreadPool(maxThreads: 2)
        pool.schedule = .measured
        let now = Atomic<UInt64>(1)
        pool.clock = { now.load(ordering: .sequentiallyConsistent) }
        let site: StaticString = "ParallelTests.slowParallel"
        var modes: [Bool] = []
        for _ in 0..<40 {
            // NSLock (pthread), not Mutex: ThreadSanitizer does not see the latter's futex on Linux.
            let lock = NSLock()
            var ranges: [Range<Int>] = []
            pool.parallelFor(8, bytes: 64 * 1024, file: site, line: 1) { r in
                now.add(r.lowerBound > 0 ? 1_000_000_000 : 1000, ordering: .sequentiallyConsistent)
                lock.lock()
                ranges.append(r)
                lock.unlock()
            }
            let got = ranges.sorted { $0.lowerBound < $1.lowerBound }
            XCTAssertEqual(got.first?.lowerBound, 0)
            XCTAssertEqual(got.last?.upperBound, 8)
            XCTAssertEqual(got.map(\.count).reduce(0, +), 8)
            modes.append(got != [0..<8])
        }
        XCTAssertEqual(pool.measuredChoice(file: site, line: 1, bytes: 64 * 1024, threads: 2), false)
        XCTAssertEqual(
            modes.indices.filter { modes[$0] }, [2, 3, 19, 20],
            "two serial and two parallel warm-up calls, then serial with a two-call parallel probe at the 16th call")
        // Below the measured range: serial without measuring; from alwaysParallelBytes: parallel.
        var small: [Range<Int>] = []
        pool.parallelFor(8, bytes: 1000, file: site, line: 2) { small.append($0) }
        XCTAssertEqual(small, [0..<8])
        XCTAssertNil(pool.measuredChoice(file: site, line: 2, bytes: 1000, threads: 2))
        let large = Atomic<Int>(0)
        pool.parallelFor(8, bytes: pool.alwaysParallelBytes, file: site, line: 3) { _ in large.add(1, ordering: .relaxed) }
        XCTAssertEqual(large.load(ordering: .relaxed), 8, "parallel, in four parts per thread (8 MiB of traffic)")
    }

    /// The spin rule: a preemption halves the budget (not below the minimum), a paid spin grows it
    /// (not above the maximum), and the maximum follows the measured wake-up cost.
    func testSpinPolicyFollowsPreemptionAndWakeUpCost() {
        var p = SpinPolicy()
        XCTAssertEqual(p.budget, SpinPolicy.initial)
        p.preempted()
        XCTAssertEqual(p.budget, SpinPolicy.initial / 2)
        for _ in 0..<40 { p.preempted() }
        XCTAssertEqual(p.budget, SpinPolicy.minimum)
        for _ in 0..<100 { p.spinPaid() }
        XCTAssertEqual(p.budget, SpinPolicy.initial, "grows back to the maximum, which is the initial budget before any wake-up")
        p.wokeUp(after: 15_000)
        XCTAssertEqual(p.wakeUp, 15_000)
        XCTAssertEqual(p.maximum, SpinPolicy.initial, "a cheap wake-up does not shorten the quiet spin")
        p.wokeUp(after: 10_000_000)
        XCTAssertEqual(p.wakeUp, (15_000 * 7 + 10_000_000) / 8, "smoothed: 7/8 old")
        XCTAssertEqual(p.maximum, SpinPolicy.ceiling, "twice a slow wake-up, capped")
        for _ in 0..<100 { p.spinPaid() }
        XCTAssertEqual(p.budget, SpinPolicy.ceiling)
        for _ in 0..<200 { p.wokeUp(after: 80_000) }
        XCTAssertEqual(p.wakeUp, 80_000)
        XCTAssertEqual(p.maximum, 160_000)
        XCTAssertEqual(p.budget, 160_000, "clamped when the wake-up cost falls")
        var q = SpinPolicy()
        q.wokeUp(after: 100)
        XCTAssertEqual(q.maximum, SpinPolicy.initial)
        q.preempted()
        XCTAssertEqual(q.budget, SpinPolicy.initial / 2, "only preemption cuts the budget below the quiet default")
    }

    /// A parked worker measures its wake-up cost when a region wakes it. The worker is seen parked
    /// before the region starts, and the region's two parts wait for each other, so the worker (not
    /// the caller) runs one of them: no sleep decides the outcome. (The waits' 60 s deadlines only
    /// turn a hang into a failure.)
    func testParkedWorkerMeasuresItsWakeUp() {
        let pool = thresholdPool(maxThreads: 2)
        XCTAssertNil(pool.spinPolicy.wakeUp)
        waitUntilParked(pool)
        let started = Atomic<Int>(0)
        let bothRan = Atomic<Bool>(true)
        pool.parallelFor(2) { _ in
            started.add(1, ordering: .sequentiallyConsistent)
            if !waitFor({ started.load(ordering: .sequentiallyConsistent) == 2 }) { bothRan.store(false, ordering: .relaxed) }
        }
        XCTAssertTrue(bothRan.load(ordering: .relaxed), "the two parts ran at the same time, on two threads")
        XCTAssertNotNil(pool.spinPolicy.wakeUp, "the parked worker measured its wake-up before joining the region")
    }

    /// Polls `condition` (yielding) until it holds; false after 60 s (a hang, reported as a failure).
    private func waitFor(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(60)
        while !condition() {
            if Date() > deadline { return false }
            sched_yield()
        }
        return true
    }

    /// Waits until every worker of `pool` is parked (its spin budget spent).
    private func waitUntilParked(_ pool: ThreadPool) {
        XCTAssertTrue(waitFor { pool.parkedWorkers == pool.maxThreads - 1 }, "the idle workers park within 60 s")
    }

    /// A private pool on the fixed-threshold schedule (parallel from `minParallelBytes`; 0: every
    /// region), for tests that must reach one execution path whatever the timings.
    private func thresholdPool(maxThreads: Int, minParallelBytes: Int = 0) -> ThreadPool {
        let pool = ThreadPool(maxThreads: maxThreads)
        pool.minParallelBytes = minParallelBytes
        pool.schedule = .threshold
        return pool
    }
}
