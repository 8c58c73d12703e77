// Writes a response's status line and header fields into a caller's buffer.

/// What the response says about the connection — RFC 9112 §9.3, §9.6.
public enum ConnectionOption: Equatable, Sendable {
    /// No Connection field: HTTP/1.1's default, the connection stays open.
    case none
    /// `Connection: close`: the server closes after this response.
    case close
    /// `Connection: keep-alive`: an HTTP/1.0 client asked to keep the connection.
    case keepAlive
}

/// The status line and header fields of a response — RFC 9112 §4, §5; RFC 9110 §8.3, §8.6,
/// §10.2.4 (Server), §10.2.1 (Allow).
public enum HTTPResponseHead {
    /// Enough room for any head this module writes (the longest is about 170 bytes).
    public static let maximumLength = 256

    /// Writes the head: `HTTP/1.1 <status> <reason>`, `Server: swiglet`, `Content-Type`,
    /// `Content-Length` (for HEAD: the length GET would send), `Allow: GET, HEAD` for a 405,
    /// the Connection option, and the empty line. The caller checks `writer.overflowed`.
    public static func write(status: HTTPStatus, contentType: ContentType, contentLength: Int,
                             connection: ConnectionOption, into writer: inout TextWriter) {
        writer.append("HTTP/1.1 ")
        writer.append(decimal: UInt64(status.rawValue))
        writer.append(byte: .space)
        writer.append(status.reasonPhrase)
        writer.append("\r\nServer: swiglet\r\nContent-Type: ")
        writer.append(contentType.fieldValue)
        writer.append("\r\nContent-Length: ")
        writer.append(decimal: UInt64(contentLength))
        writer.append("\r\n")
        if status == .methodNotAllowed { writer.append("Allow: GET, HEAD\r\n") }
        switch connection {
        case .none: break
        case .close: writer.append("Connection: close\r\n")
        case .keepAlive: writer.append("Connection: keep-alive\r\n")
        }
        writer.append("\r\n")
    }
}
