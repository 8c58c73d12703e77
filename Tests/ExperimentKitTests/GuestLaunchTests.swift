/// Tests of the QEMU command lines and namespace commands swiglet-lab boots guests with.
import ExperimentKit
import XCTest

final class GuestLaunchTests: XCTestCase {
    private func launch(_ kind: TargetKind = .swiglet, queues: Int = 1, icount: InstructionCounting = .off,
                        options: String = "net-mode=symmetric", pcap: String? = nil) -> GuestLaunch {
        GuestLaunch(kind: kind, cpus: 4, memory: "512M", queues: queues, icount: icount, bootOptions: options,
                    consolePath: "r/consoles/c.log", pcapPath: pcap, name: "dedicated", extraArguments: ["-global", "x=y"])
    }

    /// `value` follows `option` in `arguments`.
    private func value(of option: String, in arguments: [String]) -> String? {
        arguments.firstIndex(of: option).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
    }

    func testSwigletOnATap() {
        let arguments = launch().arguments
        XCTAssertEqual(arguments.first, "qemu-system-x86_64")
        XCTAssertEqual(value(of: "-accel", in: arguments), "tcg,thread=multi")
        XCTAssertFalse(arguments.contains("-icount"))
        XCTAssertEqual(value(of: "-smp", in: arguments), "4")
        XCTAssertEqual(value(of: "-m", in: arguments), "512M")
        XCTAssertEqual(value(of: "-serial", in: arguments), "file:r/consoles/c.log")
        XCTAssertEqual(value(of: "-netdev", in: arguments), "tap,id=n0,ifname=tap0,script=no,downscript=no")
        XCTAssertEqual(value(of: "-device", in: arguments), "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56")
        XCTAssertEqual(value(of: "-cdrom", in: arguments), "images/swiglet.iso")
        XCTAssertEqual(value(of: "-fw_cfg", in: arguments), "name=opt/swiglet/cmdline,string=net-mode=symmetric")
        XCTAssertTrue(arguments.contains("isa-debug-exit,iobase=0xf4,iosize=0x04"))
        XCTAssertFalse(arguments.contains("-object"), "no capture unless asked")
        XCTAssertEqual(Array(arguments.suffix(2)), ["-global", "x=y"], "the experiment's own arguments come last")
        XCTAssertFalse(launch(options: "").arguments.contains("-fw_cfg"))
    }

    func testLinuxBootsItsKernelAndInitramfs() {
        let arguments = launch(.linux, options: "ignored").arguments
        XCTAssertEqual(value(of: "-kernel", in: arguments), "images/linux/vmlinuz")
        XCTAssertEqual(value(of: "-initrd", in: arguments), "images/linux/initramfs.cpio.gz")
        XCTAssertEqual(value(of: "-append", in: arguments), "console=ttyS0 quiet panic=-1")
        XCTAssertFalse(arguments.contains("-cdrom"))
        XCTAssertFalse(arguments.contains("-fw_cfg"), "boot options are Swiglet's")
    }

    func testMultiqueueTapWithRSS() {
        let arguments = launch(queues: 3).arguments
        XCTAssertEqual(value(of: "-netdev", in: arguments), "tap,id=n0,ifname=tap0,script=no,downscript=no,queues=3")
        // Two vectors per queue pair, plus the config and control queues'.
        XCTAssertEqual(value(of: "-device", in: arguments), "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,mq=on,rss=on,vectors=8")
        let commands = GuestLaunch.namespaceCommands(namespace: "ns", queues: 3)
        XCTAssertEqual(commands[2], ["netns", "exec", "ns", "ip", "tuntap", "add", "dev", "tap0", "mode", "tap", "multi_queue"])
        XCTAssertEqual(GuestLaunch.namespaceCommands(namespace: "ns", queues: 1)[2].last, "tap")
        // QEMU's filters refuse a multiqueue netdev: no capture then.
        let captured = launch(queues: 2, pcap: "r/pcaps/boot.pcap")
        XCTAssertFalse(captured.capturesFrames)
        XCTAssertFalse(captured.arguments.contains("-object"))
        XCTAssertTrue(launch(queues: 1, pcap: "r/pcaps/boot.pcap").capturesFrames)
        XCTAssertEqual(commands.first, ["netns", "add", "ns"])
        XCTAssertTrue(commands.contains(["netns", "exec", "ns", "ip", "addr", "add", "10.0.2.2/24", "dev", "tap0"]))
    }

    func testInstructionCountingNeedsSingleThreadedTCG() {
        let shifted = launch(icount: .shift(5)).arguments
        XCTAssertEqual(value(of: "-accel", in: shifted), "tcg,thread=single")
        XCTAssertEqual(value(of: "-icount", in: shifted), "shift=5,sleep=off")
        XCTAssertEqual(value(of: "-icount", in: launch(icount: .auto).arguments), "shift=auto,sleep=off")
    }

    func testCaptureAndCommasInOptions() {
        let arguments = launch(options: "a,b", pcap: "r/pcaps/boot.pcap").arguments
        XCTAssertEqual(value(of: "-object", in: arguments), "filter-dump,id=dump0,netdev=n0,file=r/pcaps/boot.pcap,maxlen=256")
        // fw_cfg ends a value at a comma; QEMU reads ",," as one.
        XCTAssertEqual(value(of: "-fw_cfg", in: arguments), "name=opt/swiglet/cmdline,string=a,,b")
    }
}
