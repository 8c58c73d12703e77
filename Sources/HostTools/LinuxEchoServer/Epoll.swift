// The few epoll(7) calls the TCP servers use, declared by hand: Swift's Glibc module does not include <sys/epoll.h>.

#if canImport(Glibc)
import Glibc
#endif

// On x86-64 the Swift calling convention passes these integer and pointer arguments in the
// same registers as the C one, so the libc functions can be called directly by name.
@_silgen_name("epoll_create1") func epoll_create1(_ flags: Int32) -> Int32
@_silgen_name("epoll_ctl") func epoll_ctl(_ epollDescriptor: Int32, _ operation: Int32, _ descriptor: Int32,
                                          _ event: UnsafeMutableRawPointer?) -> Int32
@_silgen_name("epoll_wait") func epoll_wait(_ epollDescriptor: Int32, _ events: UnsafeMutableRawPointer,
                                            _ maximumEvents: Int32, _ timeoutMilliseconds: Int32) -> Int32
@_silgen_name("accept4") func accept4(_ descriptor: Int32, _ address: UnsafeMutableRawPointer?,
                                      _ addressLength: UnsafeMutablePointer<socklen_t>?, _ flags: Int32) -> Int32

/// Constants of <sys/epoll.h> (Linux UAPI, the same on every architecture).
enum Epoll {
    static let readable: UInt32 = 0x001      // EPOLLIN
    static let writable: UInt32 = 0x004      // EPOLLOUT
    static let error: UInt32 = 0x008         // EPOLLERR
    static let hangUp: UInt32 = 0x010        // EPOLLHUP
    static let add: Int32 = 1                // EPOLL_CTL_ADD
    static let delete: Int32 = 2             // EPOLL_CTL_DEL
    static let modify: Int32 = 3             // EPOLL_CTL_MOD
    static let closeOnExec: Int32 = 0o2000000  // EPOLL_CLOEXEC
    /// struct epoll_event is packed on x86-64: 4 bytes of events, then 8 of data.
    static let eventSize = 12

    /// Adds or changes the interest of `epollDescriptor` in `descriptor`, with the descriptor as the data.
    @discardableResult
    static func control(_ epollDescriptor: Int32, _ operation: Int32, _ descriptor: Int32, events: UInt32) -> Bool {
        var event: (UInt32, UInt32, UInt32) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &event) { bytes in
            bytes.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
            bytes.storeBytes(of: UInt64(UInt32(bitPattern: descriptor)), toByteOffset: 4, as: UInt64.self)
            return epoll_ctl(epollDescriptor, operation, descriptor, bytes.baseAddress) == 0
        }
    }
}
