/// Why the network core refused a request: the error code of an `error` completion.

/// Why the network core refused a request. Each has a counter in `ChannelCounters`.
public enum ChannelError: UInt8, Error, Equatable, Sendable {
    /// `bufferIndex` is not below the channel's buffer count.
    case badBufferIndex = 1
    /// `offset + length` goes past the end of the buffer (computed without overflow).
    case badOffsetOrLength = 2
    /// The buffer is held by the network core for something else (e.g. sending a buffer that
    /// is posted for receive): the program does not own it.
    case bufferNotOwned = 3
    /// The buffer was already handed to the network core for the same purpose (posted twice).
    case doubleHandBack = 4
    /// `socket` is not a bound socket of this channel.
    case unknownSocket = 5
    /// Another socket (of any channel, or the network core's own echo service) has the port.
    case portInUse = 6
    /// `operation` is not a known `ChannelRequest.Operation`, or a reserved field is not 0.
    case unknownRequest = 7
    /// The network core could not take the datagram now (transmit ring or ARP queue full);
    /// the buffer is returned: try again later.
    case throttled = 8
    /// Port 0 cannot be bound.
    case badPort = 9
    /// The channel already has `ChannelLayout.socketCapacity` sockets.
    case tooManySockets = 10
    /// The payload does not fit one frame (more than 1472 bytes).
    case datagramTooLarge = 11
    /// No route to the destination.
    case noRoute = 12
    /// The peer refused the connection (a RST answered our SYN).
    case connectionRefused = 13
    /// The peer reset the connection.
    case connectionReset = 14
    /// The peer stopped answering: retransmissions ran out.
    case timedOut = 15
    /// The network core's connection table is full.
    case tooManyConnections = 16
    /// The connection no longer takes data (shut down or closed).
    case notWritable = 17

    /// The name used on the console.
    public var name: StaticString {
        switch self {
        case .badBufferIndex: return "badBufferIndex"
        case .badOffsetOrLength: return "badOffsetOrLength"
        case .bufferNotOwned: return "bufferNotOwned"
        case .doubleHandBack: return "doubleHandBack"
        case .unknownSocket: return "unknownSocket"
        case .portInUse: return "portInUse"
        case .unknownRequest: return "unknownRequest"
        case .throttled: return "throttled"
        case .badPort: return "badPort"
        case .tooManySockets: return "tooManySockets"
        case .datagramTooLarge: return "datagramTooLarge"
        case .noRoute: return "noRoute"
        case .connectionRefused: return "connectionRefused"
        case .connectionReset: return "connectionReset"
        case .timedOut: return "timedOut"
        case .tooManyConnections: return "tooManyConnections"
        case .notWritable: return "notWritable"
        }
    }

    /// The number of error codes (raw values 1 through `count`).
    public static let count = 17
}
