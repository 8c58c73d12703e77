// UDP echo: the ring-3 echo server on port 7, waiting for the channel library (for now a stub).
import ProgramRuntime

/// Announces itself and yields forever; the socket-like library (Sources/SwigletLibrary) will
/// give it a channel to the network core.
@_cdecl("program_main")
func programMain() -> Int32 {
    System.write("waiting for the channel library\n")   // the kernel adds "udp-echo: "
    while true {
        System.yield()
    }
}
