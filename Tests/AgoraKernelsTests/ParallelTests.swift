import AgoraKernels
import Synchronization
import AgoraTestSupport
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
        let pool = ThreadPool(maxThreads: 2)
        pool.minParallelBytes = 0
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
        let pool = ThreadPool(maxThreads: 2)
        pool.minParallelBytes = 1 << 20
        var ranges: [Range<Int>] = []
        pool.parallelFor(10, bytes: 1000) { r in ranges.append(r) }
        XCTAssertEqual(ranges, [0..<10])
    }

    func testIdleWorkersWakeAfterParking() {
        let pool = ThreadPool(maxThreads: 2)
        pool.minParallelBytes = 0
        let seen = Atomic<Int>(0)
        pool.parallelFor(2) { _ in seen.add(1, ordering: .relaxed) }
        usleep(300_000) // longer than the spin window: the worker parks
        pool.parallelFor(2) { _ in seen.add(1, ordering: .relaxed) }
        XCTAssertEqual(seen.load(ordering: .relaxed), 4)
    }

    /// More workers than cores (8 threads on a 2-core machine, the oversubscribed case): workers
    /// are often descheduled; every part must still run exactly once per region, with its fixed
    /// range, whoever claims it, and regions must not leak parts into each other.
    func testOversubscribedPoolRunsEveryPartOnceWithFixedRanges() {
        let pool = ThreadPool(maxThreads: 8)
        pool.minParallelBytes = 0
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
}
