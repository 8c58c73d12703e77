// ByteReader (the RawBytes module), tested here because RawBytes has no test target of its own.

import RawBytes
import TestSupport
import XCTest

final class ByteReaderTests: XCTestCase {
    let sample: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A]

    func testLittleEndianReads() {
        let buffer = GuardedBuffer(sample)
        defer { withExtendedLifetime(buffer) {} }
        let reader = buffer.reader
        XCTAssertEqual(reader.count, 10)
        XCTAssertEqual(reader.u8(at: 0), 0x01)
        XCTAssertEqual(reader.u16(at: 1), 0x0302)
        XCTAssertEqual(reader.u32(at: 2), 0x0605_0403)
        XCTAssertEqual(reader.u64(at: 1), 0x0908_0706_0504_0302)
        XCTAssertEqual(reader.u64(at: 2), 0x0A09_0807_0605_0403)
    }

    func testReadsAtTheEdgeAndPastIt() {
        let buffer = GuardedBuffer(sample)
        defer { withExtendedLifetime(buffer) {} }
        let reader = buffer.reader
        XCTAssertEqual(reader.u8(at: 9), 0x0A)
        XCTAssertNil(reader.u8(at: 10))
        XCTAssertEqual(reader.u16(at: 8), 0x0A09)
        XCTAssertNil(reader.u16(at: 9))
        XCTAssertNotNil(reader.u32(at: 6))
        XCTAssertNil(reader.u32(at: 7))
        XCTAssertNil(reader.u64(at: 3))
        for offset in [-1, Int.min, Int.max, Int.max - 1] {
            XCTAssertNil(reader.u8(at: offset))
            XCTAssertNil(reader.u16(at: offset))
            XCTAssertNil(reader.u32(at: offset))
            XCTAssertNil(reader.u64(at: offset))
        }
    }

    func testSlicesAreBoundsCheckedAndOverflowSafe() {
        let buffer = GuardedBuffer(sample)
        defer { withExtendedLifetime(buffer) {} }
        let reader = buffer.reader
        let middle = reader.slice(at: 2, count: 4)
        XCTAssertEqual(middle.map(bytesOf), [3, 4, 5, 6])
        XCTAssertNil(middle?.u8(at: 4))
        XCTAssertEqual(reader.slice(at: 10, count: 0)?.count, 0)
        XCTAssertNil(reader.slice(at: 10, count: 1))
        XCTAssertNil(reader.slice(at: 5, count: 6))
        XCTAssertNil(reader.slice(at: -1, count: 2))
        XCTAssertNil(reader.slice(at: 2, count: -1))
        XCTAssertNil(reader.slice(at: Int.max, count: Int.max))
        XCTAssertNil(reader.slice(at: 1, count: Int.max))
        XCTAssertEqual(reader.suffix(from: 7).map(bytesOf), [8, 9, 10])
        XCTAssertNil(reader.suffix(from: 11))
    }

    func testByteSum() {
        let first = GuardedBuffer(sample), second = GuardedBuffer([0xFF, 0x02])
        withExtendedLifetime((first, second)) {
            XCTAssertEqual(first.reader.byteSum(), 55)
            XCTAssertEqual(second.reader.byteSum(), 1)
        }
        XCTAssertEqual(ByteReader().byteSum(), 0)
    }

    func testEmptyReaders() {
        let empty = ByteReader()
        XCTAssertTrue(empty.isEmpty)
        XCTAssertNil(empty.u8(at: 0))
        XCTAssertEqual(empty.slice(at: 0, count: 0)?.count, 0)
        XCTAssertEqual(ByteReader(UnsafeRawBufferPointer(start: nil, count: 0)).count, 0)
        let buffer = GuardedBuffer(sample)
        XCTAssertEqual(ByteReader(start: buffer.start, count: -5).count, 0)
        withExtendedLifetime(buffer) {}
    }

    func testStringHelpers() {
        let buffer = GuardedBuffer(ascii("RSD PTR ") + [0, 0x41])
        defer { withExtendedLifetime(buffer) {} }
        let reader = buffer.reader
        XCTAssertTrue(reader.matches("RSD PTR "))
        XCTAssertTrue(reader.matches("PTR", at: 4))
        XCTAssertFalse(reader.matches("RSD PTX"))
        XCTAssertFalse(reader.matches("A?", at: 9))
        XCTAssertFalse(reader.equals("RSD PTR "))
        XCTAssertTrue(reader.slice(at: 0, count: 8)!.equals("RSD PTR "))
        XCTAssertEqual(bytesOf(reader.prefixBeforeFirstZeroByte()), ascii("RSD PTR "))
        XCTAssertEqual(reader.slice(at: 9, count: 1)!.prefixBeforeFirstZeroByte().count, 1)
    }

    func testWrapsAnUnsafeRawBufferPointer() {
        sample.withUnsafeBytes { bytes in
            let reader = ByteReader(bytes)
            XCTAssertEqual(reader.count, 10)
            XCTAssertEqual(reader.baseAddress, bytes.baseAddress)
            XCTAssertEqual(Array(reader), sample)
        }
    }
}
