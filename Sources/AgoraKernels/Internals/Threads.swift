#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The thread pool's synchronisation primitives, over pthreads (the threads themselves start through
// `Platform.startThread` in AgoraCore).

/// A mutex with a condition variable (pthread), heap-allocated so that its address never moves.
/// Used to park idle pool workers.
final class ParkingLot: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    /// Waits for a broadcast; call with the lock held (it is held again on return).
    func wait() { pthread_cond_wait(condition, mutex) }
    func broadcast() { pthread_cond_broadcast(condition) }
}

/// A value behind a pthread mutex. Not the standard library's `Mutex`: on Linux that one locks
/// with raw futex calls, which ThreadSanitizer does not see, so every access under it was reported
/// as a race (`make sanitize`); pthread locks are intercepted and understood.
final class Locked<Value>: @unchecked Sendable {
    private let lot = ParkingLot()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lot.lock()
        defer { lot.unlock() }
        return try body(&value)
    }
}
