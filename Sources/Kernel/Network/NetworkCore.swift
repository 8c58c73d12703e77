/// The kernel's network: the contexts the composition root builds over the NIC, and the dedicated network core's loop.
import BootConfiguration
import Channels
import Network
import NetworkContext
import PCI
import TCP
import Virtio
import Synchronization

/// A context as the kernel builds it: over a virtio-net queue pair, with the kernel as host.
typealias KernelNetworkContext = NetworkContext<ReceivePath, TransmitPath, KernelNetworkHost>

extension ReceivePath: FrameReceiver {}
extension TransmitPath: FrameSender {}

/// The kernel services a context calls on.
struct KernelNetworkHost: NetworkContextHost {
    func ringDoorbell(cpu: Int) { Doorbell.ring(cpu: cpu) }

    func stopProgram(cpu: Int) {
        let block = CPU.blockPointer(cpu)
        LocalAPIC.send(.init(vector: UInt8(InterruptVector.stopProgram), deliveryMode: .fixed, destination: block.pointee.apicID))
    }

    func writeMeter(into buffer: UnsafeMutableRawBufferPointer) -> Int { IntrusionMeter.write(into: buffer) }

    func renderMetrics(into buffer: UnsafeMutableRawBufferPointer) -> Int? { MetricsEndpoint.render(into: buffer) }
}

/// The network as the composition root built it: the contexts (one per queue pair) and which
/// CPUs run them. Written once on the boot CPU before any context runs or any program starts,
/// read-only afterwards (the `release` store of `networkCPUs` publishes it to the other CPUs).
enum NetworkCore {
    /// The contexts, indexed by queue pair; empty without a network.
    nonisolated(unsafe) private(set) static var contexts = UnsafeMutableBufferPointer<KernelNetworkContext>(start: nil, count: 0)
    /// The CPUs that run a context as a dedicated network core (bit n = CPU n). Stored with
    /// release once the contexts exist; loaded with acquire by anyone who then reads them.
    static let networkCPUs = Atomic<UInt64>(0)
    /// `net-idle=halt`: after this many passes in a row with nothing to do, the network core
    /// halts until its APIC timer fires `idleHaltNanoseconds` later. It still takes no device
    /// interrupt: only its own timer, and only when idle.
    static let idlePassesBeforeHalting = 256
    static let idleHaltNanoseconds: UInt64 = 50_000
    /// The key that prints the counters.
    static let countersKey = UInt8(ascii: "c")
    /// The TCP port of the metrics endpoint (Prometheus' own default is 9090 too).
    static let metricsPort: UInt16 = 9090

    /// Whether `cpu` is a dedicated network core.
    static func isNetworkCPU(_ cpu: Int) -> Bool {
        cpu >= 0 && cpu < 64 && networkCPUs.load(ordering: .acquiring) & (1 << UInt64(cpu)) != 0
    }

    /// Finds and starts the NIC and builds its context (on the boot CPU, before the ready line).
    /// Returns whether the network is up; without a usable device the kernel goes on without it.
    static func prepare(options: BootOptions, placement: NetworkPlacement) -> Bool {
        guard options.networkEnabled else {
            Log.info("net: disabled by net=off")
            return false
        }
        guard let function = PCIBus.find(VirtioNetDevice.isVirtioNet) else {
            Log.info("net: no virtio-net device; running without networking")
            return false
        }
        var started: VirtioNetDevice
        do throws(NetworkDeviceError) {
            // Symmetric mode: the receive queue interrupts the CPU that takes its work.
            let interrupt: (apicID: UInt32, vector: UInt8)? = placement.mode == .symmetric && !placement.contexts.isEmpty
                ? (CPU.blockPointer(placement.contexts[0].cpu).pointee.apicID, UInt8(InterruptVector.networkQueueBase))
                : nil
            started = try VirtioNetDevice.start(function, receiveInterrupt: interrupt)
        } catch {
            Log.error("net: virtio-net at \(function.address.bus):\(function.address.device).\(function.address.function) unusable: \(describe(error)); running without networking")
            return false
        }
        startTransmitImpairment(options, &started.transmit)
        let interface = InterfaceConfiguration(
            hardwareAddress: started.hardwareAddress,
            address: IPv4Address(rawValue: options.address.rawValue),
            prefixLength: options.prefixLength,
            gateway: options.gateway.map { IPv4Address(rawValue: $0.rawValue) })
        // TCP: up to 256 connections with the module's default 128 KiB send and receive
        // buffers, allocated per connection as it opens, and never more than a quarter of usable
        // memory: a flood fills the table, not the heap.
        let tcp = TCPConnectionConfiguration()
        let perConnection = UInt64(tcp.sendBufferCapacity + tcp.receiveBufferCapacity)
        let tcpCapacity = Int(min(UInt64(ChannelLayout.connectionCapacity), max(PhysicalMemory.usableBytes / 4 / perConnection, 8)))
        var configuration = NetworkContextConfiguration(
            interface: interface, tcpCapacity: tcpCapacity,
            tcpSecret: SipHashKey(low: Entropy.secret(), high: Entropy.secret()))
        configuration.tcp = tcp
        configuration.meterPort = IntrusionMeter.port
        configuration.metricsPort = metricsPort
        configuration.receiveImpairment = impairmentSettings(options.receiveImpairment)
        configuration.impairmentSeed = options.impairmentSeed
        contexts = .allocate(capacity: 1)
        contexts.initializeElement(at: 0, to: KernelNetworkContext(
            index: 0, configuration: configuration, receiver: started.receive, sender: started.transmit,
            host: KernelNetworkHost()))
        logImpairment(options)
        let mac = started.hardwareAddress.bytes
        Log.info("tcp: \(tcpCapacity) connections of \(perConnection >> 10) KiB buffers, secrets from \(Entropy.hasRandomInstruction ? "RDRAND" : "timing jitter (no RDRAND)"), metrics on port \(metricsPort)")
        Log.info("""
            net: virtio-net \(hex: mac.0, digits: 2, prefix: false):\(hex: mac.1, digits: 2, prefix: false):\
            \(hex: mac.2, digits: 2, prefix: false):\(hex: mac.3, digits: 2, prefix: false):\
            \(hex: mac.4, digits: 2, prefix: false):\(hex: mac.5, digits: 2, prefix: false) \
            link \(started.linkUp ? "up" : "down"), queues \(started.receive.queue.size)+\(started.transmit.queue.size), \
            address \(ipv4: options.address)/\(options.prefixLength)
            """)
        return true
    }

    /// The context that serves a program on `cpu` (one context today: the first).
    static func context(servingCPU cpu: Int) -> Int { 0 }

    // MARK: Symmetric mode (`net-mode=symmetric`)

    /// Whether the network runs symmetrically: no network core; the context runs in the kernel
    /// on whichever CPU takes the NIC's interrupt or enters the kernel. Set once on the boot
    /// CPU before any program starts (the job hand-off that starts a program publishes it).
    nonisolated(unsafe) private(set) static var isSymmetric = false
    /// Held by the CPU running the context's pass in symmetric mode. Taken with an acquiring
    /// compare-exchange and dropped with a releasing store, so each holder sees everything the
    /// previous holder wrote to the context. Never spun on: a CPU that finds it taken leaves
    /// the work to the holder, so an interrupt arriving on a CPU that holds it cannot deadlock.
    static let contextBusy = Atomic<Bool>(false)
    /// How long a CPU waiting in the kernel sleeps at most before serving the context again in
    /// symmetric mode: the tick that runs TCP's timers and catches frames whose interrupt came
    /// while another CPU held the context.
    static let symmetricTickNanoseconds: UInt64 = 1_000_000

    /// Enters symmetric mode (boot CPU, before programs start).
    static func startSymmetric() { isSymmetric = true }

    /// Symmetric mode: runs one pass of the context on the calling CPU unless another CPU is
    /// running it. Called from the NIC's interrupt, from `wait` and `yield`, and from the boot
    /// CPU's idle loop; a no-op in dedicated mode. The time goes to the CPU's network counter
    /// (`networkNanoseconds`), which the intrusion meter shows.
    static func serveInKernel() {
        guard isSymmetric, !contexts.isEmpty else { return }
        guard contextBusy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        let start = MonotonicClock.nanosecondsSinceBoot
        _ = contexts[0].pass(now: start)
        contextBusy.store(false, ordering: .releasing)
        // Relaxed: a statistic, written only by this CPU.
        CPU.current.pointee.networkNanoseconds.wrappingAdd(MonotonicClock.nanosecondsSinceBoot &- start, ordering: .relaxed)
    }

    /// The boot CPU's loop in symmetric mode: it takes the NIC's interrupt (one queue pair:
    /// see the README) and otherwise serves the context on a slow tick (timers, and work no
    /// one else picked up). Never returns.
    static func symmetricIdleLoop() -> Never {
        while true {
            serveInKernel()
            interrupts_disable()
            LocalAPIC.armOneShot(nanoseconds: 10 * symmetricTickNanoseconds)
            interrupts_enable_and_halt()
        }
    }

    /// Publishes which CPUs are network cores (before programs start: they must not land there).
    static func assign(networkCPU: Int) {
        networkCPUs.store(1 << UInt64(networkCPU), ordering: .releasing)
    }

    /// Becomes the dedicated network core of context `index` on the calling CPU. Never returns.
    /// Each pass runs the context; when idle and `net-idle=halt`, it halts briefly on its own
    /// timer. Every 1,024 passes it checks the console key and the statistics timer.
    static func run(context index: Int) -> Never {
        let context = contexts[index]
        var meter = BusyMeter(interruptsAtStart: CPU.current.pointee.interruptCount.load(ordering: .relaxed))
        Log.info("""
            net: network core running (\(Kernel.options.networkHaltsWhenIdle ? "polling, halting when idle" : "polling"); \
            queue pair \(index); \(context.channelCount) program channels; built-in UDP echo on port 7 unless a program binds it)
            """)
        let statisticsInterval = UInt64(Kernel.options.networkStatisticsInterval) * 1_000_000_000
        var nextStatistics = statisticsInterval == 0 ? UInt64.max : MonotonicClock.nanosecondsSinceBoot + statisticsInterval
        var pass: UInt32 = 0
        let haltWhenIdle = Kernel.options.networkHaltsWhenIdle
        var idlePasses = 0
        while true {
            let now = MonotonicClock.nanosecondsSinceBoot
            let work = context.pass(now: now)
            if !work.isIdle {
                meter.busyNanoseconds &+= MonotonicClock.nanosecondsSinceBoot &- now
                idlePasses = 0
            } else if haltWhenIdle {
                idlePasses += 1
                if idlePasses >= idlePassesBeforeHalting {
                    idlePasses = 0
                    interrupts_disable()
                    LocalAPIC.armOneShot(nanoseconds: idleHaltNanoseconds)
                    interrupts_enable_and_halt()
                }
            }
            pass &+= 1
            // The console and the statistics timer are checked every 1024 passes: cheap, and
            // still many times a second.
            if pass & 1023 == 0 {
                if SerialPort.com1.read() == countersKey || now >= nextStatistics {
                    printCounters(context, meter: &meter)
                    IntrusionMeter.print()
                    if now >= nextStatistics { nextStatistics = now + statisticsInterval }
                }
            }
        }
    }

    /// Prints a context's counters with a value, a few to a line.
    static func printCounters(_ context: KernelNetworkContext, meter: inout BusyMeter) {
        // The network core's own intrusion: it should take no interrupts at all while serving.
        let interrupts = CPU.current.pointee.interruptCount.load(ordering: .relaxed) - meter.interruptsAtStart
        let now = MonotonicClock.nanosecondsSinceBoot
        let busyPercent = meter.busyPercentSinceLastReport(now: now)
        Console.write(line: """
            net counters at \(seconds: now)s, network core cpu\(CPU.currentIndex) interrupts=\(interrupts) \
            busy=\(busyPercent)% context=\(context.index) since the last report:
            """)
        var line = TextBuffer()
        var onLine = 0
        for (name, value) in context.networkCounters.entries {
            guard value != 0 else { continue }
            line.appendLiteral("  ")
            line.appendInterpolation(name)
            line.appendLiteral("=")
            line.appendInterpolation(value)
            onLine += 1
            if onLine == 6 {
                Console.write(line: Message(stringInterpolation: line))
                line = TextBuffer()
                onLine = 0
            }
        }
        if onLine > 0 { Console.write(line: Message(stringInterpolation: line)) }
        let transmit = context.transmitter
        let receive = context.frameReceiver
        Console.write(line: "  nic: sent=\(transmit.framesSent) notifications=\(transmit.notifications) runts=\(receive.runtFrames) invalid-used=\(receive.queue.invalidUsedElementCount + transmit.queue.invalidUsedElementCount)")
    }

    /// The Network module's impairment settings for one direction of `impair-rx=`/`impair-tx=`.
    private static func impairmentSettings(_ setting: ImpairmentSetting) -> LinkImpairmentSettings {
        LinkImpairmentSettings(dropBasisPoints: setting.dropBasisPoints, duplicateBasisPoints: setting.duplicateBasisPoints,
                               reorderBasisPoints: setting.reorderBasisPoints, reorderGap: setting.reorderGap,
                               delayMicroseconds: setting.delayMicroseconds)
    }

    /// Sets up `impair-tx=` on the NIC's transmit path (testing only: a lossy link on purpose).
    private static func startTransmitImpairment(_ options: BootOptions, _ transmit: inout TransmitPath) {
        let settings = impairmentSettings(options.transmitImpairment)
        guard settings.isActive else { return }
        transmit.impairmentScratch = UnsafeMutableRawPointer.allocate(byteCount: PacketBufferPool.bufferBytes, alignment: 64)
        transmit.impairment = ImpairedLinkDirection(settings: settings, seed: options.impairmentSeed, stream: 1,
                                                    delaySlots: NetworkContextLimits.impairmentDelaySlots)
        transmit.impairs = true
    }

    private static func logImpairment(_ options: BootOptions) {
        let receive = impairmentSettings(options.receiveImpairment)
        let transmit = impairmentSettings(options.transmitImpairment)
        guard receive.isActive || transmit.isActive else { return }
        Log.warning("net: impairing the link on purpose (seed \(options.impairmentSeed)); basis points, 100 = 1%:")
        Log.warning("net:   receive drop \(receive.dropBasisPoints) dup \(receive.duplicateBasisPoints) reorder \(receive.reorderBasisPoints) delay \(receive.delayMicroseconds)us")
        Log.warning("net:   transmit drop \(transmit.dropBasisPoints) dup \(transmit.duplicateBasisPoints) reorder \(transmit.reorderBasisPoints) delay \(transmit.delayMicroseconds)us")
    }

    static func describe(_ error: NetworkDeviceError) -> StaticString {
        switch error {
        case .notModern: "no virtio 1.x capabilities"
        case .barUnusable: "a capability points outside its BAR"
        case .outOfMemory: "out of memory"
        case .interruptsUnavailable: "no MSI-X interrupt for the receive queue (needed by net-mode=symmetric)"
        case .virtio(let error):
            switch error {
            case .resetTimedOut: "reset timed out"
            case .missingFeatures: "VIRTIO_F_VERSION_1 not offered"
            case .deviceRejectedFeatures: "device rejected our features"
            case .deviceFailed: "device reported failure"
            case .queueUnavailable: "queue unavailable"
            case .queueTooSmall: "queue too small"
            }
        }
    }
}

/// How a network core spends its time: nanoseconds in passes that did work, against all
/// nanoseconds since it started. A polling CPU always looks 100% busy to the host; this says
/// how much of that was work.
struct BusyMeter {
    /// The CPU's interrupt count when it started (it was woken into the job by an IPI, which is
    /// not part of serving the network).
    let interruptsAtStart: UInt64
    var busyNanoseconds: UInt64 = 0
    var reportedBusy: UInt64 = 0
    var reportedAt: UInt64 = MonotonicClock.nanosecondsSinceBoot

    init(interruptsAtStart: UInt64) { self.interruptsAtStart = interruptsAtStart }

    /// The busy share since the previous report, in percent.
    mutating func busyPercentSinceLastReport(now: UInt64) -> UInt64 {
        let percent = now > reportedAt ? (busyNanoseconds - reportedBusy) * 100 / (now - reportedAt) : 0
        reportedBusy = busyNanoseconds
        reportedAt = now
        return percent
    }
}
