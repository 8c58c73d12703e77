/// Volatile reads and writes of memory-mapped device registers.
import _Volatile

/// MMIO access. Volatile keeps each access exactly as written — device registers have side
/// effects, so the compiler must not merge, drop or reorder them. Volatile is not a CPU fence:
/// ordering between CPUs uses the atomics of `Synchronization` instead.
enum DeviceMemory {
    @inline(__always) static func read32(_ address: UInt64) -> UInt32 {
        VolatileMappedRegister<UInt32>(unsafeBitPattern: UInt(address)).load()
    }
    @inline(__always) static func write32(_ address: UInt64, _ value: UInt32) {
        VolatileMappedRegister<UInt32>(unsafeBitPattern: UInt(address)).store(value)
    }
}
