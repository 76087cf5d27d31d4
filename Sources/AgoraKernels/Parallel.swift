import Synchronization

/// A persistent pool of worker threads with a cheap fork/join, for parallel loops over agent blocks.
///
/// Why not Dispatch: `concurrentPerform` costs 20-45 us per fork/join on 2 workers (its workers
/// start late), which is more than a whole mixing step of a small problem. Why not OpenMP: it needs
/// unsafe flags. Here the workers spin on an atomic generation counter for a short while after each
/// job (so back-to-back parallel regions of an iteration loop cost about a microsecond) and then
/// park on a condition variable (so an idle pool does not steal the cores from BLAS or Dispatch).
///
/// Determinism: `parallelFor` splits `0..<count` into contiguous ranges; kernels compute every
/// output element from a fixed sequence of operations, so results do not depend on the thread count
/// (nor on which thread runs which range: ranges are claimed dynamically, see `dispatch`).
///
/// When to go parallel: by default (`Schedule.measured`) each kernel loop measures its serial and
/// parallel times per size class and runs the faster (`ParallelChooser`); `AGORA_PARALLEL_SCHEDULE=
/// threshold` restores the fixed byte threshold (`minParallelBytes`). Idle workers spin for a budget
/// tied to the measured wake-up cost and cut it when they find themselves descheduled
/// (`SpinPolicy`).
///
/// Nested use: a `parallelFor` issued from inside a running parallel region runs serially.
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool used by the kernels. Its size is `AGORA_NUM_THREADS` if set, else the
    /// number of processors this process may run on (its CPU affinity).
    public static let shared: ThreadPool = {
        let env = Platform.environment("AGORA_NUM_THREADS").flatMap { Int($0) }
        return ThreadPool(maxThreads: max(1, env ?? Platform.availableProcessors()))
    }()

    /// The processors this process may run on (its CPU affinity mask, else the online CPUs).
    public static var availableProcessors: Int { Platform.availableProcessors() }

    /// Threads the pool owns (including the caller): the upper bound for `threads`.
    public let maxThreads: Int
    /// How many threads parallel regions use now (1...maxThreads). Changing it between regions is
    /// safe; results do not depend on it.
    public var threads: Int {
        get { activeThreads.load(ordering: .relaxed) }
        set { activeThreads.store(min(max(1, newValue), maxThreads), ordering: .relaxed) }
    }
    /// How a region with a byte estimate decides between serial and parallel execution.
    public enum Schedule: String, Sendable, CaseIterable {
        /// Below `measuredFromBytes` serial, from `alwaysParallelBytes` on parallel, in between
        /// whichever this call site measured faster at this size class and thread count.
        case measured
        /// Parallel from `minParallelBytes` on (the rule before the measured choice existed).
        case threshold
    }
    /// The schedule; `AGORA_PARALLEL_SCHEDULE` (measured or threshold) sets the shared pool's.
    public var schedule: Schedule = Platform.environment("AGORA_PARALLEL_SCHEDULE").flatMap(Schedule.init(rawValue:)) ?? .measured
    /// `Schedule.threshold`: regions whose estimated work is below this many bytes run on the
    /// calling thread only. About 10 us of memory traffic. (Tests set 0 to force parallel runs.)
    public var minParallelBytes: Int = 256 * 1024
    /// `Schedule.measured`: below this the fork/join (about half a microsecond quiet) is too large a
    /// share to be worth measuring: serial.
    public var measuredFromBytes: Int = 32 * 1024
    /// `Schedule.measured`: from this size on a region is parallel without measuring: the callers'
    /// dynamic claiming bounds its cost at a serial run plus one wake-up, a small share here.
    public var alwaysParallelBytes: Int = 8 << 20
    /// The clock of the measured choice, in nanoseconds (monotonic). Tests set a virtual clock that
    /// their region bodies advance, so the choice they check follows from the rule and not from
    /// how busy the machine is; set it before the pool runs regions.
    public var clock: @Sendable () -> UInt64 = { Platform.monotonicNanoseconds() }
    /// The measured choice of every call site (see `ParallelChooser`).
    private let chooser = Locked(ParallelChooser())
    /// Regions whose execution the measured choice decided, by how they ran (see `measuredRuns`).
    private let measuredSerial = Atomic<Int>(0), measuredParallel = Atomic<Int>(0)
    /// The idle workers' spin rule; `spinBudget` and `spinWakeUp` mirror it for lock-free reads.
    private let spin = Locked(SpinPolicy())
    private let spinBudget = Atomic<UInt64>(SpinPolicy.initial)
    /// The measured wake-up cost of a parked worker, in ns (0 until measured), which sizes
    /// parallel probes and the spin budget's maximum (`SpinPolicy.maximum(wakeUp:)`).
    private let spinWakeUp = Atomic<UInt64>(0)
    /// When the current job was published to parked workers (0: none were parked).
    private let publishedAt = Atomic<UInt64>(0)

    private let activeThreads: Atomic<Int>
    private let generation = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let inRegion = Atomic<Bool>(false)
    /// Parts of the current job: the next one to claim, and how many have finished.
    private let nextPart = Atomic<Int>(0)
    private let finishedParts = Atomic<Int>(0)
    /// The generation whose job may still be joined (-1 once the caller has closed it), and how
    /// many workers are inside it (a Dekker pair: a worker raises `holders` and then checks
    /// `openGeneration`; the caller closes and then waits for `holders` to drain).
    private let openGeneration = Atomic<Int>(-1)
    private let holders = Atomic<Int>(0)
    private let condition = ParkingLot()
    // The job of the open generation; written by the caller before the generation is published
    // and read only by workers that joined it (see `holders`).
    private var job: Job?

    private final class Job {
        let body: (Int) -> Void
        let parts: Int
        init(body: @escaping (Int) -> Void, parts: Int) {
            self.body = body
            self.parts = parts
        }
    }

    public init(maxThreads: Int) {
        self.maxThreads = min(max(1, maxThreads), 256)
        self.activeThreads = Atomic(self.maxThreads)
        for w in 1..<self.maxThreads {
            Platform.startThread(name: "agora-worker-\(w)", stackSize: 1 << 22) { self.workerLoop(index: w) }
        }
    }

    // Pools live for the whole process (workers hold the pool strongly); there is no deinit.

    /// Runs `body(range)` over contiguous sub-ranges covering `0..<count`, in parallel.
    ///
    /// - Parameters:
    ///   - count: number of items (e.g. agents).
    ///   - bytes: estimated memory traffic of the whole loop, which decides serial or parallel
    ///     execution (see `Schedule`). Pass `Int.max` to force parallel execution.
    ///   - partsPerThread: how many parts per thread to cut the range into (nil: by the traffic, see
    ///     `parts(count:threads:bytes:perThread:)`); a kernel whose items share data (the column
    ///     tiles of the sparse mix) sets it to its own number of blocks.
    ///   - file, line: the call site, which keys the measured choice (leave the defaults).
    ///   - body: processes one range; must not depend on which thread runs it.
    public func parallelFor(
        _ count: Int, bytes: Int = .max, partsPerThread: Int? = nil, file: StaticString = #fileID, line: UInt = #line,
        _ body: (Range<Int>) -> Void
    ) {
        if count <= 0 { return }
        let t = min(threads, count)
        var parallel = t > 1
        var key: ParallelChooser.Key? = nil
        if parallel {
            switch schedule {
            case .threshold: parallel = bytes >= minParallelBytes
            case .measured:
                if bytes < measuredFromBytes {
                    parallel = false
                } else if bytes < alwaysParallelBytes {
                    let k = Self.key(file: file, line: line, bytes: bytes, threads: t)
                    key = k
                    // Until a wake-up is measured, assume 100 us (an idle VM's figure): a longer
                    // first probe is cheap, a too-short one can keep a region serial for hundreds of calls.
                    let measured = spinWakeUp.load(ordering: .relaxed)
                    let wake = Double(measured > 0 ? measured : SpinPolicy.initial)
                    parallel = chooser.withLock { $0.runsParallel(k, wakeUpNanoseconds: wake) }
                }
            }
        }
        let start = key == nil ? 0 : clock()
        if !parallel {
            body(0..<count)
            if let key { record(key, parallel: false, since: start, bytes: bytes) }
            return
        }
        if inRegion.exchange(true, ordering: .acquiring) {
            body(0..<count)  // nested: serial, and not a measurement of this site's choice
            return
        }
        defer { inRegion.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { escapable in
            let target = Self.parts(count: count, threads: t, bytes: bytes, perThread: partsPerThread)
            let chunk = (count + target - 1) / target
            let parts = (count + chunk - 1) / chunk
            let run: (Int) -> Void = { p in
                let lo = p * chunk
                escapable(lo..<min(count, lo + chunk))
            }
            dispatch(Job(body: run, parts: parts))
        }
        if let key { record(key, parallel: true, since: start, bytes: bytes) }
    }

    /// Parts per thread of a parallel region (`AGORA_PARTS_PER_THREAD` overrides it, for experiments).
    static let partsPerThread: Int = Platform.environment("AGORA_PARTS_PER_THREAD").flatMap { Int($0) }.map { max(1, $0) } ?? 4
    /// The least traffic of one part, in bytes, when a region is cut finer than one part per thread.
    static let minPartBytes = 64 * 1024

    /// How many parts a parallel region of `bytes` over `count` items is cut into on `threads`
    /// threads: a multiple of `threads` (so a quiet machine's threads get equal shares), up to
    /// `partsPerThread` each while a part keeps `minPartBytes`; one per thread for forced regions;
    /// `perThread` each when the caller gives it.
    ///
    /// Why more than one per thread: a worker that the scheduler takes off its core while it holds a
    /// part makes the caller wait for the rest of a time slice (milliseconds) to finish it. Beside a
    /// CPU-bound process that happened in a few percent of 100 us regions, enough to make the
    /// region slower on two threads than on one; the exposure is the time a part takes, so
    /// smaller parts shrink it, and the caller claims more of them when a worker is slow.
    static func parts(count: Int, threads t: Int, bytes: Int, perThread given: Int? = nil) -> Int {
        let perThread = given ?? (bytes == .max ? 1 : min(partsPerThread, max(1, bytes / (t * minPartBytes))))
        return max(1, min(count, t * max(1, perThread)))
    }

    /// The chooser's key of a call site (its `#fileID` text's address and line) at a region size
    /// (its power of two) and thread count. (`utf8Start` needs a pointer representation, which a
    /// StaticString built from one Unicode scalar lacks.)
    private static func key(file: StaticString, line: UInt, bytes: Int, threads: Int) -> ParallelChooser.Key {
        let site = file.hasPointerRepresentation ? UInt(bitPattern: file.utf8Start) : UInt(file.unicodeScalar.value)
        return ParallelChooser.Key(site: site, line: line, sizeClass: Int.bitWidth - bytes.leadingZeroBitCount, threads: threads)
    }

    private func record(_ key: ParallelChooser.Key, parallel: Bool, since start: UInt64, bytes: Int) {
        let ns = Double(clock() &- start)
        if parallel { measuredParallel.add(1, ordering: .relaxed) } else { measuredSerial.add(1, ordering: .relaxed) }
        chooser.withLock { $0.record(key, parallel: parallel, nanosecondsPerByte: ns / Double(bytes), callNanoseconds: ns) }
    }

    /// The measured choice at a call site of `parallelFor` for a region of `bytes` on `threads`
    /// threads: true parallel, false serial, nil not yet decided. For benchmarks and tests.
    public func measuredChoice(file: StaticString, line: UInt, bytes: Int, threads: Int) -> Bool? {
        chooser.withLock { $0.choice(Self.key(file: file, line: line, bytes: bytes, threads: threads)) }
    }

    /// How many regions the measured choice has run serially and in parallel so far (probes
    /// included), over all call sites: a benchmark takes the difference around a block of calls to
    /// see which way its kernel went (regions below `measuredFromBytes` or from
    /// `alwaysParallelBytes` on are not counted: no choice was made).
    public var measuredRuns: (serial: Int, parallel: Int) {
        (measuredSerial.load(ordering: .relaxed), measuredParallel.load(ordering: .relaxed))
    }

    /// How many workers are parked (asleep on the condition variable) now. For tests.
    public var parkedWorkers: Int { sleepers.load(ordering: .sequentiallyConsistent) }

    /// The idle workers' spin rule now (budget, measured wake-up cost). For benchmarks and tests.
    public var spinPolicy: SpinPolicy { spin.withLock { $0 } }

    /// [body(0), ..., body(count - 1)] computed in parallel; each element depends only on its index,
    /// so the result does not depend on the thread count. `bytes` as in `parallelFor`.
    public func parallelMap<T>(
        _ count: Int, bytes: Int = .max, file: StaticString = #fileID, line: UInt = #line,
        _ body: (Int) -> T
    ) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = SendableMutableRaw(buffer.baseAddress)
            parallelFor(count, bytes: bytes, file: file, line: line) { r in
                for i in r { (out.p!.assumingMemoryBound(to: T.self) + i).initialize(to: body(i)) }
            }
            initialized = count
        }
    }

    /// Runs `j.body(part)` for every `part` in `0..<j.parts`. Parts are claimed from an atomic
    /// counter by the caller and by whichever workers are awake, so a worker that is descheduled
    /// (another process on the core) or still parked never holds the caller up: the caller then
    /// simply runs the remaining parts itself, and the region costs at most a serial run plus a
    /// wake-up call. Which thread runs a part never changes its result (each part writes its own
    /// outputs from a fixed sequence of operations).
    private func dispatch(_ j: Job) {
        job = j
        nextPart.store(0, ordering: .relaxed)
        finishedParts.store(0, ordering: .relaxed)
        let g = generation.load(ordering: .relaxed) + 1
        openGeneration.store(g, ordering: .sequentiallyConsistent)
        generation.store(g, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            publishedAt.store(Platform.monotonicNanoseconds(), ordering: .relaxed)
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }
        runParts(j)
        // Parts claimed by workers may still be running; wait for them (yielding now and then, so
        // a worker that shares this core gets to finish).
        var spins = 0
        while finishedParts.load(ordering: .acquiring) < j.parts {
            spinHint()
            spins += 1
            if spins & 1023 == 0 { Platform.yieldProcessor() }
        }
        // Close the job, then wait for workers that joined it to leave (they only claim, find
        // nothing, and sign off).
        openGeneration.store(-1, ordering: .sequentiallyConsistent)
        while holders.load(ordering: .sequentiallyConsistent) > 0 {
            spinHint()
            spins += 1
            if spins & 1023 == 0 { Platform.yieldProcessor() }
        }
        job = nil
    }

    @inline(__always) private func runParts(_ j: Job) {
        while true {
            let p = nextPart.wrappingAdd(1, ordering: .relaxed).oldValue
            if p >= j.parts { return }
            j.body(p)
            finishedParts.add(1, ordering: .releasing)
        }
    }

    private func workerLoop(index w: Int) {
        // Generation 0 is the pool's state at construction; a worker that starts late must still
        // see every job published after that.
        var seen = 0
        while true {
            var g = generation.load(ordering: .acquiring)
            if g == seen {
                // Spin for a while (iteration loops issue regions back to back), within the
                // budget; a clock jump means this thread was descheduled: stop and cut the budget.
                let budget = spinBudget.load(ordering: .relaxed)
                let start = Platform.monotonicNanoseconds()
                var last = start, spins = 0, preempted = false
                while g == seen {
                    spinHint()
                    spins += 1
                    if spins & 255 == 0 {
                        let now = Platform.monotonicNanoseconds()
                        if now - last > SpinPolicy.preemptionGap {
                            preempted = true
                            break
                        }
                        if now - start > budget { break }
                        last = now
                    }
                    g = generation.load(ordering: .acquiring)
                }
                if preempted { updateSpin { $0.preempted() } }
                if g != seen, budget < SpinPolicy.maximum(wakeUp: spinWakeUp.load(ordering: .relaxed)) {
                    updateSpin { $0.spinPaid() }
                }
                if g == seen {
                    // Park. `sleepers` is raised before re-checking the generation (both
                    // sequentially consistent), so either this thread sees the new generation or
                    // the dispatcher sees a sleeper and broadcasts under the lock.
                    condition.lock()
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    var slept = false
                    while generation.load(ordering: .sequentiallyConsistent) == seen {
                        condition.wait()
                        slept = true
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    condition.unlock()
                    g = generation.load(ordering: .acquiring)
                    let published = publishedAt.load(ordering: .relaxed), now = Platform.monotonicNanoseconds()
                    if slept, published > 0, now > published, now - published < 1_000_000_000 {
                        updateSpin { $0.wokeUp(after: now - published) }
                    }
                }
            }
            seen = g
            // Join only while the caller has not closed this generation's job.
            holders.add(1, ordering: .sequentiallyConsistent)
            if openGeneration.load(ordering: .sequentiallyConsistent) == g, let j = job {
                if w < min(j.parts, maxThreads) { runParts(j) }
            }
            holders.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    private func updateSpin(_ change: (inout SpinPolicy) -> Void) {
        spin.withLock { p in
            change(&p)
            spinBudget.store(p.budget, ordering: .relaxed)
            spinWakeUp.store(p.wakeUp ?? 0, ordering: .relaxed)
        }
    }

    @inline(__always) private func spinHint() {
        // No portable pause instruction in Swift; an atomic load keeps the loop cheap and polite.
        _ = sleepers.load(ordering: .relaxed)
    }
}

/// A raw pointer carried into parallel closures (each part writes disjoint elements).
struct SendableMutableRaw: @unchecked Sendable {
    let p: UnsafeMutableRawPointer?
    init<T>(_ p: UnsafeMutablePointer<T>?) { self.p = p.map { UnsafeMutableRawPointer($0) } }
}
