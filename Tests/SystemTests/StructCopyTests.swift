/// The built kernel copies no large struct on the packet path: `scripts/struct-copies.py` finds no `rep movsb` of 256 bytes or more in the functions a frame or a request goes through.
import Foundation
import XCTest

final class StructCopyTests: XCTestCase {
    override func setUpWithError() throws { try QEMUMachine.requireImage() }

    /// The functions every frame, segment or request passes through. Slow paths (setting up,
    /// connecting, a program ending, metrics) are left out: a copy there costs once, not per packet.
    static let packetPath = #"TCPConnection|NetworkStack|ServerChannel|NetworkContext|ChannelServer|ContextRequestHandler|RecordWriter|ReceivePath|TransmitPath"#
    static let slowPaths = #"init\(|learn\(|abortAll|reconcileDirectory|bind\(port|unbind\(port|channelUsage|chooseEphemeralPort|store\(_:at:\)|connect\(to:|stopEndedPrograms|serveMetrics|channelReleased|startRecording|outlined"#

    /// A mutating method calling a non-mutating one on a large struct makes the compiler copy
    /// the struct first; under TCG a `rep movsb` runs a byte at a time, and such copies once
    /// cost the network core a third of its time (docs/benchmarks.md). Seen red before they
    /// were removed: scheduleTimer, effectiveDeadline, route, handleUDP, serve, send,
    /// sendProgress, receiveSynchronized, handOffTarget, passOn.
    func testNoLargeStructCopiesOnThePacketPath() throws {
        let script = QEMUMachine.packageRoot.appendingPathComponent("scripts/struct-copies.py").path
        let elf = QEMUMachine.packageRoot.appendingPathComponent("images/swiglet.elf").path
        let (status, output) = try runTool("/usr/bin/env", ["python3", script, "--elf", elf, "--match", Self.packetPath,
                                                           "--exclude", Self.slowPaths], timeout: 120)
        XCTAssertEqual(status, 0, "large struct copies on the packet path:\n\(output)")
    }
}
