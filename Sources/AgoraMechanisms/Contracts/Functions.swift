import AgoraKernels

/// Model accuracy as a function of total contribution x: value, first and second derivative.
/// Must be nondecreasing, and concave where positive.
public protocol AccuracyFunction: Sendable {
    func evaluate(_ x: Double) -> (a: Double, da: Double, d2a: Double)
    /// `evaluate(_:)` at every `x[i]`, into `a`, `da` and `d2a` (each `x.count` long). An
    /// implementation may vectorise, but each element's result must depend on `x[i]` alone, never
    /// on its position in the buffer: the solver calls this on chunks that change with the thread
    /// count, and its results must not.
    func evaluate(
        _ x: UnsafeBufferPointer<Double>, a: UnsafeMutablePointer<Double>, da: UnsafeMutablePointer<Double>,
        d2a: UnsafeMutablePointer<Double>)
}

extension AccuracyFunction {
    public func evaluate(
        _ x: UnsafeBufferPointer<Double>, a: UnsafeMutablePointer<Double>, da: UnsafeMutablePointer<Double>,
        d2a: UnsafeMutablePointer<Double>
    ) {
        for i in x.indices { (a[i], da[i], d2a[i]) = evaluate(x[i]) }
    }
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

    /// One element: the same operations as the batched form on a two-lane vector (lane-wise IEEE
    /// arithmetic, so both agree to the last bit; two lanes cost what one does).
    public func evaluate(_ x: Double) -> (a: Double, da: Double, d2a: Double) {
        let threshold = k * Math.exp(-2), inverseK = 1 / k
        let lg = Kernels.fastLog(positiveNormal: logArgument(x, threshold: threshold, inverseK: inverseK))
        let (a, da, d2a) = evaluateLanes(SIMD2(repeating: x), logarithm: SIMD2(repeating: lg), threshold: threshold, inverseK: inverseK)
        return (a[0], da[0], d2a[0])
    }

    /// Two passes per call: the logarithms in a loop without calls or branches, which LLVM
    /// vectorises (`Kernels.fastLog`; written into `d2a` as scratch), then the rest eight lanes at a
    /// time (two square roots and one division per element) through `Kernels.mapLanes8`, whose
    /// padded tail keeps each element's result a function of its own x alone.
    public func evaluate(
        _ x: UnsafeBufferPointer<Double>, a: UnsafeMutablePointer<Double>, da: UnsafeMutablePointer<Double>,
        d2a: UnsafeMutablePointer<Double>
    ) {
        guard let xp = x.baseAddress else { return }
        let n = x.count, threshold = k * Math.exp(-2), inverseK = 1 / k
        for i in 0..<n { d2a[i] = Kernels.fastLog(positiveNormal: logArgument(xp[i], threshold: threshold, inverseK: inverseK)) }
        Kernels.mapLanes8(count: n, xp, d2a, into: a, da, d2a) { v, lg in
            evaluateLanes(v, logarithm: lg, threshold: threshold, inverseK: inverseK)
        }
    }

    /// x / k on the positive branch (x > k e^-2 and x / k finite), else 1 (any positive normal
    /// number would do: those lanes are discarded).
    @inline(__always)
    func logArgument(_ x: Double, threshold: Double, inverseK: Double) -> Double {
        let scaled = x * inverseK
        return x > threshold ? (scaled <= .greatestFiniteMagnitude ? scaled : 1) : 1
    }

    /// The formulas above with one shared division: D = 1 / (sqrt(x) s) gives x^(-1/2) = s D and
    /// 1/s = sqrt(x) D; then x^(-3/2) = x^(-1/2)^3. Off the positive branch (x <= k e^-2, x / k not
    /// finite, NaN, or a <= 0) every output is 0; those lanes compute with x = k so that the
    /// arithmetic stays finite, and are then discarded.
    @inline(__always)
    func evaluateLanes<V: SIMD>(_ x: V, logarithm lg: V, threshold: Double, inverseK: Double) -> (a: V, da: V, d2a: V)
    where V.Scalar == Double {
        let kk = V(repeating: k)
        let onBranch = (x .> threshold) .& (x * inverseK .<= .greatestFiniteMagnitude)
        let xs = x.replacing(with: kk, where: .!onBranch)
        let s = (2 * kk * (2 + lg)).squareRoot()
        let sx = xs.squareRoot()
        let d = 1 / (sx * s)
        let r = s * d, invS = sx * d
        let a = 1 - (s + 4) * r
        let keep = onBranch .& (a .> 0)
        let h = 0.5 * (s + 4) - kk * invS
        let ix = r * r
        let x32inv = ix * r
        let ds = kk * invS * ix
        let dh = ds * (0.5 + kk * invS * invS)
        let zero = V(repeating: 0)
        return (
            zero.replacing(with: a, where: keep),
            zero.replacing(with: h * x32inv, where: keep),
            zero.replacing(with: dh * x32inv - 1.5 * h * x32inv * ix, where: keep)
        )
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
    for _ in 0..<200 {
        let mid = 0.5 * (lo + hi)
        if accuracy.evaluate(mid).a > 0 { hi = mid } else { lo = mid }
    }
    let start = hi
    // The marginal value peaks shortly after a turns positive, then decreases.
    var peak = start
    var best = marginal(start)
    var m = start
    for _ in 0..<200 {
        m *= 1.05
        let v = marginal(m)
        if v > best {
            best = v
            peak = m
        } else {
            break
        }
    }
    if best <= c { return (0, 0) }
    var l = peak, r = peak
    while marginal(r) > c {
        r *= 2
        if r > 1e30 { return (0, 0) }
    }
    for _ in 0..<300 {
        let mid = 0.5 * (l + r)
        if marginal(mid) > c { l = mid } else { r = mid }
        if r - l <= 1e-15 * r { break }
    }
    let mstar = 0.5 * (l + r)
    let u = valuation.evaluate(accuracy.evaluate(mstar).a).v - c * mstar
    return u > 0 ? (mstar, u) : (0, 0)
}
