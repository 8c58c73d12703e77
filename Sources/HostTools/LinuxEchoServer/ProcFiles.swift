// GET /proc/stat and GET /proc/interrupts: the guest's CPU accounting over HTTP, so that an
// experiment can measure Linux's intrusion (time in system, irq and softirq; interrupts per CPU)
// the way it reads Swiglet's /metrics. Each request reads the file afresh; the text is what the
// kernel wrote, served as text/plain. ExperimentKit's LinuxCPUStat turns two /proc/stat
// snapshots into per-CPU shares.

#if canImport(Glibc)
import Glibc
#endif
import HTTP
import RawBytes

/// The /proc files served, by URL path (the same as the file's).
enum ProcFile {
    case stat, interrupts

    /// The file at `path`, if it is one served.
    init?(path: ByteReader) {
        if path.equals("/proc/stat") { self = .stat }
        else if path.equals("/proc/interrupts") { self = .interrupts }
        else { return nil }
    }

    var filePath: String {
        switch self {
        case .stat: "/proc/stat"
        case .interrupts: "/proc/interrupts"
        }
    }
}

/// A connection's buffer for a /proc file's text: made on the first such request, grown as
/// needed, and freed with the connection. The session copies the body into the connection's
/// output before the next request is parsed, so one buffer per connection is enough.
final class ProcBuffer {
    private(set) var bytes: UnsafeMutableRawPointer
    private(set) var capacity: Int

    init() {
        capacity = 16384
        bytes = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { bytes.deallocate() }

    /// Reads the whole file (proc files have no size: read until end of file); nil on an error.
    func read(_ path: String) -> UnsafeRawBufferPointer? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var count = 0
        while true {
            if count == capacity {
                let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 16)
                grown.copyMemory(from: bytes, byteCount: count)
                bytes.deallocate()
                bytes = grown
                capacity *= 2
            }
            let got = Glibc.read(descriptor, bytes + count, capacity - count)
            if got < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if got == 0 { return UnsafeRawBufferPointer(start: bytes, count: count) }
            count += got
        }
    }
}
