// UDP echo (RFC 862): a plain blocking recvfrom/sendto loop, one datagram per system call each way.

#if canImport(Glibc)
import Glibc
#endif

/// Binds UDP `port` on 0.0.0.0 and echoes every datagram to its sender, forever.
///
/// This is what a straightforward C echo server does, so the Linux baseline is the ordinary
/// kernel path. recvmmsg/sendmmsg would batch under load, but Swift's Glibc module does not
/// export them (they need _GNU_SOURCE), and a batch only helps when many requests are in
/// flight. The buffers are enlarged so that a window of 32 requests is not dropped while the
/// server is busy.
func serveUDPEcho(port: UInt16) -> Never {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    if fd < 0 { fail("UDP socket") }
    var bufferSize: Int32 = 1 << 20
    _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufferSize, socklen_t(MemoryLayout<Int32>.size))
    _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufferSize, socklen_t(MemoryLayout<Int32>.size))
    if !bindAny(fd, port: port) { fail("bind to UDP port \(port)") }

    let capacity = 65536
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    var peer = sockaddr_storage()
    var sendErrors = 0
    while true {
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let received = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                recvfrom(fd, buffer, capacity, 0, $0, &peerLength)
            }
        }
        if received < 0 {
            if errno == EINTR { continue }
            fail("recvfrom")
        }
        let sent = withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, buffer, received, 0, $0, peerLength)
            }
        }
        if sent < 0 {
            // A full send queue or an unreachable peer loses this reply only; the client counts it.
            sendErrors += 1
            if sendErrors == 1 || sendErrors % 10000 == 0 {
                say("linux-echo-server: sendto failed (\(sendErrors) so far): \(String(cString: strerror(errno)))", to: 2)
            }
        }
    }
}

/// Binds `fd` to 0.0.0.0:`port`; false (errno set) on failure.
func bindAny(_ fd: Int32, port: UInt16) -> Bool {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = 0  // INADDR_ANY
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    } == 0
}
