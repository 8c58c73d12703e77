// Where in-order bytes may go instead of the receive buffer: the owner's own buffers, so that a received payload is copied once.

import RawBytes

/// Takes in-order bytes of a connection straight from the arriving segment, so that they are
/// copied once — from the NIC's buffer into the owner's — and never into the receive buffer.
///
/// **Ownership.** The connection offers bytes only when its receive buffer and reassembly
/// queue are empty (nothing received earlier is still waiting, so order is kept) and only bytes
/// at RCV.NXT. `take` copies what it can and returns how many; from then on those bytes are
/// the owner's, exactly as if it had read them at once: RCV.NXT advances past them and they
/// never occupy the window. What it does not take goes to the receive buffer as usual. The
/// `ByteReader` is valid only during the call (it points into the NIC's buffer).
public protocol TCPDirectReceiver {
    /// Copies a prefix of `bytes` (in-order data of connection `id`, owned by `owner`, already
    /// shown to that owner) to the owner; returns how many bytes it took (0: none).
    mutating func take(_ bytes: ByteReader, connection id: TCPConnectionID, owner: Int) -> Int
}

/// Takes nothing: every byte goes to the receive buffer (the owner reads it from there).
public struct NoDirectReceiver: TCPDirectReceiver {
    /// A receiver that takes nothing.
    public init() {}
    /// Takes nothing.
    public mutating func take(_ bytes: ByteReader, connection id: TCPConnectionID, owner: Int) -> Int { 0 }
}

/// What a connection hands in-order bytes to during one `receive`: bound by the table to
/// the segment's connection and owner.
protocol InOrderSink {
    /// Takes a prefix of `bytes`; returns how many bytes.
    mutating func take(_ bytes: ByteReader) -> Int
}

/// No sink: everything goes to the receive buffer.
struct NoInOrderSink: InOrderSink {
    mutating func take(_ bytes: ByteReader) -> Int { 0 }
}

/// A `TCPDirectReceiver` bound to one connection and its owner.
struct BoundDirectReceiver<Receiver: TCPDirectReceiver>: InOrderSink {
    let receiver: UnsafeMutablePointer<Receiver>
    let connection: TCPConnectionID
    let owner: Int

    mutating func take(_ bytes: ByteReader) -> Int {
        receiver.pointee.take(bytes, connection: connection, owner: owner)
    }
}
