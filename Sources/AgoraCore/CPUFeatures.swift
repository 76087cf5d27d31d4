#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPU features that decide which OpenBLAS kernels can run, from /proc/cpuinfo (Linux).
public struct CPUFeatures: Sendable, Equatable {
    public var vendor: String
    public var family: Int
    public var model: Int
    public var modelName: String
    public var flags: Set<String>

    public init(vendor: String, family: Int, model: Int, modelName: String, flags: Set<String>) {
        self.vendor = vendor
        self.family = family
        self.model = model
        self.modelName = modelName
        self.flags = flags
    }

    /// The first processor of a /proc/cpuinfo text (nil when it names none).
    public init?(cpuinfo text: String) {
        var vendor = "", family = -1, model = -1, name = "", flags: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty && family >= 0 { break }  // end of the first processor's block
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingWhitespace(), value = parts[1].trimmingWhitespace()
            switch key {
            case "vendor_id": vendor = value
            case "cpu family": family = Int(value) ?? -1
            case "model": model = Int(value) ?? -1
            case "model name": name = value
            case "flags": flags = Set(value.split(separator: " ").map(String.init))
            default: break
            }
        }
        guard !vendor.isEmpty || !flags.isEmpty else { return nil }
        self.init(vendor: vendor, family: family, model: model, modelName: name, flags: flags)
    }

    /// This machine's CPU (nil where /proc/cpuinfo cannot be read).
    public static func current() -> CPUFeatures? {
        guard let f = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count < 1 << 22 {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return CPUFeatures(cpuinfo: String(decoding: bytes, as: UTF8.self))
    }

    /// The instruction-set level the flags allow: 3 AVX-512 (F, BW, VL, DQ), 2 AVX2 with FMA,
    /// 1 AVX, 0 otherwise.
    public var isaLevel: Int {
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) { return 3 }
        if flags.contains("avx2") && flags.contains("fma") { return 2 }
        if flags.contains("avx") { return 1 }
        return 0
    }
}

private extension Substring {
    func trimmingWhitespace() -> String {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
