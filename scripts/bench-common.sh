# What the benchmarks against the Linux guest share (sourced by scripts/bench-udp.sh and
# scripts/bench-tcp.sh): checking the machine, building, the network namespace with its tap
# device, and booting one guest in QEMU until its ready line. The caller defines `say`, `die`
# and `show_console` (with its own name in messages) and the variables `cpus`, `mem`,
# `ready_timeout`, `build`, `targets` (swiglet and/or linux) before calling these.

# Root, the tools, a tap device, Swift on PATH. Arguments: the tools beyond ip, QEMU and make.
bench_check_machine() {
    if [[ $(id -u) != 0 ]]; then
        die "must run as root: it creates a network namespace and a tap device (try: sudo $0)"
    fi
    local tool
    for tool in ip qemu-system-x86_64 make "$@"; do
        command -v "$tool" >/dev/null || die "'$tool' is missing (scripts/install-deps.sh installs it: ip is iproute2, qemu-system-x86_64 is qemu-system-x86)"
    done
    [[ -c /dev/net/tun ]] || die "/dev/net/tun is missing: no tap devices on this machine"
    if ! command -v swift >/dev/null; then
        [[ -x /opt/swift/usr/bin/swift ]] || die "the Swift toolchain is missing (swift not on PATH, nor in /opt/swift/usr/bin)"
        export PATH="/opt/swift/usr/bin:$PATH"
    fi
}

# Where things go; QEMU and the namespace are undone on every exit. Argument: the namespace prefix.
bench_prepare() {
    OUT=images/bench
    SCRATCH="${BENCH_SCRATCH:-.build-bench}"
    BENCH="$SCRATCH/release/swiglet-bench"
    NS="$1-$$"
    GUEST=10.0.2.15
    mkdir -p "$OUT"
    qemu_pid=""
    declare -gA failed=()
    trap bench_cleanup EXIT
    trap 'say "interrupted"; exit 130' INT TERM
}

# Stops the guest QEMU if it runs (politely, then for good).
stop_qemu() {
    [[ -n $qemu_pid ]] || return 0
    if kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$qemu_pid" 2>/dev/null || true
    fi
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=""
}

bench_cleanup() {
    stop_qemu
    [[ -z ${NS:-} ]] || ip netns del "$NS" 2>/dev/null || true
}

# Builds swiglet-bench and each target's image (unless build=0), then checks they exist; a
# target that cannot be built or is missing is marked in `failed` and skipped later.
bench_build() {
    if [[ $build == 1 ]]; then
        say "building swiglet-bench"
        swift build -c release --product swiglet-bench --scratch-path "$SCRATCH" >"$OUT/build-bench.log" 2>&1 \
            || { cat "$OUT/build-bench.log" >&2; die "building swiglet-bench failed (log above)"; }
        local target
        for target in "${targets[@]}"; do
            case $target in
                swiglet)
                    say "building the Swiglet image (make image)"
                    if ! make image >"$OUT/build-swiglet.log" 2>&1; then
                        tail -n 40 "$OUT/build-swiglet.log" >&2
                        say "swiglet: 'make image' failed (last lines above, whole log: $OUT/build-swiglet.log)"
                        failed[swiglet]="make image failed (log: $OUT/build-swiglet.log)"
                    fi ;;
                linux)
                    say "building the Linux guest (scripts/build-linux-guest.sh)"
                    BENCH_SCRATCH="$SCRATCH" scripts/build-linux-guest.sh >&2 || die "building the Linux guest failed (messages above)" ;;
            esac
        done
    fi
    [[ -x $BENCH ]] || die "$BENCH is missing (run without --no-build)"
    local target image
    for target in "${targets[@]}"; do
        case $target in
            swiglet) image=images/swiglet.iso ;;
            linux) image=images/linux/initramfs.cpio.gz ;;
        esac
        if [[ -z ${failed[$target]:-} && ! -s $image ]]; then
            say "$target: $image is missing (run without --no-build)"
            failed[$target]="$image is missing"
        fi
    done
}

# The namespace: a tap device with the gateway's address, as QEMU's user networking has it.
bench_create_namespace() {
    ip netns add "$NS" || die "cannot create network namespace $NS"
    ip netns exec "$NS" ip link set lo up
    ip netns exec "$NS" ip tuntap add dev tap0 mode tap || die "cannot create tap0 in namespace $NS"
    ip netns exec "$NS" ip addr add 10.0.2.2/24 dev tap0
    ip netns exec "$NS" ip link set tap0 up
}

# Boots one guest on the tap and waits for READY on its serial console (kept in
# $OUT/NAME-console.log). Returns 1, with the console shown and `failed[NAME]` set, when QEMU
# exits first or the line does not come within `ready_timeout`.
bench_boot() {  # bench_boot NAME READY QEMU_ARGS...
    local name="$1" ready="$2"; shift 2
    local log="$OUT/$name-console.log" started
    rm -f "$log"
    say "$name: booting (QEMU TCG, -smp $cpus, -m $mem, virtio-net-pci on tap0 in namespace $NS)"
    ip netns exec "$NS" qemu-system-x86_64 -accel tcg,thread=multi -smp "$cpus" -m "$mem" \
        -display none -serial "file:$log" -monitor none -no-reboot -name "$name,debug-threads=on" \
        -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0 \
        "$@" </dev/null >"$OUT/$name-qemu.log" 2>&1 &
    qemu_pid=$!
    started=$SECONDS
    until grep -q "$ready" "$log" 2>/dev/null; do
        if ! kill -0 "$qemu_pid" 2>/dev/null; then
            say "$name: QEMU exited before the ready line ('$ready'). QEMU said:"
            cat "$OUT/$name-qemu.log" >&2
            say "$name: console:"; show_console "$log"
            failed[$name]="QEMU exited before the ready line"; qemu_pid=""; return 1
        fi
        if (( SECONDS - started >= ready_timeout )); then
            say "$name: no ready line ('$ready') within $ready_timeout s. Console:"
            show_console "$log"
            failed[$name]="no ready line within $ready_timeout s"; stop_qemu; return 1
        fi
        sleep 0.2
    done
    say "$name: ready after about $((SECONDS - started)) s: $(grep -m1 "$ready" "$log" | tr -d '\r')"
}

# Boots and measures each target not already failed, through the caller's
# `run_target NAME READY QEMU_ARGS...`: Swiglet from its ISO with `swiglet_cmdline` through
# fw_cfg, Linux from its kernel and initramfs with the extra QEMU arguments given here.
bench_run_targets() {  # bench_run_targets [LINUX_QEMU_ARGS...]
    local target extra
    for target in "${targets[@]}"; do
        [[ -z ${failed[$target]:-} ]] || continue
        case $target in
            swiglet)
                extra=()
                [[ -n ${swiglet_cmdline:-} ]] && extra=(-fw_cfg "name=opt/swiglet/cmdline,string=$swiglet_cmdline")
                run_target swiglet "swiglet: ready" -cdrom images/swiglet.iso \
                    -device isa-debug-exit,iobase=0xf4,iosize=0x04 "${extra[@]}" || true ;;
            linux)
                run_target linux "linux-guest: ready" -kernel images/linux/vmlinuz \
                    -initrd images/linux/initramfs.cpio.gz -append "console=ttyS0 quiet panic=-1" "$@" || true ;;
        esac
    done
}
