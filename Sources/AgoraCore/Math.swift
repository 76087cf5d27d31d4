#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The C library's elementary functions, imported once for all of Agora: the modules above call
/// `Math.exp`, `Math.log`, ... instead of each importing Glibc (or Musl, or Darwin) behind its own
/// `#if`. Each is the C library's own function (inlined across modules), so results are the
/// platform libm's, bit for bit. Hot loops that need many logarithms use `Kernels.fastLog`.
public enum Math {
    @inlinable public static func exp(_ x: Double) -> Double { _libmExp(x) }
    @inlinable public static func exp(_ x: Float) -> Float { _libmExpf(x) }
    @inlinable public static func log(_ x: Double) -> Double { _libmLog(x) }
    @inlinable public static func log(_ x: Float) -> Float { _libmLogf(x) }
    @inlinable public static func log1p(_ x: Double) -> Double { _libmLog1p(x) }
    @inlinable public static func pow(_ x: Double, _ y: Double) -> Double { _libmPow(x, y) }
    @inlinable public static func sqrt(_ x: Double) -> Double { x.squareRoot() }
    @inlinable public static func cbrt(_ x: Double) -> Double { _libmCbrt(x) }
    @inlinable public static func cos(_ x: Double) -> Double { _libmCos(x) }
    @inlinable public static func sin(_ x: Double) -> Double { _libmSin(x) }
    /// log |Gamma(x)| through the reentrant C function (plain `lgamma` writes a global sign).
    @inlinable public static func logGamma(_ x: Double) -> Double { _libmLogGamma(x) }
}

// The C functions under names `Math` can call without calling itself.
@usableFromInline func _libmExp(_ x: Double) -> Double { exp(x) }
@usableFromInline func _libmExpf(_ x: Float) -> Float { expf(x) }
@usableFromInline func _libmLog(_ x: Double) -> Double { log(x) }
@usableFromInline func _libmLogf(_ x: Float) -> Float { logf(x) }
@usableFromInline func _libmLog1p(_ x: Double) -> Double { log1p(x) }
@usableFromInline func _libmPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
@usableFromInline func _libmCbrt(_ x: Double) -> Double { cbrt(x) }
@usableFromInline func _libmCos(_ x: Double) -> Double { cos(x) }
@usableFromInline func _libmSin(_ x: Double) -> Double { sin(x) }
@usableFromInline func _libmLogGamma(_ x: Double) -> Double {
    var sign: Int32 = 0
    return lgamma_r(x, &sign)
}
