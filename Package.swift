// swift-tools-version:6.0
// Swiglet: portable kernel modules (built for the host and, in Embedded mode, for the kernel),
// the kernel itself, and their tests. Cross-compilation flags live in linker/toolset.json,
// never here, so that `swift build` and `swift test` stay plain host builds.
import PackageDescription

/// Settings every module shares: typed throws and `@_extern(c)` for the assembly layer.
let common: [SwiftSetting] = [
    .enableExperimentalFeature("Extern"),
]

let package = Package(
    name: "Swiglet",
    products: [
        // The kernel, cross-built with `make image` into a static library that ld.lld links
        // with the nasm boot stub (see Makefile and linker/kernel.ld).
        .library(name: "Kernel", type: .static, targets: ["Kernel"]),
    ],
    targets: [
        .target(name: "RawBytes", swiftSettings: common),
        .target(name: "BootProtocol", dependencies: ["RawBytes"], swiftSettings: common),
        .target(name: "ACPITables", dependencies: ["RawBytes"], swiftSettings: common),
        .target(name: "MemoryManagement", swiftSettings: common),
        .target(name: "Timekeeping", swiftSettings: common),
        .target(name: "BootConfiguration", swiftSettings: common),
        .target(
            name: "Kernel",
            dependencies: ["RawBytes", "BootProtocol", "ACPITables", "MemoryManagement",
                           "Timekeeping", "BootConfiguration"],
            swiftSettings: common + [.enableExperimentalFeature("Volatile")]),

        // Helpers shared by the host tests (guarded buffers, byte building, seeded randomness).
        .target(name: "TestSupport", dependencies: ["RawBytes"], path: "Tests/TestSupport"),
        .testTarget(name: "BootProtocolTests", dependencies: ["BootProtocol", "TestSupport"]),
        .testTarget(name: "ACPITablesTests", dependencies: ["ACPITables", "TestSupport"],
                    resources: [.copy("Recorded")]),
        .testTarget(name: "MemoryManagementTests", dependencies: ["MemoryManagement", "TestSupport"]),
        .testTarget(name: "TimekeepingTests", dependencies: ["Timekeeping"]),
        .testTarget(name: "BootConfigurationTests", dependencies: ["BootConfiguration"]),
        .testTarget(name: "SystemTests"),
    ]
)
