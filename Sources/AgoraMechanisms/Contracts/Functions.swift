import AgoraKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Model accuracy as a function of total contribution x: value, first and second derivative.
/// Must be nondecreasing, and concave where positive.
public protocol AccuracyFunction: Sendable {
    func evaluate(_ x: Double) -> (a: Double, da: Double, d2a: Double)
}

/// Participant valuation of a model of accuracy r: v(r), v'(r), v''(r). Concave, nondecreasing,
/// and invertible on its range (for the reward map-back).
public protocol ValuationFunction: Sendable {
    func evaluate(_ r: Double) -> (v: Double, dv: Double, d2v: Double)
    /// r with v(r) = value.
    func inverse(_ value: Double) -> Double
}

/// The paper's generalization-bound accuracy:
/// a(x) = max(0, 1 - (sqrt(2k(2 + ln(x/k))) + 4) / sqrt(x)) for x > k e^-2, else 0.
///
/// With s = sqrt(2k(2 + ln(x/k))): a'(x) = ((s + 4)/2 - k/s) x^(-3/2) and
/// a''(x) = s'(1/2 + k/s^2) x^(-3/2) - (3/2)((s + 4)/2 - k/s) x^(-5/2), s' = k/(s x).
/// Where a <= 0 the function is flat (a' = a'' = 0); there it is not concave across the kink,
/// which is why solvers start from points where every outcome's total is on the positive branch.
public struct GeneralizationBoundAccuracy: AccuracyFunction, Codable, Equatable {
    public var k: Double
    public init(k: Double = 1) { self.k = k }
    public func evaluate(_ x: Double) -> (a: Double, da: Double, d2a: Double) {
        guard x > k * exp(-2) else { return (0, 0, 0) }
        let s = (2 * k * (2 + log(x / k))).squareRoot()
        let sx = x.squareRoot()
        let a = 1 - (s + 4) / sx
        guard a > 0 else { return (0, 0, 0) }
        let h = (s + 4) / 2 - k / s
        let x32 = x * sx
        let ds = k / (s * x)
        let dh = ds * (0.5 + k / (s * s))
        return (a, h / x32, dh / x32 - 1.5 * h / (x32 * x))
    }
}

/// v(r) = scale * r (the paper uses scale 100).
public struct LinearValuation: ValuationFunction, Codable, Equatable {
    public var scale: Double
    public init(scale: Double = 100) { self.scale = scale }
    public func evaluate(_ r: Double) -> (v: Double, dv: Double, d2v: Double) { (scale * r, scale, 0) }
    public func inverse(_ value: Double) -> Double { value / scale }
}

/// The stand-alone optimum of a participant of marginal cost c: maximize v(a(m)) - c m over m >= 0.
///
/// Solved from the first-order condition v'(a) a'(m) = c by bisection on the concave branch
/// (where a > 0 and the marginal value decreases), never by a local optimizer, which can stop on
/// the flat zero branch. Returns the contribution and the reservation utility f = max(0, value).
public func reservationUtility(cost c: Double, accuracy: AccuracyFunction, valuation: ValuationFunction) -> (m: Double, f: Double) {
    func marginal(_ m: Double) -> Double {
        let (a, da, _) = accuracy.evaluate(m)
        return valuation.evaluate(a).dv * da
    }
    // Where a first becomes positive: scan up by doubling, then bisect the sign change.
    var hi = 1e-6
    while accuracy.evaluate(hi).a <= 0 && hi < 1e30 { hi *= 2 }
    if hi >= 1e30 { return (0, 0) }
    var lo = hi / 2
    for _ in 0..<200 { let mid = 0.5 * (lo + hi); if accuracy.evaluate(mid).a > 0 { hi = mid } else { lo = mid } }
    let start = hi
    // The marginal value peaks shortly after a turns positive, then decreases.
    var peak = start
    var best = marginal(start)
    var m = start
    for _ in 0..<200 { m *= 1.05; let v = marginal(m); if v > best { best = v; peak = m } else { break } }
    if best <= c { return (0, 0) }
    var l = peak, r = peak
    while marginal(r) > c { r *= 2; if r > 1e30 { return (0, 0) } }
    for _ in 0..<300 {
        let mid = 0.5 * (l + r)
        if marginal(mid) > c { l = mid } else { r = mid }
        if r - l <= 1e-15 * r { break }
    }
    let mstar = 0.5 * (l + r)
    let u = valuation.evaluate(accuracy.evaluate(mstar).a).v - c * mstar
    return u > 0 ? (mstar, u) : (0, 0)
}
