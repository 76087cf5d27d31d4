import Foundation

/// A CPU-bound competitor (a shell busy loop in its own process) for the "contended" measurements:
/// the normal case on a shared cluster node or inside a host with its own threads. Started on
/// creation (after a 200 ms settle), stopped by `stop()` or when the value goes away.
///
/// The loop also ends by itself when the process that started it is gone (it checks every few
/// tens of milliseconds): a benchmark killed by a signal or a closed pipe, which runs no `deinit`, must not
/// leave a busy loop behind to distort every later measurement on the machine (seen: one such
/// leftover ran for 35 minutes and halved the "quiet" figures of the runs after it).
public final class CompetingProcess {
    private let process = Process()

    public init() throws {
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let owner = ProcessInfo.processInfo.processIdentifier
        process.arguments = ["-c", "while kill -0 \(owner) 2>/dev/null; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; done"]
        try process.run()
        usleep(200_000)
    }

    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }
}
