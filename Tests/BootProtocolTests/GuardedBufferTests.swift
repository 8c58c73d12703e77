/// Tests of the test fixture every parser test relies on: a GuardedBuffer's last byte touches its guard page.
import Glibc
import TestSupport
import XCTest

final class GuardedBufferTests: XCTestCase {
    /// For every length from 1 to 40 the byte after the last lies on the next page, and that
    /// page is the inaccessible guard: the buffer's end is exactly the page boundary.
    func testTheEndOfEveryLengthIsThePageBoundary() {
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        for length in 1...40 {
            let buffer = GuardedBuffer([UInt8](repeating: 0xA5, count: length))
            let end = UInt(bitPattern: buffer.start) + UInt(length)
            XCTAssertEqual(end % page, 0, "length \(length): \(page - end % page) unguarded bytes after the end")
        }
    }

    /// A read of the byte just past the end kills the reader with SIGSEGV (in a forked child,
    /// so the test process lives): an overread cannot pass silently.
    func testAReadOneBytePastTheEndFaults() {
        let buffer = GuardedBuffer([1, 2, 3, 4, 5])
        let child = fork()
        if child == 0 {
            let value = buffer.start.load(fromByteOffset: 5, as: UInt8.self)
            _exit(value == 0 ? 0 : 1)
        }
        XCTAssertGreaterThan(child, 0, "fork failed")
        var status: Int32 = 0
        waitpid(child, &status, 0)
        // WIFSIGNALED and WTERMSIG, spelled out (the macros are not imported into Swift).
        XCTAssertEqual(status & 0x7F, SIGSEGV, "the read past the end did not fault (wait status \(status))")
    }
}
