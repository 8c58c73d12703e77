// An incremental HTTP/1.1 request parser (RFC 9112): fed bytes as they arrive, split anywhere.

import RawBytes

/// How much a request may hold before the server refuses it with 413 and closes.
public struct HTTPLimits: Equatable, Sendable {
    /// Bytes of the request line and header fields, with their line ends (and any empty lines
    /// before the request line — RFC 9112 §2.2).
    public var maximumHeadLength: Int
    /// Bytes of a body (announced by Content-Length), which is read and discarded: GET and
    /// HEAD have no use for one, and a 405 keeps the connection when it can skip the body.
    public var maximumBodyLength: Int

    /// 8 KiB for the head and 8 KiB for a body, unless told otherwise.
    public init(maximumHeadLength: Int = 8192, maximumBodyLength: Int = 8192) {
        self.maximumHeadLength = maximumHeadLength
        self.maximumBodyLength = maximumBodyLength
    }
}

/// The request methods the server tells apart — RFC 9110 §9.
public enum HTTPMethod: Equatable, Sendable {
    /// GET (§9.3.1).
    case get
    /// HEAD (§9.3.2): GET without the body.
    case head
    /// Any other syntactically valid method: answered with 405.
    case other
}

/// The protocol version of a request — RFC 9112 §2.3. Any 1.x with x ≥ 1 is treated as 1.1.
public enum HTTPVersion: Equatable, Sendable {
    case http10
    case http11
}

/// A request whose head has been parsed and checked. Its decoded path stays readable
/// through `HTTPRequestParser.withPath` until the parser is fed again.
public struct HTTPRequestHead: Equatable, Sendable {
    /// The method.
    public var method: HTTPMethod
    /// The version.
    public var version: HTTPVersion
    /// Whether the connection stays open after the response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive` — RFC 9112 §9.3.
    public var keepAlive: Bool
    /// The body length (Content-Length, 0 without one); the parser skips the body before the
    /// next request.
    public var contentLength: Int
    /// Whether the decoded path was longer than `HTTPRequestParser.maximumPathLength` (no
    /// such path exists in a site: the answer is 404).
    public var pathTooLong: Bool
}

/// What a `parse` call found.
public enum HTTPParseEvent: Equatable, Sendable {
    /// A complete, well-framed request head.
    case request(HTTPRequestHead)
    /// The request cannot be served and the stream cannot be parsed further: answer with
    /// this status (400, 413, 501 or 505) and close. The parser ignores all later input.
    case failed(HTTPStatus)
}

/// An incremental request parser for one connection — RFC 9112 §2–§7.
///
/// Fed bytes as they arrive, split anywhere, it stops after each complete request head and
/// says how many bytes it took, so pipelined requests are answered one at a time and in
/// order: feed the rest after the response has gone out. It works byte by byte and keeps
/// only what the server needs (method, decoded path, version, Host count, Connection
/// tokens, Content-Length, whether Transfer-Encoding appeared), in fixed inline storage:
/// it never allocates.
///
/// What it accepts and rejects:
/// - empty lines before the request line are skipped (§2.2); a bare LF ends a line like
///   CRLF (§2.2); a CR not followed by LF is a 400;
/// - request line: a token method, exactly one space, an origin-form target (starting with
///   "/"; absolute-form and asterisk-form are refused with 400), one space, `HTTP/d.d` (§3);
///   a major version other than 1 is a 505;
/// - the target's path is percent-decoded (RFC 3986 §2.1); a bad escape, a decoded control
///   character, a character outside RFC 3986's path and query sets, or a "." or ".."
///   segment is a 400; the query is checked and ignored;
/// - header fields: token names directly followed by ":" (§5.1), values of visible
///   characters, spaces and tabs (§5.5); obs-fold is a 400 (§5.2); HTTP/1.1 needs exactly one
///   Host (§3.2); Content-Length must be digits, equal if repeated (§6.3; a comma list is a
///   400); any Transfer-Encoding is a 501 (HTTP/1.0: 400, §6.1);
/// - a head longer than `maximumHeadLength` or a body longer than `maximumBodyLength` is a
///   413 (reported as soon as the limit is crossed).
public struct HTTPRequestParser {
    /// The longest decoded path kept (longer paths are answered with 404).
    public static let maximumPathLength = 256

    /// The limits.
    public let limits: HTTPLimits

    /// Where in the message the next byte goes.
    enum State: Equatable {
        case requestLineStart, emptyLineFeed, method, target, version, requestLineFeed
        case fieldLineStart, fieldName, fieldValue, fieldLineFeed, headEndFeed
        case body(remaining: Int)
        case failed
    }

    /// The header fields the parser looks at.
    enum Field {
        case host, connection, contentLength, transferEncoding, other
    }

    var state: State = .requestLineStart
    /// Bytes of the current head so far.
    var headLength = 0

    // The request line.
    var methodLength = 0
    var methodMatchesGet = true
    var methodMatchesHead = true
    var targetLength = 0
    var pathLength = 0
    var pathTooLong = false
    var inQuery = false
    /// Hex digits of a percent escape still expected (0, 2 after "%", 1 after "%X").
    var escapeDigitsPending = 0
    var escapeHighNibble: UInt8 = 0
    var versionLength = 0
    var versionMajor: UInt8 = 0
    var versionMinor: UInt8 = 0

    // The field being read.
    var nameLength = 0
    var field = Field.other
    var valueStarted = false
    var whitespaceAfterValue = false
    var contentLengthDigits = 0
    var contentLengthValue = 0
    var tokenLength = 0

    // What the fields said.
    var hostCount = 0
    var connectionClose = false
    var connectionKeepAlive = false
    var contentLength: Int? = nil
    var transferEncoding = false

    /// The decoded path (256 bytes).
    var path = InlineBytes256()
    /// The lower-cased field name, then the Connection token being read (32 bytes).
    var scratch = InlineBytes32()

    /// A parser at the start of a connection.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Whether the parser refused the stream (after a `.failed` event).
    public var hasFailed: Bool { state == .failed }

    /// Whether the parser is between messages with nothing of the next one seen yet (a FIN
    /// or a timeout now loses no request).
    public var isIdle: Bool { state == .requestLineStart && headLength == 0 }

    /// Calls `body` with the decoded path of the last request (up to `maximumPathLength`
    /// bytes); valid until the next `parse`.
    public mutating func withPath<Result>(_ body: (ByteReader) -> Result) -> Result {
        let length = pathLength
        return withUnsafeBytes(of: &path) { storage in
            body(ByteReader(start: storage.baseAddress!, count: length))
        }
    }

    /// Parses from the start of `input` until one request head is complete or the input
    /// ends. Returns how many bytes were taken and the event, if any: after `.request`, feed
    /// the bytes after `consumed` again (once the response is on its way); after `.failed`
    /// (and forever after), all input is taken and ignored.
    public mutating func parse(_ input: UnsafeRawBufferPointer) -> (consumed: Int, event: HTTPParseEvent?) {
        guard let base = input.baseAddress else { return (0, nil) }
        var index = 0
        while index < input.count {
            switch state {
            case .failed:
                return (input.count, nil)
            case .body(let remaining):
                // Discard the body in bulk.
                let taken = min(remaining, input.count - index)
                index += taken
                state = taken == remaining ? .requestLineStart : .body(remaining: remaining - taken)
            default:
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index += 1
                if let event = step(byte) {
                    return (index, event)
                }
            }
        }
        return (index, nil)
    }

    /// Refuses the stream with `status`.
    mutating func fail(_ status: HTTPStatus) -> HTTPParseEvent {
        state = .failed
        return .failed(status)
    }

    /// Takes one byte of the head.
    mutating func step(_ byte: UInt8) -> HTTPParseEvent? {
        headLength += 1
        guard headLength <= limits.maximumHeadLength else { return fail(.contentTooLarge) }
        switch state {
        case .requestLineStart:
            if byte == .carriageReturn { state = .emptyLineFeed; return nil }
            if byte == .lineFeed { return nil }
            guard byte.isTokenCharacter else { return fail(.badRequest) }
            state = .method
            return takeMethod(byte)
        case .emptyLineFeed:
            guard byte == .lineFeed else { return fail(.badRequest) }
            state = .requestLineStart
            return nil
        case .method:
            if byte == .space {
                // The previous request's path was kept for withPath until now.
                pathLength = 0
                pathTooLong = false
                state = .target
                return nil
            }
            guard byte.isTokenCharacter else { return fail(.badRequest) }
            return takeMethod(byte)
        case .target:
            if byte == .space { return endTarget() }
            return takeTarget(byte)
        case .version:
            if byte == .carriageReturn { state = .requestLineFeed; return nil }
            if byte == .lineFeed { return endRequestLine() }
            return takeVersion(byte)
        case .requestLineFeed:
            guard byte == .lineFeed else { return fail(.badRequest) }
            return endRequestLine()
        case .fieldLineStart:
            if byte == .carriageReturn { state = .headEndFeed; return nil }
            if byte == .lineFeed { return endHead() }
            // A leading space or tab is obs-fold (§5.2) or whitespace after the start line (§2.2).
            guard byte.isTokenCharacter else { return fail(.badRequest) }
            state = .fieldName
            nameLength = 0
            return takeName(byte)
        case .fieldName:
            if byte == UInt8(ascii: ":") { return endName() }
            guard byte.isTokenCharacter else { return fail(.badRequest) }
            return takeName(byte)
        case .fieldValue:
            if byte == .carriageReturn { state = .fieldLineFeed; return nil }
            if byte == .lineFeed { return endField() }
            return takeValue(byte)
        case .fieldLineFeed:
            guard byte == .lineFeed else { return fail(.badRequest) }
            return endField()
        case .headEndFeed:
            guard byte == .lineFeed else { return fail(.badRequest) }
            return endHead()
        case .body, .failed:
            return nil    // parse never steps in these states
        }
    }

    // MARK: Request line

    mutating func takeMethod(_ byte: UInt8) -> HTTPParseEvent? {
        let get: StaticString = "GET"
        let head: StaticString = "HEAD"
        methodMatchesGet = methodMatchesGet && methodLength < 3 && get.utf8Start[methodLength] == byte
        methodMatchesHead = methodMatchesHead && methodLength < 4 && head.utf8Start[methodLength] == byte
        methodLength += 1
        return nil
    }

    mutating func takeTarget(_ byte: UInt8) -> HTTPParseEvent? {
        targetLength += 1
        // Origin-form only (§3.2.1): the target starts with "/".
        if targetLength == 1 && byte != UInt8(ascii: "/") { return fail(.badRequest) }
        if inQuery {
            // query = *( pchar / "/" / "?" ) — RFC 3986 §3.4; checked, then ignored.
            guard byte.isPathCharacter || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "%") else {
                return fail(.badRequest)
            }
            return nil
        }
        if escapeDigitsPending > 0 {
            guard let nibble = byte.hexadecimalValue else { return fail(.badRequest) }
            escapeDigitsPending -= 1
            if escapeDigitsPending == 1 {
                escapeHighNibble = nibble
                return nil
            }
            let decoded = escapeHighNibble << 4 | nibble
            // A decoded control character (NUL, CR, LF...) is never part of a site path.
            guard decoded >= 0x20, decoded != 0x7F else { return fail(.badRequest) }
            appendToPath(decoded)
            return nil
        }
        if byte == UInt8(ascii: "%") { escapeDigitsPending = 2; return nil }
        if byte == UInt8(ascii: "?") { inQuery = true; return nil }
        guard byte.isPathCharacter else { return fail(.badRequest) }
        appendToPath(byte)
        return nil
    }

    mutating func appendToPath(_ byte: UInt8) {
        guard pathLength < Self.maximumPathLength else {
            pathTooLong = true
            return
        }
        let index = pathLength
        withUnsafeMutableBytes(of: &path) { $0[index] = byte }
        pathLength += 1
    }

    mutating func endTarget() -> HTTPParseEvent? {
        guard targetLength > 0, escapeDigitsPending == 0 else { return fail(.badRequest) }
        // No "." or ".." segments (RFC 3986 §3.3), checked after decoding so "%2e%2e" counts too.
        let hasDotSegment = withPath { path in
            var segmentStart = 0
            var index = 0
            while index <= path.count {
                if index == path.count || path.u8(at: index) == UInt8(ascii: "/") {
                    let length = index - segmentStart
                    if length == 1 || length == 2,
                       path.u8(at: segmentStart) == UInt8(ascii: "."),
                       length == 1 || path.u8(at: segmentStart + 1) == UInt8(ascii: ".") {
                        return true
                    }
                    segmentStart = index + 1
                }
                index += 1
            }
            return false
        }
        guard !hasDotSegment else { return fail(.badRequest) }
        state = .version
        return nil
    }

    mutating func takeVersion(_ byte: UInt8) -> HTTPParseEvent? {
        // HTTP-version = "HTTP" "/" DIGIT "." DIGIT — §2.3 (case-sensitive).
        let prefix: StaticString = "HTTP/"
        switch versionLength {
        case 0..<5:
            guard byte == prefix.utf8Start[versionLength] else { return fail(.badRequest) }
        case 5:
            guard let digit = byte.decimalValue else { return fail(.badRequest) }
            versionMajor = digit
        case 6:
            guard byte == UInt8(ascii: ".") else { return fail(.badRequest) }
        case 7:
            guard let digit = byte.decimalValue else { return fail(.badRequest) }
            versionMinor = digit
        default:
            return fail(.badRequest)
        }
        versionLength += 1
        return nil
    }

    mutating func endRequestLine() -> HTTPParseEvent? {
        guard versionLength == 8 else { return fail(.badRequest) }
        guard versionMajor == 1 else { return fail(.httpVersionNotSupported) }
        state = .fieldLineStart
        return nil
    }

    // MARK: Header fields

    mutating func takeName(_ byte: UInt8) -> HTTPParseEvent? {
        if nameLength < 32 {
            let index = nameLength
            withUnsafeMutableBytes(of: &scratch) { $0[index] = byte.asciiLowercased }
        }
        nameLength += 1
        return nil
    }

    mutating func endName() -> HTTPParseEvent? {
        // No whitespace may precede the colon (§5.1): a space is not a token character, so a
        // name that ended in one already failed.
        guard nameLength > 0 else { return fail(.badRequest) }
        let length = nameLength
        field = withUnsafeBytes(of: &scratch) { storage -> Field in
            let name = ByteReader(start: storage.baseAddress!, count: min(length, 32))
            if length > 32 { return .other }
            if name.equals("host") { return .host }
            if name.equals("connection") { return .connection }
            if name.equals("content-length") { return .contentLength }
            if name.equals("transfer-encoding") { return .transferEncoding }
            return .other
        }
        valueStarted = false
        whitespaceAfterValue = false
        contentLengthDigits = 0
        contentLengthValue = 0
        tokenLength = 0
        state = .fieldValue
        return nil
    }

    mutating func takeValue(_ byte: UInt8) -> HTTPParseEvent? {
        // field-value = *( field-vchar / SP / HTAB ), obs-text allowed — §5.5.
        let isWhitespace = byte == .space || byte == .horizontalTab
        guard isWhitespace || (byte > 0x20 && byte != 0x7F) else { return fail(.badRequest) }
        if isWhitespace {
            // Leading whitespace is OWS (§5.1); inside a value it may matter.
            if valueStarted { whitespaceAfterValue = true }
            if field == .connection { endConnectionToken() }
            return nil
        }
        valueStarted = true
        switch field {
        case .host:
            // uri-host [ ":" port ] — RFC 3986 §3.2.2: no inner whitespace.
            guard !whitespaceAfterValue, byte.isHostCharacter else { return fail(.badRequest) }
        case .contentLength:
            // Content-Length = 1*DIGIT (§6.3 of RFC 9110 §8.6); a list is refused.
            guard !whitespaceAfterValue, let digit = byte.decimalValue else { return fail(.badRequest) }
            contentLengthDigits += 1
            // Saturate just above the body limit: the exact size of a refused body is moot.
            contentLengthValue = min(contentLengthValue * 10 + Int(digit), limits.maximumBodyLength + 1)
        case .connection:
            // Connection = #connection-option (RFC 9110 §7.6.1): tokens separated by commas.
            if byte.isTokenCharacter {
                if tokenLength < 32 {
                    let index = tokenLength
                    withUnsafeMutableBytes(of: &scratch) { $0[index] = byte.asciiLowercased }
                }
                tokenLength += 1
            } else {
                endConnectionToken()
            }
        case .transferEncoding, .other:
            break
        }
        return nil
    }

    mutating func endConnectionToken() {
        guard tokenLength > 0 else { return }
        let length = tokenLength
        withUnsafeBytes(of: &scratch) { storage in
            let token = ByteReader(start: storage.baseAddress!, count: min(length, 32))
            if length <= 32 && token.equals("close") { connectionClose = true }
            if length <= 32 && token.equals("keep-alive") { connectionKeepAlive = true }
        }
        tokenLength = 0
    }

    mutating func endField() -> HTTPParseEvent? {
        switch field {
        case .host:
            hostCount += 1
        case .contentLength:
            guard contentLengthDigits > 0 else { return fail(.badRequest) }
            // Repeated Content-Length fields must agree (§6.3 item 5).
            if let earlier = contentLength, earlier != contentLengthValue { return fail(.badRequest) }
            contentLength = contentLengthValue
        case .connection:
            endConnectionToken()
        case .transferEncoding:
            transferEncoding = true
        case .other:
            break
        }
        state = .fieldLineStart
        return nil
    }

    mutating func endHead() -> HTTPParseEvent? {
        let version: HTTPVersion = versionMinor == 0 ? .http10 : .http11
        if transferEncoding {
            // §6.1: unknown to us (we decode no transfer coding) → 501; in HTTP/1.0 it is faulty → 400.
            return fail(version == .http10 ? .badRequest : .notImplemented)
        }
        // §3.2: an HTTP/1.1 request needs a Host; no request may have more than one.
        if hostCount > 1 || (version == .http11 && hostCount == 0) { return fail(.badRequest) }
        let bodyLength = contentLength ?? 0
        guard bodyLength <= limits.maximumBodyLength else { return fail(.contentTooLarge) }
        let method: HTTPMethod = methodMatchesGet && methodLength == 3 ? .get
            : methodMatchesHead && methodLength == 4 ? .head : .other
        let keepAlive = !connectionClose && (version == .http11 || connectionKeepAlive)
        let head = HTTPRequestHead(method: method, version: version, keepAlive: keepAlive,
                                   contentLength: bodyLength, pathTooLong: pathTooLong)
        resetMessage()
        state = bodyLength > 0 ? .body(remaining: bodyLength) : .requestLineStart
        return .request(head)
    }

    /// Forgets the message just parsed, except its path (kept for `withPath`).
    mutating func resetMessage() {
        headLength = 0
        methodLength = 0
        methodMatchesGet = true
        methodMatchesHead = true
        targetLength = 0
        inQuery = false
        escapeDigitsPending = 0
        versionLength = 0
        versionMajor = 0
        versionMinor = 0
        hostCount = 0
        connectionClose = false
        connectionKeepAlive = false
        contentLength = nil
        transferEncoding = false
    }
}

/// 256 bytes stored inline (no allocation).
struct InlineBytes256 {
    var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}

/// 32 bytes stored inline (no allocation).
struct InlineBytes32 {
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
}

extension UInt8 {
    static let horizontalTab: UInt8 = 0x09
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20

    var isASCIILetterOrDigit: Bool {
        (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "z"))
            || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "Z"))
            || (self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9"))
    }

    /// tchar — RFC 9110 §5.6.2.
    var isTokenCharacter: Bool {
        if isASCIILetterOrDigit { return true }
        switch self {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// unreserved / sub-delims — RFC 3986 §2.3, §2.2.
    var isUnreservedOrSubDelimiter: Bool {
        if isASCIILetterOrDigit { return true }
        switch self {
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
             UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
             UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    /// pchar without pct-encoded, or "/" — RFC 3986 §3.3.
    var isPathCharacter: Bool {
        isUnreservedOrSubDelimiter || self == UInt8(ascii: ":") || self == UInt8(ascii: "@") || self == UInt8(ascii: "/")
    }

    /// A character of uri-host [ ":" port ], IP literals and escapes included — RFC 3986 §3.2.2.
    var isHostCharacter: Bool {
        isUnreservedOrSubDelimiter || self == UInt8(ascii: ":") || self == UInt8(ascii: "[")
            || self == UInt8(ascii: "]") || self == UInt8(ascii: "%")
    }

    /// The value of a decimal digit, or nil.
    var decimalValue: UInt8? {
        self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") ? self - UInt8(ascii: "0") : nil
    }

    /// The value of a hexadecimal digit (either case), or nil.
    var hexadecimalValue: UInt8? {
        if let digit = decimalValue { return digit }
        let lower = asciiLowercased
        return lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "f") ? lower - UInt8(ascii: "a") + 10 : nil
    }
}
