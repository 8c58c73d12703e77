/// Boot options: the typed settings a command line such as `log=debug test=clock` selects.
import InternetAddress

/// How much the kernel logs.
public enum LogVerbosity: UInt8, Sendable {
    case debug, info, warning, error
}

/// In-kernel self tests, chosen with `test=NAME`. Each reports one result line and ends QEMU
/// through isa-debug-exit with its status.
public enum SelfTest: CaseIterable, Sendable {
    /// Every CPU the MADT lists comes online and answers.
    case processors
    /// One CPU touches an unmapped address; its fault is reported and the others go on.
    case pageFault
    /// One CPU executes UD2; the fault is reported and the others go on.
    case invalidOpcode
    /// One CPU overflows its stack into the guard page: a double fault on the IST stack,
    /// reported, and the others go on.
    case stackOverflow
    /// Every CPU allocates and frees at once; memory is reused, not leaked.
    case heapStress
    /// The monotonic clock keeps the CMOS clock's pace, on every CPU; the APIC timer agrees.
    case clock
    /// Inter-processor interrupts reach every CPU.
    case interprocessorInterrupts
    /// memset, memcpy, memmove and memcmp (boot/memory.asm) are right at every small length
    /// and alignment.
    case memoryFunctions

    /// The name used on the command line and in result lines.
    public var name: StaticString {
        switch self {
        case .processors: "cpus"
        case .pageFault: "page-fault"
        case .invalidOpcode: "invalid-opcode"
        case .stackOverflow: "stack-overflow"
        case .heapStress: "heap-stress"
        case .clock: "clock"
        case .interprocessorInterrupts: "ipi"
        case .memoryFunctions: "memory"
        }
    }
}

/// `net-mode=`: how the network shares the CPUs with programs.
public enum NetworkMode: Equatable, Sendable {
    /// Each network core owns a CPU and polls its NIC queue pair there; programs run on the
    /// other CPUs (the default, and the only mode before `net-mode=` existed).
    case dedicated
    /// No CPU is reserved: every CPU may run a program, and the NIC interrupts the CPUs that
    /// own its queue pairs, which then do the network work.
    case symmetric

    /// The name used on the command line.
    public var name: StaticString {
        switch self {
        case .dedicated: "dedicated"
        case .symmetric: "symmetric"
        }
    }
}

/// `net-idle=`: what a dedicated network core does when it has had nothing to do for a while.
public enum NetworkIdlePolicy: Equatable, Sendable {
    /// Keep polling (the default): the lowest latency, a host CPU always busy.
    case poll
    /// Halt until the core's own APIC timer fires a few tens of microseconds later; a frame
    /// that arrives meanwhile waits for the timer.
    case halt
    /// Halt as `halt` does, and also ask the NIC to interrupt the core when a frame arrives
    /// (its receive queue's MSI-X vector, armed only for the halt), as Linux's NAPI switches
    /// between polling under load and interrupts when idle.
    case interrupt

    /// The name used on the command line.
    public var name: StaticString {
        switch self {
        case .poll: "poll"
        case .halt: "halt"
        case .interrupt: "interrupt"
        }
    }
}

/// One `run=NAME@CPU`, or `run=NAME` (no CPU: the kernel places it).
public struct ProgramAssignment: Equatable, Sendable {
    /// The module name (at most 31 bytes).
    public var name: [UInt8]
    /// The application CPU, or nil: the least-loaded one.
    public var cpu: Int?
    public init(name: [UInt8], cpu: Int?) {
        self.name = name
        self.cpu = cpu
    }
}

/// Link impairment of one direction, as `impair-rx=`/`impair-tx=` give it (the network core
/// turns it into the Network module's `LinkImpairmentSettings`, which has the same fields).
/// Probabilities are in hundredths of a percent (basis points): `drop=1.5` is 150.
public struct ImpairmentSetting: Equatable, Sendable {
    /// `drop=PERCENT`: chance that a frame is dropped.
    public var dropBasisPoints: UInt16 = 0
    /// `dup=PERCENT`: chance that a frame is delivered twice.
    public var duplicateBasisPoints: UInt16 = 0
    /// `reorder=PERCENT`: chance that a frame is held back behind the next `gap` frames.
    public var reorderBasisPoints: UInt16 = 0
    /// `gap=FRAMES` (1...64, default 2): how many later frames overtake a reordered frame.
    public var reorderGap = 2
    /// `delay=MICROSECONDS` (0...1000000): how long every frame is held.
    public var delayMicroseconds = 0

    public init(dropBasisPoints: UInt16 = 0, duplicateBasisPoints: UInt16 = 0, reorderBasisPoints: UInt16 = 0,
                reorderGap: Int = 2, delayMicroseconds: Int = 0) {
        self.dropBasisPoints = dropBasisPoints
        self.duplicateBasisPoints = duplicateBasisPoints
        self.reorderBasisPoints = reorderBasisPoints
        self.reorderGap = reorderGap
        self.delayMicroseconds = delayMicroseconds
    }

    /// Whether this changes any frame.
    public var isActive: Bool {
        dropBasisPoints > 0 || duplicateBasisPoints > 0 || reorderBasisPoints > 0 || delayMicroseconds > 0
    }
}

/// Everything the boot command line can set, with the defaults used when it says nothing.
public struct BootOptions: Sendable {
    /// `log=debug|info|warn|error` (default `info`).
    public var logLevel: LogVerbosity = .info
    /// `test=NAME`: run one self test and exit QEMU with its result.
    public var selfTest: SelfTest? = nil
    /// `acpi-dump`: print every ACPI table as hex (to record test fixtures).
    public var dumpACPITables = false
    /// `fault-cpu=N`: the CPU that takes the deliberate fault in the fault tests (default: the
    /// last CPU, so the boot CPU can watch the others go on).
    public var faultCPU: Int? = nil

    /// `net=off`: leave the NIC alone (default on when a virtio-net device is present).
    public var networkEnabled = true
    /// `net-mode=dedicated|symmetric` (default `dedicated`): whether CPUs are reserved for
    /// the network. `NetworkPlacement.plan` turns this and `networkCPUs` into contexts.
    public var networkMode = NetworkMode.dedicated
    /// `net-cpus=LIST` (dedicated mode): the CPUs that run a network core, each owning one NIC
    /// queue pair in list order (default `[0]`, the boot CPU). LIST is CPU numbers and ranges
    /// separated by `+`, because QEMU's -fw_cfg string syntax reserves `,`: `net-cpus=0+1`,
    /// `net-cpus=1-2`, `net-cpus=0+2-3`, or a single number. The parser keeps it non-empty,
    /// without repeats and at most `maximumNetworkCPUs` long.
    public var networkCPUs: [Int] = [0]
    /// Whether `net-cpu=` or `net-cpus=` appeared on the command line: symmetric mode reserves
    /// no CPU, so `NetworkPlacement.plan` refuses such a request instead of ignoring it.
    public var networkCPUsGiven = false
    /// `net-cpu=N`, the one-CPU form of `net-cpus=`: the first network CPU. Setting it makes
    /// that CPU the only one.
    public var networkCPU: Int {
        get { networkCPUs.first ?? 0 }
        set { networkCPUs = [newValue] }
    }
    /// The longest `net-cpus=` list: a bound, so that a range such as `0-255` is refused
    /// rather than expanded, and a handful is all a boot-time plan needs.
    public static let maximumNetworkCPUs = 8
    /// `ip=A.B.C.D/P`: the interface address and prefix length (default QEMU user-mode
    /// networking's guest address, 10.0.2.15/24).
    public var address = IPv4Address(10, 0, 2, 15)
    public var prefixLength = 24
    /// `gateway=A.B.C.D` or `gateway=none` (default 10.0.2.2, QEMU's user-mode gateway).
    public var gateway: IPv4Address? = IPv4Address(10, 0, 2, 2)
    /// `net-stats=S`: print the network counters every S seconds (default 0: only on request,
    /// with the `c` key on the serial console).
    public var networkStatisticsInterval = 0
    /// `run=NAME@CPU` or `run=NAME` (repeatable; without a CPU the kernel picks the
    /// least-loaded application CPU) or `run=none`: which programs start, where.
    /// Nil when the command line says nothing: the kernel's default then applies (`http`,
    /// `tcp-echo` and `udp-echo`, spread over the application CPUs).
    public var programs: [ProgramAssignment]? = nil
    /// `app-wait=spin|sleep`: how programs wait for the network core (default `sleep`: spin
    /// briefly, then halt until the doorbell IPI).
    public var programsSpin = false
    /// `net-idle=poll|halt|interrupt[:PASSES[:MICROSECONDS]]`: whether a dedicated network
    /// core halts after `networkIdlePasses` passes in a row with nothing to do, for
    /// `networkIdleHaltMicroseconds` at most, woken by its APIC timer (`halt`) or also by an
    /// arriving frame (`interrupt`); default `poll`. The two numbers let an experiment vary
    /// when and how long the core halts without building another image.
    public var networkIdle = NetworkIdlePolicy.poll
    public var networkIdlePasses = BootOptions.defaultNetworkIdlePasses
    public var networkIdleHaltMicroseconds = BootOptions.defaultNetworkIdleHaltMicroseconds
    /// 256 empty passes (a fraction of a millisecond under TCG) and 50 µs: measured in
    /// docs/programs.md, "Halting the network core when idle".
    public static let defaultNetworkIdlePasses = 256
    public static let defaultNetworkIdleHaltMicroseconds = 50
    /// `impair-rx=drop=P:dup=P:reorder=P:gap=K:delay=US` (or `none`): impairment of received
    /// frames, applied by the network core before the stack sees them (default none). Fields
    /// are separated by `:` (not `,`, which QEMU's -fw_cfg string syntax reserves); each may be
    /// left out; percentages take up to two decimals (`drop=0.25`).
    public var receiveImpairment = ImpairmentSetting()
    /// `impair-tx=...` (same syntax): impairment of the frames the stack sends.
    /// `impair=...` sets both directions at once.
    public var transmitImpairment = ImpairmentSetting()
    /// `impair-seed=N` (decimal, up to 18 digits; default 1): the seed of the impairment's
    /// random choices, so that a run can be repeated.
    public var impairmentSeed: UInt64 = 1
    /// `offload=all|none|NAME+NAME...` (default `all`): the virtio-net offloads the driver asks
    /// for (`csum`, `guest-csum`, `tso4`, `guest-tso4`, `event-idx`; `NetworkOffloads`). The
    /// device may grant fewer; the boot log says which are in use.
    public var offloads = NetworkOffloads.all
    /// `tcp-send=lend|copy` (default `lend`): whether a program's `streamSend` buffer is lent
    /// to its connection until the peer acknowledges it (read in place, one copy into the NIC's
    /// buffer) or copied into the connection's send buffer at once (two copies, the buffer back
    /// at once).
    public var tcpSendLends = true
    /// `record=on|off` (default off): the network context records every input it acts on
    /// into a memory ring, for `swiglet-replay` on the host (docs/reliability.md).
    /// Dedicated mode with one network context (the kernel refuses it otherwise, and says
    /// why); programs' channels are recorded too.
    public var recordsNetwork = false
    /// `slice=MS` (1 to 1000, default 10): how long a program may keep its CPU while another
    /// program of that CPU is ready, in milliseconds.
    public var timeSliceMilliseconds = 10

    public init() {}
}
