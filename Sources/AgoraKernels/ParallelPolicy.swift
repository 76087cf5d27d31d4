/// When a parallel region pays: the pool's per-kernel serial/parallel choice from measured times.
///
/// Why measured: a fixed byte threshold is right on one machine in one condition only. On a quiet
/// machine a 64 KiB mix is already faster on two threads; beside a competing CPU-bound process the
/// same region can be slower than serial at 1 MiB (the worker is descheduled, the caller finishes
/// alone and pays the wake-up). So every call site of `parallelFor` (its file and line: one kernel
/// loop) and size class (the power of two of its byte estimate) and thread count keeps the last few
/// times of both executions, per byte, and runs the faster; the other one is re-measured now and
/// then (every 16th call at first, doubling up to every 1024th while the choice stands, back to 16
/// when it flips), so the choice follows the machine when its load changes.
///
/// A parallel measurement is a run of calls that outlasts a wake-up, of which the window keeps the
/// fastest: after a streak of serial calls the workers have parked, and the first parallel calls
/// pay their wake-up (12-355 us measured on a 2-vCPU VM, whose idle vCPU halts), which steady parallel
/// calls do not (the workers spin between them). Judging parallel by its first call alone kept a
/// region serial for good wherever the wake-up is comparable to the work (measured on a 2-vCPU
/// Xeon: a 1 MB ring mix ran at 55-84 us serially instead of 27 us on two threads).
///
/// Results never depend on the choice: kernels compute each output from a fixed sequence of
/// operations whatever the thread count (see `ThreadPool`).
///
/// This type is the pure decision rule (no clock, no locks), so it can be tested with synthetic
/// times; the pool feeds it measurements.
public struct ParallelChooser: Sendable {
    /// One kernel loop at one size class and thread count.
    public struct Key: Hashable, Sendable {
        public let site: UInt
        public let line: UInt
        public let sizeClass: Int
        public let threads: Int
        public init(site: UInt, line: UInt, sizeClass: Int, threads: Int) {
            self.site = site
            self.line = line
            self.sizeClass = sizeClass
            self.threads = threads
        }
    }

    /// The last `Window.capacity` times of one execution mode, in nanoseconds per byte. The
    /// minimum of the window is the mode's figure: robust to a preempted run, yet forgetting old
    /// conditions after `capacity` new samples.
    struct Window: Sendable {
        static let capacity = 4
        var samples: (Double, Double, Double, Double) = (.infinity, .infinity, .infinity, .infinity)
        var count = 0
        mutating func add(_ x: Double) {
            switch count % Self.capacity {
            case 0: samples.0 = x
            case 1: samples.1 = x
            case 2: samples.2 = x
            default: samples.3 = x
            }
            count += 1
        }
        var best: Double { min(min(samples.0, samples.1), min(samples.2, samples.3)) }
    }

    struct Entry: Sendable {
        var serial = Window(), parallel = Window()
        var calls = 0
        var probeEvery = ParallelChooser.firstProbeInterval
        var choice: Bool? = nil
        /// A probe of the parallel mode is running: its calls so far, their time (ns), and the
        /// wake-up cost (ns) it has to outlast.
        var probing = false
        var probeCalls = 0
        var probeElapsed = 0.0
        var probeWake = 0.0

        mutating func startParallelProbe(_ wakeUp: Double) {
            probing = true
            probeCalls = 0
            probeElapsed = 0
            probeWake = wakeUp
        }

        /// One probe call took `ns`: the probe ends with the first call that started after the
        /// wake-up time had passed (at least `warmupSamples` calls, at most `longestProbe`).
        mutating func probeCall(_ ns: Double) {
            probeCalls += 1
            if probeCalls >= ParallelChooser.longestProbe
                || (probeCalls >= ParallelChooser.warmupSamples && probeElapsed >= probeWake)
            {
                probing = false
            }
            probeElapsed += ns
        }
    }

    /// Samples of each mode taken before the first choice.
    public static let warmupSamples = 2
    static let firstProbeInterval = 16
    static let lastProbeInterval = 1024
    /// The most calls a parallel probe takes (regions far shorter than a wake-up).
    public static let longestProbe = 16

    var entries: [Key: Entry] = [:]

    public init() {}

    /// Whether the next call at `key` should run in parallel. Warm-up: `warmupSamples` serial
    /// calls, then a parallel probe; afterwards the faster mode runs, and every `probeEvery`-th call
    /// starts a probe of the other one: one call for serial; for parallel, calls until one starts
    /// after a wake-up of the parked workers (`wakeUpNanoseconds`, the pool's measured figure) has
    /// passed: at least `warmupSamples` calls, at most `longestProbe`. A probe whose calls are slow
    /// for another reason than the wake-up ends after two calls.
    public mutating func runsParallel(_ key: Key, wakeUpNanoseconds: Double = 0) -> Bool {
        var e = entries[key] ?? Entry()
        defer { entries[key] = e }
        if e.probing { return true }
        if e.serial.count < Self.warmupSamples { return false }
        if e.parallel.count == 0 {
            e.startParallelProbe(wakeUpNanoseconds)
            return true
        }
        let best = e.parallel.best < e.serial.best
        e.calls += 1
        if e.calls % e.probeEvery == 0 {
            if !best { e.startParallelProbe(wakeUpNanoseconds) }
            return !best
        }
        return best
    }

    /// Records that the call at `key` ran `parallel` (or serially) in `nanosecondsPerByte`
    /// (`callNanoseconds` in all, which ends a parallel probe once it outlasted the wake-up).
    public mutating func record(_ key: Key, parallel: Bool, nanosecondsPerByte t: Double, callNanoseconds: Double = 0) {
        guard t.isFinite, t >= 0 else { return }
        var e = entries[key] ?? Entry()
        if parallel, e.probing { e.probeCall(callNanoseconds.isFinite ? max(0, callNanoseconds) : 0) }
        if parallel { e.parallel.add(t) } else { e.serial.add(t) }
        if e.serial.count >= Self.warmupSamples, e.parallel.count >= Self.warmupSamples {
            let now = e.parallel.best < e.serial.best
            if let was = e.choice, was != now {
                e.probeEvery = Self.firstProbeInterval
                e.calls = 0
            } else if e.choice != nil, !e.probing, e.calls > 0, e.calls % e.probeEvery == 0 {
                // A probe that did not change the choice: probe less often.
                e.probeEvery = min(Self.lastProbeInterval, 2 * e.probeEvery)
                e.calls = 0
            }
            e.choice = now
        }
        entries[key] = e
    }

    /// The current choice at `key` (nil while it is still being measured).
    public func choice(_ key: Key) -> Bool? { entries[key]?.choice }
}

/// How long an idle worker spins before it parks, adapted to the machine.
///
/// Spinning is worth its cost when a job arrives before a parked worker could have been woken (the
/// classic spin-then-park rule: spin about as long as a wake-up costs). On an idle core spinning
/// costs nothing but power, so the budget never falls below `initial` (100 us) on its own, and
/// rises to `wakeUpFactor` times the measured wake-up cost where wake-ups are slower (an idle VM's
/// halted vCPU: up to 355 us measured), within `ceiling`. (A maximum of twice the wake-up alone was
/// tried: on a 2-vCPU Xeon whose wake-up measured 12 us the budget fell to 24 us, shorter than the
/// gaps between the regions of an iteration loop, and workers parked between them.)
/// On an oversubscribed machine a spinning worker takes the core from the process (or our own
/// caller) that has work, and it is itself descheduled in the middle of its spin; a worker that
/// sees such a gap halves the budget, down to `minimum`, and parks at once. A spin that ends in a
/// job grows the budget back by a quarter, up to `maximum`.
///
/// Pure rule (no clock); the pool keeps the budget in an atomic and applies these updates. The
/// budget is a hint: updates from two workers may race and one may be lost, which is harmless.
public struct SpinPolicy: Sendable, Equatable {
    /// The budget, in nanoseconds.
    public private(set) var budget: UInt64
    /// Smoothed wake-up latency of a parked worker, in nanoseconds (nil until measured).
    public private(set) var wakeUp: UInt64?
    public static let minimum: UInt64 = 2_000
    public static let ceiling: UInt64 = 200_000
    public static let initial: UInt64 = 100_000
    public static let wakeUpFactor: UInt64 = 2
    /// A jump of this many nanoseconds between two clock reads of the spin loop (a few hundred
    /// atomic loads apart, normally well under a microsecond) means the worker was descheduled.
    public static let preemptionGap: UInt64 = 50_000

    public init(budget: UInt64 = SpinPolicy.initial) { self.budget = budget }

    /// The largest budget now: `wakeUpFactor` x the measured wake-up cost, within
    /// [initial, ceiling]; `initial` before any wake-up was measured.
    public var maximum: UInt64 { Self.maximum(wakeUp: wakeUp ?? 0) }

    /// The largest budget for a wake-up cost of `wakeUp` ns (0: not measured).
    public static func maximum(wakeUp: UInt64) -> UInt64 {
        min(ceiling, max(initial, wakeUpFactor * wakeUp))
    }

    /// The worker was descheduled while spinning: the cores are oversubscribed.
    public mutating func preempted() {
        budget = max(Self.minimum, budget / 2)
        preemptions += 1
    }

    /// How many times a spinning worker found itself descheduled (for benchmarks and diagnosis).
    public private(set) var preemptions = 0

    /// A job arrived while the worker was spinning: spinning paid.
    public mutating func spinPaid() { budget = min(maximum, budget + budget / 4 + 1_000) }

    /// A parked worker joined a job `latency` ns after it was published.
    public mutating func wokeUp(after latency: UInt64) {
        let w = wakeUp.map { ($0 * 7 + latency) / 8 } ?? latency
        wakeUp = w
        budget = min(budget, maximum)
    }
}
