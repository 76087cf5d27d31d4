/// A strategic behaviour of one agent in truthful DSGD (spec: "Strategic behaviours to simulate").
public enum Behaviour: Codable, Sendable, Equatable, CustomStringConvertible {
    /// m = alpha g (alpha >= 1).
    case inflate(alpha: Double)
    /// m = g + zeta, zeta ~ N(0, sigma^2 I).
    case noise(sigma: Double)
    /// alpha chosen each step as max(1, lambda_t / (L lambda_t^2 + 2 C_t d_i)) (the one-step best
    /// response with the agent's own mini-batch gradient standing in for grad f_i).
    case bestResponse(smoothness: Double)
    /// m = 0.
    case freeRide
    /// Applies g truthfully but reports factor * ||g||^2 (the mechanism trusts reports).
    case misreport(factor: Double)

    public var description: String {
        switch self {
        case let .inflate(a): return "inflate x\(a)"
        case let .noise(s): return "noise sigma=\(s)"
        case let .bestResponse(l): return "best response (L=\(l))"
        case .freeRide: return "free-ride"
        case let .misreport(f): return "misreport x\(f)"
        }
    }
}
