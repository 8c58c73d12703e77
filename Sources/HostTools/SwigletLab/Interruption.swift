/// Ctrl-C and SIGTERM: the request is remembered, running children are stopped, and the runner unwinds cleaning up after itself.

import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Thrown by `Interruption.check()` once Ctrl-C or SIGTERM came: the runner unwinds through its
/// cleanups (QEMU stopped, namespace deleted), keeps raw.csv as it is (the run under way is
/// not recorded, so a resume measures it again) and writes the summary of what is there.
struct Interrupted: Error {}

/// The signal handling of the whole process.
enum Interruption {
    private static let requested = Atomic<Bool>(false)
    private static let children = Mutex<Set<Int32>>([])
    /// Dispatch sources must stay alive as long as the handlers should work. Only `install`
    /// (on the main thread, once) touches them.
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// From now on SIGINT and SIGTERM set the flag and stop every registered child (QEMU, the
    /// load generator) at once, so the main thread's wait returns promptly.
    static func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if !requested.exchange(true, ordering: .relaxed) {
                    FileHandle.standardError.write(Data("\nswiglet-lab: interrupted: stopping the guest and cleaning up (results so far are kept)\n".utf8))
                }
                for pid in children.withLock({ $0 }) { kill(pid, SIGTERM) }
            }
            source.resume()
            sources.append(source)
        }
    }

    static var wasRequested: Bool { requested.load(ordering: .relaxed) }

    /// Throws `Interrupted` once a signal came.
    static func check() throws(Interrupted) {
        if wasRequested { throw Interrupted() }
    }

    /// Sleeps `seconds`, waking early (and throwing) on an interruption.
    static func sleep(_ seconds: Double) throws(Interrupted) {
        let end = monotonicSeconds() + seconds
        while monotonicSeconds() < end {
            try check()
            usleep(UInt32(min(0.1, max(0, end - monotonicSeconds())) * 1e6))
        }
        try check()
    }

    static func register(_ pid: Int32) {
        children.withLock { _ = $0.insert(pid) }
        // A child started just as the signal came would miss the handler's loop.
        if wasRequested { kill(pid, SIGTERM) }
    }

    static func unregister(_ pid: Int32) {
        children.withLock { _ = $0.remove(pid) }
    }
}
