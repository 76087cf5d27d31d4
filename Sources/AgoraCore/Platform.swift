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
}
