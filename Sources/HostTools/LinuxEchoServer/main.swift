// linux-echo-server: the servers of the benchmark's Linux guest (scripts/build-linux-guest.sh):
// UDP echo, TCP echo and a static HTTP/1.1 site, on the same ports as Swiglet's. It runs as the
// child of the initramfs's /init, so it is built as a fully static executable.
//
// Usage: linux-echo-server [OPTIONS] [UDP_PORT]
//          --udp PORT       UDP echo port (default 7; 0: none; a bare number means the same)
//          --tcp-echo PORT  TCP echo port (default 7; 0: none)
//          --http PORT      HTTP port (default 80; 0: none)
//          --site FILE      the packed site served over HTTP (default /site.bin, made by
//                           scripts/pack-site.sh from site/, like Swiglet's)
//          --threads N      TCP worker threads (default: one per online CPU)
//        linux-echo-server --spin   (the spinner of scripts/bench-intrusion.sh instead)
//
// Design: UDP echo is a blocking recvfrom/sendto loop on the main thread (UDPEcho.swift). TCP
// echo and HTTP run on N worker threads, each with its own epoll loop and its own
// SO_REUSEPORT listening sockets (TCPServers.swift); HTTP is the HTTP module's session over
// the packed site, the same code Swiglet's web server runs. The HTTP port also answers
// GET /proc/stat and GET /proc/interrupts with the guest's files, read afresh per request
// (ProcFiles.swift), for the experiments' CPU accounting.

#if canImport(Glibc)
import Glibc
#endif
import HTTP
import RawBytes

/// Writes a line to a file descriptor (unbuffered: the console must show it at once).
func say(_ text: String, to descriptor: Int32 = 1) {
    var line = text + "\n"
    line.withUTF8 { bytes in _ = write(descriptor, bytes.baseAddress, bytes.count) }
}

func fail(_ message: String) -> Never {
    say("linux-echo-server: \(message): \(String(cString: strerror(errno)))", to: 2)
    exit(1)
}

func usageError(_ message: String) -> Never {
    say("linux-echo-server: \(message)", to: 2)
    say("usage: linux-echo-server [--udp PORT] [--tcp-echo PORT] [--http PORT] [--site FILE] [--threads N] [UDP_PORT]", to: 2)
    say("       linux-echo-server --spin", to: 2)
    exit(2)
}

/// Reads and checks the packed site; a missing or corrupt archive leaves the server answering
/// 404 to every path, with a warning (the archive's memory lives as long as the process).
func loadSite(_ path: String) -> ServedSite {
    guard let file = fopen(path, "rb") else {
        say("linux-echo-server: warning: cannot open \(path): every HTTP request gets 404", to: 2)
        return ServedSite(site: nil)
    }
    defer { fclose(file) }
    fseek(file, 0, SEEK_END)
    let size = ftell(file)
    fseek(file, 0, SEEK_SET)
    let bytes = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 16)
    guard size > 0, fread(bytes, 1, size, file) == size else {
        say("linux-echo-server: warning: cannot read \(path): every HTTP request gets 404", to: 2)
        return ServedSite(site: nil)
    }
    do {
        return ServedSite(site: try StaticSite(ByteReader(start: bytes, count: size)))
    } catch {
        say("linux-echo-server: warning: \(path) is not a valid site archive: every HTTP request gets 404", to: 2)
        return ServedSite(site: nil)
    }
}

/// The command line's settings.
struct Settings {
    var udpPort: UInt16 = 7
    var tcpEchoPort: UInt16 = 7
    var httpPort: UInt16 = 80
    var siteArchive = "/site.bin"
    var threads = max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1)

    init(_ arguments: [String]) {
        var index = 0
        func value(_ name: String) -> String {
            index += 1
            guard index < arguments.count else { usageError("\(name) needs a value") }
            return arguments[index]
        }
        func port(_ name: String, _ text: String) -> UInt16 {
            guard let port = UInt16(text) else { usageError("\(name) '\(text)' is not a port number (0...65535)") }
            return port
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--udp": udpPort = port(argument, value(argument))
            case "--tcp-echo": tcpEchoPort = port(argument, value(argument))
            case "--http": httpPort = port(argument, value(argument))
            case "--site": siteArchive = value(argument)
            case "--threads":
                let text = value(argument)
                guard let count = Int(text), count >= 1 && count <= 64 else { usageError("--threads '\(text)' is not a number from 1 to 64") }
                threads = count
            default:
                guard !argument.hasPrefix("-") else { usageError("unknown option '\(argument)'") }
                udpPort = port("UDP_PORT", argument)
            }
            index += 1
        }
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments == ["--spin"] { spin() }
let settings = Settings(arguments)
let (udpPort, tcpEchoPort, httpPort, siteArchive, threads) =
    (settings.udpPort, settings.tcpEchoPort, settings.httpPort, settings.siteArchive, settings.threads)

var ports: [(port: UInt16, service: Service)] = []
if tcpEchoPort != 0 { ports.append((tcpEchoPort, .echo)) }
if httpPort != 0 { ports.append((httpPort, .http)) }
let site = httpPort != 0 ? loadSite(siteArchive) : ServedSite(site: nil)
if !ports.isEmpty {
    for number in 0..<threads {
        let worker = Worker(index: number, ports: ports, site: site)
        worker.listen()
        worker.start()
    }
}
var services: [String] = []
if udpPort != 0 { services.append("UDP echo on :\(udpPort)") }
if tcpEchoPort != 0 { services.append("TCP echo on :\(tcpEchoPort)") }
if httpPort != 0 { services.append("HTTP on :\(httpPort) (\(site.site?.count ?? 0) files from \(siteArchive))") }
say("linux-echo-server: \(services.joined(separator: ", ")); TCP: \(threads) epoll threads with SO_REUSEPORT")
if udpPort != 0 { serveUDPEcho(port: udpPort) }
while true { pause() }
