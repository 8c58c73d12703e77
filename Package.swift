// swift-tools-version:6.0
// Swiglet: portable kernel modules (built for the host and, in Embedded mode, for the kernel),
// the kernel itself, and their tests. Cross-compilation flags live in linker/toolset.json,
// never here, so that `swift build` and `swift test` stay plain host builds.
import Foundation
import PackageDescription

/// A ring-3 program of the image, from `Sources/UserSpace/Programs/programs.list` (the one
/// place that lists them; the Makefile reads it too).
struct ProgramEntry {
    var directory: String
    var modules: [String]
    var target: String { directory + "Program" }
}

let programs: [ProgramEntry] = {
    let path = Context.packageDirectory + "/Sources/UserSpace/Programs/programs.list"
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fatalError("cannot read \(path)") }
    return text.split(separator: "\n").compactMap { line in
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = fields.first, !first.hasPrefix("#") else { return nil }
        guard fields.count >= 4 else { fatalError("programs.list: '\(line)' needs NAME DIRECTORY HEAP MODULES") }
        return ProgramEntry(directory: fields[1], modules: fields[3] == "-" ? [] : fields[3].split(separator: ",").map(String.init))
    }
}()

/// Settings every module shares: typed throws and `@_extern(c)` for the assembly layer.
let common: [SwiftSetting] = [
    .enableExperimentalFeature("Extern"),
]

let package = Package(
    name: "Swiglet",
    products: [
        .executable(name: "swiglet-bench", targets: ["swiglet-bench"]),
        .executable(name: "linux-echo-server", targets: ["linux-echo-server"]),
        .executable(name: "swiglet-lab", targets: ["swiglet-lab"]),
        .executable(name: "swiglet-replay", targets: ["swiglet-replay"]),
        // The kernel, cross-built with `make image` into a static library that ld.lld links
        // with the nasm boot stub (see Makefile and linker/kernel.ld).
        .library(name: "Kernel", type: .static, targets: ["Kernel"]),
    ] + programs.map { .library(name: $0.target, type: .static, targets: [$0.target]) },
    targets: [
        .target(name: "RawBytes", path: "Sources/Portable/Protocols/RawBytes", swiftSettings: common),
        .target(name: "BootProtocol", dependencies: ["RawBytes"], path: "Sources/Portable/Boot/BootProtocol", swiftSettings: common),
        .target(name: "ACPITables", dependencies: ["RawBytes"], path: "Sources/Portable/Devices/ACPITables", swiftSettings: common),
        .target(name: "MemoryManagement", dependencies: ["Paging"], path: "Sources/Portable/System/MemoryManagement", swiftSettings: common),
        .target(name: "Timekeeping", path: "Sources/Portable/System/Timekeeping", swiftSettings: common),
        .target(name: "BootConfiguration", dependencies: ["InternetAddress"], path: "Sources/Portable/Boot/BootConfiguration", swiftSettings: common),
        .target(name: "PCI", path: "Sources/Portable/Devices/PCI", swiftSettings: common),
        .target(name: "Virtio", dependencies: ["Paging"], path: "Sources/Portable/Devices/Virtio", swiftSettings: common),
        // The one IPv4 address type, below everything that names an address (the stack, TCP,
        // boot options, the program library).
        .target(name: "InternetAddress", dependencies: ["RawBytes"], path: "Sources/Portable/Protocols/InternetAddress", swiftSettings: common),
        .target(name: "Network", dependencies: ["RawBytes", "InternetAddress"], path: "Sources/Portable/Protocols/Network", swiftSettings: common),
        // Application cores: the channel protocol shared by the network core and programs, the
        // socket-like library programs link, and the ELF loader of the kernel.
        .target(name: "Channels", dependencies: ["Paging"], path: "Sources/Portable/Networking/Channels", swiftSettings: common),
        .target(name: "SwigletLibrary", dependencies: ["Channels", "InternetAddress"], path: "Sources/UserSpace/SwigletLibrary", swiftSettings: common),
        .target(name: "ELF", dependencies: ["RawBytes", "Paging"], path: "Sources/Portable/Boot/ELF", swiftSettings: common),
        // TCP: the portable protocol core, driven by segments, a clock and buffers.
        .target(name: "TCP", dependencies: ["RawBytes", "InternetAddress"], path: "Sources/Portable/Protocols/TCP", swiftSettings: common),
        // HTTP/1.1: request parser, response writer, static-site archive, Prometheus text.
        .target(name: "HTTP", dependencies: ["RawBytes"], path: "Sources/Portable/Protocols/HTTP", swiftSettings: common),
        // One network context per NIC queue pair (stack, TCP table, program channels,
        // metrics), portable so that its glue is tested on the host with a fake NIC and host.
        .target(name: "NetworkContext", dependencies: ["Network", "TCP", "Channels", "HTTP", "RawBytes"],
                path: "Sources/Portable/Networking/NetworkContext", swiftSettings: common),
        // Record and replay: the recording ports and format (in the kernel too), and the
        // host-only replay that drives the same context code with a recording.
        .target(name: "NetworkRecording", dependencies: ["NetworkContext", "Network", "TCP", "Channels"], path: "Sources/Portable/Networking/NetworkRecording", swiftSettings: common),
        .target(name: "NetworkReplay", dependencies: ["NetworkRecording", "NetworkContext", "Network", "TCP", "Channels", "Paging"], path: "Sources/HostTools/NetworkReplay"),
        .executableTarget(name: "swiglet-replay", dependencies: ["NetworkReplay", "NetworkRecording"], path: "Sources/HostTools/Replay"),
        // Programs on application CPUs: each CPU's run queue, time slices and accounting
        // (portable; the kernel adds the context switch and the timer).
        .target(name: "Scheduling", path: "Sources/Portable/System/Scheduling", swiftSettings: common),
        .target(name: "Shell", path: "Sources/Portable/System/Shell", swiftSettings: common),
        // The page: one definition of its size (and of a physical address), below everything that
        // maps, allocates or aligns memory.
        .target(name: "Paging", path: "Sources/Portable/System/Paging", swiftSettings: common),
        // The system-call numbers and results: one definition for the kernel and the ring-3 runtime.
        .target(name: "SystemCallABI", path: "Sources/Portable/System/SystemCallABI", swiftSettings: common),
        .target(name: "ProgramRuntime", dependencies: ["MemoryManagement", "Channels", "SwigletLibrary", "SystemCallABI"], path: "Sources/UserSpace/ProgramRuntime", swiftSettings: common),
        .target(
            name: "Kernel",
            dependencies: ["RawBytes", "BootProtocol", "ACPITables", "MemoryManagement",
                           "Timekeeping", "BootConfiguration", "PCI", "Virtio", "Network", "Channels", "ELF", "TCP", "HTTP",
                           "NetworkContext", "NetworkRecording", "Scheduling", "Shell", "SystemCallABI", "InternetAddress", "Paging"],
            swiftSettings: common + [.enableExperimentalFeature("Volatile")]),

        // Helpers shared by the host tests (guarded buffers, byte building, seeded randomness).
        .target(name: "TestSupport", dependencies: ["RawBytes"], path: "Tests/TestSupport"),
        .testTarget(name: "BootProtocolTests", dependencies: ["BootProtocol", "TestSupport"]),
        .testTarget(name: "ACPITablesTests", dependencies: ["ACPITables", "TestSupport"],
                    resources: [.copy("Recorded")]),
        .testTarget(name: "MemoryManagementTests", dependencies: ["MemoryManagement", "Paging", "TestSupport"]),
        .testTarget(name: "TimekeepingTests", dependencies: ["Timekeeping"]),
        .testTarget(name: "BootConfigurationTests", dependencies: ["BootConfiguration", "InternetAddress"]),
        .testTarget(name: "NetworkTests", dependencies: ["Network", "TestSupport"], resources: [.copy("Golden")]),
        .testTarget(name: "VirtioTests", dependencies: ["PCI", "Virtio", "Paging", "TestSupport"]),
        .testTarget(name: "ChannelsTests", dependencies: ["Channels", "SwigletLibrary", "TestSupport"]),
        // The fixture is read through #filePath, not as a bundle resource.
        .testTarget(name: "TCPTests", dependencies: ["TCP", "InternetAddress", "TestSupport"]),
        .testTarget(name: "NetworkContextTests", dependencies: ["NetworkContext", "Network", "TCP", "Channels",
                                                                "SwigletLibrary", "NetworkRecording", "NetworkReplay", "TestSupport"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "TestSupport"]),
        .testTarget(name: "SchedulingTests", dependencies: ["Scheduling"]),
        .testTarget(name: "ShellTests", dependencies: ["Shell"]),
        .testTarget(name: "ELFTests", dependencies: ["ELF", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "SystemTests"),
        // The book (docs/): the names its tour cites still exist, and every lab is complete
        // (goal, hints, a checker). Reads files only.
        .testTarget(name: "DocsTests"),
        // The labs' checkers (docs/labs): they fail until a lab is solved, so `make test`
        // skips them; `make lab-check LAB=name` runs one.
        .testTarget(name: "LabChecks", dependencies: ["Network", "Scheduling", "RawBytes", "TestSupport"]),

        // Host tools (never part of the kernel): the UDP echo benchmark's load generator, and
        // the echo server that runs in the Linux guest it compares against.
        .executableTarget(name: "swiglet-bench", dependencies: ["ExperimentKit"], path: "Sources/HostTools/Benchmark"),
        .executableTarget(name: "linux-echo-server", dependencies: ["HTTP", "RawBytes"], path: "Sources/HostTools/LinuxEchoServer"),
        // Experiment files, plans, records, statistics and CSV for swiglet-lab (host only;
        // it reads Swiglet boot options with the kernel's own parser to refuse typos).
        .target(name: "ExperimentKit", dependencies: ["BootConfiguration"], path: "Sources/HostTools/ExperimentKit"),
        .testTarget(name: "ExperimentKitTests", dependencies: ["ExperimentKit"]),
        .executableTarget(name: "swiglet-lab", dependencies: ["ExperimentKit"], path: "Sources/HostTools/SwigletLab"),
    ] + programs.map { program in
        // User programs (ring 3), each cross-built into its own ELF by `make image`.
        .target(name: program.target,
                dependencies: (program.modules + ["SwigletLibrary", "ProgramRuntime"]).map { .target(name: $0) },
                path: "Sources/UserSpace/Programs/" + program.directory, swiftSettings: common)
    }
)
