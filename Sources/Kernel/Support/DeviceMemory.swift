/// Volatile reads and writes of memory-mapped device registers.
import _Volatile

/// MMIO access. Volatile keeps each access exactly as written — device registers have side
/// effects, so the compiler must not merge, drop, widen or reorder them. Volatile is not a CPU
/// fence: ordering between CPUs uses the atomics of `Synchronization` instead.
enum DeviceMemory {
    @inline(__always) static func read8(_ address: UInt64) -> UInt8 {
        VolatileMappedRegister<UInt8>(unsafeBitPattern: UInt(address)).load()
    }
    @inline(__always) static func write8(_ address: UInt64, _ value: UInt8) {
        VolatileMappedRegister<UInt8>(unsafeBitPattern: UInt(address)).store(value)
    }
    @inline(__always) static func read16(_ address: UInt64) -> UInt16 {
        VolatileMappedRegister<UInt16>(unsafeBitPattern: UInt(address)).load()
    }
    @inline(__always) static func write16(_ address: UInt64, _ value: UInt16) {
        VolatileMappedRegister<UInt16>(unsafeBitPattern: UInt(address)).store(value)
    }
    @inline(__always) static func read32(_ address: UInt64) -> UInt32 {
        VolatileMappedRegister<UInt32>(unsafeBitPattern: UInt(address)).load()
    }
    @inline(__always) static func write32(_ address: UInt64, _ value: UInt32) {
        VolatileMappedRegister<UInt32>(unsafeBitPattern: UInt(address)).store(value)
    }
}
