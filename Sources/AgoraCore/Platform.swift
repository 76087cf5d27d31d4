import CAgoraSupport

// The few operating-system services Agora needs (threads, a monotonic clock, the environment, the
// CPU count, bounded file reads), each wrapped once over the C library so that the libraries below
// the experiments have no Foundation dependency: the C ABI library links the Swift runtime
// statically, and Foundation would add its ICU data (~60 MB) to it.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public enum Platform {
    /// Nanoseconds of a monotonic clock (CLOCK_MONOTONIC): for spin limits and timings.
    /// Gives the processor to another runnable thread (a waiter that spins on a descheduled
    /// worker would otherwise keep that worker off the core it needs).
    public static func yieldProcessor() { _ = sched_yield() }

    public static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The value of an environment variable, if set.
    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The processors this process may run on: the CPU affinity mask (what `taskset`, cgroups'
    /// cpusets and MPI launchers' bindings restrict) where the system has one, else the online CPUs.
    public static func availableProcessors() -> Int {
        let affinity = Int(agora_affinity_cpu_count())
        if affinity > 0 { return affinity }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Starts a thread running `body` with the given stack size and name (the name shows in `top`
    /// and debuggers). The thread is detached: pools keep their workers for the process's life.
    public static func startThread(name: String, stackSize: Int, _ body: @escaping () -> Void) {
        final class Box {
            let body: () -> Void
            let name: String
            init(_ b: @escaping () -> Void, _ n: String) {
                body = b
                name = n
            }
        }
        let context = Unmanaged.passRetained(Box(body, name)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        #if canImport(Darwin)
        var thread: pthread_t? = nil
        #else
        var thread = pthread_t()
        #endif
        let status = pthread_create(
            &thread, &attributes,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                agora_name_this_thread(box.name)
                box.body()
                return nil
            }, context)
        precondition(status == 0, "cannot start a worker thread (pthread_create returned \(status))")
    }
}

/// Whole-file reads through the C library (for the readers of layers that stay Foundation-free).
public enum SystemFile {
    /// The bytes of the regular file at `path`, read with a bound: anything that is not a regular
    /// file (a device such as /dev/zero, a FIFO, a folder) is refused before reading, and so is a
    /// file larger than `maxBytes` or than the memory budget (`ResourceLimits`), with its size and
    /// the limit in the message. `what` names the file in errors ("the edge-list file").
    public static func read(path: String, maxBytes: Int, what: String) throws -> [UInt8] {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw AgoraError.data(file: path, "cannot read \(what): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw AgoraError.data(file: path, "\(what) must be a regular file (this is a device, a pipe or a folder)")
        }
        let size = Int(st.st_size)
        guard size <= maxBytes else {
            throw AgoraError(
                .resources,
                "\(path): \(what) is \(ResourceLimits.formatBytes(Double(size))), more than the \(ResourceLimits.formatBytes(Double(maxBytes))) accepted"
            )
        }
        try ResourceLimits.check(bytes: Double(size), for: "reading \(path)")
        guard let f = fopen(path, "rb") else {
            throw AgoraError.data(file: path, "cannot open \(what): \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        // Read at most one byte past the size seen, so a file that grows while it is read is caught.
        var out = [UInt8](repeating: 0, count: size + 1)
        let n = out.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        guard ferror(f) == 0 else { throw AgoraError.io("\(path): reading \(what) failed", file: path) }
        guard n <= size else { throw AgoraError.data(file: path, "\(what) grew while it was read") }
        out.removeLast(out.count - n)
        return out
    }

    /// Writes `text` (UTF-8) to `path` atomically; see `writeAtomically(_:to:)` for bytes.
    public static func writeAtomically(_ text: String, to path: String) throws {
        try writeAtomically(Array(text.utf8), to: path)
    }

    /// Writes `bytes` to `path` atomically: a reader sees the old file or the whole new one, never
    /// a part, and a failed write (a full disk) leaves the old file as it was.
    ///
    /// Why this and not Foundation's `.atomic` option: that writes a named temporary file beside
    /// the target, which a process killed mid-write (SIGKILL, the OOM killer, a Slurm time limit)
    /// leaves behind in the user's output folder. On Linux the bytes go to an unnamed file in the
    /// target's folder (`O_TMPFILE`), which gets a name only once it is complete (linked through
    /// `/proc/self/fd`, then renamed over the target), so a kill leaves nothing. Where the file
    /// system lacks `O_TMPFILE` (or `/proc` is not mounted), a named temporary `.NAME.agora-tmp-PID`
    /// is written and renamed, and removed on any error.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = dir + "/." + name + ".agora-tmp-\(getpid())"
        func failure(_ what: String, _ code: Int32 = errno) -> AgoraError {
            AgoraError.io("\(path): \(what): \(String(cString: strerror(code)))", file: path)
        }
        /// Writes every byte to `fd` (retrying short writes and interruptions); false on an error.
        func writeAll(_ fd: Int32) -> Bool {
            var offset = 0
            return bytes.withUnsafeBytes { raw in
                while offset < raw.count {
                    let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    offset += n
                }
                return true
            }
        }
        /// The named temporary file gone and the error thrown (with the errno `code`).
        func abandon(_ what: String, _ code: Int32) -> AgoraError {
            unlink(temporary)
            return failure(what, code)
        }
        /// The complete temporary file renamed over the target.
        func moveIntoPlace() throws {
            guard rename(temporary, path) == 0 else { throw abandon("cannot move the new file into place", errno) }
        }
        #if os(Linux)
        // O_TMPFILE is __O_TMPFILE | O_DIRECTORY; __O_TMPFILE is 0o20000000 on x86-64 and arm64
        // (Swift's Glibc does not import the composite macro).
        let unnamed = open(dir, Int32(0o20000000) | O_DIRECTORY | O_WRONLY | O_CLOEXEC, 0o644)
        if unnamed >= 0 {
            if !writeAll(unnamed) {
                let code = errno
                close(unnamed)
                throw failure("writing failed", code)
            }
            unlink(temporary)  // a leftover of a killed process that had this pid
            let linked = linkat(AT_FDCWD, "/proc/self/fd/\(unnamed)", AT_FDCWD, temporary, AT_SYMLINK_FOLLOW) == 0
            let closed = close(unnamed) == 0
            if linked {
                guard closed else { throw abandon("writing failed", errno) }
                try moveIntoPlace()
                return
            }
            // No /proc: fall back to a named temporary file below.
        }
        #endif
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create a file in \(dir)") }
        let written = writeAll(fd)
        let code = errno
        guard close(fd) == 0, written else { throw abandon("writing failed", written ? errno : code) }
        try moveIntoPlace()
    }
}
