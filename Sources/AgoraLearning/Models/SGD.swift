import AgoraKernels

/// SGD with momentum and (decoupled-from-loss, L2-style) weight decay for local training, applied
/// to every agent's row at once: v <- mu v + (g + wd theta); theta <- theta - lr v.
/// (PyTorch's SGD convention, so results compare with the reference implementations.)
public struct MomentumSGD: Sendable {
    public var learningRate: Double
    public var momentum: Double
    public var weightDecay: Double
    public private(set) var velocity: Matrix<Float>?

    public init(learningRate: Double, momentum: Double = 0, weightDecay: Double = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// One step on every row, or only on the rows flagged in `rows` (the others, and their
    /// velocities, stay exactly as they are).
    public mutating func step(_ theta: inout Matrix<Float>, gradients g: Matrix<Float>, rows: [Bool]? = nil) throws {
        guard g.rows == theta.rows, g.cols == theta.cols else {
            throw AgoraError.shape("SGD step: gradients \(g.rows) x \(g.cols) for parameters \(theta.rows) x \(theta.cols)")
        }
        if let rows, rows.count != theta.rows { throw AgoraError.shape("SGD step: \(rows.count) row flags for \(theta.rows) rows") }
        if velocity == nil || velocity!.rows != theta.rows || velocity!.cols != theta.cols {
            velocity = Matrix(rows: theta.rows, cols: theta.cols)
        }
        try Kernels.momentumStep(
            &theta, velocity: &velocity!, gradients: g, learningRate: Float(learningRate),
            momentum: Float(momentum), weightDecay: Float(weightDecay), rows: rows)
    }
}
