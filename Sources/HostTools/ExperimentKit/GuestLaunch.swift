/// How swiglet-lab boots a guest: the network namespace and tap device it sits on, and QEMU's exact command line.

import Foundation

/// One guest boot, everything QEMU is told. `arguments` is the command line, the same one
/// metadata.json records.
public struct GuestLaunch: Equatable, Sendable {
    public var kind: TargetKind
    public var cpus: Int
    public var memory: String
    /// NIC queue pairs; more than one gives a multiqueue tap and virtio-net with MQ and RSS.
    public var queues: Int
    public var icount: InstructionCounting
    /// Swiglet boot options, passed through fw_cfg (empty: none; ignored for Linux).
    public var bootOptions: String
    /// Where the serial console is written.
    public var consolePath: String
    /// Where QEMU's filter-dump writes the NIC's frames, if anywhere (see `capturesFrames`).
    public var pcapPath: String?
    /// Bytes kept of each frame in the pcap (filter-dump's `maxlen`).
    public var pcapFrameBytes: Int
    /// The tap device inside the namespace.
    public var tap: String
    /// QEMU's `-name` (its threads are named after it in `top -H`).
    public var name: String
    /// The machine's and then the target's extra arguments.
    public var extraArguments: [String]
    public var swigletImage: String
    public var linuxKernel: String
    public var linuxInitramfs: String

    public init(kind: TargetKind, cpus: Int, memory: String, queues: Int = 1, icount: InstructionCounting = .off,
                bootOptions: String = "", consolePath: String, pcapPath: String? = nil, pcapFrameBytes: Int = 256,
                tap: String = "tap0", name: String, extraArguments: [String] = [],
                swigletImage: String = Target.defaultSwigletImage, linuxKernel: String = "images/linux/vmlinuz",
                linuxInitramfs: String = "images/linux/initramfs.cpio.gz") {
        self.kind = kind
        self.cpus = cpus
        self.memory = memory
        self.queues = queues
        self.icount = icount
        self.bootOptions = bootOptions
        self.consolePath = consolePath
        self.pcapPath = pcapPath
        self.pcapFrameBytes = pcapFrameBytes
        self.tap = tap
        self.name = name
        self.extraArguments = extraArguments
        self.swigletImage = swigletImage
        self.linuxKernel = linuxKernel
        self.linuxInitramfs = linuxInitramfs
    }

    /// Whether the command line records frames: only with one queue pair, because QEMU's
    /// network filters refuse a multiqueue netdev ("multiqueue is not supported", QEMU 7.2).
    public var capturesFrames: Bool { pcapPath != nil && queues == 1 }

    /// The guest's MAC address (the one Swiglet's tests and bench scripts use too).
    public static let macAddress = "52:54:00:12:34:56"

    /// QEMU's command line, `qemu-system-x86_64` first. TCG as the bench scripts run it: one
    /// host thread per vCPU (`thread=multi`), except with `icount`, which needs single-threaded
    /// TCG and then makes guest time follow counted instructions (`sleep=off`: an idle guest's
    /// clock jumps to its next timer instead of waiting for the host's).
    public var arguments: [String] {
        var arguments = ["qemu-system-x86_64"]
        switch icount {
        case .off:
            arguments += ["-accel", "tcg,thread=multi"]
        case .auto:
            arguments += ["-accel", "tcg,thread=single", "-icount", "shift=auto,sleep=off"]
        case .shift(let shift):
            arguments += ["-accel", "tcg,thread=single", "-icount", "shift=\(shift),sleep=off"]
        }
        arguments += ["-smp", String(cpus), "-m", memory, "-display", "none", "-serial", "file:\(consolePath)",
                      "-monitor", "none", "-no-reboot", "-name", "\(name),debug-threads=on"]
        arguments += ["-netdev", "tap,id=n0,ifname=\(tap),script=no,downscript=no" + (queues > 1 ? ",queues=\(queues)" : "")]
        // MQ with RSS needs two MSI-X vectors per queue pair, plus the config and control queues'.
        let multiqueue = queues > 1 ? ",mq=on,rss=on,vectors=\(2 * queues + 2)" : ""
        arguments += ["-device", "virtio-net-pci,netdev=n0,mac=\(Self.macAddress)" + multiqueue]
        if let pcapPath, capturesFrames {
            arguments += ["-object", "filter-dump,id=dump0,netdev=n0,file=\(pcapPath),maxlen=\(pcapFrameBytes)"]
        }
        switch kind {
        case .swiglet:
            arguments += ["-cdrom", swigletImage, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
            if !bootOptions.isEmpty {
                // fw_cfg's option syntax ends a value at a comma; QEMU reads ",," as one.
                arguments += ["-fw_cfg", "name=opt/swiglet/cmdline,string=" + bootOptions.replacingOccurrences(of: ",", with: ",,")]
            }
        case .linux:
            arguments += ["-kernel", linuxKernel, "-initrd", linuxInitramfs, "-append", "console=ttyS0 quiet panic=-1"]
        }
        return arguments + extraArguments
    }

    /// The `ip` commands (arguments after `ip`) that make namespace `namespace` with its loopback
    /// up and the tap device with the gateway's address 10.0.2.2/24, as QEMU's user networking
    /// has it and scripts/bench-common.sh does. With several queues the tap is multiqueue, so
    /// that QEMU can open one file descriptor per queue pair.
    public static func namespaceCommands(namespace: String, tap: String = "tap0", queues: Int) -> [[String]] {
        [
            ["netns", "add", namespace],
            ["netns", "exec", namespace, "ip", "link", "set", "lo", "up"],
            ["netns", "exec", namespace, "ip", "tuntap", "add", "dev", tap, "mode", "tap"] + (queues > 1 ? ["multi_queue"] : []),
            ["netns", "exec", namespace, "ip", "addr", "add", "10.0.2.2/24", "dev", tap],
            ["netns", "exec", namespace, "ip", "link", "set", tap, "up"],
        ]
    }

    /// The guest's address on the tap network (both guests configure it).
    public static let guestAddress = "10.0.2.15"
}

extension TargetKind {
    /// The console line that says the guest is up.
    public var readyLine: String {
        switch self {
        case .swiglet: "swiglet: ready"
        case .linux: "linux-guest: ready"
        }
    }
}
