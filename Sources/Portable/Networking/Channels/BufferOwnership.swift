/// Who holds each packet buffer of a channel: the network core's private record, never in shared memory.

/// The network core's record of who holds each buffer of one channel's pool. It lives in
/// network-core-private memory (`ServerChannel`'s private block), so the program cannot
/// change it: every hand-over the program asks for is checked against it.
///
/// All buffers start with the program. A buffer moves to the network core when the program
/// posts it for receive (until a datagram fills it) or sends it (until the datagram has been
/// copied out), and back to the program with the completion that says so.
public struct BufferOwnership {
    /// Who holds a buffer.
    public enum Holder: UInt8, Equatable, Sendable {
        /// The program may read and write it; the network core does not touch it.
        case program = 0
        /// Posted for receive: the network core will fill it with the next datagram.
        case postedForReceive = 1
        /// Handed over by a `send` request; the network core is reading it.
        case sending = 2
    }

    /// The bytes of private memory for `bufferCount` buffers (one each, rounded up to 8).
    public static func byteCount(bufferCount: UInt32) -> Int { (Int(bufferCount) + 7) & ~7 }

    /// One `Holder` raw value per buffer.
    private let holders: UnsafeMutablePointer<UInt8>
    /// The number of buffers.
    public let bufferCount: UInt32

    /// A record for `bufferCount` buffers in `memory` (`byteCount(bufferCount:)` bytes of
    /// private memory), every buffer held by the program.
    public init(memory: UnsafeMutableRawPointer, bufferCount: UInt32) {
        holders = memory.bindMemory(to: UInt8.self, capacity: Int(bufferCount))
        holders.initialize(repeating: Holder.program.rawValue, count: Int(bufferCount))
        self.bufferCount = bufferCount
    }

    /// Who holds buffer `index`; nil when there is no such buffer.
    public func holder(of index: UInt32) -> Holder? {
        guard index < bufferCount else { return nil }
        return Holder(rawValue: holders[Int(index)])
    }

    /// Moves buffer `index` from the program to the network core as `holder` (not `.program`),
    /// if the program may hand it over: it exists (else `badBufferIndex`), it is not already
    /// held for the same purpose (`doubleHandBack`), and the program holds it (`bufferNotOwned`).
    /// Nothing changes on failure.
    public func takeFromProgram(_ index: UInt32, as holder: Holder) -> ChannelError? {
        guard index < bufferCount else { return .badBufferIndex }
        let current = holders[Int(index)]
        if current == holder.rawValue { return .doubleHandBack }
        guard current == Holder.program.rawValue else { return .bufferNotOwned }
        holders[Int(index)] = holder.rawValue
        return nil
    }

    /// Gives buffer `index` (held by the network core) back to the program.
    public func returnToProgram(_ index: UInt32) {
        precondition(index < bufferCount && holders[Int(index)] != Holder.program.rawValue,
                     "returning a buffer the network core does not hold")
        holders[Int(index)] = Holder.program.rawValue
    }

    /// How many buffers `holder` holds (a linear count, for statistics and tests).
    public func count(heldBy holder: Holder) -> Int {
        var total = 0
        var index = 0
        while index < Int(bufferCount) {
            if holders[index] == holder.rawValue { total += 1 }
            index += 1
        }
        return total
    }
}
