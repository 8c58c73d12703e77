/// The layout of a network context's recording: a header, then events, every field little-endian.

/// A recording (`record=on`) is one block of memory:
///
///     offset  0  magic "SWGLREC2"                          8 bytes
///     offset  8  committed: bytes of events after offset 32, u64 — stored with release after
///                each whole event, so a copy taken at any moment (QEMU's pmemsave) holds a
///                consistent prefix
///     offset 16  flags, u32: bit 0 the ring filled up and recording stopped
///     offset 20  events recorded, u32 (saturating)
///     offset 24  reserved, 8 bytes
///     offset 32  events
///
/// Each event: kind u8, 3 zero bytes, payload length u32, the payload, zero padding to a
/// multiple of 8. The first event is always `configuration`. The events are every input the
/// context acts on — the clock of each pass, each frame and the device's word on its checksum,
/// what the transmit queue accepted, what the kernel answered when asked for meter or metrics
/// text, and everything it read from program channels (`ChannelObservation`: ring indices,
/// requests, payloads, channels added, programs ended) — and, to check a replay against,
/// everything it did: each frame it built, each completion it wrote, each doorbell it rang,
/// each program it stopped or channel it released. Nothing else decides what a context does.
/// (Version 2: version 1 had no channel events and is not read.)
public enum RecordFormat {
    /// "SWGLREC2".
    public static let magic: UInt64 = 0x3243_4552_4C47_5753
    /// "SWGLREC1": the format before program channels were recorded.
    public static let firstVersionMagic: UInt64 = 0x3143_4552_4C47_5753
    public static let committedOffset = 8
    public static let flagsOffset = 16
    public static let eventCountOffset = 20
    public static let headerSize = 32
    /// Flag bit: the ring filled and the events stop there (the recording is a prefix).
    public static let fullFlag: UInt32 = 1
    /// Bytes before each event's payload.
    public static let eventHeaderSize = 8

    /// What an event records.
    public enum Kind: UInt8, Sendable, CaseIterable {
        /// How the context was built (`RecordedConfiguration`): addresses, table size, the
        /// TCP secret key, buffer sizes, impairment seed.
        case configuration = 1
        /// A pass began at this time: now, u64.
        case pass = 2
        /// A frame from the NIC: checksum verdict u8 (0 unverified, 1 trusted, 2 coalesced),
        /// 7 zero bytes, the frame.
        case received = 3
        /// The receiver had no more frames for this call (or reached its limit).
        case receiveEnd = 4
        /// A transmit: flags u8 (bit 0 the frame was built, bit 1 the queue took it), 3 zero
        /// bytes, segment size u32 (0: an ordinary frame), the frame as built.
        case transmitted = 5
        /// The largest segmented frame the transmit queue would take now: u64.
        case largestSegment = 6
        /// The transmit queue was kicked.
        case flush = 7
        /// The kernel's meter text.
        case meterText = 8
        /// The kernel's metrics text: present u8, 7 zero bytes, the text.
        case metricsText = 9
        /// A doorbell rung: cpu u32, channel u32.
        case doorbell = 10
        /// A program channel put into service: channel u32, cpu u32, then its layout's request
        /// capacity, completion capacity, buffer count and buffer size, u32 each.
        case channelAdded = 11
        /// Passes that did nothing but ask for frames (none came), read request-ring tails
        /// that were as last recorded (a replay answers those reads with that tail), and kick
        /// the transmit queue:
        /// count u32, 4 zero bytes, the first pass's clock u64, then each further pass's clock
        /// as the difference from the one before, LEB128 (7 bits a byte, low first). Read back,
        /// each is the three events `pass`, `receiveEnd`, `flush`.
        case idlePasses = 12
        /// A channel's request-ring tail as the context loaded it: channel u32, tail u32.
        case requestTail = 13
        /// A request as the context copied it out of its slot: channel u32, index u32, the copy.
        case request = 14
        /// A channel's completion-ring head as the context loaded it: channel u32, head u32.
        case completionHead = 15
        /// A send's payload as its request was taken: channel u32, buffer u32, the bytes.
        case payload = 16
        /// A completion the context wrote: channel u32, index u32, the completion.
        case completion = 17
        /// Programs that ended, as the context took them: their channels' mask, u64.
        case channelsEnded = 18
        /// The context stopped a program that broke its channel's protocol: cpu u32, channel u32.
        case programStopped = 19
        /// A channel released: channel u32, 4 zero bytes, then its final `ChannelCounters`.
        case channelReleased = 20
    }

    /// The padded size of an event with `payload` bytes.
    public static func eventSize(payload: Int) -> Int { (eventHeaderSize + payload + 7) & ~7 }
}
