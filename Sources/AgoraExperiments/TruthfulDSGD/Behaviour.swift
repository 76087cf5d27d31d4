import AgoraKernels

/// A strategic behaviour of one agent in truthful DSGD (spec: "Strategic behaviours to simulate").
public enum Behaviour: Codable, Sendable, Hashable, CustomStringConvertible {
    /// m = alpha g (alpha >= 1), the paper's manipulation model.
    case inflate(alpha: Double)
    /// m = alpha_t g with alpha_t = 1 + (alpha - 1)(t + 1)^-decay: inflation that fades, so its
    /// payments can be summable while the early push on the model persists.
    case inflateSchedule(alpha: Double, decay: Double)
    /// m = g + zeta, zeta ~ N(0, sigma^2 I).
    case noise(sigma: Double)
    /// The myopic one-step best response (spec, "Why it works"):
    ///     alpha_t = max(1, lambda_t <grad f_i(theta_i), g> / ((L lambda_t^2 + 2 C_t omega_i) ||g||^2)),
    /// with grad f_i the agent's gradient on all of its own data (not the mini-batch g, whose ratio
    /// would be 1), omega_i = sum_j omega_ij its edge-weight sum under the payment rule (the degree
    /// for unit weights), and L the smoothness of f_i (nil: the trace bound from the agent's data,
    /// mean ||x||^2 / 4 for logistic and mean ||x||^2 for squared loss, plus l2). Assumptions: one
    /// step, neighbours truthful, reward = -f_i at the next iterate; it ignores how the push decays
    /// through mixing, so it is not the strongest deviator over a run.
    case bestResponse(smoothness: Double?)
    /// m = 0 (and an honest report of 0).
    case freeRide
    /// Applies g truthfully but reports factor * ||g||^2 (the mechanism trusts reports).
    case misreport(factor: Double)

    public var description: String {
        switch self {
        case let .inflate(a): return "inflate x\(a)"
        case let .inflateSchedule(a, d): return "inflate x\(a) fading (t+1)^-\(d)"
        case let .noise(s): return "noise sigma=\(s)"
        case let .bestResponse(l): return l.map { "myopic best response (L=\($0))" } ?? "myopic best response"
        case .freeRide: return "free-ride"
        case let .misreport(f): return "misreport x\(f)"
        }
    }

    /// Whether the trajectory depends on the payment coefficient (only the myopic best response,
    /// which reads C_t). For all other behaviours payments change incentives, never the updates,
    /// so one run serves every C_0: utility(C_0) = reward - C_0 * unit payments.
    public var dependsOnPayments: Bool { if case .bestResponse = self { return true } else { return false } }

    /// Whether payments can deter it at all: deviations that lower the agent's report (free-riding,
    /// under-reporting) earn money under the rule, whatever C_0 is (spec, "Known open questions").
    public var lowersReport: Bool {
        switch self {
        case .freeRide: return true
        case let .misreport(f): return f < 1
        default: return false
        }
    }

    /// Whether it is an inflation (constant or fading): the manipulation payments are calibrated
    /// against. Noise is zero-mean (a gain from it is the luck of one draw) and the myopic best
    /// response reads C_t itself.
    public var isInflation: Bool {
        switch self {
        case .inflate, .inflateSchedule: return true
        default: return false
        }
    }

    /// Checks the parameters, naming the agent.
    func validate(agent: Int) throws {
        func bad(_ what: String) -> AgoraError { AgoraError.configuration("strategic agent \(agent): \(what)") }
        switch self {
        case let .inflate(a): guard a >= 1, a.isFinite else { throw bad("inflate alpha must be a finite number >= 1, got \(a)") }
        case let .inflateSchedule(a, d):
            guard a >= 1, a.isFinite, d >= 0, d.isFinite else {
                throw bad("a fading inflation needs alpha >= 1 and decay >= 0, got \(a), \(d)")
            }
        case let .noise(sg): guard sg >= 0, sg.isFinite else { throw bad("noise sigma must be a finite number >= 0, got \(sg)") }
        case let .bestResponse(l): if let l { guard l > 0, l.isFinite else { throw bad("best-response smoothness must be > 0, got \(l)") } }
        case let .misreport(f): guard f >= 0, f.isFinite else { throw bad("misreport factor must be a finite number >= 0, got \(f)") }
        case .freeRide: break
        }
    }
}
