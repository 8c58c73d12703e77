/// The ICR shadow writes an IPI's destination only when it differs from the last one written.

import APIC
import XCTest

final class InterruptCommandShadowTests: XCTestCase {
    /// Zeroed memory (a new CPU block) knows nothing: the first IPI writes its destination even
    /// when it is 0, the register's reset value, because firmware may have left another there.
    func testTheFirstIPIWritesItsDestination() {
        var shadow = InterruptCommandShadow()
        XCTAssertTrue(shadow.needsHighWrite(0))
    }

    /// A network core waking the same program CPU writes the destination once.
    func testTheSameDestinationIsWrittenOnce() {
        var shadow = InterruptCommandShadow()
        XCTAssertTrue(shadow.needsHighWrite(3 << 24))
        for _ in 0..<5 { XCTAssertFalse(shadow.needsHighWrite(3 << 24)) }
    }

    /// Waking CPUs in turn writes each change, and returning to an earlier one writes it again.
    func testADifferentDestinationIsWrittenAndRemembered() {
        var shadow = InterruptCommandShadow()
        let writes = [1, 1, 2, 2, 1, 3, 3].map { shadow.needsHighWrite(UInt32($0) << 24) }
        XCTAssertEqual(writes, [true, false, true, false, true, true, false])
    }
}
