/// Tests of the experiment file parser: good files, and every kind of bad file with its line.
import ExperimentKit
import XCTest

final class ExperimentParserTests: XCTestCase {
}
