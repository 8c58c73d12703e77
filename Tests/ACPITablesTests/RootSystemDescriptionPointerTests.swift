// RSDP validation: signature, both checksums, lying lengths, truncation.

import ACPITables
import RawBytes
import TestSupport
import XCTest

final class RootSystemDescriptionPointerTests: XCTestCase {
    func parse(_ bytes: [UInt8]) -> Result<RootSystemDescriptionPointer, ACPIError> {
        let buffer = GuardedBuffer(bytes)
        return withExtendedLifetime(buffer) { () -> Result<RootSystemDescriptionPointer, ACPIError> in
            do throws(ACPIError) {
                return .success(try RootSystemDescriptionPointer(buffer.reader))
            } catch {
                return .failure(error)
            }
        }
    }

    func assertFails(_ bytes: [UInt8], _ expected: ACPIError, file: StaticString = #filePath, line: UInt = #line) {
        switch parse(bytes) {
        case .success: XCTFail("accepted a bad RSDP", file: file, line: line)
        case .failure(let error): XCTAssertEqual(error, expected, file: file, line: line)
        }
    }

    func testRevision0() throws {
        let pointer = try parse(makeRootPointer(revision: 0, rsdt: 0x7FE_14D5)).get()
        XCTAssertEqual(pointer.revision, 0)
        XCTAssertEqual(pointer.rsdtAddress, 0x7FE_14D5)
        XCTAssertNil(pointer.xsdtAddress)
        XCTAssertTrue(pointer.oemID.matches("BOCHS"))
        XCTAssertEqual(pointer.oemID.description, "BOCHS")
    }

    func testRevision2() throws {
        let pointer = try parse(makeRootPointer(revision: 2, rsdt: 0x7FE_14D5, xsdt: 0x1_2345_6780)).get()
        XCTAssertEqual(pointer.revision, 2)
        XCTAssertEqual(pointer.xsdtAddress, 0x1_2345_6780)
        XCTAssertNil(try parse(makeRootPointer(revision: 2, rsdt: 1, xsdt: 0)).get().xsdtAddress)
    }

    func testRevision0IgnoresBytesAfterTheFirst20() throws {
        var bytes = makeRootPointer(revision: 0, rsdt: 0x1000)
        bytes += [0xAB, 0xCD]
        XCTAssertEqual(try parse(bytes).get().rsdtAddress, 0x1000)
    }

    func testBadSignature() {
        var bytes = makeRootPointer(revision: 0, rsdt: 0x1000)
        bytes[3] = UInt8(ascii: "X")
        fixChecksum(&bytes, at: 8)
        assertFails(bytes, .badRootPointerSignature)
    }

    func testBadChecksum() {
        var bytes = makeRootPointer(revision: 0, rsdt: 0x1000)
        bytes[16] ^= 0x01
        assertFails(bytes, .badRootPointerChecksum)
    }

    func testBadExtendedChecksum() {
        var bytes = makeRootPointer(revision: 2, rsdt: 0x1000, xsdt: 0x2000)
        bytes[24] ^= 0x10  // XsdtAddress is covered only by the extended checksum
        assertFails(bytes, .badExtendedChecksum)
    }

    func testTruncated() {
        assertFails(Array(makeRootPointer(revision: 0, rsdt: 0x1000).prefix(19)), .truncatedRootPointer)
        assertFails([], .truncatedRootPointer)
        assertFails(Array(makeRootPointer(revision: 2, rsdt: 0x1000, xsdt: 0x2000).prefix(20)), .truncatedRootPointer)
    }

    func testLyingLength() {
        var bytes = makeRootPointer(revision: 2, rsdt: 0x1000, xsdt: 0x2000)
        bytes.storeLittleEndian(UInt32(0x1000), at: 20)  // Length is outside the first checksum
        assertFails(bytes, .badRootPointerLength(0x1000))
        bytes.storeLittleEndian(UInt32(20), at: 20)
        assertFails(bytes, .badRootPointerLength(20))
    }
}
