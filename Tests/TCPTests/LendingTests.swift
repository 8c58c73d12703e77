// Lent send bytes (SendStore): read in place until acknowledged, handed back in order, never read after — checked over a lossy, reordering simulated link.

import RawBytes
import TCP
import TestSupport
import XCTest

final class SendStoreTests: XCTestCase {
    private func bytes(_ store: SendStore, offset: Int = 0, length: Int? = nil) -> [UInt8] {
        TCPStoredPayload(store: store, offset: offset, count: length ?? store.count - offset).bytes
    }

    func testOwnedAndLentBytesKeepStreamOrder() {
        let store = SendStore(pool: BufferPool(byteCount: 1 << 16), capacity: 4096, maximumCapacity: 4096)
        let lent: [UInt8] = Array(10..<20)
        lent.withUnsafeBytes { raw in
            XCTAssertEqual(store.append(ByteReader()), 0)
            XCTAssertEqual([UInt8]([1, 2, 3]).withUnsafeBytes { store.append(ByteReader($0)) }, 3)
            XCTAssertEqual(store.lend(ByteReader(start: raw.baseAddress!, count: 5)), 5)
            // Continues the previous lent run: merged into one extent.
            XCTAssertEqual(store.lend(ByteReader(start: raw.baseAddress! + 5, count: 5)), 5)
            XCTAssertEqual([UInt8]([30, 31]).withUnsafeBytes { store.append(ByteReader($0)) }, 2)
            XCTAssertEqual(store.count, 15)
            XCTAssertEqual(store.lentCount, 10)
            XCTAssertEqual(bytes(store), [1, 2, 3] + lent + [30, 31])
            XCTAssertEqual(bytes(store, offset: 2, length: 5), [3, 10, 11, 12, 13])
            XCTAssertEqual(bytes(store, offset: 12, length: 3), [19, 30, 31])
            // Acknowledging the owned head and part of the lent run hands those lent bytes back.
            store.discard(7)
            XCTAssertEqual(store.takeReturned(), 4)
            XCTAssertEqual(store.takeReturned(), 0, "reported once")
            XCTAssertEqual(bytes(store), Array(14..<20) + [30, 31])
            store.discard(6)
            XCTAssertEqual(store.takeReturned(), 6)
            XCTAssertEqual(store.lentCount, 0)
            XCTAssertEqual(bytes(store), [30, 31])
            store.discard(2)
            store.releaseStorage()
            XCTAssertEqual(store.storageBytes, 0, "an empty store holds no pool memory")
        }
    }

    func testCopiedBytesNeverCountAsReturned() {
        let store = SendStore(pool: BufferPool(byteCount: 1 << 16), capacity: 4096, maximumCapacity: 4096)
        XCTAssertEqual([UInt8](repeating: 7, count: 100).withUnsafeBytes { store.append(ByteReader($0)) }, 100)
        store.discard(100)
        XCTAssertEqual(store.takeReturned(), 0, "only lent bytes are handed back")
    }

    func testCapacityBoundsLentAndOwnedTogether() {
        let store = SendStore(pool: BufferPool(byteCount: 1 << 16), capacity: 100, maximumCapacity: 200)
        let memory = [UInt8](repeating: 1, count: 300)
        memory.withUnsafeBytes { raw in
            XCTAssertEqual(store.lend(ByteReader(start: raw.baseAddress!, count: 80)), 80)
            XCTAssertEqual(store.append(ByteReader(start: raw.baseAddress!, count: 80)), 20)
            XCTAssertEqual(store.lend(ByteReader(start: raw.baseAddress!, count: 1)), 0, "full")
            store.raiseCapacity(to: 150)
            XCTAssertEqual(store.lend(ByteReader(start: raw.baseAddress! + 100, count: 100)), 50)
        }
    }

    func testRecallCopiesLentBytesInPlaceAndHandsThemBack() {
        let store = SendStore(pool: BufferPool(byteCount: 1 << 16), capacity: 4096, maximumCapacity: 4096)
        var lent = [UInt8](Array(50..<60))
        lent.withUnsafeMutableBytes { raw in
            XCTAssertEqual([UInt8]([1, 2]).withUnsafeBytes { store.append(ByteReader($0)) }, 2)
            XCTAssertEqual(store.lend(ByteReader(start: raw.baseAddress!, count: 10)), 10)
            XCTAssertEqual([UInt8]([3]).withUnsafeBytes { store.append(ByteReader($0)) }, 1)
            store.discard(4)   // [1, 2, 50, 51] acknowledged
            XCTAssertEqual(store.takeReturned(), 2)
            XCTAssertTrue(store.recall())
            XCTAssertEqual(store.takeReturned(), 8)
            XCTAssertEqual(store.lentCount, 0)
            // The program's memory is its own again: changing it changes nothing sent.
            for index in 0..<raw.count { raw[index] = 0xEE }
            XCTAssertEqual(bytes(store), Array(52..<60) + [3])
        }
    }

    func testRecallRefusedWhenThePoolIsShortChangesNothing() {
        let pool = BufferPool(byteCount: 4096, smallestBlock: 2048, largestBlock: 4096)
        let store = SendStore(pool: pool, capacity: 4096, maximumCapacity: 4096)
        let lent = [UInt8](repeating: 9, count: 3000)
        lent.withUnsafeBytes { raw in
            XCTAssertEqual(store.lend(ByteReader(start: raw.baseAddress!, count: 3000)), 3000)   // one 2 KiB extent block
            XCTAssertFalse(store.recall(), "3,000 bytes need a 4 KiB block; only 2 KiB are free")
            XCTAssertEqual(store.lentCount, 3000)
            XCTAssertEqual(bytes(store), lent)
            XCTAssertEqual(store.takeReturned(), 0)
        }
    }

    func testClearForgetsLentBytesWithoutCountingThem() {
        let store = SendStore(pool: BufferPool(byteCount: 1 << 16), capacity: 4096, maximumCapacity: 4096)
        let lent = [UInt8](repeating: 1, count: 64)
        lent.withUnsafeBytes { raw in
            _ = store.lend(ByteReader(start: raw.baseAddress!, count: 64))
            store.discard(16)
            store.clear()
            XCTAssertEqual(store.takeReturned(), 16, "only the acknowledged bytes count as handed back")
            XCTAssertEqual(store.count, 0)
            XCTAssertEqual(store.storageBytes, 0)
        }
    }

    func testExhaustedPoolRefusesALendAndLosesNothing() {
        let pool = BufferPool(byteCount: 2048, smallestBlock: 2048, largestBlock: 2048)
        let hog = pool.allocate(byteCount: 2048)
        XCTAssertNotNil(hog)
        let store = SendStore(pool: pool, capacity: 4096, maximumCapacity: 4096)
        let lent = [UInt8](repeating: 1, count: 64)
        lent.withUnsafeBytes { raw in
            XCTAssertEqual(store.lend(ByteReader(start: raw.baseAddress!, count: 64)), 0, "no block for the extent list")
            XCTAssertEqual(store.count, 0)
            pool.free(hog!)
            XCTAssertEqual(store.lend(ByteReader(start: raw.baseAddress!, count: 64)), 64)
        }
    }

    /// Many lent runs that do not merge: the extent list grows past one block, and wraps.
    func testManyExtentsGrowAndWrap() {
        let store = SendStore(pool: BufferPool(byteCount: 1 << 20), capacity: 1 << 16, maximumCapacity: 1 << 16)
        let memory = (0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        memory.withUnsafeBytes { raw in
            var expected: [UInt8] = []
            var returned = 0
            for round in 0..<600 {
                // Every other byte: runs of one that never continue each other.
                let offset = (round * 2) % 8000
                XCTAssertEqual(store.lend(ByteReader(start: raw.baseAddress! + offset, count: 1)), 1)
                expected.append(memory[offset])
                if round % 3 == 2 {
                    store.discard(2)
                    expected.removeFirst(2)
                    returned += store.takeReturned()
                }
            }
            XCTAssertEqual(bytes(store), expected)
            XCTAssertEqual(returned, 600 - expected.count)
        }
    }
}

final class LendingOverTheLinkTests: XCTestCase {
    /// Both sides lend their whole stream from memory they own; bytes handed back are
    /// overwritten at once, so a connection that read lent memory after handing it back would
    /// send poison, and the receiving side's byte check fails.
    private func lendingTransfer(seed: UInt64, impairment: LinkImpairments, total: Int) {
        var link = SimulatedLink(seed: seed, impairments: [impairment, impairment], configuration: TCPConnectionConfiguration())
        let regions = (0..<2).map { side -> UnsafeMutableRawBufferPointer in
            let region = UnsafeMutableRawBufferPointer.allocate(byteCount: total, alignment: 8)
            for index in 0..<total { region[index] = streamByte(index, side: side) }
            return region
        }
        defer { regions.forEach { $0.deallocate() } }
        link.lendFrom = regions
        XCTAssertTrue(link.transfer(total: total), "seed \(seed)")
        for side in 0..<2 {
            XCTAssertEqual(link.returned[side] + link.sides[side].takeReturnedBytes(), total,
                           "side \(side): every lent byte handed back once the peer acknowledged it")
            XCTAssertEqual(link.sides[side].lentBytes, 0)
        }
    }

    func testLentStreamsArriveIntactOverACleanLink() {
        lendingTransfer(seed: 3, impairment: .clean, total: 1 << 20)
    }

    func testLentStreamsSurviveLossReorderingAndDuplication() {
        var impairment = LinkImpairments()
        impairment.loss = 0.05
        impairment.duplication = 0.02
        impairment.reordering = 0.10
        for seed: UInt64 in [21, 22, 23] {
            lendingTransfer(seed: seed, impairment: impairment, total: 400_000)
        }
    }
}
