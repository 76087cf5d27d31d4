#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A seeded, reproducible random number generator: xoshiro256** seeded through splitmix64.
///
/// Every random choice in Agora (data, partitions, graphs, mini-batches, strategic noise) draws from
/// one of these, created from the experiment's seed (and a stream index where several independent
/// streams are needed), so a seed fixes a run completely and the thread count never matters.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Codable, Equatable {
    // Internal (for the inlinable draws below: a mini-batch or a data set makes millions).
    @usableFromInline var s0, s1, s2, s3: UInt64

    /// A generator for `seed`; `stream` selects an independent sub-stream (e.g. one per agent).
    public init(seed: UInt64, stream: UInt64 = 0) {
        var z = seed ^ (stream &* 0xD2B7_4407_B1CE_6E93)
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var r = x
            r = (r ^ (r >> 30)) &* 0xBF58_476D_1CE4_E5B9
            r = (r ^ (r >> 27)) &* 0x94D0_49BB_1331_11EB
            return r ^ (r >> 31)
        }
        s0 = splitmix(&z)
        s1 = splitmix(&z)
        s2 = splitmix(&z)
        s3 = splitmix(&z)
    }

    @inlinable
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// The four state words, to carry a stream between processes (files use `Codable`).
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// A generator continuing from `state` (four words, not all zero: xoshiro's forbidden state).
    public init(state: [UInt64]) throws {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw AgoraError.shape("SeededGenerator(state:) needs four words, not all zero; got \(state.count)")
        }
        s0 = state[0]
        s1 = state[1]
        s2 = state[2]
        s3 = state[3]
    }

    private enum CodingKeys: String, CodingKey { case s0, s1, s2, s3 }

    /// Decodes the four words and refuses the all-zero state, as `init(state:)` does: from it
    /// xoshiro returns zeros forever, and the normal sampler (which redraws a zero) would never end.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let words = try [CodingKeys.s0, .s1, .s2, .s3].map { try c.decode(UInt64.self, forKey: $0) }
        guard words.contains(where: { $0 != 0 }) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "a random stream's state is all zero, which no generator reaches"))
        }
        (s0, s1, s2, s3) = (words[0], words[1], words[2], words[3])
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inlinable
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Standard normal by the Box-Muller transform (one value per call; simple and reproducible).
    public mutating func normal() -> Double {
        let (u1, u2) = normalUniforms()
        return Self.normal(u1, u2)
    }

    /// The two uniforms `normal()` draws (u1 in (0, 1), redrawn while 0; then u2): a generator
    /// can draw them in sequence and leave the transform (`normal(_:_:)`, the costly part) to
    /// other threads, with the same result as `normal()`.
    @inlinable
    public mutating func normalUniforms() -> (Double, Double) {
        var u1 = uniform()
        while u1 <= 0 { u1 = uniform() }
        return (u1, uniform())
    }

    /// The Box-Muller transform of `normalUniforms()`.
    @inline(__always)
    public static func normal(_ u1: Double, _ u2: Double) -> Double {
        (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
