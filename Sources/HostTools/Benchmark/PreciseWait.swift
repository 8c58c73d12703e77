// poll() with a nanosecond timeout: an offered rate of thousands of requests per second needs wake-ups finer than poll's milliseconds.

import Glibc

/// ppoll(2), found at run time: Glibc's Swift module does not export it (it is declared only
/// under _GNU_SOURCE), so it is looked up with dlsym and called through a C function pointer.
private typealias PPollFunction = @convention(c) (UnsafeMutablePointer<pollfd>?, nfds_t, UnsafePointer<timespec>?,
                                                  UnsafeRawPointer?) -> Int32

private let ppollFunction: PPollFunction? = {
    // dlsym(RTLD_DEFAULT, ...): RTLD_DEFAULT is the null handle in glibc.
    guard let symbol = dlsym(nil, "ppoll") else { return nil }
    return unsafeBitCast(symbol, to: PPollFunction.self)
}()

/// Polls `pollers` until one is ready or `nanoseconds` pass; the number ready (0 on timeout or
/// EINTR). Falls back to poll with the timeout rounded up to a millisecond if ppoll is missing.
func pollPrecisely(_ pollers: inout [pollfd], nanoseconds: UInt64) -> Int {
    let count = nfds_t(pollers.count)
    let ready: Int32
    if let ppollFunction {
        var timeout = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        ready = pollers.withUnsafeMutableBufferPointer { ppollFunction($0.baseAddress, count, &timeout, nil) }
    } else {
        ready = poll(&pollers, count, Int32(min((nanoseconds + 999_999) / 1_000_000, 60_000)))
    }
    return max(Int(ready), 0)
}
