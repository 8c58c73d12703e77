// The status codes the server sends, with their reason phrases and short error bodies.

/// A response status this server can send — RFC 9110 §15. Each error has a short
/// `text/plain` body so that a person with curl sees what went wrong.
public enum HTTPStatus: UInt16, Equatable, Sendable {
    /// 200: the representation follows — RFC 9110 §15.3.1.
    case ok = 200
    /// 400: malformed request (syntax, missing or repeated Host, bad target, bad framing);
    /// the connection closes after it — RFC 9110 §15.5.1.
    case badRequest = 400
    /// 404: no such path in the site — RFC 9110 §15.5.5.
    case notFound = 404
    /// 405: a method other than GET and HEAD; sent with `Allow: GET, HEAD` — RFC 9110 §15.5.6.
    case methodNotAllowed = 405
    /// 413: the request head (request line and header fields) or its body is longer than the
    /// limits (`HTTPLimits`); the connection closes after it. For an over-long head, 431
    /// (RFC 6585 §5) would be more exact; the issue asks for one status for any over-limit
    /// request — RFC 9110 §15.5.14.
    case contentTooLarge = 413
    /// 500: the content source failed (e.g. the metrics text did not fit its buffer) —
    /// RFC 9110 §15.6.1.
    case internalServerError = 500
    /// 501: a Transfer-Encoding (chunked bodies are not implemented); the connection closes —
    /// RFC 9112 §6.1, RFC 9110 §15.6.2.
    case notImplemented = 501
    /// 505: an HTTP major version other than 1; the connection closes — RFC 9110 §15.6.6.
    case httpVersionNotSupported = 505

    /// The reason phrase of the status line — RFC 9112 §4.
    public var reasonPhrase: StaticString {
        switch self {
        case .ok: "OK"
        case .badRequest: "Bad Request"
        case .notFound: "Not Found"
        case .methodNotAllowed: "Method Not Allowed"
        case .contentTooLarge: "Content Too Large"
        case .internalServerError: "Internal Server Error"
        case .notImplemented: "Not Implemented"
        case .httpVersionNotSupported: "HTTP Version Not Supported"
        }
    }

    /// The short `text/plain` body of an error response (empty for 200).
    public var errorBody: StaticString {
        switch self {
        case .ok: ""
        case .badRequest: "400 Bad Request\n"
        case .notFound: "404 Not Found\n"
        case .methodNotAllowed: "405 Method Not Allowed: only GET and HEAD\n"
        case .contentTooLarge: "413 Content Too Large\n"
        case .internalServerError: "500 Internal Server Error\n"
        case .notImplemented: "501 Not Implemented: no transfer codings\n"
        case .httpVersionNotSupported: "505 HTTP Version Not Supported\n"
        }
    }

    /// Whether the connection must close after this response: the request's framing cannot
    /// be trusted (400, 413, 501, 505), so the rest of the stream cannot be parsed.
    public var closesConnection: Bool {
        switch self {
        case .badRequest, .contentTooLarge, .notImplemented, .httpVersionNotSupported: true
        case .ok, .notFound, .methodNotAllowed, .internalServerError: false
        }
    }
}
