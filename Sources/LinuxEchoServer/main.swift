// linux-echo-server: a minimal UDP echo server (RFC 862) for the Linux guest of the UDP echo
// benchmark (scripts/bench-udp.sh). It runs as the child of the initramfs's /init, so it is
// built as a fully static executable (see scripts/build-linux-guest.sh).
//
// Usage: linux-echo-server [PORT]      (default 7; binds 0.0.0.0)
//        linux-echo-server --spin      (the spinner of scripts/bench-intrusion.sh instead: the
//                                       same loop as Swiglet's spinner program, rate each second)
//
// Design: a plain blocking recvfrom/sendto loop, one datagram per system call each way. This
// is what a straightforward C echo server does, so the Linux baseline is the ordinary kernel
// path. recvmmsg/sendmmsg would batch under load, but Swift's Glibc module does not export
// them (they need _GNU_SOURCE), and a batch only helps when many requests are in flight.
// The receive buffer is enlarged so that a window of 32 requests is not dropped while the
// server is busy.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes a line to a file descriptor (unbuffered: the console must show it at once).
func say(_ text: String, to descriptor: Int32 = 1) {
    var line = text + "\n"
    line.withUTF8 { bytes in _ = write(descriptor, bytes.baseAddress, bytes.count) }
}

func fail(_ message: String) -> Never {
    say("linux-echo-server: \(message): \(String(cString: strerror(errno)))", to: 2)
    exit(1)
}

/// The spinner: the arithmetic loop of Sources/Programs/Spinner, with the time read from
/// CLOCK_MONOTONIC every 2^16 iterations; prints "spinner: N iterations/s" once a second.
func spin() -> Never {
    func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    var accumulator: UInt64 = 0
    var iterations: UInt64 = 0
    var intervalStart = now()
    while true {
        for _ in 0..<(1 << 16) {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            accumulator = accumulator &* 31 &+ state
        }
        iterations += 1 << 16
        let elapsed = now() &- intervalStart
        if elapsed >= 1_000_000_000 {
            say("spinner: \(iterations * 1_000 / max(elapsed / 1_000_000, 1)) iterations/s (checksum \(accumulator & 0xFFFF))")
            iterations = 0
            intervalStart = now()
        }
    }
}

var port: UInt16 = 7
let arguments = CommandLine.arguments
if arguments.count == 2 && arguments[1] == "--spin" { spin() }
if arguments.count > 2 || (arguments.count == 2 && UInt16(arguments[1]) == nil) {
    say("usage: linux-echo-server [PORT]   (UDP echo on 0.0.0.0:PORT, default 7)", to: 2)
    exit(2)
}
if arguments.count == 2, let value = UInt16(arguments[1]) { port = value }

#if canImport(Glibc)
let datagramType = Int32(SOCK_DGRAM.rawValue)
#else
let datagramType = SOCK_DGRAM
#endif
let fd = socket(AF_INET, datagramType, 0)
if fd < 0 { fail("socket") }

var bufferSize: Int32 = 1 << 20
_ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufferSize, socklen_t(MemoryLayout<Int32>.size))
_ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufferSize, socklen_t(MemoryLayout<Int32>.size))

var address = sockaddr_in()
address.sin_family = sa_family_t(AF_INET)
address.sin_port = port.bigEndian
address.sin_addr.s_addr = 0  // INADDR_ANY
let bound = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
}
if bound < 0 { fail("bind to port \(port)") }

say("linux-echo-server: echoing UDP on 0.0.0.0:\(port) (recvfrom/sendto loop)")

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
