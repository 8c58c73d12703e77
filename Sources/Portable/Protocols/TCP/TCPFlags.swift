// The TCP control bits of byte 13 of the header (RFC 9293 §3.1, RFC 3168 §6.1 for ECE and CWR).

/// The control bits of a TCP header — RFC 9293 §3.1 "Control bits".
public struct TCPFlags: OptionSet, Equatable, Sendable {
    /// The bits as carried in header byte 13.
    public var rawValue: UInt8

    /// Wraps header byte 13.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// FIN: no more data from the sender.
    public static let finish = TCPFlags(rawValue: 0x01)
    /// SYN: synchronize sequence numbers.
    public static let synchronize = TCPFlags(rawValue: 0x02)
    /// RST: reset the connection.
    public static let reset = TCPFlags(rawValue: 0x04)
    /// PSH: push function.
    public static let push = TCPFlags(rawValue: 0x08)
    /// ACK: the acknowledgement field is significant.
    public static let acknowledgment = TCPFlags(rawValue: 0x10)
    /// URG: the urgent pointer field is significant.
    public static let urgent = TCPFlags(rawValue: 0x20)
    /// ECE: ECN echo — RFC 3168 §6.1.
    public static let explicitCongestionEcho = TCPFlags(rawValue: 0x40)
    /// CWR: congestion window reduced — RFC 3168 §6.1.
    public static let congestionWindowReduced = TCPFlags(rawValue: 0x80)
}
