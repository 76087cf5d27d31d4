import Foundation

/// Step changes in a benchmark's history: binary segmentation with a rank test.
///
/// The history is a sequence of groups (one per commit, in commit order), each holding that
/// commit's per-invocation timings. A split between groups k-1 and k is tested by the Mann-Whitney
/// test between all timings left and right of it; the best split of a segment (smallest p) is
/// accepted when its p-value, multiplied by the number of candidate splits (Bonferroni), is below
/// `alpha` and the medians differ by at least `minimumStep` relative; the two halves are then
/// searched the same way. Like asv's step detection this finds a handful of lasting level shifts,
/// not every wiggle; a single noisy commit between two equal levels is not a step.
public struct ChangePointDetector: Sendable {
    public var alpha: Double
    public var minimumStep: Double
    public init(alpha: Double = 0.01, minimumStep: Double = 0.05) {
        self.alpha = alpha
        self.minimumStep = minimumStep
    }

    public struct Step: Sendable, Equatable {
        /// Index of the first group of the new level.
        public var index: Int
        /// median(right) / median(left) - 1, over the segment the split was found in.
        public var change: Double
        public var p: Double
    }

    /// The accepted steps, sorted by index.
    public func detect(_ groups: [[Double]]) -> [Step] {
        var steps: [Step] = []
        search(groups, 0, groups.count, &steps)
        return steps.sorted { $0.index < $1.index }
    }

    /// The piecewise-constant fit: each group's value is the median of its segment's timings.
    public func levels(_ groups: [[Double]], steps: [Step]) -> [Double] {
        let bounds = [0] + steps.map(\.index) + [groups.count]
        var out = [Double](repeating: .nan, count: groups.count)
        for k in 0..<(bounds.count - 1) where bounds[k] < bounds[k + 1] {
            let values = groups[bounds[k]..<bounds[k + 1]].flatMap { $0 }
            if values.isEmpty { continue }
            let m = Statistics.median(values)
            for g in bounds[k]..<bounds[k + 1] { out[g] = m }
        }
        return out
    }

    func search(_ groups: [[Double]], _ lo: Int, _ hi: Int, _ steps: inout [Step]) {
        guard hi - lo >= 2 else { return }
        var best: Step? = nil
        for k in (lo + 1)..<hi {
            let left = groups[lo..<k].flatMap { $0 }, right = groups[k..<hi].flatMap { $0 }
            guard !left.isEmpty, !right.isEmpty else { continue }
            let test = Statistics.mannWhitney(left, right)
            let change = Statistics.median(right) / Statistics.median(left) - 1
            if best == nil || test.p < best!.p { best = Step(index: k, change: change, p: test.p) }
        }
        guard let b = best, b.p * Double(hi - lo - 1) < alpha, abs(b.change) >= minimumStep else { return }
        steps.append(b)
        search(groups, lo, b.index, &steps)
        search(groups, b.index, hi, &steps)
    }
}
