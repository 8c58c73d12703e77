// The media type of a site file, chosen from its extension.

import RawBytes

/// The media types the server labels responses with — RFC 9110 §8.3; the names are the IANA
/// registrations (text/javascript per RFC 9239, image/svg+xml per SVG 1.1 Appendix P).
public enum ContentType: Equatable, Sendable {
    case html, css, javascript, plainText, png, jpeg, svg, json, icon
    /// Anything else: bytes.
    case octetStream
    /// Prometheus text exposition format 0.0.4.
    case prometheusText

    /// The Content-Type field value.
    public var fieldValue: StaticString {
        switch self {
        case .html: "text/html; charset=utf-8"
        case .css: "text/css; charset=utf-8"
        case .javascript: "text/javascript; charset=utf-8"
        case .plainText: "text/plain; charset=utf-8"
        case .png: "image/png"
        case .jpeg: "image/jpeg"
        case .svg: "image/svg+xml"
        case .json: "application/json"
        case .icon: "image/x-icon"
        case .octetStream: "application/octet-stream"
        case .prometheusText: "text/plain; version=0.0.4; charset=utf-8"
        }
    }

    /// The type of the file at `path`, from the extension after its last dot (ASCII case
    /// ignored): html/htm, css, js/mjs, txt, png, jpg/jpeg, svg, json, ico; anything else
    /// (or no extension) is `octetStream`.
    public init(path: ByteReader) {
        // The extension: after the last "." of the last segment.
        var dot = -1
        var index = path.count - 1
        while index >= 0, let byte = path.u8(at: index), byte != UInt8(ascii: "/") {
            if byte == UInt8(ascii: ".") { dot = index; break }
            index -= 1
        }
        guard dot >= 0, let suffix = path.suffix(from: dot + 1) else {
            self = .octetStream
            return
        }
        if suffix.equalsIgnoringASCIICase("html") || suffix.equalsIgnoringASCIICase("htm") { self = .html }
        else if suffix.equalsIgnoringASCIICase("css") { self = .css }
        else if suffix.equalsIgnoringASCIICase("js") || suffix.equalsIgnoringASCIICase("mjs") { self = .javascript }
        else if suffix.equalsIgnoringASCIICase("txt") { self = .plainText }
        else if suffix.equalsIgnoringASCIICase("png") { self = .png }
        else if suffix.equalsIgnoringASCIICase("jpg") || suffix.equalsIgnoringASCIICase("jpeg") { self = .jpeg }
        else if suffix.equalsIgnoringASCIICase("svg") { self = .svg }
        else if suffix.equalsIgnoringASCIICase("json") { self = .json }
        else if suffix.equalsIgnoringASCIICase("ico") { self = .icon }
        else { self = .octetStream }
    }
}

extension ByteReader {
    /// Whether the view holds the ASCII letters of `text`, ignoring ASCII case (`text` is
    /// lower case).
    func equalsIgnoringASCIICase(_ text: StaticString) -> Bool {
        guard count == text.utf8CodeUnitCount else { return false }
        var index = 0
        while index < count {
            guard let byte = u8(at: index), byte.asciiLowercased == text.utf8Start[index] else { return false }
            index += 1
        }
        return true
    }
}

extension UInt8 {
    /// The byte with ASCII upper-case letters mapped to lower case.
    @inline(__always)
    var asciiLowercased: UInt8 {
        self >= UInt8(ascii: "A") && self <= UInt8(ascii: "Z") ? self | 0x20 : self
    }
}
