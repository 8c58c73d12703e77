// Connection table tests: demultiplexing, listener groups, RSTs for closed ports, SYN floods with cookies, full table, TIME-WAIT reclaim, release/abort, events and counters.

import RawBytes
import InternetAddress
@testable import TCP
import TestSupport
import XCTest

// MARK: - Helpers (the table's own; the conversation helpers are another test file's)

/// A segment from `source` to `destination` as bytes on the wire.
func wireSegment(from source: TCPEndpoint, to destination: TCPEndpoint, flags: TCPFlags, sequence: UInt32, acknowledgment: UInt32 = 0,
                 window: UInt16 = 65535, options: TCPOptions = TCPOptions(), payload: [UInt8] = []) -> SentSegment {
    var recorder = RecordingTransmitter()
    let header = TCPHeader(sourcePort: source.port, destinationPort: destination.port, sequenceNumber: SequenceNumber(sequence),
                           acknowledgmentNumber: SequenceNumber(acknowledgment), flags: flags, window: window)
    payload.withUnsafeBytes { raw in
        recorder.transmit(TCPOutgoingSegment(source: source, destination: destination, header: header, options: options,
                                             payload: ByteReader(raw), payloadContinuation: ByteReader()))
    }
    return recorder.sent[0]
}

/// A peer: a `TCPConnection` on another host, with its own wire.
struct TablePeer {
    var connection: TCPConnection
    var wire = RecordingTransmitter()

    mutating func receive(_ segment: TCPSegment, now: UInt64) { connection.receive(segment: segment, now: now, output: &wire) }
    mutating func send(_ bytes: ByteReader, now: UInt64) -> Int { connection.send(bytes, now: now, output: &wire) }
    mutating func read(into buffer: UnsafeMutableRawBufferPointer, now: UInt64) -> Int { connection.read(into: buffer, now: now, output: &wire) }
    mutating func close(now: UInt64) { connection.close(now: now, output: &wire) }
    mutating func poll(now: UInt64) { connection.poll(now: now, output: &wire) }
}

let tableAddress = IPv4Address(10, 0, 2, 15)
let smallBuffers = TCPConnectionConfiguration(sendBufferCapacity: 4096, receiveBufferCapacity: 4096)
let largeReceiveBuffer = TCPConnectionConfiguration(sendBufferCapacity: 4096, receiveBufferCapacity: 262_144)

/// A table under test, peers that talk to it, and the clock.
struct TableHarness {
    var table: TCPConnectionTable
    var wire = RecordingTransmitter()
    var peers: [TablePeer] = []
    /// Segments the table sent to no peer.
    var stray: [SentSegment] = []
    var now: UInt64 = 1000 * oneSecond

    init(capacity: Int = 64, halfOpenLimit: Int = 64, synCookies: Bool = true,
         configuration: TCPConnectionConfiguration = smallBuffers) {
        table = TCPConnectionTable(capacity: capacity, localAddress: tableAddress, secretKey: testKey, configuration: configuration,
                                   halfOpenLimitPerListener: halfOpenLimit, synCookiesEnabled: synCookies)
    }

    @discardableResult
    mutating func deliver(_ segment: SentSegment) -> TCPReceiveOutcome {
        segment.bytes.withUnsafeBytes { raw in
            table.receive(segment: ByteReader(raw), source: segment.source.address, destination: segment.destination.address,
                          now: now, output: &wire)
        }
    }

    /// A segment from `remote` to our `port`.
    @discardableResult
    mutating func inject(from remote: TCPEndpoint, port: UInt16 = 80, flags: TCPFlags, sequence: UInt32, acknowledgment: UInt32 = 0,
                         window: UInt16 = 65535, options: TCPOptions = TCPOptions(), payload: [UInt8] = []) -> TCPReceiveOutcome {
        deliver(wireSegment(from: remote, to: TCPEndpoint(address: tableAddress, port: port), flags: flags, sequence: sequence,
                            acknowledgment: acknowledgment, window: window, options: options, payload: payload))
    }

    /// A peer at `endpoint` that opens a connection to our `port` (SYN on its wire, not yet delivered).
    @discardableResult
    mutating func addPeer(_ endpoint: TCPEndpoint, port: UInt16 = 80) -> Int {
        var peer = TablePeer(connection: TCPConnection(local: endpoint, remote: TCPEndpoint(address: tableAddress, port: port),
                                                       initialSequenceNumbers: InitialSequenceNumberGenerator(secretKey: SipHashKey(low: 9, high: 9)),
                                                       configuration: smallBuffers))
        peer.connection.open(now: now, output: &peer.wire)
        peers.append(peer)
        return peers.count - 1
    }

    /// A peer in LISTEN at `endpoint` (for our active opens).
    mutating func addListeningPeer(_ endpoint: TCPEndpoint, remote: TCPEndpoint) -> Int {
        var peer = TablePeer(connection: TCPConnection(local: endpoint, remote: remote,
                                                       initialSequenceNumbers: InitialSequenceNumberGenerator(secretKey: SipHashKey(low: 8, high: 8)),
                                                       configuration: smallBuffers))
        peer.connection.listen()
        peers.append(peer)
        return peers.count - 1
    }

    /// Moves segments both ways until nothing is left in flight.
    mutating func pump() {
        for _ in 0..<100 {
            var moved = false
            for index in peers.indices {
                for segment in peers[index].wire.take() {
                    deliver(segment)
                    moved = true
                }
            }
            for segment in wire.take() {
                moved = true
                guard let index = peers.firstIndex(where: { $0.connection.local == segment.destination && $0.connection.remote == segment.source }) else {
                    stray.append(segment)
                    continue
                }
                segment.bytes.withUnsafeBytes { raw in
                    let parsed = try! TCPSegment(parsing: ByteReader(raw), source: segment.source.address, destination: segment.destination.address)
                    peers[index].receive(parsed, now: now)
                }
            }
            if !moved { return }
        }
        XCTFail("the conversation does not settle")
    }

    mutating func events() -> [TCPConnectionEvent] {
        var all: [TCPConnectionEvent] = []
        while let event = table.nextEvent() { all.append(event) }
        return all
    }

    mutating func send(_ bytes: [UInt8], on id: TCPConnectionID) -> Int {
        bytes.withUnsafeBytes { raw in table.send(ByteReader(raw), on: id, now: now, output: &wire) }
    }

    mutating func read(_ id: TCPConnectionID) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { table.read(from: id, into: $0, now: now, output: &wire) }
        return Array(buffer.prefix(count))
    }

    mutating func peerSend(_ index: Int, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { raw in peers[index].send(ByteReader(raw), now: now) }
    }

    mutating func peerRead(_ index: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { peers[index].read(into: $0, now: now) }
        return Array(buffer.prefix(count))
    }

    mutating func advance(by nanoseconds: UInt64) {
        now += nanoseconds
        table.poll(now: now, output: &wire)
        for index in peers.indices { peers[index].poll(now: now) }
    }

    /// Connects `count` peers (10.0.3.x:50000+x) to port 80 and returns the accepted IDs in order.
    mutating func connectPeers(_ count: Int, port: UInt16 = 80) -> [TCPConnectionID] {
        var ids: [TCPConnectionID] = []
        for number in 0..<count {
            addPeer(TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0300 + UInt32(number)), port: 50000 + UInt16(number)), port: port)
            pump()
            for event in events() where event.events.contains(.accepted) { ids.append(event.id) }
        }
        return ids
    }
}

/// The error of a failed table call, or nil.
func failure<Success>(of result: Result<Success, TCPTableError>) -> TCPTableError? {
    if case .failure(let error) = result { return error }
    return nil
}

func spoofedEndpoint(_ random: inout SplitMix64) -> TCPEndpoint {
    // Unicast 1.0.0.0-223.255.255.255 (never 0, broadcast or multicast), any port but 0.
    let address = UInt32(truncatingIfNeeded: random.next()) % 0xDF00_0000 + 0x0100_0000
    return TCPEndpoint(address: IPv4Address(rawValue: address), port: UInt16(truncatingIfNeeded: random.next() % 65535) + 1)
}

// MARK: - Tests

final class TCPConnectionTableTests: XCTestCase {
    func testManyConnectionsAreDemultiplexedByFourTuple() {
        var harness = TableHarness()
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let ids = harness.connectPeers(20)
        XCTAssertEqual(ids.count, 20)
        XCTAssertEqual(Set(ids).count, 20)
        for (number, id) in ids.enumerated() {
            XCTAssertEqual(harness.table.state(of: id), .established)
            XCTAssertEqual(harness.table.owner(of: id), 1)
            XCTAssertEqual(harness.table.localPort(of: id), 80)
            XCTAssertEqual(harness.table.remote(of: id), harness.peers[number].connection.local)
        }
        // Each peer sends its own bytes; each lands on its own connection.
        for number in (0..<20).reversed() { harness.peerSend(number, Array(repeating: UInt8(number), count: 100 + number)) }
        harness.pump()
        let readable = Set(harness.events().filter { $0.events.contains(.readable) }.map(\.id))
        XCTAssertEqual(readable, Set(ids))
        for (number, id) in ids.enumerated() {
            XCTAssertEqual(harness.read(id), Array(repeating: UInt8(number), count: 100 + number))
            XCTAssertEqual(harness.send([UInt8(200 + number)], on: id), 1)
        }
        harness.pump()
        for number in 0..<20 { XCTAssertEqual(harness.peerRead(number), [UInt8(200 + number)]) }
        XCTAssertEqual(harness.stray.count, 0)
        XCTAssertEqual(harness.table.connectionCounts().established, 20)
        XCTAssertEqual(harness.table.counters.passiveOpens, 20)
    }

    func testListenerGroupSharesConnectionsRoundRobin() {
        var harness = TableHarness()
        for owner in [1, 2, 3] { XCTAssertNoThrow(try harness.table.listen(port: 80, owner: owner).get()) }
        XCTAssertEqual(failure(of: harness.table.listen(port: 80, owner: 2)), .alreadyListening)
        XCTAssertNoThrow(try harness.table.listen(port: 8080, owner: 2).get())
        let first = harness.connectPeers(6)
        XCTAssertEqual(first.map { harness.table.owner(of: $0) }, [1, 2, 3, 1, 2, 3])
        harness.table.stopListening(port: 80, owner: 2)
        var ids: [TCPConnectionID] = []
        for number in 10..<14 {
            harness.addPeer(TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0400 + UInt32(number)), port: 40000))
            harness.pump()
            ids += harness.events().filter { $0.events.contains(.accepted) }.map(\.id)
        }
        XCTAssertEqual(ids.map { harness.table.owner(of: $0) }, [1, 3, 1, 3])
        // Owner 2 still has its other port.
        harness.addPeer(TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0500), port: 40000), port: 8080)
        harness.pump()
        let other = harness.events().filter { $0.events.contains(.accepted) }.map(\.id)
        XCTAssertEqual(other.map { harness.table.owner(of: $0) }, [2])
    }

    func testHalfOpenConnectionGoesToAnotherMemberWhenItsOwnerLeaves() {
        var harness = TableHarness()
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 2).get())
        let peer = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0202), port: 40000)
        // SYN: chosen owner 1 (least recently given a connection).
        guard case .delivered(let id) = harness.inject(from: peer, flags: [.synchronize], sequence: 100) else { return XCTFail("no connection") }
        let synAck = harness.wire.take()[0]
        XCTAssertEqual(harness.table.state(of: id), nil, "not visible before ESTABLISHED")
        harness.table.stopListening(port: 80, owner: 1)
        harness.inject(from: peer, flags: [.acknowledgment], sequence: 101, acknowledgment: synAck.sequence &+ 1)
        XCTAssertEqual(harness.events(), [TCPConnectionEvent(id: id, events: .accepted)])
        XCTAssertEqual(harness.table.owner(of: id), 2)
        // With nobody listening any more, a completing handshake is reset.
        harness.table.stopListening(port: 80, owner: 2)
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 3).get())
        let late = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0203), port: 40000)
        harness.inject(from: late, flags: [.synchronize], sequence: 500)
        let lateSynAck = harness.wire.take()[0]
        harness.table.stopListening(port: 80, owner: 3)
        harness.inject(from: late, flags: [.acknowledgment], sequence: 501, acknowledgment: lateSynAck.sequence &+ 1)
        XCTAssertEqual(harness.wire.take().map(\.flags), [[.reset]])
        XCTAssertEqual(harness.events(), [])
        XCTAssertEqual(harness.table.allocatedCount, 1)
    }

    func testSegmentsForClosedPortsGetResetsButResetsNever() {
        var harness = TableHarness()
        let peer = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0202), port: 40000)
        // SYN (no ACK): <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SEG.LEN counting the SYN and data.
        XCTAssertEqual(harness.inject(from: peer, port: 81, flags: [.synchronize], sequence: 1000, payload: [1, 2, 3]),
                       .dropped(.noListener))
        var sent = harness.wire.take()
        XCTAssertEqual(sent.count, 1)
        XCTAssertEqual(sent[0].flags, [.reset, .acknowledgment])
        XCTAssertEqual(sent[0].sequence, 0)
        XCTAssertEqual(sent[0].acknowledgment, 1004)
        XCTAssertEqual(sent[0].destination, peer)
        XCTAssertEqual(sent[0].source, TCPEndpoint(address: tableAddress, port: 81))
        // With ACK: <SEQ=SEG.ACK><CTL=RST>.
        harness.inject(from: peer, port: 81, flags: [.acknowledgment], sequence: 5, acknowledgment: 777)
        sent = harness.wire.take()
        XCTAssertEqual(sent.map(\.flags), [[.reset]])
        XCTAssertEqual(sent.first?.sequence, 777)
        // A RST is never answered.
        XCTAssertEqual(harness.inject(from: peer, port: 81, flags: [.reset], sequence: 5), .dropped(.resetWithoutConnection))
        XCTAssertEqual(harness.inject(from: peer, port: 81, flags: [.reset, .acknowledgment], sequence: 5, acknowledgment: 9),
                       .dropped(.resetWithoutConnection))
        XCTAssertEqual(harness.wire.take().count, 0)
        // A listener's port: RST ignored, a stray ACK reset, a FIN alone ignored.
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        XCTAssertEqual(harness.inject(from: peer, flags: [.reset], sequence: 5), .dropped(.resetWithoutConnection))
        XCTAssertEqual(harness.inject(from: peer, flags: [.acknowledgment], sequence: 5, acknowledgment: 66), .dropped(.notSynchronize))
        XCTAssertEqual(harness.wire.take().map(\.sequence), [66])
        XCTAssertEqual(harness.inject(from: peer, flags: [.finish], sequence: 5), .dropped(.notSynchronize))
        XCTAssertEqual(harness.wire.take().count, 0)
        let counters = harness.table.counters
        XCTAssertEqual(counters.drops.noListener, 2)
        XCTAssertEqual(counters.drops.resetWithoutConnection, 3)
        XCTAssertEqual(counters.resetsSent, 3)
        XCTAssertEqual(counters.resetsReceived, 3)
        XCTAssertEqual(counters.segmentsSent, 3)
        XCTAssertEqual(counters.segmentsReceived, 7)
        XCTAssertEqual(harness.table.allocatedCount, 0)
    }

    func testInvalidSegmentsAreDroppedSilently() {
        var harness = TableHarness()
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let peer = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0202), port: 40000)
        var segment = wireSegment(from: peer, to: TCPEndpoint(address: tableAddress, port: 80), flags: [.synchronize], sequence: 1)
        segment.bytes[4] ^= 0x01
        XCTAssertEqual(harness.deliver(segment), .dropped(.badChecksum))
        segment.bytes = Array(segment.bytes.prefix(12))
        XCTAssertEqual(harness.deliver(segment), .dropped(.malformed))
        let elsewhere = wireSegment(from: peer, to: TCPEndpoint(address: IPv4Address(rawValue: tableAddress.rawValue + 1), port: 80), flags: [.synchronize], sequence: 1)
        XCTAssertEqual(harness.deliver(elsewhere), .dropped(.notForUs))
        for source: UInt32 in [0, 0xFFFF_FFFF, 0xE000_0001] {
            let spoofed = wireSegment(from: TCPEndpoint(address: IPv4Address(rawValue: source), port: 1), to: TCPEndpoint(address: tableAddress, port: 80),
                                      flags: [.synchronize], sequence: 1)
            XCTAssertEqual(harness.deliver(spoofed), .dropped(.invalidSource))
        }
        let portZero = wireSegment(from: TCPEndpoint(address: peer.address, port: 0), to: TCPEndpoint(address: tableAddress, port: 80),
                                   flags: [.synchronize], sequence: 1)
        XCTAssertEqual(harness.deliver(portZero), .dropped(.malformed))
        XCTAssertEqual(harness.wire.take().count, 0)
        XCTAssertEqual(harness.table.allocatedCount, 0)
        XCTAssertEqual(harness.table.counters.drops.total, 7)
    }

    func testSynFloodStaysWithinBoundAndCookiesLetRealClientsIn() {
        var harness = TableHarness(capacity: 100, halfOpenLimit: 8)
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        // An existing connection, before the flood.
        let existing = harness.connectPeers(1)[0]

        var random = SplitMix64(seed: 2024)
        var cookieAnswers = 0
        for _ in 0..<3000 {
            let source = spoofedEndpoint(&random)
            let outcome = harness.inject(from: source, flags: [.synchronize], sequence: UInt32(truncatingIfNeeded: random.next()),
                                         options: TCPOptions(maximumSegmentSize: 1460, windowScale: 7))
            if outcome == .synCookieSent { cookieAnswers += 1 }
            XCTAssertLessThanOrEqual(harness.table.allocatedCount, 1 + 8)
            _ = harness.wire.take()
        }
        XCTAssertEqual(cookieAnswers, 3000 - 8)
        XCTAssertEqual(harness.table.connectionCounts().synchronizeReceived, 8)
        XCTAssertEqual(harness.table.counters.synCookiesSent, 2992)
        // Forged cookie ACKs create nothing.
        for _ in 0..<3000 {
            harness.inject(from: spoofedEndpoint(&random), flags: [.acknowledgment], sequence: UInt32(truncatingIfNeeded: random.next()),
                           acknowledgment: UInt32(truncatingIfNeeded: random.next()))
        }
        XCTAssertEqual(harness.table.counters.drops.cookieRejected, 3000)
        XCTAssertLessThanOrEqual(harness.table.allocatedCount, 1 + 8)
        _ = harness.wire.take()
        _ = harness.events()

        // A real client (a TCPConnection) during the flood: its SYN gets a cookie, its ACK builds the connection.
        let client = harness.addPeer(TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0909), port: 41000))
        harness.pump()
        XCTAssertEqual(harness.peers[client].connection.state, .established)
        let accepted = harness.events().filter { $0.events.contains(.accepted) }.map(\.id)
        XCTAssertEqual(accepted.count, 1)
        guard let id = accepted.first else { return }
        XCTAssertEqual(harness.table.counters.synCookiesAccepted, 1)
        harness.peerSend(client, ascii("GET / HTTP/1.0\r\n\r\n"))
        harness.pump()
        XCTAssertEqual(harness.read(id), ascii("GET / HTTP/1.0\r\n\r\n"))
        XCTAssertEqual(harness.send(ascii("HTTP/1.0 200 OK\r\n\r\n"), on: id), 19)
        harness.pump()
        XCTAssertEqual(harness.peerRead(client), ascii("HTTP/1.0 200 OK\r\n\r\n"))

        // The connection from before the flood still works.
        XCTAssertEqual(harness.send([1, 2, 3], on: existing), 3)
        harness.pump()
        XCTAssertEqual(harness.peerRead(0), [1, 2, 3])
        harness.peerSend(0, [4, 5])
        harness.pump()
        XCTAssertEqual(harness.read(existing), [4, 5])
    }

    func testCookieHandshakeWithDataOnTheAcknowledgment() {
        var harness = TableHarness(halfOpenLimit: 0, configuration: largeReceiveBuffer)
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 7).get())
        let peer = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0202), port: 40000)
        XCTAssertEqual(harness.inject(from: peer, flags: [.synchronize], sequence: 5000,
                                      options: TCPOptions(maximumSegmentSize: 1400, windowScale: 6)), .synCookieSent)
        let synAck = harness.wire.take()
        XCTAssertEqual(synAck.count, 1)
        XCTAssertEqual(synAck[0].flags, [.synchronize, .acknowledgment])
        XCTAssertEqual(synAck[0].acknowledgment, 5001)
        XCTAssertEqual(synAck[0].options.maximumSegmentSize, 1460)
        XCTAssertEqual(harness.table.allocatedCount, 0, "a cookie keeps no state")
        let cookie = synAck[0].sequence
        // The ACK carries data (and is the first the table hears of the connection again).
        guard case .delivered(let id) = harness.inject(from: peer, flags: [.acknowledgment, .push], sequence: 5001,
                                                       acknowledgment: cookie &+ 1, payload: ascii("hello")) else {
            return XCTFail("the cookie ACK made no connection")
        }
        // The data is acknowledged (at once, or by a delayed ACK within 500 ms — RFC 1122
        // §4.2.3.2); the SYN-ACK the rebuilt connection emitted never reaches the wire.
        harness.advance(by: oneSecond / 2)
        let answer = harness.wire.take()
        XCTAssertFalse(answer.contains { $0.flags.contains(.synchronize) }, "the rebuilt SYN-ACK is swallowed")
        XCTAssertEqual(answer.last?.flags, [.acknowledgment])
        XCTAssertEqual(answer.last?.sequence, cookie &+ 1)
        XCTAssertEqual(answer.last?.acknowledgment, 5006)
        XCTAssertEqual(harness.events(), [TCPConnectionEvent(id: id, events: [.accepted, .readable])])
        XCTAssertEqual(harness.table.owner(of: id), 7)
        XCTAssertEqual(harness.table.state(of: id), .established)
        XCTAssertEqual(harness.read(id), ascii("hello"))
        // Our segments use the MSS the cookie kept (1200 from the table, under the peer's 1400).
        XCTAssertEqual(harness.send(Array(repeating: 9, count: 3000), on: id), 3000)
        harness.advance(by: oneSecond / 2)
        let data = harness.wire.take().filter { !$0.payload.isEmpty }
        XCTAssertEqual(data.first?.payload.count, 1200)
        XCTAssertTrue(data.allSatisfy { $0.payload.count <= 1200 })
        XCTAssertEqual(harness.table.counters.synCookiesAccepted, 1)
        XCTAssertEqual(harness.table.counters.passiveOpens, 1)
    }

    func testCookieSynchronizeAcknowledgmentCarriesWhatAConnectionWouldSend() {
        for peerOptions in [TCPOptions(maximumSegmentSize: 1460, windowScale: 7), TCPOptions(maximumSegmentSize: 1460), TCPOptions()] {
            var answers: [SentSegment] = []
            for limit in [64, 0] {
                // A receive buffer above 64 KiB, so that our connections offer a non-zero shift.
                var harness = TableHarness(halfOpenLimit: limit, configuration: largeReceiveBuffer)
                XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
                harness.inject(from: TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0202), port: 40000), flags: [.synchronize], sequence: 1, options: peerOptions)
                answers += harness.wire.take()
            }
            XCTAssertEqual(answers.count, 2)
            XCTAssertEqual(answers[0].options, answers[1].options, "\(peerOptions)")
            XCTAssertEqual(answers[0].header.window, answers[1].header.window)
            XCTAssertEqual(answers[0].flags, answers[1].flags)
            // Our shift is offered exactly when the peer offered one (RFC 7323 §1.3), and is not 0 here.
            XCTAssertEqual(answers[1].options.windowScale != nil, peerOptions.windowScale != nil)
            if let shift = answers[1].options.windowScale { XCTAssertGreaterThan(shift, 0) }
        }
    }

    func testExpiredOrForgedCookieAcknowledgmentIsReset() {
        var harness = TableHarness(halfOpenLimit: 0)
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let peer = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0202), port: 40000)
        // No cookie sent yet: an ACK is a plain LISTEN ACK (RST), not checked as a cookie.
        harness.inject(from: peer, flags: [.acknowledgment], sequence: 1, acknowledgment: 2)
        XCTAssertEqual(harness.table.counters.drops.notSynchronize, 1)
        _ = harness.wire.take()
        harness.inject(from: peer, flags: [.synchronize], sequence: 5000)
        let cookie = harness.wire.take()[0].sequence
        // Wrong sequence number (not the SYN's ISN + 1): rejected with a RST.
        XCTAssertEqual(harness.inject(from: peer, flags: [.acknowledgment], sequence: 5002, acknowledgment: cookie &+ 1),
                       .dropped(.cookieRejected))
        XCTAssertEqual(harness.wire.take().map(\.flags), [[.reset]])
        // Altered cookie.
        XCTAssertEqual(harness.inject(from: peer, flags: [.acknowledgment], sequence: 5001, acknowledgment: cookie &+ 2),
                       .dropped(.cookieRejected))
        // Another peer replaying the cookie.
        XCTAssertEqual(harness.inject(from: TCPEndpoint(address: peer.address, port: 40001), flags: [.acknowledgment],
                                      sequence: 5001, acknowledgment: cookie &+ 1), .dropped(.cookieRejected))
        // Too late: two counter periods on.
        harness.now += 2 * SynCookieGenerator.counterPeriodNanoseconds
        XCTAssertEqual(harness.inject(from: peer, flags: [.acknowledgment], sequence: 5001, acknowledgment: cookie &+ 1),
                       .dropped(.cookieRejected))
        XCTAssertEqual(harness.table.allocatedCount, 0)
        XCTAssertEqual(harness.table.counters.drops.cookieRejected, 4)
    }

    func testBacklogFullWithoutCookiesDropsSynchronize() {
        var harness = TableHarness(halfOpenLimit: 2, synCookies: false)
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        for number in 0..<4 {
            harness.inject(from: TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0300 + UInt32(number)), port: 1234), flags: [.synchronize], sequence: 1)
        }
        XCTAssertEqual(harness.wire.take().count, 2)
        XCTAssertEqual(harness.table.counters.drops.backlogFull, 2)
        XCTAssertEqual(harness.table.allocatedCount, 2)
    }

    func testHalfOpenConnectionResetBeforeEstablishedIsFreedSilently() {
        var harness = TableHarness(halfOpenLimit: 1)
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let peer = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0202), port: 40000)
        harness.inject(from: peer, flags: [.synchronize], sequence: 100)
        _ = harness.wire.take()
        XCTAssertEqual(harness.table.allocatedCount, 1)
        harness.inject(from: peer, flags: [.reset], sequence: 101)
        XCTAssertEqual(harness.table.allocatedCount, 0)
        XCTAssertEqual(harness.events(), [])
        // The half-open count went back down: the next SYN makes a connection, not a cookie.
        XCTAssertEqual(harness.inject(from: peer, flags: [.synchronize], sequence: 900), .delivered(0))
        // A half-open connection that times out is freed too.
        harness.advance(by: 3600 * oneSecond)
        for _ in 0..<20 { harness.advance(by: 120 * oneSecond) }
        XCTAssertEqual(harness.table.allocatedCount, 0)
        XCTAssertEqual(harness.events(), [])
    }

    func testFullTableRefusesNewConnectionsWithoutAnswer() {
        var harness = TableHarness(capacity: 3)
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let ids = harness.connectPeers(3)
        XCTAssertEqual(ids.count, 3)
        XCTAssertEqual(harness.inject(from: TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0700), port: 1), flags: [.synchronize], sequence: 1),
                       .dropped(.tableFull))
        XCTAssertEqual(harness.wire.take().count, 0)
        XCTAssertEqual(harness.table.connect(to: TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0701), port: 80), owner: 1, now: harness.now,
                                             output: &harness.wire), .failure(.tableFull))
        XCTAssertEqual(harness.table.counters.drops.tableFull, 1)
        // A slot freed by release (after the connection closed) is used again.
        harness.inject(from: harness.peers[0].connection.local, flags: [.reset],
                       sequence: harness.peers[0].connection.sendNext.rawValue)
        XCTAssertEqual(harness.events(), [TCPConnectionEvent(id: ids[0], events: .closed)])
        XCTAssertEqual(harness.table.error(of: ids[0]), .reset)
        XCTAssertEqual(harness.table.allocatedCount, 3, "kept until the owner releases it")
        harness.table.release(ids[0], now: harness.now, output: &harness.wire)
        XCTAssertEqual(harness.table.allocatedCount, 2)
        XCTAssertEqual(harness.inject(from: TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0700), port: 1), flags: [.synchronize], sequence: 1),
                       .delivered(ids[0]))
    }

    /// A handshake completed by a SYN cookie while the table is full is answered with a RST
    /// (RFC 9293 §3.10.7.3's answer to a segment for no connection): the client learns at once
    /// that it is not connected, instead of believing it is and waiting for answers forever.
    func testCookieHandshakeIntoAFullTableIsReset() {
        var harness = TableHarness(capacity: 2, halfOpenLimit: 0)
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let busy = [TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0600), port: 1), TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0600), port: 2)]
        for (index, peer) in busy.enumerated() {
            // Each SYN gets a cookie (no half-open slot allowed); its ACK takes a slot.
            XCTAssertEqual(harness.inject(from: peer, flags: [.synchronize], sequence: 100), .synCookieSent)
            let cookie = harness.wire.take()[0].sequence
            XCTAssertEqual(harness.inject(from: peer, flags: [.acknowledgment], sequence: 101, acknowledgment: cookie &+ 1),
                           .delivered(TCPConnectionID(index)))
        }
        XCTAssertEqual(harness.table.allocatedCount, 2)
        let late = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0700), port: 9)
        XCTAssertEqual(harness.inject(from: late, flags: [.synchronize], sequence: 500), .synCookieSent)
        let cookie = harness.wire.take()[0].sequence
        XCTAssertEqual(harness.inject(from: late, flags: [.acknowledgment, .push], sequence: 501, acknowledgment: cookie &+ 1,
                                      payload: ascii("GET / HTTP/1.1\r\n\r\n")), .dropped(.tableFull))
        let answer = harness.wire.take()
        XCTAssertEqual(answer.map(\.flags), [[.reset]], "the client is told")
        XCTAssertEqual(answer.first?.sequence, cookie &+ 1, "at the sequence number its ACK acknowledged (RFC 9293 §3.10.7.1)")
        XCTAssertEqual(answer.first?.destination, late)
        XCTAssertEqual(harness.table.counters.drops.tableFull, 1)
        XCTAssertEqual(harness.table.allocatedCount, 2)
    }

    /// Corking and an abortive release: bytes queued with `sendDeferred` (an HTTP server's
    /// 400, say) go out before the RST that a release with unread data sends, not never.
    func testDeferredBytesGoOutBeforeAnAbortiveRelease() {
        var harness = TableHarness()
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let ids = harness.connectPeers(1)
        guard let id = ids.first else { return XCTFail("no connection") }
        _ = harness.events()
        let peer = harness.peers[0].connection
        harness.inject(from: peer.local, flags: [.acknowledgment, .push], sequence: peer.sendNext.rawValue,
                       acknowledgment: peer.receiveNext.rawValue, payload: ascii("unread bytes"))
        _ = harness.wire.take()
        let answer = ascii("HTTP/1.1 400")
        XCTAssertEqual(answer.withUnsafeBytes { harness.table.sendDeferred(ByteReader($0), on: id) }, 12)
        XCTAssertEqual(harness.wire.take().count, 0, "deferred: nothing sent yet")
        harness.table.release(id, now: harness.now, output: &harness.wire)
        let sent = harness.wire.take()
        XCTAssertEqual(sent.map(\.flags.rawValue), [TCPFlags([.acknowledgment, .push]).rawValue, TCPFlags([.reset]).rawValue],
                       "the answer, then the RST")
        XCTAssertEqual(sent.first?.payload, ascii("HTTP/1.1 400"))
    }

    /// The timing wheel: a poll looks only at connections whose timers are due, so
    /// 200 idle connections cost a 1 ms poll nothing; a retransmission still fires within a tick
    /// of its deadline, TIME-WAIT (60 s, many turns of the 256 ms wheel) ends on time, and the
    /// safety sweep never finds a timer the wheel missed.
    func testPollsVisitOnlyDueTimersAndTimersFireOnTime() {
        var harness = TableHarness(capacity: 256)
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let ids = harness.connectPeers(200)
        XCTAssertEqual(ids.count, 200)
        _ = harness.events()
        // Idle: nothing sent, nothing unacknowledged, no timer anywhere.
        for _ in 0..<5 { harness.advance(by: oneSecond / 1000) }
        XCTAssertEqual(harness.table.lastPollVisits, 0, "200 idle connections, no visits")

        // One connection sends and the peer never answers: its RTO (1 s) fires within a tick.
        let peer = harness.peers[7].connection
        let start = harness.now
        XCTAssertEqual(harness.send(ascii("lost"), on: ids[7]), 4)
        let first = harness.wire.take()
        XCTAssertEqual(first.map(\.payload), [ascii("lost")])
        var retransmittedAt: UInt64?
        var mostVisits = 0
        while retransmittedAt == nil && harness.now - start < 3 * oneSecond {
            harness.now += oneSecond / 1000
            harness.table.poll(now: harness.now, output: &harness.wire)
            mostVisits = max(mostVisits, harness.table.lastPollVisits)
            if harness.wire.take().contains(where: { $0.payload == ascii("lost") }) { retransmittedAt = harness.now }
        }
        let elapsed = (retransmittedAt ?? harness.now) - start
        XCTAssertGreaterThanOrEqual(elapsed, oneSecond, "not before the RTO")
        XCTAssertLessThanOrEqual(elapsed, oneSecond + 2 * oneSecond / 1000, "within a tick or two of it")
        XCTAssertLessThanOrEqual(mostVisits, 2, "a poll looks at the due connection, not all 200")
        _ = peer

        // TIME-WAIT for another connection: closed from our side, then by the peer.
        closeFromOurSide(&harness, id: ids[3], peer: 3)
        XCTAssertEqual(harness.table.state(of: ids[3]), .timeWait)
        harness.table.release(ids[3], now: harness.now, output: &harness.wire)
        let entered = harness.now
        while harness.table.connectionCounts().timeWait > 0 && harness.now - entered < 70 * oneSecond {
            harness.now += 10 * oneSecond / 1000
            harness.table.poll(now: harness.now, output: &harness.wire)
        }
        let waited = harness.now - entered
        XCTAssertGreaterThanOrEqual(waited, harness.table.configuration.timeWaitDuration)
        XCTAssertLessThanOrEqual(waited, harness.table.configuration.timeWaitDuration + 20 * oneSecond / 1000)
        XCTAssertEqual(harness.table.counters.timerSweepCatches, 0, "the wheel missed no timer")
        XCTAssertGreaterThan(harness.table.counters.timerVisits, 0, "the visits are counted for the metrics")
    }

    /// Both sides close: we first (so we end in TIME-WAIT), then the peer.
    func closeFromOurSide(_ harness: inout TableHarness, id: TCPConnectionID, peer: Int) {
        harness.table.shutdown(id, now: harness.now, output: &harness.wire)
        harness.pump()
        harness.peers[peer].close(now: harness.now)
        harness.pump()
    }

    func testTimeWaitSlotsAreReclaimedOldestFirstWhenFull() {
        var harness = TableHarness(capacity: 3)
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let ids = harness.connectPeers(3)
        closeFromOurSide(&harness, id: ids[1], peer: 1)
        harness.now += oneSecond
        closeFromOurSide(&harness, id: ids[0], peer: 0)
        XCTAssertEqual(harness.table.state(of: ids[0]), .timeWait)
        XCTAssertEqual(harness.table.state(of: ids[1]), .timeWait)
        // Not released: the IDs belong to the owner, nothing is reclaimed.
        XCTAssertEqual(harness.inject(from: TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0800), port: 1), flags: [.synchronize], sequence: 1),
                       .dropped(.tableFull))
        harness.table.release(ids[0], now: harness.now, output: &harness.wire)
        harness.table.release(ids[1], now: harness.now, output: &harness.wire)
        XCTAssertEqual(harness.wire.take().count, 0, "release in TIME-WAIT sends nothing")
        XCTAssertEqual(harness.table.connectionCounts().timeWait, 2)
        XCTAssertEqual(harness.table.connectionCounts().released, 2)
        // A released TIME-WAIT connection still answers a retransmitted FIN.
        let peer0 = harness.peers[0].connection
        XCTAssertEqual(harness.inject(from: peer0.local, flags: [.finish, .acknowledgment], sequence: peer0.sendNext.rawValue &- 1,
                                      acknowledgment: peer0.sendUnacknowledged.rawValue), .delivered(ids[0]))
        XCTAssertEqual(harness.wire.take().map(\.flags), [[.acknowledgment]])
        // The table is full: the connection that entered TIME-WAIT first (ids[1]) makes room.
        XCTAssertEqual(harness.inject(from: TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0800), port: 1), flags: [.synchronize], sequence: 1),
                       .delivered(ids[1]))
        XCTAssertEqual(harness.table.counters.timeWaitReclaimed, 1)
        XCTAssertEqual(harness.table.connectionCounts().timeWait, 1)
        // TIME-WAIT expiry frees the other one.
        harness.advance(by: 61 * oneSecond)
        XCTAssertEqual(harness.table.connectionCounts().timeWait, 0)
        XCTAssertEqual(harness.table.allocatedCount, 2)
    }

    /// A connection we closed first, released by its owner and now in TIME-WAIT, with the
    /// peer's side closed too (its SND.NXT and RCV.NXT are what the table's must exceed).
    private func timeWaitConnection(_ harness: inout TableHarness, release: Bool = true) -> (TCPConnectionID, TCPConnection)? {
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        guard let id = harness.connectPeers(1).first else {
            XCTFail("no connection")
            return nil
        }
        XCTAssertEqual(harness.send(Array("an answer".utf8), on: id), 9)
        harness.pump()
        XCTAssertEqual(harness.peerRead(0), Array("an answer".utf8))
        closeFromOurSide(&harness, id: id, peer: 0)
        XCTAssertEqual(harness.table.state(of: id), .timeWait)
        if release { harness.table.release(id, now: harness.now, output: &harness.wire) }
        _ = harness.wire.take()
        return (id, harness.peers[0].connection)
    }

    /// RFC 1122 §4.2.2.13: a SYN beyond everything the old incarnation received reopens a
    /// released TIME-WAIT connection at once, with an ISS beyond the old SND.MAX.
    func testSynchronizeBeyondTimeWaitReopensTheConnection() {
        for elapsed in [0, 10 * oneSecond] {
            var harness = TableHarness(capacity: 4)
            guard let (_, peer) = timeWaitConnection(&harness) else { return }
            harness.now += elapsed
            let oldSendMaximum = peer.receiveNext   // the peer acknowledged our FIN: our SND.MAX
            let newSequence = peer.sendNext.rawValue &+ 100_000
            guard case .delivered = harness.inject(from: peer.local, flags: [.synchronize], sequence: newSequence) else {
                return XCTFail("the SYN was not taken")
            }
            let answers = harness.wire.take()
            XCTAssertEqual(answers.map(\.flags), [[.synchronize, .acknowledgment]], "a SYN-ACK, not an ACK of the old incarnation")
            XCTAssertEqual(answers.first?.acknowledgment, newSequence &+ 1)
            if let synAck = answers.first {
                XCTAssertTrue(synAck.header.sequenceNumber > oldSendMaximum, "the new ISS lies beyond the old SND.MAX")
                if elapsed == 0 {
                    // No time passed: the clock-driven ISN is not beyond it, so a window past it is used.
                    XCTAssertEqual(synAck.header.sequenceNumber, oldSendMaximum + 65537)
                }
            }
            XCTAssertEqual(harness.table.counters.timeWaitReopened, 1)
            XCTAssertEqual(harness.table.connectionCounts().timeWait, 0)
            XCTAssertEqual(harness.table.connectionCounts().synchronizeReceived, 1)
        }
    }

    /// An old duplicate SYN (at or below RCV.NXT), a SYN to a TIME-WAIT connection its owner
    /// still holds, or one to a port nobody listens on any more, does not reopen it: it is
    /// answered with an ACK, as §3.10.7.4 says.
    func testOldOrUnreleasedTimeWaitIsNotReopened() {
        enum Case { case oldDuplicate, unreleased, noListener }
        for kind in [Case.oldDuplicate, .unreleased, .noListener] {
            var harness = TableHarness(capacity: 4)
            guard let (id, peer) = timeWaitConnection(&harness, release: kind != .unreleased) else { return }
            if kind == .noListener { harness.table.stopListening(port: 80, owner: 1) }
            let sequence = kind == .oldDuplicate ? peer.sendNext.rawValue &- 10 : peer.sendNext.rawValue &+ 100_000
            XCTAssertEqual(harness.inject(from: peer.local, flags: [.synchronize], sequence: sequence), .delivered(id))
            XCTAssertEqual(harness.wire.take().map(\.flags), [[.acknowledgment]])
            XCTAssertEqual(harness.table.counters.timeWaitReopened, 0)
            XCTAssertEqual(harness.table.connectionCounts().timeWait, 1)
        }
    }

    func testReleaseWithUnreadDataResetsAndWithoutClosesGracefully() {
        var harness = TableHarness()
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let ids = harness.connectPeers(2)
        _ = harness.events()
        // Unread data: RST (RFC 2525 §2.17), slot freed at once.
        harness.peerSend(0, [1, 2, 3])
        harness.pump()
        _ = harness.events()
        harness.table.release(ids[0], now: harness.now, output: &harness.wire)
        XCTAssertEqual(harness.wire.sent.map(\.flags), [[.reset]])
        harness.pump()
        XCTAssertEqual(harness.peers[0].connection.state, .closed)
        XCTAssertEqual(harness.peers[0].connection.error, .reset)
        XCTAssertFalse(harness.table.isValid(ids[0]))
        XCTAssertEqual(harness.table.allocatedCount, 1)
        // Nothing unread: FIN after the queued data; the released connection finishes alone.
        XCTAssertEqual(harness.send([7, 7], on: ids[1]), 2)
        harness.table.release(ids[1], now: harness.now, output: &harness.wire)
        XCTAssertFalse(harness.table.isValid(ids[1]))
        XCTAssertEqual(harness.table.readableCount(of: ids[1]), 0)
        harness.pump()
        XCTAssertEqual(harness.peerRead(1), [7, 7])
        XCTAssertTrue(harness.peers[1].connection.peerFinished)
        XCTAssertEqual(harness.table.connectionCounts().finishWait2, 1)
        // Data arriving after release has nobody to read it: RST.
        harness.peerSend(1, [9])
        harness.pump()
        XCTAssertEqual(harness.peers[1].connection.state, .closed)
        XCTAssertEqual(harness.table.allocatedCount, 0)
        XCTAssertEqual(harness.events(), [], "no events after release")
    }

    func testReleasedConnectionInFinishWait2TimesOut() {
        var harness = TableHarness()
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let id = harness.connectPeers(1)[0]
        harness.table.release(id, now: harness.now, output: &harness.wire)
        harness.pump()
        XCTAssertEqual(harness.table.connectionCounts().finishWait2, 1)
        harness.advance(by: 30 * oneSecond)
        XCTAssertEqual(harness.table.allocatedCount, 1)
        harness.advance(by: 31 * oneSecond)
        XCTAssertEqual(harness.table.allocatedCount, 0)
    }

    func testAbortAllResetsAnOwnersConnectionsAndStopsItsListeners() {
        var harness = TableHarness()
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 2).get())
        XCTAssertNoThrow(try harness.table.listen(port: 81, owner: 1).get())
        let ids = harness.connectPeers(4)   // owners 1, 2, 1, 2
        XCTAssertEqual(ids.map { harness.table.owner(of: $0) }, [1, 2, 1, 2])
        harness.table.abortAll(owner: 1, now: harness.now, output: &harness.wire)
        XCTAssertEqual(harness.wire.sent.map(\.flags), [[.reset], [.reset]])
        harness.pump()
        XCTAssertEqual(harness.peers[0].connection.error, .reset)
        XCTAssertEqual(harness.peers[2].connection.error, .reset)
        XCTAssertEqual(harness.peers[1].connection.state, .established)
        XCTAssertFalse(harness.table.isValid(ids[0]))
        XCTAssertTrue(harness.table.isValid(ids[1]))
        XCTAssertEqual(harness.table.allocatedCount, 2)
        XCTAssertFalse(harness.table.isListening(port: 81, owner: 1))
        XCTAssertEqual(harness.inject(from: TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0900), port: 5), port: 81, flags: [.synchronize], sequence: 1),
                       .dropped(.noListener))
        // Port 80 now goes to owner 2 only.
        let more = harness.connectPeers(6).suffix(2)
        XCTAssertEqual(more.map { harness.table.owner(of: $0) }, [2, 2])
    }

    func testActiveOpenFromEphemeralPorts() {
        var harness = TableHarness()
        let server = TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0202), port: 8000)
        let first = harness.table.connect(to: server, owner: 4, now: harness.now, output: &harness.wire)
        let second = harness.table.connect(to: server, owner: 4, now: harness.now, output: &harness.wire)
        guard case .success(let a) = first, case .success(let b) = second else { return XCTFail("connect failed") }
        let syns = harness.wire.take()
        XCTAssertEqual(syns.map(\.flags), [[.synchronize], [.synchronize]])
        XCTAssertEqual(syns[0].options.maximumSegmentSize, 1460)
        let ports = syns.map(\.source.port)
        XCTAssertTrue(ports.allSatisfy { $0 >= 49152 })
        XCTAssertNotEqual(ports[0], ports[1])
        XCTAssertEqual(harness.table.localPort(of: a), ports[0])
        XCTAssertEqual(harness.table.state(of: a), .synchronizeSent)
        harness.wire.sent = syns
        for port in ports { _ = harness.addListeningPeer(server, remote: TCPEndpoint(address: tableAddress, port: port)) }
        harness.pump()
        XCTAssertEqual(harness.events(), [TCPConnectionEvent(id: a, events: .connected), TCPConnectionEvent(id: b, events: .connected)])
        XCTAssertEqual(harness.table.counters.activeOpens, 2)
        XCTAssertEqual(harness.send([1], on: b), 1)
        harness.pump()
        XCTAssertEqual(harness.peerRead(1), [1])
        harness.advance(by: oneSecond / 2)   // the peer's ACK may be delayed
        harness.pump()
        XCTAssertEqual(harness.events(), [TCPConnectionEvent(id: b, events: .writable)], "the ACK freed the byte's space")
        // Refused: a RST from the server ends the third attempt with `.refused`.
        guard case .success(let c) = harness.table.connect(to: TCPEndpoint(address: IPv4Address(rawValue: 0x0A00_0203), port: 9), owner: 4,
                                                           now: harness.now, output: &harness.wire) else { return XCTFail("connect") }
        let syn = harness.wire.take()[0]
        harness.inject(from: syn.destination, port: syn.source.port, flags: [.reset, .acknowledgment], sequence: 0,
                       acknowledgment: syn.sequence &+ 1)
        XCTAssertEqual(harness.events(), [TCPConnectionEvent(id: c, events: .closed)])
        XCTAssertEqual(harness.table.error(of: c), .refused)
        XCTAssertEqual(harness.table.connect(to: TCPEndpoint(address: IPv4Address(rawValue: 0), port: 9), owner: 4, now: harness.now, output: &harness.wire),
                       .failure(.invalidEndpoint))
    }

    /// Reading an arrival into several buffers in one pass (the network core filling a
    /// program's posted buffers) announces the reopened window once, with the pass's
    /// `transmitDeferred`, not once per doubling on the way (`holdsAcknowledgmentsForThePass`);
    /// without the hold each read that doubles the window sends its own update.
    func testReadsInOnePassAnnounceTheWindowOnce() {
        func windowUpdates(holding: Bool) -> [UInt16] {
            var harness = TableHarness()
            harness.table.holdsAcknowledgmentsForThePass = holding
            XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
            let ids = harness.connectPeers(1)
            guard let id = ids.first else { XCTFail("not accepted"); return [] }
            harness.peerSend(0, [UInt8](repeating: 5, count: 4096))
            harness.pump()
            harness.table.transmitDeferred(now: harness.now, output: &harness.wire)
            harness.pump()
            XCTAssertEqual(harness.table.readableCount(of: id), 4096, "the peer filled the window")
            var updates: [UInt16] = []
            var buffer = [UInt8](repeating: 0, count: 512)
            for _ in 0..<8 {
                let count = buffer.withUnsafeMutableBytes { harness.table.read(from: id, into: $0, now: harness.now, output: &harness.wire) }
                XCTAssertEqual(count, 512)
                updates += harness.wire.take().map(\.header.window)
            }
            harness.table.transmitDeferred(now: harness.now, output: &harness.wire)
            updates += harness.wire.take().map(\.header.window)
            return updates
        }
        let eager = windowUpdates(holding: false)
        XCTAssertGreaterThan(eager.count, 1, "without the hold, reads announce the window on the way: \(eager)")
        XCTAssertEqual(windowUpdates(holding: true), [4096], "one update, with the whole buffer free again")
    }

    func testEventsAreMergedPerConnectionAndQueuedInOrder() {
        var harness = TableHarness()
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let ids = harness.connectPeers(2)
        XCTAssertFalse(harness.table.hasEvents)
        harness.peerSend(1, [1])
        harness.pump()
        harness.peerSend(0, [2])
        harness.pump()
        harness.peerSend(1, [3])
        harness.peers[1].close(now: harness.now)
        harness.pump()
        XCTAssertEqual(harness.events(), [TCPConnectionEvent(id: ids[1], events: [.readable, .peerFinished]),
                                          TCPConnectionEvent(id: ids[0], events: .readable)])
        XCTAssertTrue(harness.table.peerFinished(ids[1]))
        XCTAssertEqual(harness.read(ids[1]), [1, 3])
        // Send space freed by an ACK is an event (the core may resume a program's writes).
        XCTAssertEqual(harness.send(Array(repeating: 1, count: 4096), on: ids[0]), 4096)
        XCTAssertEqual(harness.table.writableCount(of: ids[0]), 0)
        harness.pump()
        XCTAssertEqual(harness.events(), [TCPConnectionEvent(id: ids[0], events: .writable)])
        // Close of the half-closed one: LAST-ACK then CLOSED (a clean close: no error).
        harness.table.shutdown(ids[1], now: harness.now, output: &harness.wire)
        harness.pump()
        XCTAssertEqual(harness.events(), [TCPConnectionEvent(id: ids[1], events: .closed)])
        XCTAssertEqual(harness.table.state(of: ids[1]), .closed)
        XCTAssertNil(harness.table.error(of: ids[1]))
        // Scanning sees both, in ID order, both ways.
        var scanned: [TCPConnectionID] = []
        harness.table.forEachConnection { scanned.append($0) }
        XCTAssertEqual(scanned, ids.sorted())
        var walked: [TCPConnectionID] = []
        var cursor = harness.table.nextConnection(after: nil)
        while let current = cursor { walked.append(current); cursor = harness.table.nextConnection(after: current) }
        XCTAssertEqual(walked, scanned)
    }

    func testCountersAddConnectionStatisticsOfLiveAndFinishedConnections() {
        var harness = TableHarness()
        XCTAssertNoThrow(try harness.table.listen(port: 80, owner: 1).get())
        let ids = harness.connectPeers(2)
        // A SYN in ESTABLISHED gets a challenge ACK (RFC 5961 §4), data flows: whatever the
        // connections count, the table's sum must match it, before and after their slots go.
        for index in 0..<2 {
            let peer = harness.peers[index].connection
            harness.inject(from: peer.local, flags: [.synchronize], sequence: peer.sendNext.rawValue)
            harness.peerSend(index, [1, 2, 3])
        }
        harness.pump()
        for index in 0..<2 {
            let peer = harness.peers[index].connection
            harness.inject(from: peer.local, flags: [.reset], sequence: peer.sendNext.rawValue)
        }
        var expected = TCPConnectionStatistics()
        for id in ids { expected.add(harness.table.statistics(of: id) ?? TCPConnectionStatistics()) }
        XCTAssertEqual(harness.table.counters.connections, expected)
        for id in ids { harness.table.release(id, now: harness.now, output: &harness.wire) }
        XCTAssertEqual(harness.table.allocatedCount, 0)
        let counters = harness.table.counters
        XCTAssertEqual(counters.connections, expected, "kept after the slots are freed")
        XCTAssertEqual(counters.passiveOpens, 2)
        XCTAssertEqual(counters.resetsReceived, 2)
        XCTAssertEqual(harness.table.connectionCounts(), TCPConnectionCounts())
    }
}
