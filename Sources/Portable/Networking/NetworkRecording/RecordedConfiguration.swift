/// The configuration of a recorded context, as bytes in the recording's first event and back.
import Network
import NetworkContext
import TCP

/// What `NetworkContextConfiguration` holds, flattened (recordings are of single-context
/// machines: no mesh). Plain-integer structures (TCP's buffer and timer settings, the link
/// impairment) are stored as their memory layout: the kernel and the replay tool are the same
/// Swift code for the same CPU architecture, so the layout is the same.
public enum RecordedConfiguration {
    /// Version of this layout; a replay refuses another.
    public static let version: UInt32 = 1

    /// The bytes of `configuration`.
    public static func encode(_ configuration: NetworkContextConfiguration, into writer: inout ByteAppender) {
        writer.append(version)
        let mac = configuration.interface.hardwareAddress.bytes
        for byte in [mac.0, mac.1, mac.2, mac.3, mac.4, mac.5] { writer.append(byte) }
        writer.append(UInt8(configuration.interface.prefixLength))
        writer.append(UInt8(configuration.interface.gateway == nil ? 0 : 1))
        writer.append(configuration.interface.address.rawValue)
        writer.append(configuration.interface.gateway?.rawValue ?? 0)
        writer.append(UInt64(configuration.tcpCapacity))
        writer.append(UInt64(configuration.tcpBufferPoolBytes))
        writer.append(configuration.tcpSecret.low)
        writer.append(configuration.tcpSecret.high)
        writer.append(configuration.meterPort ?? 0)
        writer.append(configuration.metricsPort ?? 0)
        writer.append(UInt8(configuration.transmitChecksum == .device ? 1 : 0))
        writer.append(UInt8(configuration.tcpSendLends ? 1 : 0))
        writer.append(UInt16(0))
        writer.append(UInt64(configuration.tcpLendingThreshold))
        writer.append(configuration.impairmentSeed)
        writer.appendLayout(of: configuration.tcp)
        writer.appendLayout(of: configuration.receiveImpairment)
    }

    /// Why a configuration event cannot be read.
    public enum DecodeError: Error, Equatable {
        case truncated
        case version(UInt32)
    }

    /// The configuration in `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> NetworkContextConfiguration {
        var reader = ByteTaker(bytes)
        guard let version: UInt32 = reader.take() else { throw .truncated }
        guard version == Self.version else { throw .version(version) }
        var mac: [UInt8] = []
        for _ in 0..<6 { guard let byte: UInt8 = reader.take() else { throw .truncated }; mac.append(byte) }
        guard let prefix: UInt8 = reader.take(), let hasGateway: UInt8 = reader.take(),
              let address: UInt32 = reader.take(), let gateway: UInt32 = reader.take(),
              let capacity: UInt64 = reader.take(), let poolBytes: UInt64 = reader.take(),
              let low: UInt64 = reader.take(), let high: UInt64 = reader.take(),
              let meterPort: UInt16 = reader.take(), let metricsPort: UInt16 = reader.take(),
              let checksum: UInt8 = reader.take(), let lends: UInt8 = reader.take(), let _: UInt16 = reader.take(),
              let threshold: UInt64 = reader.take(), let seed: UInt64 = reader.take(),
              let tcp: TCPConnectionConfiguration = reader.takeLayout(),
              let impairment: LinkImpairmentSettings = reader.takeLayout() else { throw .truncated }
        let interface = InterfaceConfiguration(
            hardwareAddress: MACAddress(mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]),
            address: IPv4Address(rawValue: address), prefixLength: Int(prefix),
            gateway: hasGateway != 0 ? IPv4Address(rawValue: gateway) : nil)
        var configuration = NetworkContextConfiguration(interface: interface, tcpCapacity: Int(capacity),
                                                        tcpSecret: SipHashKey(low: low, high: high))
        configuration.tcpBufferPoolBytes = Int(poolBytes)
        configuration.meterPort = meterPort == 0 ? nil : meterPort
        configuration.metricsPort = metricsPort == 0 ? nil : metricsPort
        configuration.transmitChecksum = checksum == 1 ? .device : .software
        configuration.tcpSendLends = lends != 0
        configuration.tcpLendingThreshold = Int(threshold)
        configuration.impairmentSeed = seed
        configuration.tcp = tcp
        configuration.receiveImpairment = impairment
        return configuration
    }
}

/// Appends little-endian values to a byte buffer (no heap: the caller owns the memory).
public struct ByteAppender {
    public let buffer: UnsafeMutableRawBufferPointer
    public private(set) var count = 0
    /// Whether something did not fit (the rest was not written).
    public private(set) var overflowed = false

    public init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    public mutating func append<Value: FixedWidthInteger>(_ value: Value) {
        withUnsafeBytes(of: value.littleEndian) { appendBytes($0) }
    }

    /// The memory layout of a plain-integer structure.
    public mutating func appendLayout<Value>(of value: Value) {
        withUnsafeBytes(of: value) { appendBytes($0) }
    }

    public mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        guard count + bytes.count <= buffer.count else { overflowed = true; return }
        if bytes.count > 0 { (buffer.baseAddress! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        count += bytes.count
    }
}

/// Takes little-endian values from the front of a byte buffer.
public struct ByteTaker {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public mutating func take<Value: FixedWidthInteger>() -> Value? {
        let size = MemoryLayout<Value>.size
        guard offset + size <= bytes.count else { return nil }
        defer { offset += size }
        return Value(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Value.self))
    }

    /// A plain-integer structure stored as its memory layout.
    public mutating func takeLayout<Value>() -> Value? {
        let size = MemoryLayout<Value>.size
        guard offset + size <= bytes.count else { return nil }
        defer { offset += size }
        return bytes.loadUnaligned(fromByteOffset: offset, as: Value.self)
    }
}
