/// Tests of the statistics against hand-computed examples: median, range, mean, CV and the median's order-statistic interval.
import ExperimentKit
import XCTest

final class StatisticsTests: XCTestCase {
    func testMedianMinimumMaximum() throws {
        let odd = try XCTUnwrap(Statistics([5, 1, 3]))
        XCTAssertEqual(odd.median, 3)
        XCTAssertEqual(odd.minimum, 1)
        XCTAssertEqual(odd.maximum, 5)
        XCTAssertEqual(odd.count, 3)
        // Even: the mean of the two middle values, 2 and 3.
        XCTAssertEqual(Statistics([4, 1, 3, 2])?.median, 2.5)
        XCTAssertEqual(Statistics([7])?.median, 7)
        XCTAssertNil(Statistics([]))
    }

    func testMeanStandardDeviationAndCoefficientOfVariation() throws {
        // Mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32; sample variance 32/7.
        let statistics = try XCTUnwrap(Statistics([2, 4, 4, 4, 5, 5, 7, 9]))
        XCTAssertEqual(statistics.mean, 5)
        XCTAssertEqual(statistics.standardDeviation, (32.0 / 7).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(statistics.coefficientOfVariation), (32.0 / 7).squareRoot() / 5, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(statistics.coefficientOfVariation), 0.4276, accuracy: 0.0001)
        // Identical runs (what -icount should give): no variation.
        XCTAssertEqual(Statistics([812, 812, 812])?.coefficientOfVariation, 0)
        XCTAssertEqual(Statistics([3])?.standardDeviation, 0)
        XCTAssertNil(Statistics([-1, 1])?.coefficientOfVariation, "mean 0")
    }

    /// Five runs: no interval reaches 95%; the widest, [min, max], covers 1 − 2/2⁵ = 93.75%.
    func testFiveRunsGiveMinimumToMaximumAt94Percent() throws {
        let interval = try XCTUnwrap(Statistics([10, 12, 11, 15, 9])).medianConfidenceInterval
        XCTAssertEqual(interval, MedianConfidenceInterval(low: 9, high: 15, level: 0.9375, rank: 1))
    }

    func testSmallSamples() throws {
        XCTAssertEqual(Statistics([4])?.medianConfidenceInterval, MedianConfidenceInterval(low: 4, high: 4, level: 0, rank: 1))
        // [min, max] of two covers 1 − 2/4.
        XCTAssertEqual(Statistics([4, 6])?.medianConfidenceInterval, MedianConfidenceInterval(low: 4, high: 6, level: 0.5, rank: 1))
        // Six: [min, max] at 1 − 2/64 = 96.875%, the first n to reach 95%.
        XCTAssertEqual(Statistics([1, 2, 3, 4, 5, 6])?.medianConfidenceInterval.level, 0.96875)
        XCTAssertEqual(Statistics([1, 2, 3, 4, 5, 6])?.medianConfidenceInterval.rank, 1)
    }

    /// Nine: [x(2), x(8)] covers 1 − 2·(C(9,0) + C(9,1))/2⁹ = 1 − 20/512 = 96.09%; [x(3), x(7)]
    /// would cover 1 − 2·(1 + 9 + 36)/512 = 82%.
    func testNineRunsDropTheExtremes() throws {
        let interval = try XCTUnwrap(Statistics([9, 1, 8, 2, 7, 3, 6, 4, 5])).medianConfidenceInterval
        XCTAssertEqual(interval, MedianConfidenceInterval(low: 2, high: 8, level: 1 - 20.0 / 512, rank: 2))
        XCTAssertEqual(Statistics.coverage(count: 9, rank: 3), 1 - 92.0 / 512, accuracy: 1e-12)
        XCTAssertEqual(Statistics.coverage(count: 10, rank: 2), 1 - 22.0 / 1024, accuracy: 1e-12)
        XCTAssertEqual(Statistics.medianIntervalRank(count: 10, level: 0.95), 2)
    }

    /// Twenty: P(B ≤ 5) = (1 + 20 + 190 + 1140 + 4845 + 15504)/2²⁰ = 21700/1048576, so
    /// [x(6), x(15)] covers 95.86%; [x(7), x(14)] only 88.5%.
    func testTwentyRuns() throws {
        let interval = try XCTUnwrap(Statistics((1...20).map(Double.init))).medianConfidenceInterval
        XCTAssertEqual(interval.rank, 6)
        XCTAssertEqual(interval.low, 6)
        XCTAssertEqual(interval.high, 15)
        XCTAssertEqual(interval.level, 1 - 2 * 21700.0 / 1_048_576, accuracy: 1e-12)
    }

    func testLargeSamplesStayNearTheNominalLevel() throws {
        let interval = try XCTUnwrap(Statistics((1...2000).map(Double.init))).medianConfidenceInterval
        XCTAssertGreaterThanOrEqual(interval.level, 0.95)
        XCTAssertLessThan(interval.level, 0.96)
        // About n/2 − 1.96·√n/2 = 1000 − 43.8.
        XCTAssertEqual(Double(interval.rank), 956, accuracy: 2)
    }
}
