// UDP echo (RFC 862) as a ring-3 program: the default server of port 7, through its channel.
import Channels
import ProgramRuntime
import SwigletLibrary

/// Waits for the network core without burning the CPU forever: spins a little (work usually
/// arrives within microseconds under load), then asks the kernel to halt until the network
/// core rings the doorbell — the only system call, and only on this idle path.
struct DoorbellWait: WaitPolicy {
    /// The completion ring's tail: the word the network core moves when it has news for us.
    let completionTail: UnsafeRawPointer
    /// The kernel's choice (boot option `app-wait=`): never sleep when `spin`.
    let spinOnly: Bool
    var spins = 0
    static let spinsBeforeSleeping = 2000

    mutating func wait() -> Bool {
        if spinOnly { return true }
        spins += 1
        guard spins >= Self.spinsBeforeSleeping else { return true }
        spins = 0
        let seen = completionTail.load(as: UInt32.self)
        _ = System.wait(on: completionTail, whileEqualTo: seen, timeout: 100_000_000)
        return true
    }
}

@_cdecl("program_main")
func programMain() -> Int32 {
    let start = ProgramStartArgument(rawValue: System.startArgument)
    guard let base = UnsafeMutableRawPointer(bitPattern: UInt(start.channelAddress)) else {
        System.write("no channel to the network core (is networking off?)\n")
        return 1
    }
    let memory = ChannelMemory(base: base, layout: ChannelLayout())
    var socket = UDPSocket(endpoint: ChannelEndpoint(memory: memory))
    var wait = DoorbellWait(completionTail: UnsafeRawPointer(base + memory.layout.completionRingOffset
                                                               + SingleProducerSingleConsumerRing<ChannelCompletion>.tailOffset),
                            spinOnly: start.waitPolicy == .spin)
    guard case .success = socket.bind(port: 7, waitingWith: &wait) else {
        System.write("cannot bind UDP port 7\n")
        return 2
    }
    System.write(start.waitPolicy == .spin ? "serving UDP echo on port 7 (waiting by spinning)\n"
                                           : "serving UDP echo on port 7 (waiting by sleeping until the doorbell)\n")
    while true {
        guard case .success(let datagram) = socket.receiveBuffer(waitingWith: &wait) else { continue }
        // Zero copy: the payload goes back out of the buffer it arrived in.
        if case .failure = socket.reply(with: datagram, length: datagram.length, to: datagram.source) {
            socket.release(datagram)
        }
    }
}
