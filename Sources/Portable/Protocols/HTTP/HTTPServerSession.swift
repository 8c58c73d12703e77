// One HTTP connection on the server side: parser, content source and response writer together.

import RawBytes

/// What a content source found for a path.
public enum HTTPContentLookup {
    /// The representation: its bytes (which must stay valid until sent) and media type.
    case found(body: UnsafeRawBufferPointer, type: ContentType)
    /// Nothing at that path: 404.
    case notFound
    /// The source could not produce it now: 500.
    case failed
}

/// Where a session finds what a path names: a `StaticSite`, or the network core's metrics.
/// Generic, not existential (Embedded Swift has no `any P` for non-class protocols).
public protocol HTTPContentSource {
    /// The content at the decoded `path` (starting with "/").
    mutating func content(for path: ByteReader) -> HTTPContentLookup
}

/// One response, ready to send: `head` then `body`.
public struct HTTPResponse {
    /// The status.
    public var status: HTTPStatus
    /// The status line and header fields, in the caller's head buffer.
    public var head: UnsafeRawBufferPointer
    /// The body (empty for HEAD): points into the content source (or a static error text).
    public var body: UnsafeRawBufferPointer
    /// Whether the connection must close once this response is sent.
    public var closesConnection: Bool
}

/// The server side of one HTTP/1.1 connection: fed received bytes, it answers each request
/// in order, one at a time, and says when the connection must close.
///
///     var session = HTTPServerSession(source: site)
///     // for each received piece, until all of it is consumed:
///     let (consumed, response) = session.receive(bytes, headBuffer: buffer)
///     // send response.head then response.body; feed bytes[consumed...] once it is out;
///     // close after a response with closesConnection.
///
/// Pipelined requests stay in the caller's buffer until their turn, which keeps responses
/// in request order without queueing them here. Never allocates.
public struct HTTPServerSession<Source: HTTPContentSource> {
    /// Where paths lead.
    public var source: Source
    /// The request parser.
    public private(set) var parser: HTTPRequestParser
    /// Whether a response that closes the connection was produced: later input is ignored.
    public private(set) var isFinished = false

    /// A session at the start of a connection.
    public init(source: Source, limits: HTTPLimits = HTTPLimits()) {
        self.source = source
        self.parser = HTTPRequestParser(limits: limits)
    }

    /// Whether no request is partly received (a FIN or an idle timeout now loses nothing).
    public var isIdle: Bool { parser.isIdle }

    /// Parses `input` until one request is complete, and writes its response head into
    /// `headBuffer` (at least `HTTPResponseHead.maximumLength` bytes). Returns the bytes
    /// taken and the response, if one is due; the bytes after `consumed` are the next
    /// requests: feed them after sending the response. After a closing response, all input is
    /// taken and ignored.
    public mutating func receive(_ input: UnsafeRawBufferPointer,
                                 headBuffer: UnsafeMutableRawBufferPointer) -> (consumed: Int, response: HTTPResponse?) {
        guard !isFinished else { return (input.count, nil) }
        let (consumed, event) = parser.parse(input)
        switch event {
        case nil:
            return (consumed, nil)
        case .failed(let status):
            return (consumed, respond(status: status, method: .get, keepAlive: false, http10: false, headBuffer: headBuffer))
        case .request(let request):
            let http10 = request.version == .http10
            guard request.method != .other else {
                return (consumed, respond(status: .methodNotAllowed, method: .get, keepAlive: request.keepAlive,
                                          http10: http10, headBuffer: headBuffer))
            }
            let lookup: HTTPContentLookup = request.pathTooLong ? .notFound
                : parser.withPath { path in source.content(for: path) }
            switch lookup {
            case .found(let body, let type):
                return (consumed, respond(status: .ok, method: request.method, keepAlive: request.keepAlive, http10: http10,
                                          body: body, type: type, headBuffer: headBuffer))
            case .notFound:
                return (consumed, respond(status: .notFound, method: request.method, keepAlive: request.keepAlive,
                                          http10: http10, headBuffer: headBuffer))
            case .failed:
                return (consumed, respond(status: .internalServerError, method: request.method,
                                          keepAlive: request.keepAlive, http10: http10, headBuffer: headBuffer))
            }
        }
    }

    /// A response with an error's text body.
    mutating func respond(status: HTTPStatus, method: HTTPMethod, keepAlive: Bool, http10: Bool,
                          headBuffer: UnsafeMutableRawBufferPointer) -> HTTPResponse {
        let text = status.errorBody
        return respond(status: status, method: method, keepAlive: keepAlive, http10: http10,
                       body: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount),
                       type: .plainText, headBuffer: headBuffer)
    }

    mutating func respond(status: HTTPStatus, method: HTTPMethod, keepAlive: Bool, http10: Bool,
                          body: UnsafeRawBufferPointer, type: ContentType,
                          headBuffer: UnsafeMutableRawBufferPointer) -> HTTPResponse {
        let closes = !keepAlive || status.closesConnection
        if closes { isFinished = true }
        let connection: ConnectionOption = closes ? .close : (http10 ? .keepAlive : .none)
        var writer = TextWriter(headBuffer)
        HTTPResponseHead.write(status: status, contentType: type, contentLength: body.count,
                               connection: connection, into: &writer)
        precondition(!writer.overflowed, "HTTPServerSession: head buffer shorter than HTTPResponseHead.maximumLength")
        // HEAD: the same fields as GET, no body — RFC 9110 §9.3.2.
        let sentBody = method == .head ? UnsafeRawBufferPointer(start: nil, count: 0) : body
        return HTTPResponse(status: status, head: writer.written, body: sentBody, closesConnection: closes)
    }
}
