/// Secret random numbers for the network core's keys: RDRAND when the CPU has it, else timing jitter.

/// Where the kernel gets the secrets TCP needs (RFC 6528 ISNs, SYN cookies, hash keys).
///
/// RDRAND (CPUID.01H:ECX bit 30) is used when present (`-cpu max` or a host CPU under KVM).
/// QEMU's default TCG model does not offer it; then the secret is folded from the timestamp
/// counter read around many short waits — the jitter of an emulated machine's timing. That is
/// weaker (an attacker who can reproduce our boot timing could narrow it down) and the boot log
/// says which source was used.
enum Entropy {
    /// Whether the CPU offers RDRAND — Intel SDM vol 2A, CPUID leaf 01H, ECX bit 30.
    static var hasRandomInstruction: Bool { CPUIDResult(leaf: 1).ecx & (1 << 30) != 0 }

    /// A 64-bit secret.
    static func secret() -> UInt64 {
        if hasRandomInstruction {
            var value: UInt64 = 0
            // Intel recommends ten attempts before concluding the generator failed.
            for _ in 0..<10 where read_random(&value) == 1 { return value }
        }
        return timingJitter()
    }

    /// Folds 256 timestamp readings, each after a short, data-dependent wait, with a
    /// SplitMix64-style finalizer (each step multiplies, so every reading spreads over all bits).
    private static func timingJitter() -> UInt64 {
        var state = Processor.timestamp()
        for round in 0..<256 {
            var spins = Int(state & 0x3F) + 1
            while spins > 0 { Processor.relax(); spins -= 1 }
            state ^= Processor.timestamp() &+ UInt64(round)
            state = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
            state = (state ^ (state >> 27)) &* 0x94D0_49BB_1331_11EB
            state ^= state >> 31
        }
        return state
    }
}
