import AgoraKernels

/// A power-law schedule a_t = a_0 (t + 1)^(-exponent), as used for step sizes (lambda_t, exponent
/// v) and payment coefficients (C_t, exponent u) in truthful decentralized SGD.
public struct PowerSchedule: Codable, Sendable, Equatable {
    public var initial: Double
    public var exponent: Double

    public init(initial: Double, exponent: Double) {
        self.initial = initial
        self.exponent = exponent
    }

    /// The value at iteration t (t = 0, 1, ...).
    public func callAsFunction(_ t: Int) -> Double {
        initial * Math.pow(Double(t + 1), -exponent)
    }

    /// Checks that the schedule is usable, naming `field` in the error.
    public func validate(field: String) throws {
        guard initial.isFinite, initial > 0 else {
            throw AgoraError.configuration("\(field).initial must be a positive finite number, got \(initial)")
        }
        guard exponent.isFinite, exponent >= 0 else {
            throw AgoraError.configuration("\(field).exponent must be a non-negative finite number, got \(exponent)")
        }
    }
}
