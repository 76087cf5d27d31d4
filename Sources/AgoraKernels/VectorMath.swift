extension Kernels {
    /// ln(x) for a positive normal double, without branches or calls, so that element-wise loops
    /// that use it vectorise (libm's `log` is a call per element: in the contract solver, which
    /// takes one logarithm per enumerated outcome per Newton step, that was a sixth of the solve).
    ///
    /// The method is fdlibm's `__ieee754_log` with its special cases removed: x = 2^k (1 + f) with
    /// 1 + f in [sqrt(2)/2, sqrt(2)), s = f / (2 + f), log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2))
    /// with fdlibm's degree-14 minimax R, and k ln 2 split into a part exact in double and a
    /// remainder. Error below 1 ulp (fdlibm's bound; measured against glibc in the tests); it may
    /// differ from glibc's `log` in the last bit.
    ///
    /// - Precondition: `x` is positive, normal and finite (`x >= .leastNormalMagnitude` and
    ///   `x <= .greatestFiniteMagnitude`); other inputs give meaningless finite results. Not
    ///   checked: callers select their lanes first.
    @inlinable @inline(__always)
    public static func fastLog(positiveNormal x: Double) -> Double {
        // Shift the exponent so that the mantissa lands in [sqrt(2)/2, sqrt(2)).
        let shifted = x.bitPattern &+ 0x0009_5F62_0000_0000
        let mant = (shifted & 0x000F_FFFF_FFFF_FFFF) &+ 0x3FE6_A09E_0000_0000
        let f = Double(bitPattern: mant) - 1
        // k as a double without an integer conversion: 2^52 + e read as a double, minus 2^52 + bias.
        let k = Double(bitPattern: (shifted &>> 52) | 0x4330_0000_0000_0000) - (4_503_599_627_370_496.0 + 1023)
        let s = f / (2 + f)
        let z = s * s, w = z * z
        let t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01))
        let t2 =
            z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)))
        let r = t1 + t2
        let hfsq = 0.5 * f * f
        return k * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + r) + k * 1.90821492927058770002e-10)) - f)
    }
}
