// The Internet checksum over the stack's IPv4 addresses (pseudo-headers of UDP).

import RawBytes

extension InternetChecksum {
    /// Adds an address as its two 16-bit words.
    public mutating func add(_ address: IPv4Address) {
        add(address.rawValue)
    }
}
