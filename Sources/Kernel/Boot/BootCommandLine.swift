/// Gathers the boot command line from the boot loader and from QEMU's fw_cfg, and reports
/// every option it does not understand.
import BootConfiguration
import BootProtocol
import RawBytes

enum BootCommandLine {
    /// The fw_cfg file that carries options: `-fw_cfg name=opt/swiglet/cmdline,string=...`.
    static let firmwareFileName: StaticString = "opt/swiglet/cmdline"
    static let maximumBytes = 1024

    static func load(information: Multiboot2Information, into options: inout BootOptions) {
        if let line = information.commandLine, line.count > 0, let base = line.baseAddress {
            apply(UnsafeRawBufferPointer(start: base, count: line.count), source: "boot loader", to: &options)
        }
        guard let file = FirmwareConfiguration.find(firmwareFileName) else { return }
        if Int(file.size) > maximumBytes {
            Log.error("boot options: fw_cfg \(firmwareFileName) is \(file.size) bytes; only the first \(maximumBytes) are read")
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maximumBytes, alignment: 1)
        defer { buffer.deallocate() }
        let count = FirmwareConfiguration.read(file, into: buffer)
        apply(UnsafeRawBufferPointer(rebasing: buffer[..<count]), source: "fw_cfg", to: &options)
    }

    private static func apply(_ line: UnsafeRawBufferPointer, source: StaticString, to options: inout BootOptions) {
        Log.info("boot options (\(source)): \(text: ByteReader(line))")
        CommandLineParser.parse(line, into: &options) { problem in
            let word = ByteReader(UnsafeRawBufferPointer(rebasing: line[problem.wordStart ..< problem.wordStart + problem.wordLength]))
            switch problem.kind {
            case .unknownOption:
                Log.error("boot options: unknown option '\(text: word)' ignored")
                Log.error("boot options: known options: \(CommandLineParser.summary)")
            case .badValue:
                Log.error("boot options: bad value in '\(text: word)' ignored")
                Log.error("boot options: known options: \(CommandLineParser.summary)")
            }
        }
    }
}
