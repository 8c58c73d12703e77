/// The network core: one CPU that polls the NIC and runs the whole stack, and nothing else.
import BootConfiguration
import Network
import PCI
import Virtio
import Synchronization

/// The dedicated network CPU. It never halts and takes no device interrupts: each pass of its
/// loop takes received frames from the NIC, runs them through the stack (which may build
/// replies straight into transmit buffers), hands the stack its timers, tells the NIC about new
/// transmit buffers once per pass, and checks the serial console for the counters key.
enum NetworkCore {
    nonisolated(unsafe) static var device: VirtioNetDevice? = nil
    nonisolated(unsafe) static var stack: NetworkStack? = nil
    /// Fault injection on received frames (`impair-rx=`), nil when off.
    nonisolated(unsafe) static var receiveImpairment: ImpairedLinkDirection? = nil
    /// Whether `receiveImpairment` is set: testing a Bool costs nothing, while `== nil` on the
    /// optional struct makes the compiler copy all of it on every frame.
    nonisolated(unsafe) static var impairsReceive = false
    /// Frames one impaired direction may hold back at once (reordering, delay).
    static let impairmentDelaySlots = 512
    /// The CPU running the loop (-1 before it starts): read by anyone, written once.
    static let cpu = Atomic<Int>(-1)
    /// Frames handled per NIC pass before the other work of the loop gets a turn.
    static let receiveBudget = 64
    /// The network core's interrupt count when it started (an application processor is woken
    /// into the job by an IPI, which is not part of serving the network).
    nonisolated(unsafe) private static var interruptsAtStart: UInt64 = 0
    /// How the network core spends its time: nanoseconds in passes that handled at least one
    /// frame, against all nanoseconds since it started. A polling CPU always looks 100% busy
    /// to the host; this says how much of that was work.
    nonisolated(unsafe) private static var busyNanoseconds: UInt64 = 0
    /// Busy and total time at the previous report, for the busy share since then.
    nonisolated(unsafe) private static var reportedBusy: UInt64 = 0
    nonisolated(unsafe) private static var reportedAt: UInt64 = 0
    /// The listener number of the network core's own meter service (channels use 0 and up).
    static let meterListener = -1
    /// `net-idle=halt`: after this many passes in a row with nothing to do, the network core
    /// halts until its APIC timer fires `idleHaltNanoseconds` later. It still takes no device
    /// interrupt: only its own timer, and only when idle.
    static let idlePassesBeforeHalting = 256
    static let idleHaltNanoseconds: UInt64 = 50_000
    /// The key that prints the counters.
    static let countersKey = UInt8(ascii: "c")

    /// Finds and starts the NIC (on the boot CPU, before the ready line). Returns whether the
    /// network is up; without a usable device the kernel goes on without networking.
    static func prepare(options: BootOptions) -> Bool {
        guard options.networkEnabled else {
            Log.info("net: disabled by net=off")
            return false
        }
        guard let function = PCIBus.find(VirtioNetDevice.isVirtioNet) else {
            Log.info("net: no virtio-net device; running without networking")
            return false
        }
        let started: VirtioNetDevice
        do throws(NetworkDeviceError) {
            started = try VirtioNetDevice.start(function)
        } catch {
            Log.error("net: virtio-net at \(function.address.bus):\(function.address.device).\(function.address.function) unusable: \(describe(error)); running without networking")
            return false
        }
        let configuration = InterfaceConfiguration(
            hardwareAddress: started.hardwareAddress,
            address: IPv4Address(rawValue: options.address.rawValue),
            prefixLength: options.prefixLength,
            gateway: options.gateway.map { IPv4Address(rawValue: $0.rawValue) })
        device = started
        stack = NetworkStack(configuration: configuration)
        // The intrusion meter over the network: the network core answers this port itself.
        _ = stack!.bind(port: IntrusionMeter.port, listener: meterListener)
        TCPService.start(address: options.address.rawValue)
        startImpairment(options)
        let mac = started.hardwareAddress.bytes
        Log.info("""
            net: virtio-net \(hex: mac.0, digits: 2, prefix: false):\(hex: mac.1, digits: 2, prefix: false):\
            \(hex: mac.2, digits: 2, prefix: false):\(hex: mac.3, digits: 2, prefix: false):\
            \(hex: mac.4, digits: 2, prefix: false):\(hex: mac.5, digits: 2, prefix: false) \
            link \(started.linkUp ? "up" : "down"), queues \(started.receive.queue.size)+\(started.transmit.queue.size), \
            address \(ipv4: options.address)/\(options.prefixLength)
            """)
        return true
    }

    /// Becomes the network core on the calling CPU. Never returns.
    static func run() -> Never {
        interruptsAtStart = CPU.current.pointee.interruptCount.load(ordering: .relaxed)
        cpu.store(CPU.currentIndex, ordering: .releasing)
        Log.info("""
            net: network core running (\(Kernel.options.networkHaltsWhenIdle ? "polling, halting when idle" : "polling"); \
            \(ProgramChannels.count) program channels; built-in UDP echo on port 7 unless a program binds it)
            """)
        let statisticsInterval = UInt64(Kernel.options.networkStatisticsInterval) * 1_000_000_000
        var nextStatistics = statisticsInterval == 0 ? UInt64.max : MonotonicClock.nanosecondsSinceBoot + statisticsInterval
        var pass: UInt32 = 0
        reportedAt = MonotonicClock.nanosecondsSinceBoot
        let haltWhenIdle = Kernel.options.networkHaltsWhenIdle
        var idlePasses = 0
        while true {
            let now = MonotonicClock.nanosecondsSinceBoot
            let frames = device!.receive.receive(limit: receiveBudget) { frame in
                if !impairsReceive {
                    handle(frame, now: now)
                } else {
                    receiveImpairment!.submit(frame, now: now) { handle($0, now: now) }
                }
            }
            if impairsReceive {
                receiveImpairment!.releaseDue(now: now) { handle($0, now: now) }
            }
            let requests = ProgramChannels.serve(now: now)
            let events = TCPService.serve(now: now)
            ProgramChannels.ringDoorbells()
            stack!.poll(now: now, transmitter: &device!.transmit)
            device!.transmit.flush()
            if frames > 0 || requests > 0 || events > 0 {
                busyNanoseconds &+= MonotonicClock.nanosecondsSinceBoot &- now
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
                if SerialPort.com1.read() == countersKey {
                    printCounters()
                    IntrusionMeter.print()
                }
                if now >= nextStatistics {
                    printCounters()
                    IntrusionMeter.print()
                    nextStatistics = now + statisticsInterval
                }
            }
        }
    }

    /// Runs one received frame through the stack. A datagram for a program's port, or a TCP
    /// segment, comes back to be handled before the frame's buffer returns to the NIC.
    private static func handle(_ frame: UnsafeRawBufferPointer, now: UInt64) {
        guard let delivery = stack!.receive(frame: frame, now: now, transmitter: &device!.transmit) else { return }
        if delivery.transport == .tcp {
            TCPService.receive(delivery, now: now)
        } else if delivery.listener == meterListener {
            answerMeterRequest(delivery, now: now)
        } else {
            ProgramChannels.deliver(delivery)
        }
    }

    /// Sets up `impair-rx=`/`impair-tx=` (testing only: it makes the link lossy on purpose).
    private static func startImpairment(_ options: BootOptions) {
        func settings(_ setting: ImpairmentSetting) -> LinkImpairmentSettings {
            LinkImpairmentSettings(dropBasisPoints: setting.dropBasisPoints, duplicateBasisPoints: setting.duplicateBasisPoints,
                                   reorderBasisPoints: setting.reorderBasisPoints, reorderGap: setting.reorderGap,
                                   delayMicroseconds: setting.delayMicroseconds)
        }
        let receive = settings(options.receiveImpairment)
        let transmit = settings(options.transmitImpairment)
        if receive.isActive {
            receiveImpairment = ImpairedLinkDirection(settings: receive, seed: options.impairmentSeed, stream: 0,
                                                      delaySlots: impairmentDelaySlots)
            impairsReceive = true
        }
        if transmit.isActive {
            device!.transmit.impairmentScratch = UnsafeMutableRawPointer.allocate(byteCount: PacketBufferPool.bufferBytes, alignment: 64)
            device!.transmit.impairment = ImpairedLinkDirection(settings: transmit, seed: options.impairmentSeed, stream: 1,
                                                                delaySlots: impairmentDelaySlots)
            device!.transmit.impairs = true
        }
        guard receive.isActive || transmit.isActive else { return }
        Log.warning("net: impairing the link on purpose (seed \(options.impairmentSeed)); basis points, 100 = 1%:")
        Log.warning("net:   receive drop \(receive.dropBasisPoints) dup \(receive.duplicateBasisPoints) reorder \(receive.reorderBasisPoints) delay \(receive.delayMicroseconds)us")
        Log.warning("net:   transmit drop \(transmit.dropBasisPoints) dup \(transmit.duplicateBasisPoints) reorder \(transmit.reorderBasisPoints) delay \(transmit.delayMicroseconds)us")
    }

    /// Answers a datagram to the meter port with the intrusion meter as text (a slow path:
    /// a monitoring tool asks now and then).
    private static func answerMeterRequest(_ request: DatagramDelivery, now: UInt64) {
        let text = UnsafeMutableRawBufferPointer(start: meterText, count: 1400)
        let length = IntrusionMeter.write(into: text)
        _ = stack!.sendDatagram(from: IntrusionMeter.port, to: request.source, port: request.sourcePort,
                                payload: UnsafeRawBufferPointer(rebasing: text[..<length]), now: now,
                                transmitter: &device!.transmit)
    }
    /// Room for the meter's text, allocated once.
    nonisolated(unsafe) private static var meterText = UnsafeMutableRawPointer.allocate(byteCount: 1400, alignment: 8)

    /// Prints every counter with a value, a few to a line.
    static func printCounters() {
        guard let stack else { return }
        // The network core's own intrusion: it should take no interrupts at all while serving.
        let interrupts = CPU.current.pointee.interruptCount.load(ordering: .relaxed) - interruptsAtStart
        let now = MonotonicClock.nanosecondsSinceBoot
        let busyPercent = now > reportedAt ? (busyNanoseconds - reportedBusy) * 100 / (now - reportedAt) : 0
        reportedBusy = busyNanoseconds
        reportedAt = now
        Console.write(line: """
            net counters at \(seconds: now)s, network core cpu\(CPU.currentIndex) \
            interrupts=\(interrupts) busy=\(busyPercent)% since the last report:
            """)
        var line = TextBuffer()
        var onLine = 0
        for (name, value) in stack.counters.entries {
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
        if let device {
            Console.write(line: "  nic: sent=\(device.transmit.framesSent) notifications=\(device.transmit.notifications) runts=\(device.receive.runtFrames) invalid-used=\(device.receive.queue.invalidUsedElementCount + device.transmit.queue.invalidUsedElementCount)")
        }
    }

    static func describe(_ error: NetworkDeviceError) -> StaticString {
        switch error {
        case .notModern: "no virtio 1.x capabilities"
        case .barUnusable: "a capability points outside its BAR"
        case .outOfMemory: "out of memory"
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
