#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory checks made before allocating: a run that cannot fit is refused up front with its
/// estimate, instead of aborting in the allocator after minutes of work (or swapping the machine
/// to a halt).
///
/// The budget is `AGORA_MEMORY_LIMIT` when set (bytes, or with a K, M, G or T suffix), else 80 % of
/// the machine's physical memory.
public enum ResourceLimits {
    /// Physical memory of the machine in bytes (0 when the system does not say).
    public static var physicalMemory: Double {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? Double(pages) * Double(size) : 0
    }

    /// The memory one run may plan to use, in bytes: `AGORA_MEMORY_LIMIT` when it is set (and a
    /// valid byte count; `check` refuses a malformed one), else `defaultBudget`.
    public static var memoryBudget: Double {
        if let text = Platform.environment("AGORA_MEMORY_LIMIT"), let v = parseBytes(text) { return v }
        return defaultBudget.bytes
    }

    /// 80 % of the tightest of: the machine's physical memory, this process's cgroup memory limit
    /// (a container's or a Slurm job's), and the address space left under `ulimit -v` (RLIMIT_AS
    /// minus what the process has mapped already). Why all three: a job under a cgroup or an
    /// address-space limit is killed or fails in the allocator long before physical memory runs
    /// out, and the up-front checks must refuse what the allocator would not give.
    public static var defaultBudget: (bytes: Double, source: String) {
        var best = (bytes: Double.infinity, source: "no known memory limit")
        let physical = physicalMemory
        if physical > 0 { best = (0.8 * physical, "80 % of the machine's memory") }
        if let cgroup = cgroupMemoryLimit, 0.8 * cgroup < best.bytes {
            best = (0.8 * cgroup, "80 % of this process's cgroup memory limit")
        }
        if let room = addressSpaceLeft, 0.8 * room < best.bytes {
            best = (0.8 * room, "80 % of the address space left under the limit of ulimit -v")
        }
        return best
    }

    /// The cgroup memory limit of this process in bytes (v2 `memory.max` of its own cgroup, else
    /// v1 `memory.limit_in_bytes`); nil when there is none or it cannot be read.
    public static var cgroupMemoryLimit: Double? {
        var candidates: [String] = []
        if let text = smallSystemText("/proc/self/cgroup") {
            for line in text.split(separator: "\n") where line.hasPrefix("0::") {
                let path = String(line.dropFirst(3))
                if path != "/" { candidates.append("/sys/fs/cgroup" + path + "/memory.max") }
            }
        }
        candidates += ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        for path in candidates {
            guard let text = smallSystemText(path)?.split(whereSeparator: { $0 == " " || $0 == "\n" }).first.map(String.init) else {
                continue
            }
            if text == "max" { return nil }
            // v1 reports "no limit" as a number near 2^63.
            if let v = Double(text), v > 0, v < 1e18 { return v }
        }
        return nil
    }

    /// Bytes of address space this process may still map under RLIMIT_AS (`ulimit -v`): the soft
    /// limit minus the current VmSize; nil when unlimited or unknown.
    public static var addressSpaceLeft: Double? {
        #if os(Linux)
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        var used = 0.0
        if let status = smallSystemText("/proc/self/status") {
            for line in status.split(separator: "\n") where line.hasPrefix("VmSize:") {
                let kb = line.dropFirst(7).split(separator: " ").first.flatMap { Double($0) } ?? 0
                used = kb * 1024
            }
        }
        return max(0, Double(limit.rlim_cur) - used)
        #else
        return nil
        #endif
    }

    /// The text of a small kernel file (/proc, /sys: their sizes read as 0, so the bounded reader
    /// does not apply), at most 64 KiB; nil when it cannot be opened.
    static func smallSystemText(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// The error for a set but malformed `AGORA_MEMORY_LIMIT` (nil when unset or valid).
    public static var memoryLimitProblem: AgoraError? {
        guard let text = Platform.environment("AGORA_MEMORY_LIMIT"), parseBytes(text) == nil else { return nil }
        return AgoraError.configuration(
            "AGORA_MEMORY_LIMIT='\(text)' is not a positive byte count (e.g. 512M, 8G, 1.5T): unset it or correct it",
            field: "AGORA_MEMORY_LIMIT")
    }

    /// "12", "512M", "8G", "1.5T" as bytes (nil when malformed).
    public static func parseBytes(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: " ")
        guard let last = t.last else { return nil }
        let scale: Double
        switch last.uppercased() {
        case "K": scale = 1024
        case "M": scale = 1024 * 1024
        case "G": scale = 1024 * 1024 * 1024
        case "T": scale = 1024 * 1024 * 1024 * 1024
        default: scale = 1
        }
        let digits = scale == 1 ? Substring(t) : t.dropLast()
        guard let v = Double(digits), v.isFinite, v > 0 else { return nil }
        return v * scale
    }

    /// Throws an `AgoraError` of kind `.resources` when `bytes` (an estimate of what `what` will
    /// allocate) exceeds the budget.
    public static func check(bytes: Double, for what: String) throws {
        if let problem = memoryLimitProblem { throw problem }
        let budget = memoryBudget
        guard bytes.isFinite, bytes <= budget else {
            let source = Platform.environment("AGORA_MEMORY_LIMIT") != nil ? "AGORA_MEMORY_LIMIT" : defaultBudget.source
            throw AgoraError(
                .resources,
                "\(what) needs about \(formatBytes(bytes)), more than the \(formatBytes(budget)) allowed (\(source)); use smaller sizes or set AGORA_MEMORY_LIMIT"
            )
        }
    }

    /// A byte count for people: "3.2 GiB".
    public static func formatBytes(_ b: Double) -> String {
        guard b.isFinite else { return "an unbounded amount of memory" }
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = b, u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        if u == 0 { return "\(Int(v)) bytes" }
        let tenths = (v * 10).rounded() / 10
        return "\(tenths) \(units[u])"
    }
}

extension String {
    /// The string without leading and trailing occurrences of `c` (a Foundation-free trim).
    func trimmingCharacters(in c: Character) -> String {
        var s = Substring(self)
        while s.first == c { s = s.dropFirst() }
        while s.last == c { s = s.dropLast() }
        return String(s)
    }
}
