// UDP echo (RFC 862) as a ring-3 program: the default server of port 7, through its channel.
import Channels
import ProgramRuntime
import SwigletLibrary

@_cdecl("program_main")
func programMain() -> Int32 {
    guard let (memory, start) = ProgramChannel.open() else { return 1 }
    var socket = UDPSocket(endpoint: ChannelEndpoint(memory: memory))
    var wait = DoorbellWait(memory: memory, start: start)
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
