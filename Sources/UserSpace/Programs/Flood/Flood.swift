// Flood: a ring-3 program that fills its request ring as fast as it can, forever, to show that
// the network core throttles it instead of letting it starve the other programs.
import Channels
import ProgramRuntime

/// Pushes requests the network core must read, check and answer (an unknown operation, so
/// nothing reaches the wire), and takes the error completions back so its ring never stalls.
/// Every 2^20 answers it prints how many it has had.
@_cdecl("program_main")
func programMain() -> Int32 {
    guard let (memory, _) = ProgramChannel.open() else { return 1 }
    var requests = memory.requestRing.makeProducer(startingIndex: 0)
    var completions = memory.completionRing.makeConsumer(startingIndex: 0)
    System.write("flooding the request ring\n")
    var answered: UInt64 = 0
    while true {
        while requests.tryPush(ChannelRequest(operation: 0xEE, cookie: answered)) {}
        while completions.tryPop() != nil {
            answered += 1
            if answered & 0xF_FFFF == 0 {
                System.write(answered)
                System.write(" requests answered\n")
            }
        }
    }
}
