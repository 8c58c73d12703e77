/// QEMU system tests of the `http` program (HTTP/1.1 static server on port 80) through QEMU's
/// user-mode networking: curl and raw sockets from the host, wrk for load, and the network
/// core's Prometheus metrics on port 9090.
import Foundation
import XCTest

final class HTTPTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    static let siteRoot = QEMUMachine.packageRoot.appendingPathComponent("site")
    /// The site files and the Content-Type the server must label each with.
    static let siteFiles: [(path: String, type: String)] = [
        ("/index.html", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/about.txt", "text/plain; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
        ("/data/100k.txt", "text/plain; charset=utf-8"),
    ]

    static func siteFile(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: siteRoot.appendingPathComponent(String(path.dropFirst()))))
    }

    /// curl: GET of every site file, byte-exact against site/, with Content-Type and
    /// Content-Length; "/" is index.html; HEAD has the same Content-Length and no body.
    func testCurlGetsEverySiteFileAndHead() throws {
        let curl = try requireTool("curl")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("swiglet-http-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        try withTCPGuest(self, name: "http-curl") { running, forwards, problems in
            let base = "http://\(forwards.host):\(forwards.http)"
            for (path, type) in Self.siteFiles + [("/", "text/html; charset=utf-8")] {
                let expected = try Self.siteFile(path == "/" ? "/index.html" : path)
                let bodyFile = scratch.appendingPathComponent("body"), headFile = scratch.appendingPathComponent("head")
                try? FileManager.default.removeItem(at: bodyFile)
                let (status, output) = try runTool(curl, ["-sS", "--max-time", "30", "-o", bodyFile.path, "-D", headFile.path,
                                                          "-w", "%{http_code} %{content_type}", base + path])
                guard status == 0 else { problems.append("curl GET \(path): exit \(status): \(output)"); continue }
                let body = Array((try? Data(contentsOf: bodyFile)) ?? Data())
                let headers = (try? String(contentsOf: headFile, encoding: .utf8)) ?? ""
                if output != "200 \(type)" { problems.append("GET \(path): code and type '\(output)', expected '200 \(type)'") }
                if body != expected { problems.append("GET \(path): body of \(body.count) bytes differs from site file (\(expected.count) bytes)") }
                if !headers.lowercased().contains("content-length: \(expected.count)\r\n") {
                    problems.append("GET \(path): no 'Content-Length: \(expected.count)' in \(headers)")
                }
                // HEAD: the same head, no body.
                try? FileManager.default.removeItem(at: bodyFile)
                let (headStatus, headOutput) = try runTool(curl, ["-sS", "--max-time", "30", "-I", "-o", bodyFile.path,
                                                                  "-w", "%{http_code} %{size_download}", base + path])
                let headHeaders = (try? String(contentsOf: bodyFile, encoding: .utf8)) ?? ""
                if headStatus != 0 || headOutput != "200 0" {
                    problems.append("HEAD \(path): exit \(headStatus), code and body size '\(headOutput)', expected '200 0'")
                }
                if !headHeaders.lowercased().contains("content-length: \(expected.count)\r\n") {
                    problems.append("HEAD \(path): no 'Content-Length: \(expected.count)' in \(headHeaders)")
                }
            }
        }
    }

    /// Raw requests: 404, 405 with Allow, 400 for a malformed request line, 413 for a head
    /// over 8 KiB, and a HEAD on the raw stream followed by a GET on the same connection.
    func testErrorStatusesOverRawSockets() throws {
        try withTCPGuest(self, name: "http-errors") { running, forwards, problems in
            func exchange(_ request: String, head: Bool = false) throws -> (HTTPResponse, closedAfter: Bool) {
                let client = try TCPClient(host: forwards.host, port: forwards.http, timeout: 20)
                try client.send(request)
                var pending: [UInt8] = []
                let response = try HTTPResponse.read(from: client, pending: &pending, head: head)
                client.setTimeout(5)
                let rest = client.receiveUntilClosed()
                return (response, rest.closed && rest.bytes.isEmpty && pending.isEmpty)
            }
            let (notFound, _) = try exchange("GET /no/such/file.html HTTP/1.1\r\nHost: swiglet\r\nConnection: close\r\n\r\n")
            if notFound.status != 404 { problems.append("unknown path: \(notFound)") }

            let (post, _) = try exchange("POST /index.html HTTP/1.1\r\nHost: swiglet\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
            if post.status != 405 { problems.append("POST: \(post)") }
            let allow = post.headers["allow"] ?? ""
            if !(allow.contains("GET") && allow.contains("HEAD")) { problems.append("POST: 405 without 'Allow: GET, HEAD': \(post)") }

            let (malformed, malformedClosed) = try exchange("GARBAGE\r\n\r\n")
            if malformed.status != 400 { problems.append("malformed request line: \(malformed)") }
            if !malformedClosed { problems.append("malformed request: the connection was not closed after the 400") }

            let (badVersion, _) = try exchange("GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n")
            if badVersion.status != 400 { problems.append("request line with four parts: \(badVersion)") }

            // A head over the 8 KiB limit: 413, then the connection closes.
            let big = "GET /index.html HTTP/1.1\r\nHost: swiglet\r\nX-Padding: " + String(repeating: "a", count: 10_000) + "\r\n\r\n"
            let (tooLarge, tooLargeClosed) = try exchange(big)
            if tooLarge.status != 413 { problems.append("10 KB header field: \(tooLarge)") }
            if !tooLargeClosed { problems.append("413: the connection was not closed") }

            let (head, _) = try exchange("HEAD /about.txt HTTP/1.1\r\nHost: swiglet\r\nConnection: close\r\n\r\n", head: true)
            let aboutLength = try Self.siteFile("/about.txt").count
            if head.status != 200 || head.contentLength != aboutLength { problems.append("raw HEAD: \(head), expected length \(aboutLength)") }
            if !head.body.isEmpty { problems.append("raw HEAD carried a body") }
        }
    }

    /// Keep-alive (sequential requests on one connection, HEAD among them) and pipelining
    /// (three requests in one send, three responses in order).
    func testKeepAliveAndPipelining() throws {
        try withTCPGuest(self, name: "http-keepalive") { running, forwards, problems in
            let client = try TCPClient(host: forwards.host, port: forwards.http, timeout: 20)
            var pending: [UInt8] = []
            let sequence: [(method: String, path: String)] = [("GET", "/index.html"), ("HEAD", "/style.css"), ("GET", "/about.txt"),
                                                              ("GET", "/missing"), ("GET", "/data/100k.txt"), ("GET", "/favicon.svg")]
            for (method, path) in sequence {
                try client.send("\(method) \(path) HTTP/1.1\r\nHost: swiglet\r\n\r\n")
                let response = try HTTPResponse.read(from: client, pending: &pending, head: method == "HEAD")
                if path == "/missing" {
                    if response.status != 404 { problems.append("keep-alive \(path): \(response)") }
                    continue
                }
                let expected = try Self.siteFile(path)
                if response.status != 200 || response.contentLength != expected.count || (method == "GET" && response.body != expected) {
                    problems.append("keep-alive \(method) \(path): \(response)")
                }
                if response.headers["connection"]?.lowercased() == "close" { problems.append("keep-alive \(path): server said Connection: close") }
            }

            // Pipelining: three requests in one send, on a fresh connection.
            let pipelined = try TCPClient(host: forwards.host, port: forwards.http, timeout: 20)
            let paths = ["/about.txt", "/style.css", "/index.html"]
            try pipelined.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: swiglet\r\n\r\n" }.joined())
            var pipelinePending: [UInt8] = []
            for path in paths {
                let response = try HTTPResponse.read(from: pipelined, pending: &pipelinePending)
                let expected = try Self.siteFile(path)
                if response.status != 200 || response.body != expected {
                    problems.append("pipelined \(path) (responses out of order or wrong): \(response)")
                }
            }
            // The last of a pipeline may ask to close: the answer comes, then the FIN.
            try pipelined.send("GET /favicon.svg HTTP/1.1\r\nHost: swiglet\r\nConnection: close\r\n\r\n")
            let last = try HTTPResponse.read(from: pipelined, pending: &pipelinePending)
            if try last.status != 200 || last.body != Self.siteFile("/favicon.svg") { problems.append("Connection: close request: \(last)") }
            pipelined.setTimeout(10)
            let rest = pipelined.receiveUntilClosed()
            if !rest.closed || !rest.bytes.isEmpty || !pipelinePending.isEmpty {
                problems.append("after Connection: close: closed=\(rest.closed), \(rest.bytes.count + pipelinePending.count) extra bytes")
            }

            // curl reuses one connection for several URLs.
            if let curl = QEMUMachine.findExecutable("curl") {
                let base = "http://\(forwards.host):\(forwards.http)"
                let (status, output) = try runTool(curl, ["-sS", "-v", "--max-time", "30", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                                                          base + "/index.html", base + "/style.css", base + "/about.txt"])
                if status != 0 { problems.append("curl with three URLs: exit \(status): \(output)") }
                if !output.contains("Re-using existing connection") && !output.contains("Reusing existing") {
                    problems.append("curl did not reuse the connection:\n\(output)")
                }
            }
        }
    }

    /// A small answer's head and body go out in one channel buffer, which the network core then
    /// posts for receive: 20 keep-alive requests for /index.html cost the program's channel, by
    /// the kernel's own counters, one `streamReceived` completion each (plus the `accepted`) and
    /// one `streamSend` request each (plus one `postReceiveBuffer`, for the first request). Sent
    /// separately, head and body made it three of each; gathered but given back with
    /// `streamSent`, two (a `sent`, a `postReceiveBuffer`).
    func testASmallAnswerIsOneSendThatPostsItsBuffer() throws {
        try withTCPGuest(self, name: "http-gathered") { running, forwards, problems in
            let expected = try Self.siteFile("/index.html")
            let before = try Metrics.fetch(host: forwards.host, port: forwards.metrics).1
            let client = try TCPClient(host: forwards.host, port: forwards.http, timeout: 20)
            var pending: [UInt8] = []
            for round in 0..<20 {
                try client.send("GET /index.html HTTP/1.1\r\nHost: swiglet\r\n\r\n")
                let response = try HTTPResponse.read(from: client, pending: &pending)
                if response.status != 200 || response.body != expected { problems.append("request \(round): \(response)") }
            }
            let after = try Metrics.fetch(host: forwards.host, port: forwards.metrics).1
            // The HTTP server's channel only: the one the requests' bytes came in on. (The other
            // programs' channels may still be taking their first requests: with net-mode=symmetric
            // a program's requests are served when it waits, a budget at a time, and the sum over
            // all channels once read 32 requests more.)
            let grown = after.values("swiglet_channel_stream_bytes_total", matching: ["direction=\"in\""])
                .filter { $0.value > (before[$0.key] ?? 0) }.keys
            guard grown.count == 1,
                  let label = grown.first?.split(separator: "{").last?.split(separator: ",").first(where: { $0.hasPrefix("channel=") })
            else { return problems.append("not one channel took the requests' bytes: \(Array(grown))") }
            let completions = after.growth("swiglet_channel_completions_total", since: before, matching: [String(label)])
            let requests = after.growth("swiglet_channel_requests_total", since: before, matching: [String(label)])
            // Each answer's buffer is posted for receive once sent (`answersPostTheirBuffers`):
            // no `sent` completion for it, and a request's buffer is not posted again — but the
            // first one's, before any answer had taken the posted buffers above the target.
            let byChannel = ["swiglet_channel_completions_total", "swiglet_channel_requests_total"].map { family in
                after.values(family).map { "\($0.key) +\($0.value - (before[$0.key] ?? 0))" }.sorted().joined(separator: ", ")
            }.joined(separator: "; ")
            if completions != 21 { problems.append("20 requests took \(completions) completions, not 21 (20 received, 1 accepted): \(byChannel)") }
            if requests != 21 { problems.append("20 requests took \(requests) channel requests, not 21 (20 sends posting their buffers, the first request's buffer posted again): \(byChannel)") }
        }
    }

    /// wrk for 5 seconds (2 threads, 8 connections): requests done, no socket errors, no
    /// non-2xx responses. The rate is printed, not asserted.
    func testWrkLoadWithoutErrors() throws {
        let wrk = try requireTool("wrk")
        try withTCPGuest(self, name: "http-wrk", timeout: 180) { running, forwards, problems in
            let (status, output) = try runTool(wrk, ["-t2", "-c8", "-d5s", "--timeout", "10s", "http://\(forwards.host):\(forwards.http)/index.html"],
                                               timeout: 60)
            print("wrk:\n\(output)")
            if status != 0 { problems.append("wrk exit \(status)") }
            guard let requestsLine = output.split(separator: "\n").first(where: { $0.contains("requests in") }),
                  let requests = Int(requestsLine.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") else {
                problems.append("no 'N requests in' line in wrk's output:\n\(output)")
                return
            }
            if requests <= 0 { problems.append("wrk completed no requests:\n\(output)") }
            if output.contains("Socket errors") { problems.append("wrk reported socket errors:\n\(output)") }
            if output.contains("Non-2xx or 3xx responses") { problems.append("wrk saw non-2xx/3xx responses:\n\(output)") }
            // The server still answers afterwards.
            let client = try TCPClient(host: forwards.host, port: forwards.http, timeout: 20)
            try client.send("GET /about.txt HTTP/1.1\r\nHost: swiglet\r\n\r\n")
            var pending: [UInt8] = []
            let after = try HTTPResponse.read(from: client, pending: &pending)
            if try after.status != 200 || after.body != Self.siteFile("/about.txt") { problems.append("after wrk: \(after)") }
        }
    }

    /// GET /metrics: 200, the Prometheus text content type, the families that matter, and
    /// counters that move after traffic.
    func testMetricsEndpoint() throws {
        try withTCPGuest(self, name: "metrics") { running, forwards, problems in
            let (response, before) = try Metrics.fetch(host: forwards.host, port: forwards.metrics)
            if response.status != 200 { problems.append("/metrics: \(response.statusLine)") }
            let type = response.headers["content-type"] ?? ""
            if !(type.hasPrefix("text/plain") && type.contains("version=0.0.4")) { problems.append("/metrics Content-Type '\(type)'") }
            for family in ["swiglet_tcp_connections", "swiglet_tcp_retransmissions_total", "swiglet_tcp_syn_cookies_total",
                           "swiglet_tcp_drops_total", "swiglet_cpu_interrupts_total", "swiglet_tcp_segments_total",
                           "swiglet_channel_stream_bytes_total"] {
                if !before.text.contains("# TYPE \(family) ") { problems.append("/metrics lacks '# TYPE \(family)'") }
            }
            for sample in ["swiglet_tcp_connections{state=\"ESTABLISHED\"}", "swiglet_tcp_retransmissions_total{trigger=\"fast\"}",
                           "swiglet_tcp_retransmissions_total{trigger=\"timeout\"}", "swiglet_tcp_syn_cookies_total{event=\"sent\"}",
                           "swiglet_tcp_drops_total{reason=\"badChecksum\"}"] {
                if before[sample] == nil { problems.append("/metrics lacks sample \(sample)") }
            }
            if before.values("swiglet_cpu_interrupts_total", matching: ["role=\"program\""]).isEmpty {
                problems.append("/metrics has no swiglet_cpu_interrupts_total{...role=\"program\"}")
            }
            // The connection that fetched the metrics is itself established while it is read.
            if (before["swiglet_tcp_connections{state=\"ESTABLISHED\"}"] ?? 0) < 1 {
                problems.append("no ESTABLISHED connection counted while /metrics was being served")
            }
            // Traffic: an HTTP GET and a 64 KiB echo; then the counters have moved.
            let http = try TCPClient(host: forwards.host, port: forwards.http, timeout: 20)
            try http.send("GET /data/100k.txt HTTP/1.1\r\nHost: swiglet\r\n\r\n")
            var pending: [UInt8] = []
            let page = try HTTPResponse.read(from: http, pending: &pending)
            if page.status != 200 || page.body.count != 102_400 { problems.append("GET /data/100k.txt: \(page)") }
            let echo = try TCPClient(host: forwards.host, port: forwards.echo, timeout: 20)
            let payload = EchoTransfer.pattern(count: 65536, seed: 9)
            if try echo.echo(payload) != payload { problems.append("64 KiB echo differs") }
            let after: Metrics
            do {
                after = try Metrics.fetch(host: forwards.host, port: forwards.metrics).1
            } catch {
                problems.append("the second GET /metrics (on a new connection, after the first one closed) got no complete answer: \(error)")
                return
            }
            for (family, matching) in [("swiglet_tcp_segments_total", ["direction=\"in\""]), ("swiglet_tcp_segments_total", ["direction=\"out\""]),
                                       ("swiglet_tcp_opens_total", ["kind=\"passive\""]), ("swiglet_channel_stream_bytes_total", []),
                                       ("swiglet_metrics_requests_total", ["outcome=\"served\""])] {
                let old = before.sum(family, matching: matching), new = after.sum(family, matching: matching)
                if new <= old { problems.append("\(family)\(matching) did not move: \(old) → \(new)") }
            }
            let streamBytes = after.sum("swiglet_channel_stream_bytes_total") - before.sum("swiglet_channel_stream_bytes_total")
            // At least the 100 KiB page out and the 64 KiB echo both ways went through channels.
            if streamBytes < Double(102_400 + 2 * 65536) { problems.append("channel stream bytes grew by only \(streamBytes)") }
            if (after["swiglet_tcp_connections{state=\"ESTABLISHED\"}"] ?? 0) < 3 {
                problems.append("with HTTP, echo and metrics connections open, ESTABLISHED = \(after["swiglet_tcp_connections{state=\"ESTABLISHED\"}"] ?? -1)")
            }
        }
    }
}

extension HTTPTests {
    /// Connections one after another are each answered promptly: five /metrics fetches, then
    /// five GETs of the HTTP program and five echoes. (A connection's events must not wait
    /// for some later connection's segment to be passed on.)
    func testSequentialConnectionsAreAnsweredPromptly() throws {
        try withTCPGuest(self, name: "tcp-sequential", capture: true) { running, forwards, problems in
            func attempt(_ label: String, _ body: () throws -> Bool) {
                let start = Date()
                do {
                    if try !body() { problems.append("\(label): wrong answer") }
                } catch {
                    problems.append("\(label): \(error) after \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
                }
            }
            let about = try Self.siteFile("/about.txt")
            for round in 0..<5 {
                attempt("GET /about.txt #\(round)") {
                    let client = try TCPClient(host: forwards.host, port: forwards.http, timeout: 5)
                    try client.send("GET /about.txt HTTP/1.1\r\nHost: swiglet\r\nConnection: close\r\n\r\n")
                    var pending: [UInt8] = []
                    let response = try HTTPResponse.read(from: client, pending: &pending)
                    return response.status == 200 && response.body == about
                }
            }
            for round in 0..<5 {
                attempt("GET /metrics #\(round)") {
                    let client = try TCPClient(host: forwards.host, port: forwards.metrics, timeout: 5)
                    try client.send("GET /metrics HTTP/1.1\r\nHost: swiglet\r\nConnection: close\r\n\r\n")
                    var pending: [UInt8] = []
                    return try HTTPResponse.read(from: client, pending: &pending).status == 200
                }
            }
            for round in 0..<5 {
                attempt("GET /about.txt after /metrics #\(round)") {
                    let client = try TCPClient(host: forwards.host, port: forwards.http, timeout: 5)
                    try client.send("GET /about.txt HTTP/1.1\r\nHost: swiglet\r\nConnection: close\r\n\r\n")
                    var pending: [UInt8] = []
                    let response = try HTTPResponse.read(from: client, pending: &pending)
                    return response.status == 200 && response.body == about
                }
                attempt("echo after /metrics #\(round)") {
                    let client = try TCPClient(host: forwards.host, port: forwards.echo, timeout: 5)
                    let payload = Array("round \(round)\n".utf8)
                    return try client.echo(payload) == payload
                }
            }
        }
    }
}

extension HTTPTests {
    /// Connections that stop talking are closed after the server's idle timeout (60 s): one
    /// idle after a complete exchange, one stuck halfway through a request (a slowloris
    /// client). A fresh connection is still answered afterwards.
    func testIdleAndStalledConnectionsAreClosedAfterTheTimeout() throws {
        try withTCPGuest(self, name: "http-idle", timeout: 240) { running, forwards, problems in
            let idle = try TCPClient(host: forwards.host, port: forwards.http, timeout: 10)
            try idle.send("GET /about.txt HTTP/1.1\r\nHost: swiglet\r\n\r\n")
            var pending: [UInt8] = []
            let first = try HTTPResponse.read(from: idle, pending: &pending)
            if first.status != 200 { problems.append("the first request got \(first.status)") }
            let stalled = try TCPClient(host: forwards.host, port: forwards.http, timeout: 10)
            try stalled.send("GET /index.html HT")
            let started = Date()
            let idleEnd = idle.readToEnd(timeout: 90)
            let idleSeconds = Date().timeIntervalSince(started)
            let stalledEnd = stalled.readToEnd(timeout: 90)
            let stalledSeconds = Date().timeIntervalSince(started)
            if !idleEnd.isEmpty { problems.append("the idle connection got \(idleEnd.count) unexpected bytes") }
            if idleSeconds < 55 || idleSeconds > 80 {
                problems.append("the idle connection ended after \(Int(idleSeconds)) s, not after about 60 s")
            }
            if stalledSeconds > 80 { problems.append("the stalled request was not closed within 80 s") }
            if !stalledEnd.isEmpty { problems.append("the stalled request got \(stalledEnd.count) bytes instead of a close") }
            let fresh = try TCPClient(host: forwards.host, port: forwards.http, timeout: 10)
            try fresh.send("GET / HTTP/1.1\r\nHost: swiglet\r\n\r\n")
            var freshPending: [UInt8] = []
            if try HTTPResponse.read(from: fresh, pending: &freshPending).status != 200 {
                problems.append("a fresh connection was not answered after the timeouts")
            }
        }
    }
}
