/// The one word the kernel passes a program at start (in RDI): where its channel is, and how it
/// should wait for the network core.

/// `channelAddress | networkCoreHalts << 8 | waitPolicy`: the channel is page-aligned, so the
/// low 12 bits are free.
public struct ProgramStartArgument: Equatable, Sendable {
    /// How a program waits when its channel has nothing for it.
    public enum WaitPolicy: UInt64, Sendable {
        /// Spin a little, then sleep in the kernel until the network core's doorbell IPI: no
        /// CPU burnt while idle, one IPI and one system call per wake-up.
        case sleep = 0
        /// Spin forever: no interrupt and no system call ever, at the price of a busy CPU.
        case spin = 1
        /// Enter the kernel (`wait`) at once: symmetric networking, where the kernel serves the
        /// channel when the program enters it, so spinning would only delay that.
        case enterKernel = 2
    }

    /// The channel's address in the program (0: no channel).
    public var channelAddress: UInt64
    public var waitPolicy: WaitPolicy
    /// Whether the network core may halt when idle (`net-idle=halt|interrupt`): the program
    /// then watches its request ring's asleep word and kicks the core (`ConsumerSleepWatch`);
    /// otherwise it never looks, so the default, polling, pays nothing for the kick.
    public var networkCoreHalts: Bool

    /// Bit 8 of the word: `networkCoreHalts`.
    static let networkCoreHaltsBit: UInt64 = 0x100

    public init(channelAddress: UInt64, waitPolicy: WaitPolicy, networkCoreHalts: Bool = false) {
        precondition(channelAddress & 0xFFF == 0, "channels are page aligned")
        self.channelAddress = channelAddress
        self.waitPolicy = waitPolicy
        self.networkCoreHalts = networkCoreHalts
    }

    /// Decodes the word (unknown policy bits read as `sleep`).
    public init(rawValue: UInt64) {
        channelAddress = rawValue & ~0xFFF
        waitPolicy = WaitPolicy(rawValue: rawValue & 0xFF) ?? .sleep
        networkCoreHalts = rawValue & Self.networkCoreHaltsBit != 0
    }

    public var rawValue: UInt64 { channelAddress | (networkCoreHalts ? Self.networkCoreHaltsBit : 0) | waitPolicy.rawValue }
}
