/// The kernel as a context sees it, faked: records doorbells and stopped programs, answers with fixed meter and metrics text.

import Channels
import NetworkContext

/// What the fake host saw and what it answers with. A class: the context stores its host by
/// value, so the test and the context's copy must share one record.
final class HostRecord {
    /// CPUs whose doorbell rang, in order.
    var doorbells: [Int] = []
    /// CPUs whose program was stopped, in order.
    var stoppedPrograms: [Int] = []
    /// Channels the context released (`channelReleased`).
    var releasedChannels: [Int] = []
    /// What `writeMeter` writes.
    var meterText = "intrusions 3\nsilent 0\n"
    /// What `renderMetrics` writes; nil makes it report that the text did not fit.
    var metricsText: String? = "# TYPE swiglet_test_frames counter\nswiglet_test_frames 42\n"
    /// How many times each was asked for.
    var meterRequests = 0
    var metricsRenders = 0

    /// How many times `cpu`'s doorbell rang.
    func doorbellCount(cpu: Int) -> Int { doorbells.filter { $0 == cpu }.count }
}

/// The host handed to the context.
struct FakeHost: NetworkContextHost {
    let record = HostRecord()

    func ringDoorbell(cpu: Int, channel: Int) { record.doorbells.append(cpu) }

    func stopProgram(cpu: Int, channel: Int) { record.stoppedPrograms.append(cpu) }
    func channelReleased(channel: Int, counters: ChannelCounters) { record.releasedChannels.append(channel) }

    func writeMeter(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        record.meterRequests += 1
        return Self.write(record.meterText, into: buffer) ?? 0
    }

    func renderMetrics(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        record.metricsRenders += 1
        guard let text = record.metricsText else { return nil }
        return Self.write(text, into: buffer)
    }

    /// Copies `text` into `buffer`; nil when it does not fit.
    private static func write(_ text: String, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count <= buffer.count else { return nil }
        buffer.copyBytes(from: bytes)
        return bytes.count
    }
}
