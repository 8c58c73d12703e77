/// The channel the kernel hands a program at start: found from the start argument, laid out as every channel is.

import Channels

/// The program's channel to the network core.
public enum ProgramChannel {
    /// The channel's memory and the program's start argument; nil, after saying so on the
    /// console, when the kernel gave the program no channel (networking is off).
    public static func open() -> (memory: ChannelMemory, start: ProgramStartArgument)? {
        let start = ProgramStartArgument(rawValue: System.startArgument)
        guard let base = UnsafeMutableRawPointer(bitPattern: UInt(start.channelAddress)) else {
            System.write("no channel to the network core (is networking off?)\n")
            return nil
        }
        return (ChannelMemory(base: base, layout: ChannelLayout()), start)
    }
}
