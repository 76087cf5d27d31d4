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
    /// valid byte count; `check` refuses a malformed one), else 80 % of physical memory.
    public static var memoryBudget: Double {
        if let text = Platform.environment("AGORA_MEMORY_LIMIT"), let v = parseBytes(text) { return v }
        let physical = physicalMemory
        return physical > 0 ? 0.8 * physical : .infinity
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
            let source = Platform.environment("AGORA_MEMORY_LIMIT") != nil ? "AGORA_MEMORY_LIMIT" : "80 % of the machine's memory"
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
