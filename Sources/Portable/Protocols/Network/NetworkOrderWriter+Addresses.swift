// Storing the stack's address types with the shared network-order writer (RawBytes).

import RawBytes

extension NetworkOrderWriter {
    /// Stores a MAC address (6 bytes) at `offset`.
    func store(_ address: MACAddress, at offset: Int) {
        precondition(offset >= 0 && offset <= buffer.count - 6, "NetworkOrderWriter: store outside the buffer")
        let base = buffer.baseAddress! + offset
        base.storeBytes(of: address.bytes.0, toByteOffset: 0, as: UInt8.self)
        base.storeBytes(of: address.bytes.1, toByteOffset: 1, as: UInt8.self)
        base.storeBytes(of: address.bytes.2, toByteOffset: 2, as: UInt8.self)
        base.storeBytes(of: address.bytes.3, toByteOffset: 3, as: UInt8.self)
        base.storeBytes(of: address.bytes.4, toByteOffset: 4, as: UInt8.self)
        base.storeBytes(of: address.bytes.5, toByteOffset: 5, as: UInt8.self)
    }

    /// Stores an IPv4 address in network order at `offset`.
    func store(_ address: IPv4Address, at offset: Int) {
        storeBigEndian(address.rawValue, at: offset)
    }
}
