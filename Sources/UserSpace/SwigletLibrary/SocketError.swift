/// Why a socket operation did not happen now.

import Channels

/// Why a socket operation did not happen. Errors are values: nothing is dropped silently.
public enum SocketError: Error, Equatable, Sendable {
    /// Nothing to receive, or no free buffer or request slot to send with: try again (after
    /// `wait`). Never a loss: the datagram was not taken.
    case wouldBlock
    /// The payload is longer than one datagram can be (`ChannelEndpoint.maximumPayloadLength`).
    case datagramTooLarge
    /// The socket is not bound (bind it first).
    case notBound
    /// The socket is already bound.
    case alreadyBound
    /// The connection number is not an open connection of this program.
    case notConnected
    /// The network core refused the request (e.g. `portInUse`, `tooManySockets`, `badPort`).
    case refused(ChannelError)
    /// The channel no longer works: the network core broke the ring protocol, or sent a
    /// completion that names a buffer that does not exist.
    case channelBroken
}
