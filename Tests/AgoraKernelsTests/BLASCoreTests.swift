import AgoraKernels
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
}
