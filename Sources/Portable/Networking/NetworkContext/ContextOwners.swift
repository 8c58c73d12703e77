/// Who owns a UDP port or a TCP connection in a context: a program's socket or a service of the context itself.

/// The owner of a bound UDP port. The stack keeps an opaque `Int` per port; this is the only
/// place that number is made or read, so no other code compares against a magic value.
public enum PortListener: Equatable, Sendable {
    /// Socket `socket` of program channel `channel`.
    case socket(channel: Int, socket: UInt16)
    /// The context's intrusion meter service.
    case meter

    /// The stack's number: channel × 256 + socket for sockets (sockets are below 256, channels
    /// below `NetworkContext.maximumChannels`), and the first number no socket can have for the meter.
    var rawValue: Int {
        switch self {
        case .socket(let channel, let socket): channel << 8 | Int(socket)
        case .meter: NetworkContextLimits.maximumChannels << 8
        }
    }

    init?(rawValue: Int) {
        if rawValue == NetworkContextLimits.maximumChannels << 8 {
            self = .meter
        } else if rawValue >= 0 && rawValue < NetworkContextLimits.maximumChannels << 8 {
            self = .socket(channel: rawValue >> 8, socket: UInt16(rawValue & 0xFF))
        } else {
            return nil
        }
    }
}

/// The owner of a TCP listener or connection. The connection table keeps an opaque `Int`;
/// as with `PortListener`, only this type makes or reads it.
public enum ConnectionOwner: Equatable, Sendable {
    /// Program channel `channel`.
    case program(channel: Int)
    /// The context's metrics endpoint.
    case metrics

    var rawValue: Int {
        switch self {
        case .program(let channel): channel
        case .metrics: NetworkContextLimits.maximumChannels
        }
    }

    init?(rawValue: Int) {
        if rawValue == NetworkContextLimits.maximumChannels {
            self = .metrics
        } else if rawValue >= 0 && rawValue < NetworkContextLimits.maximumChannels {
            self = .program(channel: rawValue)
        } else {
            return nil
        }
    }
}

/// Fixed sizes of a context.
public enum NetworkContextLimits {
    /// Program channels one context serves at most (a bit each in the context's 64-bit masks
    /// of ended, reserved and pending channels). Which of them can be used at once is bounded
    /// by memory: each needs its own shared and private memory.
    public static let maximumChannels = 64
    /// Frames handled per NIC pass before the rest of a pass gets a turn.
    public static let receiveBudget = 64
    /// How often the TCP connections' timers run: finer than the 1 s minimum RTO (RFC 6298)
    /// and the delayed-ACK delay, coarse enough to cost nothing.
    public static let tcpPollInterval: UInt64 = 1_000_000
    /// Frames one impaired direction may hold back at once (reordering, delay).
    public static let impairmentDelaySlots = 512
}
