/// Tests of the start word the kernel gives a program: channel address and wait policy.
import Channels
import XCTest

final class ProgramStartArgumentTests: XCTestCase {
    func testRoundTrip() {
        for policy in [ProgramStartArgument.WaitPolicy.sleep, .spin] {
            let argument = ProgramStartArgument(channelAddress: 0x6000_0000_0000, waitPolicy: policy)
            XCTAssertEqual(ProgramStartArgument(rawValue: argument.rawValue), argument)
        }
        XCTAssertEqual(ProgramStartArgument(channelAddress: 0x6000_0000_0000, waitPolicy: .spin).rawValue, 0x6000_0000_0001)
    }

    func testTheHaltingCoreBitTravelsBesideThePolicy() {
        let argument = ProgramStartArgument(channelAddress: 0x6000_0000_0000, waitPolicy: .enterKernel, networkCoreHalts: true)
        XCTAssertEqual(argument.rawValue, 0x6000_0000_0102)
        let decoded = ProgramStartArgument(rawValue: argument.rawValue)
        XCTAssertEqual(decoded, argument)
        XCTAssertTrue(decoded.networkCoreHalts)
        XCTAssertFalse(ProgramStartArgument(rawValue: 0x6000_0000_0001).networkCoreHalts, "off unless the kernel says so")
    }

    func testUnknownPolicyBitsReadAsSleep() {
        let decoded = ProgramStartArgument(rawValue: 0x6000_0000_0FFE)
        XCTAssertEqual(decoded.channelAddress, 0x6000_0000_0000)
        XCTAssertEqual(decoded.waitPolicy, .sleep)
        XCTAssertEqual(ProgramStartArgument(rawValue: 0).channelAddress, 0)
    }
}
