// The TCP checksum: the Internet checksum (RawBytes) started with the IPv4 pseudo-header (RFC 9293 §3.1).

import InternetAddress
import RawBytes

extension InternetChecksum {
    /// A sum started with the IPv4 pseudo-header of RFC 9293 §3.1: source address, destination
    /// address, a zero byte, protocol 6 and the TCP length (header plus data). Add the segment's
    /// bytes to it; `value` is then the checksum field (0 for a segment whose checksum is right).
    public static func transmissionControl(source: IPv4Address, destination: IPv4Address, tcpLength: Int) -> InternetChecksum {
        var checksum = InternetChecksum()
        checksum.add(source.rawValue)
        checksum.add(destination.rawValue)
        checksum.add(UInt16(6))
        checksum.add(UInt16(truncatingIfNeeded: tcpLength))
        return checksum
    }
}
