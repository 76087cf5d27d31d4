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

    /// e^x for x in [-708, 709], without branches or calls (the loss kernels take one exponential
    /// per example: through libm that call was a third of a DSGD run's time at 1000 agents).
    /// Inputs outside the range are clamped to it (e^-708 ~ 3e-308 stands for the underflow to 0,
    /// e^709 ~ 8e307 for the overflow), which the callers tolerate.
    ///
    /// The method is fdlibm's `__ieee754_exp`: x = k ln 2 + r with |r| <= ln2/2 (k ln 2 split into
    /// a part exact in double and a remainder), e^r from fdlibm's degree-5 minimax rational form,
    /// and 2^k put into the exponent bits. Error below 1 ulp (fdlibm's bound; measured against
    /// glibc over the whole range in the tests).
    @inline(__always)
    public static func fastExp(_ x: Double) -> Double {
        let v = min(max(x, -708), 709)
        // k = round(v / ln 2) as a double (adding and removing 1.5 * 2^52 rounds to nearest).
        let shifter = 6_755_399_441_055_744.0
        let kd = v * 1.44269504088896338700e+00 + shifter
        let k = kd - shifter
        let hi = v - k * 6.93147180369123816490e-01, lo = k * 1.90821492927058770002e-10
        let r = hi - lo
        let t = r * r
        let c =
            r - t
            * (1.66666666666666019037e-01 + t
                * (-2.77777777770155933842e-03 + t
                    * (6.61375632143793436117e-05
                        + t * (-1.65339022054652515390e-06 + t * 4.13813679705723846039e-08))))
        let y = 1 - ((lo - (r * c) / (2 - c)) - hi)
        // y in [0.7, 1.5): multiply by 2^k through the exponent field (k in [-1021, 1023] here),
        // from the low bits of k + 1.5 * 2^52 (no integer conversion: a NaN margin gives NaN, where
        // Int64(k) trapped).
        return y * Double(bitPattern: (kd.bitPattern &+ 1023) &<< 52)
    }

    /// ln(1 + t) for t in [0, 1] (the softplus term of the logistic loss), without branches or
    /// calls: u = 1 + t rounded, then ln u + (t - (u - 1)) / u, the first-order correction of the
    /// rounding of u (Goldberg's method); below 1.5 ulp against glibc's `log1p` (tests).
    @inline(__always)
    public static func fastLog1p(unit t: Double) -> Double {
        let u = 1 + t
        return fastLog(positiveNormal: u) + (t - (u - 1)) / u
    }

    /// `fastExp` on eight lanes: the same operations lane by lane, so each lane equals the scalar
    /// function bit for bit (tests). 2^k enters through the bits of k + 1.5 * 2^52, whose low
    /// bits hold k, instead of an integer conversion.
    @inline(__always)
    public static func fastExp(_ x: SIMD8<Double>) -> SIMD8<Double> {
        typealias V = SIMD8<Double>
        // min(max(x, -708), 709) as the scalar function has it (clamped(...) is a generic call).
        var v: V = x.replacing(with: -708, where: x .< -708)
        v = v.replacing(with: 709, where: v .> 709)
        let shifter = V(repeating: 6_755_399_441_055_744.0)
        let kd: V = v * 1.44269504088896338700e+00 + shifter
        let k: V = kd - shifter
        let hi: V = v - k * 6.93147180369123816490e-01
        let lo: V = k * 1.90821492927058770002e-10
        let r: V = hi - lo
        let t: V = r * r
        // c = r - t (P1 + t (P2 + t (P3 + t (P4 + t P5)))), step by step in the scalar order.
        var p: V = t * 4.13813679705723846039e-08
        p = p + -1.65339022054652515390e-06
        p = t * p + 6.61375632143793436117e-05
        p = t * p + -2.77777777770155933842e-03
        p = t * p + 1.66666666666666019037e-01
        let c: V = r - t * p
        let rc: V = r * c
        let q: V = rc / (2 - c)
        let y: V = 1 - ((lo - q) - hi)
        let bits = unsafeBitCast(kd, to: SIMD8<UInt64>.self)
        let scale = unsafeBitCast((bits &+ 1023) &<< 52, to: V.self)
        return y * scale
    }

    /// `fastLog(positiveNormal:)` on eight lanes, equal to it lane by lane.
    @inline(__always)
    public static func fastLog(positiveNormal x: SIMD8<Double>) -> SIMD8<Double> {
        typealias V = SIMD8<Double>
        typealias U = SIMD8<UInt64>
        let shifted: U = unsafeBitCast(x, to: U.self) &+ 0x0009_5F62_0000_0000
        let mant: U = (shifted & 0x000F_FFFF_FFFF_FFFF) &+ 0x3FE6_A09E_0000_0000
        let f: V = unsafeBitCast(mant, to: V.self) - 1
        let kBits: U = (shifted &>> 52) | 0x4330_0000_0000_0000
        let k: V = unsafeBitCast(kBits, to: V.self) - (4_503_599_627_370_496.0 + 1023)
        let s: V = f / (2 + f)
        let z: V = s * s
        let w: V = z * z
        var a: V = w * 1.531383769920937332e-01 + 2.222219843214978396e-01
        a = w * a + 3.999999999940941908e-01
        let t1: V = w * a
        var b: V = w * 1.479819860511658591e-01 + 1.818357216161805012e-01
        b = w * b + 2.857142874366239149e-01
        b = w * b + 6.666666666666735130e-01
        let t2: V = z * b
        let r: V = t1 + t2
        let hfsq: V = 0.5 * f * f
        let inner: V = s * (hfsq + r) + k * 1.90821492927058770002e-10
        return k * 6.93147180369123816490e-01 - ((hfsq - inner) - f)
    }

    /// The logistic loss log(1 + e^m) = max(m, 0) + ln(1 + e^-|m|) of `count` margins m = -y z,
    /// eight at a time (the scalar `GLMLoss.value` formula lane by lane: equal bit for bit, so a
    /// caller that adds the results in row order gets the scalar loop's sum).
    @inline(__always)
    static func logisticLosses(_ m: UnsafePointer<Double>, count: Int, into out: UnsafeMutablePointer<Double>) {
        var k = 0
        while k + 8 <= count {
            let v = UnsafeRawPointer(m + k).loadUnaligned(as: SIMD8<Double>.self)
            let e = fastExp(v.replacing(with: -v, where: v .> 0))  // e^-|m| (e^+-0 = 1 either way)
            let u = 1 + e
            let l = v.replacing(with: 0, where: v .< 0) + (fastLog(positiveNormal: u) + (e - (u - 1)) / u)
            UnsafeMutableRawPointer(out + k).storeBytes(of: l, as: SIMD8<Double>.self)
            k += 8
        }
        while k < count {
            out[k] = max(m[k], 0) + fastLog1p(unit: fastExp(-abs(m[k])))
            k += 1
        }
    }
}
