import AgoraKernels
import AgoraReports
import Foundation

extension DSGDExperiment {
    /// Everything needed to continue an interrupted experiment exactly: the experiment, the runs
    /// already finished, and the state of the run in progress (parameters, ledgers, every random
    /// stream, the metrics so far). Floats are written in their shortest exact decimal form, so a
    /// resumed run reproduces the uninterrupted one bit for bit.
    public struct Checkpoint: Codable, Sendable {
        public var config: DSGDExperiment
        /// Index of the run in progress in the fixed list of runs (see `Result.runs`).
        public var run: Int
        public var finishedRuns: [Run]
        /// Iterations of the run in progress already done.
        public var iteration: Int
        public var parameters: [Float]
        public var cumulativePayments: [Double]
        public var batchStreams: [SeededGenerator]
        public var noiseStreams: [SeededGenerator]
        public var points: [Point]
        /// The payments-off twin's evaluations so far when the run in progress shares its
        /// trajectory with it (see `DSGDExperiment.run`); nil when it runs alone.
        public var companionPoints: [Point]? = nil
        public var lastResidual: Double
        /// FNV-1a (64-bit, hex) of the checkpoint's own JSON without this field: an edited or
        /// damaged file is refused instead of silently changing the result.
        public var digest: String? = nil

        /// Reads a checkpoint and checks its digest, naming the file in every error.
        public static func read(path: String) throws -> Checkpoint {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw AgoraError.io("cannot read the checkpoint file", file: path)
            }
            return try decode(data, name: path)
        }

        /// Decodes a checkpoint from its JSON bytes and checks its digest (unless `verifyDigest` is
        /// false: for tests of the consistency checks); `name` labels errors.
        public static func decode(_ data: Data, name path: String, verifyDigest: Bool = true) throws -> Checkpoint {
            let c: Checkpoint
            do { c = try JSONOutput.decoder().decode(Checkpoint.self, from: data) } catch {
                throw AgoraError.io("not an Agora DSGD checkpoint (\(error))", file: path)
            }
            if !verifyDigest { return c }
            guard let stored = c.digest else {
                throw AgoraError.io("the checkpoint has no digest (written by an older Agora, or edited)", file: path)
            }
            guard try c.computedDigest() == stored else {
                throw AgoraError.io("the checkpoint was edited or damaged: its digest does not match its contents", file: path)
            }
            return c
        }

        /// The digest of everything but `digest`.
        func computedDigest() throws -> String {
            var copy = self
            copy.digest = nil
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in try JSONOutput.encoder([.sortedKeys]).encode(copy) { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            return String(h, radix: 16)
        }

        /// Writes atomically (`SystemFile.writeAtomically`), so an interruption during the write
        /// leaves the previous checkpoint intact and no temporary file.
        public func write(path: String) throws {
            var sealed = self
            sealed.digest = try computedDigest()
            try SystemFile.writeAtomically(Array(JSONOutput.encoder([.sortedKeys]).encode(sealed)), to: path)
        }

        /// Checks that this checkpoint belongs to `experiment` (whose runs are labelled `runs`, in
        /// order) and that its contents fit its own counters: finished runs complete and in order,
        /// evaluations matching the iteration counter, every ledger and stream one per agent.
        public func check(against experiment: DSGDExperiment, runs labels: [String]) throws {
            guard config == experiment else { throw AgoraError.io("the checkpoint belongs to a different experiment (its config differs)") }
            let iterations = experiment.iterations, every = experiment.evaluateEvery, n = experiment.data.agents
            guard run >= 0, run <= labels.count, finishedRuns.count == run, iteration >= 0, iteration <= iterations else {
                throw AgoraError.io(
                    "the checkpoint is inconsistent (run \(run) of \(labels.count), iteration \(iteration) of \(iterations))")
            }
            let full = Self.expectedPoints(done: iterations, total: iterations, every: every)
            for (k, r) in finishedRuns.enumerated() where r.label != labels[k] || r.points.count != full {
                throw AgoraError.io(
                    "the checkpoint is inconsistent: finished run \(k) is '\(r.label)' with \(r.points.count) evaluations, expected '\(labels[k])' with \(full)"
                )
            }
            let now = Self.expectedPoints(done: iteration, total: iterations, every: every)
            guard run == labels.count || points.count == now else {
                throw AgoraError.io(
                    "the checkpoint is inconsistent: \(points.count) evaluations after \(iteration) iterations, expected \(now)")
            }
            if let c = companionPoints, c.count != points.count || run + 1 >= labels.count {
                throw AgoraError.io(
                    "the checkpoint is inconsistent: \(c.count) evaluations of the payments-off twin beside \(points.count) of run \(run)")
            }
            let allPoints = finishedRuns.flatMap(\.points) + points + (companionPoints ?? [])
            guard allPoints.allSatisfy({ $0.utilities.count == n && $0.cumulativePayments.count == n }) else {
                throw AgoraError.io(
                    "the checkpoint is inconsistent: an evaluation does not hold one utility and one payment per agent (\(n))")
            }
            guard run == labels.count || (cumulativePayments.count == n && batchStreams.count == n && noiseStreams.count == n) else {
                throw AgoraError.io("the checkpoint's state does not fit \(n) agents")
            }
        }

        /// Evaluation points a run holds after `done` of `total` iterations (the start, every
        /// `every`-th iteration, and the last).
        static func expectedPoints(done: Int, total: Int, every: Int) -> Int {
            1 + done / every + (done == total && total % every != 0 ? 1 : 0)
        }
    }

    /// Where and how often to checkpoint, and optionally when to stop (for jobs with a wall-time
    /// limit: stop after `stopAfter` iterations of this invocation, at a checkpoint).
    public struct CheckpointPolicy: Sendable {
        public var path: String
        public var every: Int
        public var stopAfter: Int?
        public init(path: String, every: Int, stopAfter: Int? = nil) {
            self.path = path
            self.every = every
            self.stopAfter = stopAfter
        }
    }

    /// Thrown when a run stops at a checkpoint on purpose (`CheckpointPolicy.stopAfter`).
    public struct Stopped: Error, CustomStringConvertible {
        public let checkpoint: String
        public let iterations: Int
        public var description: String { "stopped after \(iterations) iterations; the checkpoint to resume from is \(checkpoint)" }
    }
}
