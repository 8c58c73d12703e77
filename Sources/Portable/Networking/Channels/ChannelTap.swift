/// A hook on everything the network core reads from a channel's shared memory: a recording writes each read down, a replay supplies it.

/// One thing the network core read from, or wrote into, a channel's memory: the hook
/// (`ChannelTap`) sees it right after the core read it, and before the core acts on it.
///
/// Shared memory is the only way a program reaches the network core, and the core reads it at
/// a few points only: the request ring's tail, each request slot, the completion ring's head,
/// and the payload of each send when the request is taken. Those reads, with when a channel
/// was added and which programs ended, are every input a program gives the core. A recording
/// keeps them; a replay, with no program at all, puts the recorded values back in their place
/// at the same points, so the core on the host takes exactly the decisions it took in the
/// guest. (A program that writes a buffer after lending it to a send would change bytes the
/// core reads again on a retransmission: a replay of such a program shows a divergence.)
public struct ChannelObservation {
    /// What was read (or, for `completion`, written).
    public enum Kind: UInt8, Sendable {
        /// The request ring's tail, as loaded (`value`); a replay may change `value`.
        case requestTail
        /// A request copied out of its slot (`value`: its index; `bytes`: the private copy,
        /// which a replay overwrites).
        case request
        /// The completion ring's head, as loaded (`value`); a replay may change `value`.
        case completionHead
        /// The payload of a `send` or `streamSend` as the request is taken (`value`: the
        /// buffer's index; `bytes`: the payload in the channel's buffer, which a replay fills).
        case payload
        /// A completion pushed (`value`: its index; `bytes`: as written): an output, to check.
        case completion
        /// The channel was put into service (`value`: the program's CPU; `bytes`: its layout
        /// as four UInt32s, see `ChannelLayout.tapWords`).
        case added
        /// Programs ended, as the context took them (`value`: the mask of their channels).
        case ended
    }

    public var kind: Kind
    /// The channel (for `ended`, 0).
    public var channel: Int
    public var value: UInt64
    /// The bytes read or written (empty for the index kinds).
    public var bytes: UnsafeMutableRawBufferPointer

    public init(kind: Kind, channel: Int, value: UInt64,
                bytes: UnsafeMutableRawBufferPointer = UnsafeMutableRawBufferPointer(start: nil, count: 0)) {
        self.kind = kind
        self.channel = channel
        self.value = value
        self.bytes = bytes
    }
}

/// The hook itself: a C function and its context pointer, so that it is a plain value (no
/// reference counting, no allocation) that a `ServerChannel` and its rings can carry and that
/// costs one nil test where nobody listens. The kernel's recorder and the host's replayer are
/// in modules above this one; a function pointer lets them plug in without this module knowing
/// them. Only the network core's CPU calls it.
public struct ChannelTap {
    /// The hook: `context`, then a pointer to the `ChannelObservation`, which it may change.
    public typealias Function = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer) -> Void

    public let context: UnsafeMutableRawPointer?
    public let function: Function
    /// The channel this tap reports for (`ServerChannel` sets it to its identifier).
    public var channel = 0

    public init(context: UnsafeMutableRawPointer?, function: Function) {
        self.context = context
        self.function = function
    }

    /// Shows the hook one observation of this tap's channel; returns it as the hook left it.
    @inline(never)
    public func observe(_ kind: ChannelObservation.Kind, value: UInt64,
                        bytes: UnsafeMutableRawBufferPointer = UnsafeMutableRawBufferPointer(start: nil, count: 0)) -> UInt64 {
        var observation = ChannelObservation(kind: kind, channel: channel, value: value, bytes: bytes)
        withUnsafeMutablePointer(to: &observation) { function(context, UnsafeMutableRawPointer($0)) }
        return observation.value
    }
}

extension ChannelLayout {
    /// The layout's four capacities as a channel tap's `added` observation carries them:
    /// request capacity, completion capacity, buffer count, buffer size.
    public var tapWords: (UInt32, UInt32, UInt32, UInt32) { (requestCapacity, completionCapacity, bufferCount, bufferSize) }

    /// The layout `tapWords` describe, nil when they describe none (a bad recording).
    public init?(tapWords words: (UInt32, UInt32, UInt32, UInt32)) {
        guard Self.isValid(requestCapacity: words.0, completionCapacity: words.1, bufferCount: words.2, bufferSize: words.3)
        else { return nil }
        self.init(requestCapacity: words.0, completionCapacity: words.1, bufferCount: words.2, bufferSize: words.3)
    }
}
