import Foundation

/// A bad command line: the message names the flag and what was expected (the tools print it with
/// their usage and exit 2).
public struct UsageError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// The command line of a benchmark tool: `--flag value` pairs and bare switches, checked against
/// the flags the command knows.
///
/// Why strict: a flag the tool does not know used to be ignored, so `AgoraBench --help` or a typo
/// such as `--ony kernels` ran every section for a quarter of an hour, and `--out` as the last
/// argument crashed on a missing value. Now an unknown flag, a stray word, a flag given twice or a
/// value-taking flag without its value is a `UsageError` naming it. `-h` and `--help` are known to
/// every command (`helpRequested`).
public struct CommandLineOptions {
    private var values: [String: String] = [:]
    private var switches: Set<String> = []
    /// `-h` or `--help` was given.
    public private(set) var helpRequested = false

    /// Parses `args` (without the program name). `valued`: flags followed by a value; `switches`:
    /// flags that stand alone. A value may not itself look like a flag (`--...`).
    public init(_ args: [String], valued: Set<String>, switches allowed: Set<String>) throws {
        var k = 0
        while k < args.count {
            let a = args[k]
            if values[a] != nil || switches.contains(a) { throw UsageError(description: "\(a) is given twice") }
            if valued.contains(a) {
                guard k + 1 < args.count, !args[k + 1].hasPrefix("--") else { throw UsageError(description: "\(a) expects a value") }
                values[a] = args[k + 1]
                k += 2
                continue
            }
            if allowed.contains(a) {
                switches.insert(a)
                k += 1
                continue
            }
            if a == "-h" || a == "--help" {
                helpRequested = true
                k += 1
                continue
            }
            if a.hasPrefix("-") {
                let known = (valued.map { "\($0) VALUE" } + allowed.map { $0 }).sorted().joined(separator: ", ")
                throw UsageError(description: "unknown option \(a) (this command takes: \(known))")
            }
            throw UsageError(description: "unexpected argument '\(a)'")
        }
    }

    /// A tool's command line as its `main` takes it: parses `args`, then `build`s the tool's
    /// settings from the options (where values are checked). `--help` prints `usage` and exits 0;
    /// an error of either step is printed with `usage` to standard error and exits 2.
    public static func parseOrExit<Settings>(
        _ args: [String], valued: Set<String>, switches: Set<String>, usage: String,
        _ build: (CommandLineOptions) throws -> Settings
    ) -> Settings {
        do {
            let options = try CommandLineOptions(args, valued: valued, switches: switches)
            if options.helpRequested {
                print(usage)
                exit(0)
            }
            return try build(options)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n\(usage)\n".utf8))
            exit(2)
        }
    }

    /// The value of `--flag VALUE`, if given.
    public func value(_ flag: String) -> String? { values[flag] }

    /// Whether the switch was given.
    public func has(_ flag: String) -> Bool { switches.contains(flag) }

    /// The value of a flag, or `d` when absent; without a default the flag is required.
    public func string(_ flag: String, default d: String? = nil) throws -> String {
        if let v = value(flag) { return v }
        if let d { return d }
        throw UsageError(description: "\(flag) is required")
    }

    /// A number at least `lo`, or `d` when the flag is absent.
    public func number<T: LosslessStringConvertible & Comparable>(_ flag: String, default d: T, min lo: T) throws -> T {
        guard let text = value(flag) else { return d }
        guard let v = T(text), v >= lo else { throw UsageError(description: "\(flag) expects a number >= \(lo), got '\(text)'") }
        return v
    }

    /// A comma-separated list whose items must all be in `allowed` (nil when the flag is absent).
    public func list(_ flag: String, allowed: [String]) throws -> [String]? {
        guard let text = value(flag) else { return nil }
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        for item in items where !allowed.contains(item) {
            throw UsageError(description: "\(flag): unknown item '\(item)' (expected some of: \(allowed.joined(separator: ", ")))")
        }
        return items
    }
}
