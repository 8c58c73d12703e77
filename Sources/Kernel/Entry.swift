@_extern(c, "port_write8") func port_write8(_ port: UInt16, _ value: UInt8)
@_extern(c, "port_read8") func port_read8(_ port: UInt16) -> UInt8

@_cdecl("kmain")
public func kmain(magic: UInt32, info: UInt64) {
    for b in "hello from swift\r\n".utf8 {
        while port_read8(0x3F8 + 5) & 0x20 == 0 {}
        port_write8(0x3F8, b)
    }
    while true {}
}
