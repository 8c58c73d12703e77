// Every status path of HTTPServerSession, keep-alive and close, HEAD, bodies, pipelining.

import HTTP
import RawBytes
import TestSupport
import XCTest

final class HTTPServerSessionTests: XCTestCase {
    let get = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"

    func testGetReturnsTheFileWithItsHead() throws {
        let conversation = try serve(get)
        XCTAssertEqual(conversation.text,
                       "HTTP/1.1 200 OK\r\nServer: swiglet\r\nContent-Type: text/html; charset=utf-8\r\n"
                       + "Content-Length: 11\r\n\r\n<h1>hi</h1>")
        XCTAssertFalse(conversation.closed)
    }

    func testRootAndDirectoryMeanIndexHTML() throws {
        XCTAssertTrue(try serve("GET / HTTP/1.1\r\nHost: x\r\n\r\n").text.hasSuffix("<h1>hi</h1>"))
        XCTAssertTrue(try serve("GET /docs/ HTTP/1.1\r\nHost: x\r\n\r\n").text.hasSuffix("<p>docs</p>"))
        XCTAssertEqual(try serve("GET /docs HTTP/1.1\r\nHost: x\r\n\r\n").statuses, [404])
    }

    func testContentTypesAndBinaryBody() throws {
        XCTAssertTrue(try serve("GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n").text.contains("Content-Type: text/css; charset=utf-8\r\n"))
        let big = try serve("GET /data/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(big.text.contains("Content-Type: application/octet-stream\r\nContent-Length: 3000\r\n"))
        XCTAssertEqual(Array(big.output.suffix(3000)), sampleFiles[1].data)
    }

    func testHeadSendsGetsHeadWithoutBody() throws {
        let conversation = try serve("HEAD /about.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(conversation.text,
                       "HTTP/1.1 200 OK\r\nServer: swiglet\r\nContent-Type: text/plain; charset=utf-8\r\n"
                       + "Content-Length: 6\r\n\r\n")
        let missing = try serve("HEAD /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(missing.statuses, [404])
        XCTAssertTrue(missing.text.hasSuffix("Content-Length: 14\r\n\r\n"))
    }

    func testNotFoundKeepsTheConnection() throws {
        let conversation = try serve("GET /missing.html HTTP/1.1\r\nHost: x\r\n\r\n" + get)
        XCTAssertEqual(conversation.statuses, [404, 200])
        XCTAssertTrue(conversation.text.hasPrefix("HTTP/1.1 404 Not Found\r\nServer: swiglet\r\n"
                                                  + "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\n\r\n404 Not Found\n"))
        XCTAssertFalse(conversation.closed)
    }

    func testOtherMethodsGet405WithAllowAndTheirBodyIsSkipped() throws {
        let conversation = try serve("POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get)
        XCTAssertEqual(conversation.statuses, [405, 200])
        XCTAssertTrue(conversation.text.contains("Allow: GET, HEAD\r\n"))
        XCTAssertFalse(conversation.closed)
        // Methods are case-sensitive (RFC 9110 §9.1): "get" is another method.
        XCTAssertEqual(try serve("get / HTTP/1.1\r\nHost: x\r\n\r\n").statuses, [405])
        XCTAssertEqual(try serve("GETS / HTTP/1.1\r\nHost: x\r\n\r\n").statuses, [405])
        XCTAssertEqual(try serve("HEA / HTTP/1.1\r\nHost: x\r\n\r\n").statuses, [405])
    }

    func testGetWithABodyWithinTheLimitIsServedAndTheBodyDiscarded() throws {
        let body = String(repeating: "b", count: 100)
        let conversation = try serve("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + body + get)
        XCTAssertEqual(conversation.statuses, [200, 200])
    }

    func testOverLimitHeadAndBodyGet413AndClose() throws {
        let limits = HTTPLimits(maximumHeadLength: 64, maximumBodyLength: 10)
        let long = try serve("GET / HTTP/1.1\r\nHost: x\r\nX-Filler: " + String(repeating: "a", count: 60) + "\r\n\r\n" + get,
                             limits: limits)
        XCTAssertEqual(long.statuses, [413])
        XCTAssertTrue(long.closed)
        XCTAssertTrue(long.text.contains("Connection: close\r\n"))
        // A head of exactly the limit passes.
        let exact = "GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 64 - 32) + "\r\n\r\n"
        XCTAssertEqual(exact.utf8.count, 64)
        XCTAssertEqual(try serve(exact, limits: limits).statuses, [200])
        XCTAssertEqual(try serve("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", limits: limits).statuses, [413])
        XCTAssertEqual(try serve("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits).statuses, [200])
        // Huge numbers saturate instead of overflowing.
        XCTAssertEqual(try serve("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n").statuses, [413])
        // The default limit is 8 KiB: an endless header line is refused once it is crossed.
        let endless = try serve("GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 9000))
        XCTAssertEqual(endless.statuses, [413])
    }

    func testMalformedRequestsGet400AndClose() throws {
        let malformed = [
            "GET / HTTP/1.1\r\n\r\n",                                  // no Host
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",             // two Hosts
            "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",                      // bad Host
            "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
            "GET /  HTTP/1.1\r\nHost: x\r\n\r\n",                       // two spaces
            "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
            " GET / HTTP/1.1\r\nHost: x\r\n\r\n",                       // leading space
            "GET /\r\nHost: x\r\n\r\n",                                 // HTTP/0.9
            "GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
            "GET / http/1.1\r\nHost: x\r\n\r\n",                        // case-sensitive name
            "GET / HTTP/1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.10\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\rHost: x\r\n\r\n",                          // bare CR
            "GET / HTTP/1.1\r\nHost: x\r\n\r\r\n",
            "GET / HTTP/1.1\r\nHost : x\r\n\r\n",                       // space before colon
            "GET / HTTP/1.1\r\n Host: x\r\n\r\n",                       // whitespace after the start line
            "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n continued\r\n\r\n",  // obs-fold
            "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX: a\u{01}b\r\n\r\n",        // control character
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\nx",
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
            "GET index.html HTTP/1.1\r\nHost: x\r\n\r\n",               // not origin-form
            "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",                // absolute-form (not supported)
            "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a\"b HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a%2 HTTP/1.1\r\nHost: x\r\n\r\n",                     // bad escapes
            "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a%00 HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a%0d%0a HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /../secret HTTP/1.1\r\nHost: x\r\n\r\n",               // traversal
            "GET /a/.. HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /./index.html HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /.%2E HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a?b c HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a?<b> HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",     // TE in 1.0 (RFC 9112 §6.1)
        ]
        for request in malformed {
            let conversation = try serve(request + get)
            XCTAssertEqual(conversation.statuses, [400], "\(request.debugDescription)")
            XCTAssertTrue(conversation.closed, "\(request.debugDescription)")
            XCTAssertTrue(conversation.text.contains("Connection: close\r\n"), "\(request.debugDescription)")
            XCTAssertTrue(conversation.text.hasSuffix("400 Bad Request\n"), "\(request.debugDescription)")
        }
    }

    func testTransferEncodingGets501AndCloses() throws {
        let conversation = try serve("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get)
        XCTAssertEqual(conversation.statuses, [501])
        XCTAssertTrue(conversation.closed)
    }

    func testOtherMajorVersionsGet505AndClose() throws {
        for version in ["HTTP/2.0", "HTTP/0.9", "HTTP/3.1"] {
            let conversation = try serve("GET / \(version)\r\nHost: x\r\n\r\n")
            XCTAssertEqual(conversation.statuses, [505], version)
            XCTAssertTrue(conversation.closed)
        }
        // Higher minor versions are HTTP/1.1 (RFC 9110 §6.2).
        XCTAssertEqual(try serve("GET / HTTP/1.7\r\nHost: x\r\n\r\n" + get).statuses, [200, 200])
    }

    func testFailingSourceGets500() {
        var session = HTTPServerSession(source: FailingSource())
        let conversation = converse(&session, ascii(get + get))
        XCTAssertEqual(conversation.statuses, [500, 500])
        XCTAssertFalse(conversation.closed)
    }

    func testConnectionOptions() throws {
        // HTTP/1.1 keeps the connection unless told to close.
        let close = try serve("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + get)
        XCTAssertEqual(close.statuses, [200])
        XCTAssertTrue(close.closed)
        XCTAssertTrue(close.text.contains("Connection: close\r\n"))
        let tokens = try serve("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade ,  CLOSE\r\n\r\n" + get)
        XCTAssertTrue(tokens.closed)
        let notClose = try serve("GET / HTTP/1.1\r\nHost: x\r\nConnection: closed, x-close\r\n\r\n" + get)
        XCTAssertEqual(notClose.statuses, [200, 200])
        // HTTP/1.0 closes unless asked to keep the connection (no Host needed).
        let old = try serve("GET / HTTP/1.0\r\n\r\n" + get)
        XCTAssertEqual(old.statuses, [200])
        XCTAssertTrue(old.closed)
        XCTAssertTrue(old.text.contains("Connection: close\r\n"))
        let kept = try serve("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get)
        XCTAssertEqual(kept.statuses, [200, 200])
        XCTAssertTrue(kept.text.contains("Connection: keep-alive\r\n"))
        XCTAssertFalse(kept.closed)
    }

    func testLenientLineEndsEmptyLinesQueriesAndEscapes() throws {
        XCTAssertEqual(try serve("\r\n\nGET / HTTP/1.1\nHost: x\n\n").statuses, [200])
        XCTAssertEqual(try serve("GET /index.html?a=1&b=/?%zz HTTP/1.1\r\nHost: x\r\n\r\n").statuses, [200])
        XCTAssertEqual(try serve("GET /%61bout%2Etxt HTTP/1.1\r\nHost: x\r\n\r\n").statuses, [200])
        XCTAssertEqual(try serve("GET / HTTP/1.1\r\nhOsT:x.example:8080  \r\nX-Empty:\r\n\r\n").statuses, [200])
        XCTAssertEqual(try serve("GET / HTTP/1.1\r\nHost: [::1]:80\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n").statuses, [200])
        XCTAssertEqual(try serve("GET / HTTP/1.1\r\nHost:\r\n\r\n").statuses, [200])   // empty Host (RFC 9112 §3.2)
        XCTAssertEqual(try serve("GET / HTTP/1.1\r\nHost: x\r\nX: caf\u{e9}\r\n\r\n").statuses, [200])   // obs-text
    }

    func testOverlongPathIs404NotAnError() throws {
        let path = "/" + String(repeating: "a", count: 300)
        let conversation = try serve("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n" + get)
        XCTAssertEqual(conversation.statuses, [404, 200])
    }

    func testAfterAClosingResponseInputIsIgnored() throws {
        let (site, memory) = try makeSite()
        var session = HTTPServerSession(source: site)
        let first = converse(&session, ascii("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        XCTAssertTrue(first.closed)
        XCTAssertTrue(session.isFinished)
        let later = converse(&session, ascii(get))
        XCTAssertEqual(later.statuses, [])
        withExtendedLifetime(memory) {}
    }

    func testIdleTracksPartialRequests() throws {
        let (site, memory) = try makeSite()
        var session = HTTPServerSession(source: site)
        XCTAssertTrue(session.isIdle)
        _ = converse(&session, ascii("GET / HT"))
        XCTAssertFalse(session.isIdle)
        _ = converse(&session, ascii("TP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertTrue(session.isIdle)
        withExtendedLifetime(memory) {}
    }

    /// Pipelined requests (every kind of response, bodies to skip) split at every byte
    /// boundary, then fed one byte at a time, give the same bytes as in one piece.
    func testPipelinedRequestsSplitAnywhereGiveTheSameResponsesInOrder() throws {
        let pipeline = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            + "HEAD /style.css HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET /nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            + "DELETE /about.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nzz"
            + "\r\nGET /%61bout.txt?q HTTP/1.1\nHost: x\n\n"
            + "GET /about.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            + get
        let whole = try serve(pipeline)
        XCTAssertEqual(whole.statuses, [200, 200, 404, 405, 200, 200])
        XCTAssertTrue(whole.closed)
        let bytes = ascii(pipeline)
        for split in 0...bytes.count {
            let conversation = try serve(pipeline, splits: [split])
            XCTAssertEqual(conversation.output, whole.output, "split at \(split)")
            XCTAssertTrue(conversation.closed)
        }
        for split in stride(from: 0, through: bytes.count, by: 7) {
            let conversation = try serve(pipeline, splits: [split / 3, split / 2, split])
            XCTAssertEqual(conversation.output, whole.output, "splits at \(split / 3), \(split / 2), \(split)")
        }
        let byteByByte = try serve(pipeline, splits: Array(0...bytes.count))
        XCTAssertEqual(byteByByte.output, whole.output)
    }

    /// An error in the middle of a pipeline answers the earlier requests, then the error, then
    /// nothing: the rest of the stream cannot be framed.
    func testErrorInAPipelineStopsIt() throws {
        let pipeline = get + get + "GET / HTTP/1.1\r\n\r\n" + get
        for split in 0...pipeline.utf8.count {
            let conversation = try serve(pipeline, splits: [split])
            XCTAssertEqual(conversation.statuses, [200, 200, 400], "split at \(split)")
            XCTAssertTrue(conversation.closed)
        }
    }
}
