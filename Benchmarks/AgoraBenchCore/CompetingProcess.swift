import Foundation

/// A CPU-bound competitor (a shell busy loop in its own process) for the "contended" measurements:
/// the normal case on a shared cluster node or inside a host with its own threads. Started on
/// creation (after a 200 ms settle), stopped by `stop()` or when the value goes away.
public final class CompetingProcess {
    private let process = Process()

    public init() throws {
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "while :; do :; done"]
        try process.run()
        usleep(200_000)
    }

    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }
}
