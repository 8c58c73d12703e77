/// The kernel's network: the contexts the composition root builds over the NIC, and the dedicated network core's loop.
import BootConfiguration
import Channels
import Network
import NetworkContext
import NetworkRecording
import PCI
import Paging
import TCP
import Virtio
import Synchronization

/// A context as the kernel builds it: over a virtio-net queue pair, with the kernel as host,
/// each behind a recording port that only passes calls on unless `record=on` gave it a recorder.
typealias KernelNetworkContext = NetworkContext<RecordingReceiver<ReceivePath>, RecordingSender<TransmitPath>,
                                                RecordingHost<KernelNetworkHost>>

extension ReceivePath: FrameReceiver {}
extension TransmitPath: FrameSender {}

/// The kernel services a context calls on.
struct KernelNetworkHost: NetworkContextHost {
    /// The context this host serves.
    let context: Int

    func ringDoorbell(cpu: Int, channel: Int) { Doorbell.ring(cpu: cpu, context: context, channel: channel) }

    func stopProgram(cpu: Int, channel: Int) {
        Programs.stopForProtocolViolation(context: context, channel: channel)
    }

    func channelReleased(channel: Int, counters: ChannelCounters) {
        Programs.channelReleased(context: context, channel: channel, counters: counters)
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
    /// The NIC's link and reset watch: read and written only by the CPU that runs context 0
    /// (or, in symmetric mode, the boot CPU's idle loop); `/metrics` reads its counts.
    nonisolated(unsafe) private(set) static var nicWatch: NICWatch? = nil
    /// `record=on`: the recording of context 0, written only by the CPU that runs it; nil
    /// when not recording.
    nonisolated(unsafe) private(set) static var recorder: UnsafeMutablePointer<RecordWriter>? = nil
    static let recordingBytes = 32 << 20
    /// The CPUs that run a context as a dedicated network core (bit n = CPU n). Stored with
    /// release once the contexts exist; loaded with acquire by anyone who then reads them.
    static let networkCPUs = Atomic<UInt64>(0)
    /// How often a network core looks at the console, the NIC's health and its statistics
    /// timer: 100 times a second, quick for a typed key (QEMU holds input the UART's FIFO cannot
    /// take, so nothing typed is lost), rare enough that the port reads (each waits for QEMU's
    /// global lock) stay out of the busy loop. 1,024 passes, the old count, was 1-20 ms.
    static let housekeepingNanoseconds: UInt64 = 10_000_000
    /// The TCP port of the metrics endpoint (Prometheus' own default is 9090 too).
    static let metricsPort: UInt16 = 9090

    /// Whether `cpu` is a dedicated network core.
    static func isNetworkCPU(_ cpu: Int) -> Bool {
        cpu >= 0 && cpu < 64 && networkCPUs.load(ordering: .acquiring) & (1 << UInt64(cpu)) != 0
    }

    /// How many queue pairs to ask the NIC for: one per network core in dedicated mode, one
    /// per CPU (up to the vectors set aside) in symmetric mode.
    static func wantedQueuePairs(options: BootOptions, onlineCPUs: Int) -> Int {
        switch options.networkMode {
        case .dedicated: max(options.networkCPUs.count, 1)
        case .symmetric: max(1, min(onlineCPUs, Int(InterruptVector.networkQueueCount), PortDirectory.maximumContexts))
        }
    }

    /// Finds and starts the NIC with up to `queuePairs` queue pairs (on the boot CPU, before
    /// the placement is planned: the plan needs to know how many the device gave). In
    /// symmetric mode pair i interrupts CPU i. nil without a usable device: the kernel goes on
    /// without networking.
    static func startDevice(options: BootOptions, queuePairs: Int) -> VirtioNetDevice? {
        guard options.networkEnabled else {
            Log.info("net: disabled by net=off")
            return nil
        }
        guard let function = PCIBus.find(VirtioNetDevice.isVirtioNet) else {
            Log.info("net: no virtio-net device; running without networking")
            return nil
        }
        let symmetric = options.networkMode == .symmetric
        do throws(NetworkDeviceError) {
            // Symmetric mode: each receive queue interrupts the CPU that takes its work.
            // Received checksums stay ours under impair-rx=: its queue keeps bytes, not the
            // device's word on them (`NetworkContext.receiveFrames`).
            var offloads = options.offloads
            if options.receiveImpairment.isActive { offloads.remove(.receiveChecksum) }
            // Merged segments are larger than the hand-off rings' slots and the impairment's
            // delay line: one context only, no impair-rx=.
            if options.receiveImpairment.isActive || queuePairs > 1 { offloads.remove(.receiveSegmentation) }
            // net-idle=interrupt: each pair's receive queue may interrupt the network core that
            // will run its context, armed only while that core halts. Which core that is, the
            // placement says (planned here for the pairs asked for; the plan after the device
            // gives the same CPU to each pair it keeps).
            let wakesByInterrupt = !symmetric && options.networkIdle == .interrupt
            let planned = wakesByInterrupt
                ? try? NetworkPlacement.plan(options: options, onlineCPUs: Kernel.onlineCPUs, queuePairs: queuePairs).get()
                : nil
            let device = try VirtioNetDevice.start(function, queuePairs: queuePairs, offloads: offloads,
                                                   interruptsOn: symmetric) { pair in
                let cpu = symmetric ? pair : planned.flatMap { pair < $0.contexts.count ? $0.contexts[pair].cpu : nil } ?? -1
                guard cpu >= 0, cpu < Kernel.onlineCPUs else { return nil }
                return (CPU.blockPointer(cpu).pointee.apicID, UInt8(InterruptVector.networkQueueBase) + UInt8(pair))
            }
            if wakesByInterrupt && !device.pairs.allSatisfy({ $0.receive.interruptsOnArrival }) {
                Log.warning("net: net-idle=interrupt, but the receive queues have no MSI-X interrupt: the network core halts on its timer alone, as net-idle=halt")
            }
            if device.offloads != offloads {
                Log.info("net: offloads \(offloads: device.offloads) in use; \(offloads: offloads) asked for (offload=)")
            } else {
                Log.info("net: offloads \(offloads: device.offloads) in use (offload=)")
            }
            if !options.tcpSendLends { Log.info("net: TCP sends copied, not lent (tcp-send=copy)") }
            if let shortfall = device.shortfall {
                Log.warning("net: \(queuePairs) queue pairs asked for, \(device.pairs.count) in use: \(shortfall)")
            }
            return device
        } catch {
            Log.error("net: virtio-net at \(function.address.bus):\(function.address.device).\(function.address.function) unusable: \(describe(error)); running without networking")
            return nil
        }
    }

    /// `record=on`: allocates the recording's memory and starts it with `configuration`, when
    /// the boot is one the replay can follow; otherwise says why not and records nothing.
    private static func startRecording(placement: NetworkPlacement, configuration: NetworkContextConfiguration) {
        guard placement.mode == .dedicated && placement.contexts.count == 1 else {
            Log.error("record=on: not recording: it records one network context in net-mode=dedicated, and this boot has \(placement.contexts.count) in \(placement.mode.name) mode")
            return
        }
        guard let memory = PhysicalMemory.allocate(count: Page.count(covering: recordingBytes)) else {
            Log.error("record=on: not recording: no \(recordingBytes >> 20) MiB of contiguous memory (boot with more -m)")
            return
        }
        let writer = UnsafeMutablePointer<RecordWriter>.allocate(capacity: 1)
        writer.initialize(to: RecordWriter(memory: UnsafeMutableRawBufferPointer(start: memory.pointer,
                                                                                  count: recordingBytes),
                                           configuration: configuration))
        recorder = writer
        Log.info("record: recording network context 0 into \(recordingBytes >> 20) MiB at \(hex: memory.rawValue); save it from QEMU's monitor with stop, then pmemsave \(hex: memory.rawValue) \(recordingBytes) \"FILE\", and run swiglet-replay FILE")
    }

    /// Builds one context per queue pair of `device` as `placement` says (on the boot CPU,
    /// before the ready line), and the mesh that joins them.
    static func prepare(device: VirtioNetDevice, options: BootOptions, placement: NetworkPlacement, entropy: inout Entropy) {
        var device = device
        for pair in device.pairs.indices { startTransmitImpairment(options, &device.pairs[pair].transmit) }
        let interface = InterfaceConfiguration(
            hardwareAddress: device.hardwareAddress,
            address: options.address,
            prefixLength: options.prefixLength,
            gateway: options.gateway)
        // TCP gets a third of usable memory over all contexts. Of each context's share, the
        // connection records (`bytesPerConnection` each, allocated up front) may take half, up
        // to the 16,384 connection numbers channels can name; the rest is the pool the buffers
        // grow from, which idle connections do not touch. So the number of connections is
        // bounded by memory, and a flood fills the table or the pool, never the heap.
        let count = placement.contexts.count
        let tcp = TCPConnectionConfiguration()
        let share = PhysicalMemory.usableBytes / 3 / UInt64(count)
        let tcpCapacity = Int(min(UInt64(ChannelLayout.connectionCapacity),
                                  max(share / 2 / UInt64(KernelNetworkContext.bytesPerConnection), 8)))
        let poolBytes = Int(share) - tcpCapacity * KernelNetworkContext.bytesPerConnection
        var scaling: ReceiveSideScaling? = nil
        if case .receiveSideScaling(let configured) = device.steering { scaling = configured }
        let mesh = ContextMesh(contextCount: count, receiveSideScaling: scaling)
        var configuration = NetworkContextConfiguration(
            interface: interface, tcpCapacity: tcpCapacity,
            tcpSecret: SipHashKey(low: entropy.secret(), high: entropy.secret()))
        configuration.tcp = tcp
        configuration.tcpBufferPoolBytes = poolBytes
        configuration.meterPort = IntrusionMeter.port
        configuration.metricsPort = metricsPort
        configuration.receiveImpairment = impairmentSettings(options.receiveImpairment)
        configuration.impairmentSeed = options.impairmentSeed
        configuration.mesh = mesh
        configuration.tcpSendLends = options.tcpSendLends
        // One fact, two users: the driver marks NEEDS_CSUM exactly when the stacks leave it.
        configuration.transmitChecksum = device.features.contains(.deviceChecksum) ? .device : .software
        nicWatch = NICWatch(device: device, now: MonotonicClock.nanosecondsSinceBoot)
        if options.recordsNetwork { startRecording(placement: placement, configuration: configuration) }
        contexts = .allocate(capacity: count)
        let locks = UnsafeMutablePointer<Atomic<Bool>>.allocate(capacity: count)
        for index in 0..<count {
            // Every context hashes its connections with the same key: a flow is one flow.
            let recording = index == 0 ? recorder : nil
            contexts.initializeElement(at: index, to: KernelNetworkContext(
                index: index, configuration: configuration,
                receiver: RecordingReceiver(device.pairs[index].receive, recorder: recording),
                sender: RecordingSender(device.pairs[index].transmit, recorder: recording),
                host: RecordingHost(KernelNetworkHost(context: index), recorder: recording)))
            (locks + index).initialize(to: Atomic<Bool>(false))
        }
        contextLocks = locks
        for (index, context) in placement.contexts.enumerated() where index < 8 { cpuOfContext[index] = Int8(context.cpu) }
        for cpu in 0..<min(Kernel.onlineCPUs, maximumCPUs) {
            servingContext[cpu] = Int8(placement.context(servingProgramOn: cpu) ?? -1)
        }
        queuePairs = device.pairs.count
        logImpairment(options)
        let mac = device.hardwareAddress.bytes
        Log.info("tcp: \(tcpCapacity) connections and \(poolBytes >> 20) MiB of buffers (each \(tcp.initialReceiveBufferCapacity >> 10)+\(tcp.initialSendBufferCapacity >> 10) KiB growing to \(tcp.receiveBufferCapacity >> 10)+\(tcp.sendBufferCapacity >> 10) KiB) per context, keys from \(entropy.source.name), metrics on port \(metricsPort)")
        Log.info("""
            net: virtio-net \(hex: mac.0, digits: 2, prefix: false):\(hex: mac.1, digits: 2, prefix: false):\
            \(hex: mac.2, digits: 2, prefix: false):\(hex: mac.3, digits: 2, prefix: false):\
            \(hex: mac.4, digits: 2, prefix: false):\(hex: mac.5, digits: 2, prefix: false) \
            link \(device.linkUp ? "up" : "down"), queues \(device.pairs[0].receive.queue.size)+\(device.pairs[0].transmit.queue.size) \
            x\(device.pairs.count) (\(steeringName(device.steering))), address \(ipv4: options.address)/\(options.prefixLength)
            """)
    }

    /// How the boot log names the steering.
    static func steeringName(_ steering: ReceiveSteering) -> StaticString {
        switch steering {
        case .single: "one pair"
        case .automatic: "automatic steering"
        case .receiveSideScaling: "RSS"
        }
    }

    /// The most CPUs the kernel knows (boot/layout.asm's MAXIMUM_CPUS).
    static let maximumCPUs = 64
    /// The queue pairs in use (one per context); 0 without a network.
    nonisolated(unsafe) private(set) static var queuePairs = 0
    /// The context that serves a program on each CPU (-1: none), from the placement.
    nonisolated(unsafe) private static var servingContext = InlineArray<64, Int8>(repeating: -1)

    /// The CPU that runs context `index` (dedicated) or takes its queue's interrupt (symmetric).
    nonisolated(unsafe) private static var cpuOfContext = InlineArray<8, Int8>(repeating: -1)
    static func contextCPU(_ index: Int) -> Int { index >= 0 && index < 8 ? Int(cpuOfContext[index]) : -1 }

    /// The context that serves a program on `cpu`, or nil when none may run there.
    static func context(servingCPU cpu: Int) -> Int? {
        guard cpu >= 0 && cpu < maximumCPUs, servingContext[cpu] >= 0 else { return nil }
        return Int(servingContext[cpu])
    }

    /// The `kick` system call: wakes the dedicated network core serving the calling CPU's
    /// program if it is halted (`net-idle=halt|interrupt`). True when the IPI went out.
    static func kick() -> Bool {
        guard !isSymmetric, let index = context(servingCPU: CPU.currentIndex) else { return false }
        let cpu = contextCPU(index)
        guard cpu >= 0 else { return false }
        let core = CPU.blockPointer(cpu)
        // Acquiring and releasing: the core set the flag (releasing) before it announced its
        // sleep, so a program that saw the announcement finds it set here unless the core
        // woke since, which needs no IPI. The exchange lets one kick per halt through.
        guard core.pointee.networkCoreHalted.exchange(false, ordering: .acquiringAndReleasing) else { return false }
        // Relaxed: this CPU's own statistic.
        CPU.current.pointee.networkKicks.wrappingAdd(1, ordering: .relaxed)
        LocalAPIC.sendWakeUp(to: core.pointee.apicID)
        return true
    }

    // MARK: Symmetric mode (`net-mode=symmetric`)

    /// Whether the network runs symmetrically: no network core; each context runs in the
    /// kernel on whichever CPU takes its queue's interrupt or enters the kernel. Set once on
    /// the boot CPU before any program starts (the job hand-off that starts a program publishes it).
    nonisolated(unsafe) private(set) static var isSymmetric = false
    /// One lock per context, held by the CPU running that context's pass in symmetric mode.
    /// Taken with an acquiring compare-exchange and dropped with a releasing store, so each
    /// holder sees everything the previous holder wrote to the context. Never spun on: a CPU
    /// that finds it taken leaves the work to the holder, so an interrupt arriving on a CPU
    /// that holds it cannot deadlock.
    nonisolated(unsafe) private static var contextLocks: UnsafeMutablePointer<Atomic<Bool>>? = nil
    /// How long a CPU waiting in the kernel sleeps at most before serving its context again in
    /// symmetric mode: the tick that runs TCP's timers and catches frames whose interrupt came
    /// while another CPU held the context.
    static let symmetricTickNanoseconds: UInt64 = 1_000_000

    /// Enters symmetric mode (boot CPU, before programs start).
    static func startSymmetric() { isSymmetric = true }

    /// Symmetric mode: runs one pass of the context that serves the calling CPU's program
    /// (from `wait` and `yield`). A no-op in dedicated mode.
    static func serveInKernel() {
        guard isSymmetric, let index = context(servingCPU: CPU.currentIndex) else { return }
        serveInKernel(context: index)
    }

    /// Symmetric mode: runs one pass of context `index` on the calling CPU unless another CPU
    /// is running it. Called from the context's queue interrupt, from `wait` and `yield`, and
    /// from the boot CPU's idle loop. The time goes to the CPU's network counter
    /// (`networkNanoseconds`), which the intrusion meter shows.
    static func serveInKernel(context index: Int) {
        guard isSymmetric, index >= 0, index < contexts.count, let locks = contextLocks else { return }
        let lock = locks + index
        guard lock.pointee.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        let start = MonotonicClock.nanosecondsSinceBoot
        _ = contexts[index].pass(now: start)
        lock.pointee.store(false, ordering: .releasing)
        // Relaxed: a statistic, written only by this CPU.
        CPU.current.pointee.networkNanoseconds.wrappingAdd(MonotonicClock.nanosecondsSinceBoot &- start, ordering: .relaxed)
    }

    /// Symmetric mode: the NIC watch touches queue pair 0 only while holding context 0's lock
    /// (acquire/release as in `serveInKernel`: other CPUs run that context too); skipped this
    /// time when another CPU holds it.
    private static func watchNICUnderLock() {
        guard contexts.count > 0, let lock = contextLocks else { return }
        guard lock.pointee.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        nicWatch?.check(now: MonotonicClock.nanosecondsSinceBoot, context: contexts[0], contextCount: contexts.count)
        lock.pointee.store(false, ordering: .releasing)
    }

    /// The boot CPU's loop in symmetric mode: it takes its own queue's interrupt and otherwise
    /// serves every context on a slow tick (timers, and work no one else picked up: a CPU whose
    /// program spins in user mode never enters the kernel). Never returns.
    static func symmetricIdleLoop() -> Never {
        var seenRequests: UInt64 = 0
        while true {
            for index in 0..<contexts.count { serveInKernel(context: index) }
            if ConsoleShell.poll() { countersRequests.wrappingAdd(1, ordering: .relaxed) }
            watchNICUnderLock()
            let requests = countersRequests.load(ordering: .relaxed)
            if requests != seenRequests {
                seenRequests = requests
                IntrusionMeter.print()
            }
            interrupts_disable()
            LocalAPIC.armOneShot(nanoseconds: 10 * symmetricTickNanoseconds)
            interrupts_enable_and_halt()
        }
    }

    /// Publishes which CPUs are network cores (before programs start: they must not land there).
    static func assign(placement: NetworkPlacement) {
        var mask: UInt64 = 0
        for context in placement.contexts where context.cpu < 64 { mask |= 1 << UInt64(context.cpu) }
        networkCPUs.store(mask, ordering: .releasing)
    }

    /// Bumped (relaxed: a request, not a publication) when the console's counters key is
    /// pressed; every network core prints its own counters when it sees a new value.
    static let countersRequests = Atomic<UInt64>(0)

    /// Becomes the dedicated network core of context `index` on the calling CPU. Never returns.
    /// Each pass runs the context; when idle and `net-idle=halt`, it halts briefly on its own
    /// timer (`interrupt`: or until a frame arrives). Every `housekeepingNanoseconds` it checks
    /// the console key (context 0 only: one reader of the serial port), the NIC's health and
    /// the statistics timer.
    static func run(context index: Int) -> Never {
        let context = contexts[index]
        let block = CPU.current
        var meter = BusyMeter(interruptsAtStart: block.pointee.interruptCount.load(ordering: .relaxed))
        // `net-idle=halt` and `interrupt`: after `idlePassesBeforeHalting` passes in a row with
        // nothing to do, the core halts until its APIC timer fires `idleHaltNanoseconds` later.
        // With `halt` it takes no device interrupt, only its own timer, and only when idle; with
        // `interrupt` a frame arriving during the halt ends it too (the receive queue's MSI-X
        // vector, armed for the halt only). Either way a program's request ends it: the core
        // announces each halt in its channels' request rings, and a program that pushed
        // requests and sees the announcement makes the `kick` system call, once per halt
        // (`ConsumerSleep.swift`; the system calls the channels otherwise avoid are paid
        // only here, when the core sleeps).
        // net-idle=interrupt without a routed interrupt (the boot log said why): the timer alone.
        var idle = Kernel.options.networkIdle
        if idle == .interrupt && !context.interruptsOnArrival { idle = .halt }
        let idlePassesBeforeHalting = Kernel.options.networkIdlePasses
        let idleHaltNanoseconds = UInt64(Kernel.options.networkIdleHaltMicroseconds) * 1_000
        let mode: StaticString = switch idle {
        case .poll: "polling"
        case .halt: "polling, halting when idle"
        case .interrupt: "polling, halting when idle, woken by arriving frames"
        }
        if idle != .poll {
            let orFrame: StaticString = idle == .interrupt ? " or until a frame arrives" : ""
            Log.info("net: network core halts up to \(Kernel.options.networkIdleHaltMicroseconds) us after \(idlePassesBeforeHalting) idle passes\(orFrame) (net-idle=)")
        }
        Log.info("""
            net: network core running (\(mode); \
            queue pair \(index); \(context.channelCount) program channels; built-in UDP echo on port 7 unless a program binds it)
            """)
        let statisticsInterval = UInt64(Kernel.options.networkStatisticsInterval) * 1_000_000_000
        var nextStatistics = statisticsInterval == 0 ? UInt64.max : MonotonicClock.nanosecondsSinceBoot + statisticsInterval
        var nextHousekeeping = MonotonicClock.nanosecondsSinceBoot
        var idlePasses = 0
        // Numbers the halts in the announcements (never 0: "awake").
        var halts: UInt32 = 0
        var seenRequests = countersRequests.load(ordering: .relaxed)
        while true {
            let now = MonotonicClock.nanosecondsSinceBoot
            // The clock this pass acts on is the first thing recorded of it.
            if index == 0, let recorder { recorder.pointee.record(.pass, prefix: now) }
            let work = context.pass(now: now)
            if !work.isIdle {
                let spent = MonotonicClock.nanosecondsSinceBoot &- now
                meter.busyNanoseconds &+= spent
                // The passes that found work are this CPU's network time (`/metrics`, the
                // meter page); empty polls are not. Relaxed: a statistic only this CPU writes.
                block.pointee.networkNanoseconds.wrappingAdd(spent, ordering: .relaxed)
                idlePasses = 0
            } else if idle != .poll {
                idlePasses += 1
                if idlePasses >= idlePassesBeforeHalting {
                    idlePasses = 0
                    // Interrupts off first: an arrival interrupt or a kick's IPI raised between
                    // here and the halt stays pending and ends the halt at once (STI's
                    // one-instruction shadow covers HLT). The kernel's flag goes up before the
                    // announcement (releasing: a kick that saw the announcement finds it set).
                    // No halt when a request or a frame came in the meantime.
                    interrupts_disable()
                    block.pointee.networkCoreHalted.store(true, ordering: .releasing)
                    halts = halts == UInt32.max ? 1 : halts + 1
                    let quiet = context.announceSleep(halts)
                    let armed = quiet && idle == .interrupt && context.armArrivalInterrupt()
                    if quiet && (idle == .halt || armed) {
                        LocalAPIC.armOneShot(nanoseconds: idleHaltNanoseconds)
                        interrupts_enable_and_halt()
                    } else {
                        interrupts_enable()
                    }
                    // Relaxed: a kick that still finds it set sends one spare IPI, harmless.
                    block.pointee.networkCoreHalted.store(false, ordering: .relaxed)
                    if quiet { context.announceAwake() }   // a refused announcement withdrew itself
                    if armed { context.disarmArrivalInterrupt() }
                }
            }
            // The console, the NIC's health and the statistics timer are checked on a clock,
            // not a pass count: a port read waits for QEMU's global lock, so a count would cost
            // the most when passes are shortest (idle polling) and change with the build.
            if now >= nextHousekeeping {
                nextHousekeeping = now &+ housekeepingNanoseconds
                // Context 0 reads the console: the shell, and its `c` key for the counters.
                if index == 0 && ConsoleShell.poll() {
                    countersRequests.wrappingAdd(1, ordering: .relaxed)
                }
                if index == 0 { nicWatch?.check(now: now, context: context, contextCount: contexts.count) }
                let requests = countersRequests.load(ordering: .relaxed)
                if requests != seenRequests || now >= nextStatistics {
                    seenRequests = requests
                    printCounters(context, meter: &meter)
                    if index == 0 { IntrusionMeter.print() }
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
        let transmit = context.transmitter.inner
        let receive = context.frameReceiver.inner
        Console.write(line: "  nic: sent=\(transmit.framesSent) notifications=\(transmit.notifications)/\(receive.notifications) runts=\(receive.runtFrames) invalid-used=\(receive.queue.invalidUsedElementCount + transmit.queue.invalidUsedElementCount) csum-offloaded=\(transmit.checksumsOffloaded) csum-trusted=\(receive.checksumsTrusted) tso=\(transmit.segmentedFrames)/\(transmit.segmentedPieces) merged=\(receive.coalescedFrames) merged-dropped=\(receive.badMergedFrames)")
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
