#!/usr/bin/env bash
# Boot time: wall clock from QEMU's start to the guest's ready line, Swiglet against the Linux
# guest, split into phases by timestamps on the consoles. Used for docs/boot-time.md.
#
#   scripts/boot-time.sh [--repetitions N] [--target swiglet|linux|both] [--cpus N]
#                        [--memory SIZE] [--image ISO] [--linux-kernel FILE]
#                        [--linux-initramfs FILE] [--cmdline "OPTIONS"] [--qemu-option ARG]...
#                        [--consoles DIR] [--timeout S]
#
# Each boot runs QEMU as swiglet-lab does (TCG with a thread per vCPU, -smp 2, -m 256M by
# default, a virtio-net NIC; here on QEMU's user-mode network, so no root is needed), with the
# serial console and SeaBIOS's debug console (I/O port 0x402) on pipes, and stamps every line
# with the time since QEMU was started. The boots alternate between the targets. Phases:
#   qemu      QEMU start -> SeaBIOS's first line (QEMU's own start-up)
#   firmware  -> "Booting from 0000:7c00" (Swiglet: the CD's boot image) or "Booting from ROM"
#             (Linux: QEMU's -kernel loader): SeaBIOS, its option ROMs and boot-device tries
#   loader    -> "swiglet: booting", the kernel's first line (GRUB: its core image, modules, the
#             kernel and the program ELFs)
#   kernel    -> "swiglet: ready" (the ready line's own boot= is printed beside it)
#   linux     -> "linux-guest: ready" (Linux: its setup code and kernel, the initramfs, /init
#             bringing up eth0 and the servers)
#   total     QEMU start -> the ready line
# Prints each boot, then the median, minimum and maximum of every phase and the ratio of the
# total's medians. Options:
#   --repetitions N       boots per target (default 5)
#   --target T            swiglet, linux or both (default both)
#   --cpus N, --memory M  the machine (default 2 and 256M, as the lab's Linux comparisons)
#   --image ISO           Swiglet's image (default images/swiglet.iso; `make image` builds it)
#   --linux-kernel FILE, --linux-initramfs FILE
#                         the Linux guest (default images/linux/vmlinuz and initramfs.cpio.gz,
#                         from scripts/build-linux-guest.sh)
#   --cmdline OPTIONS     Swiglet boot options, through fw_cfg (no ',')
#   --qemu-option ARG     one more QEMU argument for every boot (repeatable), for example
#                         --qemu-option=-boot --qemu-option=order=d
#   --consoles DIR        keep every boot's consoles there
#   --timeout S           give up on a boot after S seconds (default 120)
# Exit status: 0 when every boot reached its ready line, 1 otherwise, 2 for bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; }
repetitions=5 target=both cpus=2 memory=256M image=images/swiglet.iso
linux_kernel=images/linux/vmlinuz linux_initramfs=images/linux/initramfs.cpio.gz
cmdline="" consoles="" timeout=120
qemu_options=()
while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
        --repetitions|--target|--cpus|--memory|--image|--linux-kernel|--linux-initramfs|--cmdline|--qemu-option|--consoles|--timeout) ;;
        *) echo "boot-time: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
    esac
    [[ $# -ge 2 ]] || { echo "boot-time: $1 needs a value" >&2; exit 2; }
    case $1 in
        --repetitions) repetitions=$2 ;;
        --target) target=$2 ;;
        --cpus) cpus=$2 ;;
        --memory) memory=$2 ;;
        --image) image=$2 ;;
        --linux-kernel) linux_kernel=$2 ;;
        --linux-initramfs) linux_initramfs=$2 ;;
        --cmdline) cmdline=$2 ;;
        --qemu-option) qemu_options+=("$2") ;;
        --consoles) consoles=$2 ;;
        --timeout) timeout=$2 ;;
    esac
    shift 2
done
[[ $repetitions =~ ^[1-9][0-9]*$ ]] || { echo "boot-time: --repetitions takes a positive number" >&2; exit 2; }
[[ $cpus =~ ^[1-9][0-9]*$ ]] || { echo "boot-time: --cpus takes a positive number" >&2; exit 2; }
[[ $timeout =~ ^[1-9][0-9]*$ ]] || { echo "boot-time: --timeout takes seconds" >&2; exit 2; }
case $target in swiglet|linux|both) ;; *) echo "boot-time: --target is swiglet, linux or both" >&2; exit 2 ;; esac
[[ $cmdline != *,* ]] || { echo "boot-time: --cmdline may not contain ','" >&2; exit 2; }
if [[ $target != linux && ! -f $image ]]; then echo "boot-time: no $image (make image)" >&2; exit 2; fi
if [[ $target != swiglet && ! -f $linux_kernel ]]; then
    echo "boot-time: no $linux_kernel (scripts/build-linux-guest.sh)" >&2; exit 2
fi
command -v qemu-system-x86_64 >/dev/null || { echo "boot-time: qemu-system-x86_64 is missing (make deps)" >&2; exit 2; }
[[ -z $consoles ]] || mkdir -p "$consoles"

export BOOT_TIME_REPETITIONS=$repetitions BOOT_TIME_TARGET=$target BOOT_TIME_CPUS=$cpus \
    BOOT_TIME_MEMORY=$memory BOOT_TIME_IMAGE=$image BOOT_TIME_LINUX_KERNEL=$linux_kernel \
    BOOT_TIME_LINUX_INITRAMFS=$linux_initramfs BOOT_TIME_CMDLINE=$cmdline \
    BOOT_TIME_CONSOLES=$consoles BOOT_TIME_TIMEOUT=$timeout
exec python3 - "${qemu_options[@]}" <<'PYTHON'
import os, re, select, statistics, subprocess, sys, time

environment = os.environ
repetitions = int(environment["BOOT_TIME_REPETITIONS"])
targets = ["swiglet", "linux"] if environment["BOOT_TIME_TARGET"] == "both" else [environment["BOOT_TIME_TARGET"]]
extra = sys.argv[1:]
consoles = environment["BOOT_TIME_CONSOLES"]
timeout = float(environment["BOOT_TIME_TIMEOUT"])

# The console lines that end each phase: (phase, console, text the line contains).
MARKS = {
    "swiglet": [("qemu", "firmware", "SeaBIOS (version"), ("firmware", "firmware", "Booting from 0000:7c00"),
                ("loader", "serial", "swiglet: booting"), ("kernel", "serial", "swiglet: ready")],
    "linux": [("qemu", "firmware", "SeaBIOS (version"), ("firmware", "firmware", "Booting from ROM"),
              ("linux", "serial", "linux-guest: ready")],
}

def command(target, serial_fd, firmware_fd):
    arguments = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-smp", environment["BOOT_TIME_CPUS"],
                 "-m", environment["BOOT_TIME_MEMORY"], "-display", "none", "-monitor", "none", "-no-reboot",
                 "-name", f"boot-time-{target}",
                 "-serial", f"file:/dev/fd/{serial_fd}",
                 "-chardev", f"file,id=firmware,path=/dev/fd/{firmware_fd}",
                 "-device", "isa-debugcon,iobase=0x402,chardev=firmware",
                 "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56"]
    if target == "swiglet":
        arguments += ["-cdrom", environment["BOOT_TIME_IMAGE"], "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        if environment["BOOT_TIME_CMDLINE"]:
            arguments += ["-fw_cfg", "name=opt/swiglet/cmdline,string=" + environment["BOOT_TIME_CMDLINE"]]
    else:
        arguments += ["-kernel", environment["BOOT_TIME_LINUX_KERNEL"], "-initrd", environment["BOOT_TIME_LINUX_INITRAMFS"],
                      "-append", "console=ttyS0 quiet panic=-1"]
    return arguments + extra

def boot(target, run):
    """One boot: the time of each mark in seconds since QEMU started, and the kernel's boot=."""
    serial_read, serial_write = os.pipe()
    firmware_read, firmware_write = os.pipe()
    arguments = command(target, serial_write, firmware_write)
    started = time.monotonic()
    qemu = subprocess.Popen(arguments, pass_fds=(serial_write, firmware_write), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(serial_write)
    os.close(firmware_write)
    names = {serial_read: "serial", firmware_read: "firmware"}
    pending = {serial_read: b"", firmware_read: b""}
    log = {serial_read: [], firmware_read: []}
    marks = {}
    reported = None
    last = MARKS[target][-1][0]
    try:
        while last not in marks and time.monotonic() - started < timeout:
            ready, _, _ = select.select(list(names), [], [], 0.5)
            if not ready and qemu.poll() is not None:
                break
            for descriptor in ready:
                data = os.read(descriptor, 65536)
                now = time.monotonic() - started
                if not data:
                    names.pop(descriptor)
                    continue
                pending[descriptor] += data
                *lines, pending[descriptor] = pending[descriptor].split(b"\n")
                for raw in lines:
                    line = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw.decode(errors="replace")).rstrip("\r")
                    log[descriptor].append(f"{now:8.3f} {line}")
                    for phase, console, text in MARKS[target]:
                        if phase not in marks and console == names[descriptor] and text in line:
                            marks[phase] = now
                            found = re.search(r" boot=([0-9.]+)s", line)
                            if found:
                                reported = float(found.group(1))
    finally:
        qemu.kill()
        _, errors = qemu.communicate()
        os.close(serial_read)
        os.close(firmware_read)
    if consoles:
        for descriptor, name in ((serial_read, "serial"), (firmware_read, "firmware")):
            with open(os.path.join(consoles, f"{target}-{run}-{name}.log"), "w") as file:
                file.write("\n".join(log[descriptor]) + "\n")
    if last not in marks:
        message = errors.decode(errors="replace").strip()
        print(f"boot-time: {target} boot {run} did not reach its ready line in {timeout:.0f} s"
              + (f" (QEMU: {message})" if message else ""), file=sys.stderr)
        return None
    phases = {}
    previous = 0.0
    for phase, _, _ in MARKS[target]:
        if phase in marks:
            phases[phase] = marks[phase] - previous
            previous = marks[phase]
    phases["total"] = marks[last]
    return phases, reported

results = {target: [] for target in targets}
failed = False
print(f"boot-time: {repetitions} boots per target, -smp {environment['BOOT_TIME_CPUS']} -m {environment['BOOT_TIME_MEMORY']}, "
      f"TCG; seconds since QEMU started" + (f"; extra QEMU arguments: {' '.join(extra)}" if extra else ""))
for run in range(1, repetitions + 1):
    for target in targets:
        outcome = boot(target, run)
        if outcome is None:
            failed = True
            continue
        phases, reported = outcome
        results[target].append(phases)
        text = "  ".join(f"{phase} {value:.3f}" for phase, value in phases.items())
        print(f"{target:7} boot {run}: {text}" + (f"  (ready line: boot={reported:.3f}s)" if reported is not None else ""),
              flush=True)

print()
print(f"{'target':8} {'phase':9} {'median':>7} {'min':>7} {'max':>7}  (seconds, {repetitions} boots)")
medians = {}
for target in targets:
    if not results[target]:
        continue
    for phase in results[target][0]:
        values = [phases[phase] for phases in results[target] if phase in phases]
        print(f"{target:8} {phase:9} {statistics.median(values):7.3f} {min(values):7.3f} {max(values):7.3f}")
        if phase == "total":
            medians[target] = statistics.median(values)
if "swiglet" in medians and "linux" in medians:
    print(f"\nSwiglet's median boot to ready is {medians['swiglet'] / medians['linux']:.2f} x Linux's "
          f"({medians['swiglet']:.3f} s against {medians['linux']:.3f} s)")
sys.exit(1 if failed else 0)
PYTHON
