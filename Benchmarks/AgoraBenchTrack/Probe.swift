import AgoraBenchCore
import Foundation

struct ProbeError: Error, CustomStringConvertible { var description: String }

/// Runs one probe invocation and parses its output. `inject` sets AGORA_AB_INJECT for this run only.
func invokeProbe(_ exe: String, only: String?, size: String, reps: Int, inject: String?) throws -> ProbeRun {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    var args = ["--size", size, "--reps", "\(reps)"]
    if let only { args += ["--only", only] }
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env["AGORA_AB_INJECT"] = inject
    p.environment = env
    let pipe = Pipe()
    p.standardOutput = pipe
    do { try p.run() } catch { throw ProbeError(description: "cannot run probe \(exe): \(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw ProbeError(description: "probe \(exe) \(args.joined(separator: " ")) exited with status \(p.terminationStatus)")
    }
    do { return try JSONDecoder().decode(ProbeRun.self, from: data) } catch {
        throw ProbeError(
            description: "probe \(exe) printed no valid result (\(error)): \(String(decoding: data.prefix(200), as: UTF8.self))")
    }
}

/// Per-invocation medians of each benchmark, accumulated over the invocations of one side.
struct SideResults {
    var medians: [String: [Double]] = [:]
    var digests: [String: [Double]] = [:]
    var order: [String] = []
    var identity: MachineIdentity? = nil

    mutating func add(_ run: ProbeRun) {
        if identity == nil { identity = run.identity }
        for b in run.benchmarks {
            if medians[b.name] == nil { order.append(b.name) }
            medians[b.name, default: []].append(Statistics.median(b.samples_us))
            digests[b.name] = b.digest
        }
    }
}

/// A probe started with --serve: stays resident, times one block per request. The A/B driver runs
/// one per side and alternates requests between them.
final class ProbeServer {
    let exe: String
    let process = Process()
    let input = Pipe(), output = Pipe()
    var buffer = Data()
    let context: ProbeRun.Context

    init(_ exe: String, only: String?, size: String, reps: Int, inject: String?) throws {
        self.exe = exe
        process.executableURL = URL(fileURLWithPath: exe)
        var args = ["--serve", "--size", size, "--reps", "\(reps)"]
        if let only { args += ["--only", only] }
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["AGORA_AB_INJECT"] = inject
        process.environment = env
        process.standardInput = input
        process.standardOutput = output
        do { try process.run() } catch { throw ProbeError(description: "cannot run probe \(exe): \(error)") }
        var line = Data()
        Self.readLine(output.fileHandleForReading, &buffer, into: &line)
        do { context = try JSONDecoder().decode(ProbeRun.Context.self, from: line) } catch {
            throw ProbeError(description: "probe \(exe) did not start (\(String(decoding: line.prefix(200), as: UTF8.self)))")
        }
    }

    static func readLine(_ h: FileHandle, _ buffer: inout Data, into line: inout Data) {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                line = buffer[buffer.startIndex..<nl]
                buffer = Data(buffer[(nl + 1)...])
                return
            }
            let chunk = h.availableData
            if chunk.isEmpty {
                line = buffer
                buffer = Data()
                return
            }
            buffer.append(chunk)
        }
    }

    /// One block of samples of `name`.
    func block(_ name: String) throws -> ProbeRun.Benchmark {
        input.fileHandleForWriting.write(Data((name + "\n").utf8))
        var line = Data()
        Self.readLine(output.fileHandleForReading, &buffer, into: &line)
        do { return try JSONDecoder().decode(ProbeRun.Benchmark.self, from: line) } catch {
            throw ProbeError(
                description:
                    "probe \(exe) gave no result for \(name) (exit status \(process.isRunning ? "running" : "\(process.terminationStatus)"))"
            )
        }
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    var identity: MachineIdentity { context.identity }
}

/// The benchmark names a probe knows (--list), filtered by --only.
func probeBenchmarks(_ exe: String, only: String?) throws -> [String] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = ["--list"]
    let pipe = Pipe()
    p.standardOutput = pipe
    do { try p.run() } catch { throw ProbeError(description: "cannot run probe \(exe): \(error)") }
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    let all = text.split(separator: "\n").map(String.init)
    guard let only else { return all }
    let wanted = only.split(separator: ",").map(String.init)
    for w in wanted where !all.contains(w) {
        throw UsageError(description: "unknown benchmark \(w); the probe has: \(all.joined(separator: ", "))")
    }
    return all.filter { wanted.contains($0) }
}
