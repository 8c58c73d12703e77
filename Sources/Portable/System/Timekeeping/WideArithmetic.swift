// 128-bit intermediate multiply/divide helpers built from 64-bit operations (no __udivti3).

/// Integer helpers that need a 128-bit intermediate product but only ever divide 64-bit values,
/// because the kernel provides no `__udivti3`/`__umodti3` (UInt128 division).
enum WideArithmetic {
    /// `floor(a * b / divisor)` computed with a 128-bit product and a bit-by-bit long division,
    /// saturating at `UInt64.max` when the quotient does not fit; `divisor` must not be zero.
    /// Costs up to 128 iterations: meant for calibration and setup, not hot paths.
    static func multiplyDivide(_ a: UInt64, _ b: UInt64, _ divisor: UInt64) -> UInt64 {
        precondition(divisor != 0, "division by zero")
        let product = a.multipliedFullWidth(by: b)
        // The quotient fits in 64 bits exactly when the high half is below the divisor.
        guard product.high < divisor else { return UInt64.max }
        var remainder = product.high
        var quotient: UInt64 = 0
        var bit = 63
        while bit >= 0 {
            // remainder < divisor; shift in the next bit of the low half. A carry out of the
            // 64-bit remainder means the true value is >= 2^64 > divisor.
            let carry = remainder >> 63
            remainder = remainder << 1 | (product.low >> UInt64(bit)) & 1
            if carry != 0 || remainder >= divisor {
                remainder &-= divisor
                quotient |= 1 << UInt64(bit)
            }
            bit -= 1
        }
        return quotient
    }

    /// `value * factor >> shift` with a 128-bit intermediate, saturating at `UInt64.max`.
    /// `shift` is 0...127.
    @inline(__always)
    static func multiplyShift(_ value: UInt64, _ factor: UInt64, shift: Int) -> UInt64 {
        let product = value.multipliedFullWidth(by: factor)
        if shift == 0 {
            return product.high == 0 ? product.low : UInt64.max
        }
        if shift >= 64 {
            return product.high >> UInt64(shift - 64)
        }
        guard product.high >> UInt64(shift) == 0 else { return UInt64.max }
        return product.high << UInt64(64 - shift) | product.low >> UInt64(shift)
    }
}

/// A fixed-point scale factor `numerator / denominator ≈ factor / 2^shift`, where `factor` is
/// rounded up and has its top bit set (unless the shift limit is reached), so its relative error
/// is below 2^-63.
///
/// Rounding the factor up makes `apply(value)` equal `floor(value * numerator / denominator)`
/// exactly whenever `value < denominator` and `numerator * denominator <= 2^63`; otherwise it
/// can be one more than exact.
struct FixedPointRatio: Equatable {
    /// The scaled ratio `floor(numerator * 2^shift / denominator)`.
    let factor: UInt64
    /// The binary point position, 0...127.
    let shift: Int

    /// Computes the factor by long division, using only 64-bit operations.
    init(numerator: UInt64, denominator: UInt64) {
        precondition(denominator != 0, "division by zero")
        var quotient = numerator / denominator
        var remainder = numerator % denominator
        var shift = 0
        while shift < 127, quotient < (1 << 63) {
            let carry = remainder >> 63
            remainder <<= 1
            quotient <<= 1
            if carry != 0 || remainder >= denominator {
                remainder &-= denominator
                quotient |= 1
            }
            shift += 1
        }
        if remainder != 0, quotient != UInt64.max { quotient += 1 }
        self.factor = quotient
        self.shift = shift
    }

    /// `floor(value * numerator / denominator)` up to the factor's rounding (see the type's
    /// documentation), saturating at `UInt64.max`.
    @inline(__always)
    func apply(_ value: UInt64) -> UInt64 {
        WideArithmetic.multiplyShift(value, factor, shift: shift)
    }
}
