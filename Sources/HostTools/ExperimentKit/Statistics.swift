/// Statistics of repeated runs: median, range, a distribution-free confidence interval for the median, mean and CV.

import Foundation

/// A 95% confidence interval for the median, from order statistics.
///
/// The method (e.g. Conover, *Practical Nonparametric Statistics*, §3.2): sort the n values,
/// x(1) ≤ … ≤ x(n). Each value is below the true median with probability ½, independently, so
/// the number below it is Binomial(n, ½), and [x(k), x(n+1−k)] covers the median unless k or
/// more values fall on one side: its coverage is 1 − 2·P(B ≤ k−1), B ~ Binomial(n, ½). We take
/// the largest k whose coverage is at least 95%. Nothing is assumed about the distribution,
/// which suits run times (skewed, with outliers) better than mean ± 1.96σ/√n.
///
/// Small n cannot reach 95%: the widest interval, [min, max], covers 1 − 2/2ⁿ. With n = 5 that
/// is 1 − 2/32 = 93.75%; the interval is then [min, max] and `level` says 0.9375, not 0.95.
/// n = 6 is the first with 95% ([min, max] at 96.9%); n = 9 is the first whose interval drops
/// the extremes ([x(2), x(8)] at 96.1%). With n = 1 the interval is the one value at level 0.
public struct MedianConfidenceInterval: Equatable, Sendable {
    public var low: Double
    public var high: Double
    /// The interval's actual coverage, 1 − 2·P(B ≤ k−1): at least 0.95 when n ≥ 6.
    public var level: Double
    /// The 1-based rank of `low` in the sorted values (`high` is rank n + 1 − k).
    public var rank: Int

    public init(low: Double, high: Double, level: Double, rank: Int) {
        self.low = low
        self.high = high
        self.level = level
        self.rank = rank
    }
}

/// Statistics of one metric over the runs of one (target, point).
public struct Statistics: Equatable, Sendable {
    /// The values, sorted.
    public let sorted: [Double]

    /// Nil when there are no values: a point every run of which failed has no statistics.
    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        sorted = values.sorted()
    }

    public var count: Int { sorted.count }
    public var minimum: Double { sorted.first! }
    public var maximum: Double { sorted.last! }

    /// The middle value, or the mean of the two middle values when n is even.
    public var median: Double {
        let middle = count / 2
        return count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    public var mean: Double { sorted.reduce(0, +) / Double(count) }

    /// The sample standard deviation (n − 1 in the denominator); 0 for one value.
    public var standardDeviation: Double {
        guard count > 1 else { return 0 }
        let mean = self.mean
        return (sorted.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count - 1)).squareRoot()
    }

    /// The standard deviation over the mean: how noisy the runs are relative to their size
    /// (0.01 = 1%), the number that says whether `icount` made runs repeatable. Nil when the mean is 0.
    public var coefficientOfVariation: Double? {
        mean == 0 ? nil : standardDeviation / abs(mean)
    }

    /// The 95% confidence interval of the median (see `MedianConfidenceInterval`).
    public var medianConfidenceInterval: MedianConfidenceInterval {
        let rank = Self.medianIntervalRank(count: count, level: 0.95)
        return MedianConfidenceInterval(low: sorted[rank - 1], high: sorted[count - rank],
                                        level: Self.coverage(count: count, rank: rank), rank: rank)
    }

    /// The largest k such that [x(k), x(n+1−k)] covers the median with probability ≥ `level`,
    /// or 1 ([min, max]) when no k does.
    public static func medianIntervalRank(count: Int, level: Double) -> Int {
        var rank = 1
        while rank + 1 <= (count + 1) / 2 && coverage(count: count, rank: rank + 1) >= level {
            rank += 1
        }
        return rank
    }

    /// 1 − 2·P(B ≤ rank − 1), B ~ Binomial(count, ½): the coverage of [x(rank), x(count+1−rank)].
    public static func coverage(count: Int, rank: Int) -> Double {
        // P(B = i) = C(n, i) / 2ⁿ, through logarithms so that large n does not overflow.
        var tail = 0.0
        for i in 0..<rank {
            tail += exp(lgamma(Double(count + 1)) - lgamma(Double(i + 1)) - lgamma(Double(count - i + 1))
                        - Double(count) * log(2.0))
        }
        return max(0, 1 - 2 * tail)
    }
}
