import AgoraKernels
import Foundation
import XCTest

/// The choice of OpenBLAS kernels: parsing /proc/cpuinfo, the advice table, and the correctness
/// check run on whatever core this process has.
final class BLASCoreTests: XCTestCase {
    static let xeon = """
        processor\t: 0
        vendor_id\t: GenuineIntel
        cpu family\t: 6
        model\t\t: 207
        model name\t: Intel(R) Xeon(R) Platinum 8581C CPU @ 2.30GHz
        flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_bf16

        processor\t: 1
        vendor_id\t: GenuineIntel
        flags\t\t: fpu
        """

    static let zen = """
        processor\t: 0
        vendor_id\t: AuthenticAMD
        cpu family\t: 25
        model\t\t: 1
        model name\t: AMD EPYC 7B13
        flags\t\t: fpu sse sse2 avx avx2 fma

        """

    func testParsesTheFirstProcessor() throws {
        let x = try XCTUnwrap(CPUFeatures(cpuinfo: Self.xeon))
        XCTAssertEqual(x.vendor, "GenuineIntel")
        XCTAssertEqual(x.family, 6)
        XCTAssertEqual(x.model, 207)
        XCTAssertEqual(x.modelName, "Intel(R) Xeon(R) Platinum 8581C CPU @ 2.30GHz")
        XCTAssertEqual(x.isaLevel, 3)
        XCTAssertTrue(x.flags.contains("avx512_bf16"))
        let z = try XCTUnwrap(CPUFeatures(cpuinfo: Self.zen))
        XCTAssertEqual(z.isaLevel, 2)
        XCTAssertNil(CPUFeatures(cpuinfo: "nothing here\n"))
    }

    func testAdviceOnlyWhereOpenBLASChoseLessThanTheCPUOffers() throws {
        let xeon = try XCTUnwrap(CPUFeatures(cpuinfo: Self.xeon))
        var plainXeon = xeon
        plainXeon.flags.remove("avx512_bf16")
        let zen = try XCTUnwrap(CPUFeatures(cpuinfo: Self.zen))
        var zen4 = zen
        zen4.flags.formUnion(["avx512f", "avx512dq", "avx512bw", "avx512vl"])
        let old = CPUFeatures(vendor: "GenuineIntel", family: 6, model: 15, modelName: "Core 2", flags: ["sse", "sse2", "ssse3"])
        XCTAssertEqual(BLASCoreSelection.advice(current: "Prescott", cpu: xeon)?.core, "Cooperlake")
        XCTAssertEqual(BLASCoreSelection.advice(current: "Prescott", cpu: plainXeon)?.core, "SkylakeX")
        XCTAssertEqual(BLASCoreSelection.advice(current: "Haswell", cpu: plainXeon)?.core, "SkylakeX")
        XCTAssertNil(BLASCoreSelection.advice(current: "SkylakeX", cpu: plainXeon))
        XCTAssertNil(BLASCoreSelection.advice(current: "Cooperlake", cpu: xeon))
        XCTAssertEqual(BLASCoreSelection.advice(current: "Prescott", cpu: zen)?.core, "Zen")
        XCTAssertNil(BLASCoreSelection.advice(current: "Zen", cpu: zen))
        XCTAssertNil(BLASCoreSelection.advice(current: "Zen", cpu: zen4), "AMD's own choice stands")
        XCTAssertNil(BLASCoreSelection.advice(current: "Prescott", cpu: old), "nothing better than SSE to ask for")
        XCTAssertNil(BLASCoreSelection.advice(current: "Prescott", cpu: nil))
        let reason = try XCTUnwrap(BLASCoreSelection.advice(current: "Prescott", cpu: plainXeon)?.reason)
        XCTAssertTrue(reason.contains("Prescott") && reason.contains("AVX-512") && reason.contains("SkylakeX"), reason)
    }

    func testThisProcessesKernelsAnswerCorrectly() {
        XCTAssertNil(BLASCoreSelection.verify(), "OpenBLAS core \(OpenBLAS.coreName)")
    }

    /// The decision a program acts on, as a pure function of its environment: restart with the
    /// better core (recording why and from what), keep the user's core, mark a checked choice
    /// verified, and fall back to the original core (with a warning) when the chosen one computes
    /// wrong answers.
    func testDecisionFollowsTheEnvironment() throws {
        let xeon = try XCTUnwrap(CPUFeatures(cpuinfo: Self.xeon))
        let fresh = BLASCoreSelection.decide(
            environment: [:], currentCore: "Prescott", cpu: xeon,
            verify: {
                XCTFail("no check yet")
                return nil
            })
        guard case .restart(let set, let unset, let warning) = fresh else { return XCTFail("\(fresh)") }
        XCTAssertEqual(set["OPENBLAS_CORETYPE"], "Cooperlake")
        XCTAssertEqual(set["AGORA_BLAS_ORIGINAL_CORE"], "Prescott")
        XCTAssertTrue(set["AGORA_BLAS_CORE_SELECTED"]?.contains("Prescott") ?? false)
        XCTAssertEqual(unset, [])
        XCTAssertNil(warning)
        // The restarted process checks the core once; right answers mark it verified, then it stays.
        var env = set
        XCTAssertEqual(BLASCoreSelection.decide(environment: env, currentCore: "Cooperlake", cpu: xeon, verify: { nil }), .verified)
        env["AGORA_BLAS_VERIFIED"] = "1"
        XCTAssertEqual(BLASCoreSelection.decide(environment: env, currentCore: "Cooperlake", cpu: xeon, verify: { "never asked" }), .keep)
        // Wrong answers: back to OpenBLAS's own core, with a warning naming what disagreed.
        env["AGORA_BLAS_VERIFIED"] = nil
        let wrong = BLASCoreSelection.decide(environment: env, currentCore: "Cooperlake", cpu: xeon, verify: { "sgemm differs" })
        guard case .restart(let set2, let unset2, let warning2) = wrong else { return XCTFail("\(wrong)") }
        XCTAssertEqual(set2["OPENBLAS_CORETYPE"], "Prescott")
        XCTAssertTrue(set2["AGORA_BLAS_CORE_REJECTED"]?.contains("sgemm differs") ?? false)
        XCTAssertEqual(unset2, ["AGORA_BLAS_CORE_SELECTED"])
        XCTAssertTrue(warning2?.contains("sgemm differs") ?? false)
        // The user's core, selection turned off, a rejected choice, a core already right: keep.
        XCTAssertEqual(BLASCoreSelection.decide(environment: ["OPENBLAS_CORETYPE": "Haswell"], currentCore: "Haswell", cpu: xeon), .keep)
        XCTAssertEqual(BLASCoreSelection.decide(environment: ["AGORA_BLAS_SELECT": "0"], currentCore: "Prescott", cpu: xeon), .keep)
        XCTAssertEqual(BLASCoreSelection.decide(environment: ["AGORA_BLAS_CORE_REJECTED": "x"], currentCore: "Prescott", cpu: xeon), .keep)
        XCTAssertEqual(BLASCoreSelection.decide(environment: [:], currentCore: "SkylakeX", cpu: xeon), .keep)
        // A pretended core (tests) is recorded as assumed, and falling back then unsets the variable.
        let assumed = BLASCoreSelection.decide(environment: ["AGORA_BLAS_ASSUME_CORE": "Prescott"], currentCore: "SkylakeX", cpu: xeon)
        guard case .restart(let set3, _, _) = assumed else { return XCTFail("\(assumed)") }
        XCTAssertEqual(set3["AGORA_BLAS_ORIGINAL_CORE"], "assumed")
        let back = BLASCoreSelection.decide(environment: set3, currentCore: "Cooperlake", cpu: xeon, verify: { "bad" })
        guard case .restart(_, let unset4, _) = back else { return XCTFail("\(back)") }
        XCTAssertEqual(Set(unset4), ["AGORA_BLAS_CORE_SELECTED", "OPENBLAS_CORETYPE"])
    }

    /// A random stream survives a round trip through JSON (checkpoints), and a forged all-zero state
    /// is refused when decoded (xoshiro would return zeros forever; the normal sampler would hang).
    func testRandomStateRoundTripsAndRefusesTheZeroState() throws {
        var g = SeededGenerator(seed: 42, stream: 7)
        _ = g.next()
        let data = try JSONEncoder().encode(g)
        var back = try JSONDecoder().decode(SeededGenerator.self, from: data)
        XCTAssertEqual(back, g)
        XCTAssertEqual(back.next(), g.next())
        XCTAssertThrowsError(try JSONDecoder().decode(SeededGenerator.self, from: Data(#"{"s0":0,"s1":0,"s2":0,"s3":0}"#.utf8)))
        XCTAssertThrowsError(try SeededGenerator(state: [0, 0, 0, 0]))
    }
}
