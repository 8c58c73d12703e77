#!/usr/bin/env bash
# Sampling profile of a booted Swiglet under a load: every vCPU's RIP through QMP, symbolized, top functions per CPU.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/profile.sh [OPTIONS]        (make profile PROFILE_OPTIONS="...")

Boots images/swiglet.iso in QEMU (TCG, user-mode networking with free host ports forwarded
to the guest's HTTP, TCP echo and UDP echo ports, QMP on a unix socket), waits for its
ready line, starts a load from the host, and samples every vCPU's registers through QMP
(`info registers -a`) for the duration: RIP, CPL (ring 0 or 3) and whether the vCPU is
halted, plus the frame-pointer chain read from its stack. Then it symbolizes the samples
(ring 0 against images/swiglet.elf, ring 3 against the program the console says runs on
that CPU, images/programs/NAME.elf) and prints the top functions of each CPU.

OPTIONS:
  -d, --duration S      seconds of sampling (default 10; the load runs 2 s longer)
  -r, --rate HZ         sampling rounds per second; each round samples every vCPU
                        (default 100; fewer than asked are reached under load, see docs/debugging.md); 0 runs
                        the load without sampling, to measure what sampling costs it
  -c, --cpus N          virtual CPUs (default 4: the network core and http, tcp-echo, udp-echo)
  -m, --mem SIZE        guest memory (default 256M)
  -b, --boot OPTIONS    Swiglet boot options, e.g. "net-mode=symmetric" (default none)
  -l, --load KIND       load during the profile: http (wrk, keep-alive, GET /), http-close
                        (wrk, a new connection per request: Connection: close), tcp
                        (swiglet-bench tcp-rr on TCP echo), bulk (one connection streaming
                        through TCP echo for the whole load, 64 KiB writes, every byte checked;
                        boot with run=tcp-echo@1 so that the echo has a CPU to itself),
                        udp (swiglet-bench UDP echo of 64 bytes), none (default http)
      --connections N   connections of the http, http-close and tcp loads (default 16)
      --window N        outstanding requests of the udp load (default 32)
      --nic KIND        user (default): QEMU's user-mode network, host ports forwarded;
                        tap: a tap device in a network namespace of its own, as the
                        experiments use (needs root). User-mode networking limits any load
                        that moves many packets: profile those over tap
      --stack-bytes N   bytes read above RSP per running vCPU to walk frame pointers
                        (default 1024; 0: the sampled function only, cheaper)
  -n, --top N           functions listed per CPU (default 10)
      --host            also sample the host: `perf record -e cpu-clock` of the QEMU process at
                        499 Hz while the load runs, reported per QEMU thread (each vCPU's
                        `CPU N/TCG`, the I/O thread `qemu-system-x86`) as shares of a host core
                        in guest code, QEMU's own code, the host kernel and libraries (needs
                        perf: Debian's linux-perf, and root)
      --linux           run the load against the Linux guest the experiments compare with
                        (images/linux, built by scripts/build-linux-guest.sh when missing)
                        instead of Swiglet: over tap only, and no vCPU sampling or /metrics
                        (they read Swiglet's symbols and counters); with --host, the same
                        host view of its QEMU threads
  -o, --output DIR      where the results go (default images/profile/DATE)
      --image ISO       the image to boot (default images/swiglet.iso; built when missing)
  -h, --help            this text

OUTPUT in DIR: profile.txt (printed: per CPU the ring-0/ring-3/idle split and the top
functions, self% = the sampled RIP was in it, total% = it was anywhere on the stack),
folded.txt (folded stacks `cpu0;kernel;outer;inner COUNT` for flamegraph.pl, inferno or
speedscope), samples.tsv (the raw samples: one line per vCPU per round, with RIP, RSP, RBP,
the return addresses walked, and the round's QMP time), console.log, load.txt (the load
generator's output), metrics-before.txt and metrics-after.txt (the kernel's /metrics around
the load) and metrics-delta.txt (every counter that moved, with its change and its change per
second of the load). With --host also host.txt (printed) and host.perf.data (perf's record;
`perf report -i` reads it). `scripts/profile-tool.py report` redoes the report from samples.tsv.
EOF
}

say() { echo "profile: $*" >&2; }
die() { say "$*"; exit 1; }
bad_usage() { say "$*"; echo "run 'scripts/profile.sh --help' for the options" >&2; exit 2; }

duration=10 rate=100 cpus=4 mem=256M boot_options="" load=http connections=16 window=32 stack_bytes=1024 top=10 nic=user
output="" image=images/swiglet.iso host=0 linux=0
while [[ $# -gt 0 ]]; do
    option=$1
    case $option in
        -h|--help) usage; exit 0 ;;
        --host) host=1; shift; continue ;;
        --linux) linux=1; shift; continue ;;
        -d|--duration|-r|--rate|-c|--cpus|-m|--mem|-b|--boot|-l|--load|--connections|--window|--stack-bytes|-n|--top|-o|--output|--image|--nic)
            [[ $# -ge 2 ]] || bad_usage "option '$option' needs a value"
            value=$2; shift 2 ;;
        *) bad_usage "unknown option '$option'" ;;
    esac
    number='^[0-9]+$' decimal='^[0-9]+([.][0-9]+)?$'
    case $option in
        -d|--duration) [[ $value =~ $decimal ]] || bad_usage "option '$option': '$value' is not a number of seconds"; duration=$value ;;
        -r|--rate) [[ $value =~ $decimal ]] || bad_usage "option '$option': '$value' is not a rate in Hz"; rate=$value ;;
        -c|--cpus) [[ $value =~ $number && $value -ge 1 && $value -le 64 ]] || bad_usage "option '$option': '$value' is not 1 to 64"; cpus=$value ;;
        -m|--mem) [[ $value =~ ^[0-9]+[MG]$ ]] || bad_usage "option '$option': '$value' is not a size such as 256M"; mem=$value ;;
        -b|--boot) [[ $value != *,* ]] || bad_usage "option '$option': boot options may not contain ','"; boot_options=$value ;;
        -l|--load) [[ $value =~ ^(http|http-close|tcp|bulk|udp|none)$ ]] || bad_usage "option '$option': '$value' is not http, http-close, tcp, bulk, udp or none"; load=$value ;;
        --nic) [[ $value =~ ^(user|tap)$ ]] || bad_usage "option '$option': '$value' is not user or tap"; nic=$value ;;
        --connections) [[ $value =~ $number && $value -ge 1 && $value -le 1024 ]] || bad_usage "option '$option': '$value' is not 1 to 1024"; connections=$value ;;
        --window) [[ $value =~ $number && $value -ge 1 && $value -le 256 ]] || bad_usage "option '$option': '$value' is not 1 to 256"; window=$value ;;
        --stack-bytes) [[ $value =~ $number && $((value % 8)) == 0 && $value -le 65536 ]] || bad_usage "option '$option': '$value' is not a multiple of 8 up to 65536"; stack_bytes=$value ;;
        -n|--top) [[ $value =~ $number && $value -ge 1 ]] || bad_usage "option '$option': '$value' is not a positive number"; top=$value ;;
        -o|--output) output=$value ;;
        --image) image=$value ;;
    esac
done
[[ $duration != 0 ]] || bad_usage "option '--duration': must be more than 0"
if [[ $linux == 1 ]]; then
    [[ $nic == tap ]] || bad_usage "option '--linux' needs '--nic tap' (the Linux guest has no forwarded ports)"
    [[ -z $boot_options ]] || bad_usage "option '--linux' takes no '--boot' (those are Swiglet's boot options)"
fi

cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then export PATH="/opt/swift/usr/bin:$PATH"; fi
python=$(command -v python3 || true)
[[ -x /usr/bin/python3 ]] && python=/usr/bin/python3
[[ -n $python ]] || die "python3 is missing"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing (scripts/install-deps.sh)"
bench=${BENCH_SCRATCH:-.build-bench}/release/swiglet-bench
case $load in
    http|http-close) command -v wrk >/dev/null || die "wrk is missing (scripts/install-deps.sh)" ;;
    tcp|bulk|udp) [[ -x $bench ]] || { say "building swiglet-bench (make bench-tool)"; make bench-tool >&2; } ;;
esac
if [[ $host == 1 ]]; then
    command -v perf >/dev/null || die "--host needs perf (Debian's linux-perf; scripts/install-deps.sh installs it)"
    [[ $(id -u) == 0 ]] || die "--host needs root (perf records another process)"
fi
if [[ $nic == tap ]]; then
    [[ $(id -u) == 0 ]] || die "--nic tap needs root (a network namespace and a tap device)"
    command -v ip >/dev/null || die "ip (iproute2) is missing"
fi
if [[ $linux == 1 ]]; then
    [[ -s images/linux/vmlinuz && -s images/linux/initramfs.cpio.gz ]] || {
        say "building the Linux guest (scripts/build-linux-guest.sh)"; scripts/build-linux-guest.sh >&2; }
elif [[ ! -s $image ]]; then
    [[ $image == images/swiglet.iso ]] || die "$image does not exist"
    say "building the image (make image)"; make image >&2
fi

output=${output:-images/profile/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$output"
qmp="$output/qmp.sock"
rm -f "$qmp"
read -r http_port tcp_port udp_port metrics_port < <("$python" - <<'EOF'
import socket
sockets = [socket.socket(socket.AF_INET, kind) for kind in (socket.SOCK_STREAM, socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_STREAM)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))
EOF
)

qemu_pid="" load_pid="" perf_pid="" namespace=""
cleanup() {
    [[ -z $load_pid ]] || kill "$load_pid" 2>/dev/null || true
    [[ -z $perf_pid ]] || kill -INT "$perf_pid" 2>/dev/null || true
    if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    rm -f "$qmp"
    [[ -z $namespace ]] || ip netns del "$namespace" 2>/dev/null || true
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

cmdline=()
[[ -z $boot_options ]] || cmdline=(-fw_cfg "name=opt/swiglet/cmdline,string=$boot_options")
# Where the loads connect, and the prefix that runs a command where they can reach the guest.
target=127.0.0.1 inside=()
if [[ $nic == tap ]]; then
    # The experiments' layout (docs/experiments.md): tap0 with 10.0.2.2/24 in a namespace, the
    # guest at 10.0.2.15 on its default ports.
    namespace=swiglet-profile-$$
    ip netns add "$namespace" || die "could not create the network namespace $namespace"
    ip netns exec "$namespace" ip link set lo up
    ip netns exec "$namespace" ip tuntap add dev tap0 mode tap
    ip netns exec "$namespace" ip addr add 10.0.2.2/24 dev tap0
    ip netns exec "$namespace" ip link set tap0 up
    inside=(ip netns exec "$namespace")
    target=10.0.2.15 http_port=80 tcp_port=7 udp_port=7 metrics_port=9090
    netdev="tap,id=n0,ifname=tap0,script=no,downscript=no"
else
    netdev="user,id=n0,hostfwd=tcp:127.0.0.1:$http_port-:80,hostfwd=tcp:127.0.0.1:$tcp_port-:7,hostfwd=udp:127.0.0.1:$udp_port-:7,hostfwd=tcp:127.0.0.1:$metrics_port-:9090"
fi
# The kernel's own counters around the load (its /metrics, served by the network core): what a
# statistical profile cannot say, how many times things happened and how long the waits took.
snapshot_metrics() {
    [[ $linux == 0 ]] || return 0   # the Linux guest has no /metrics
    date +%s.%N >"$output/metrics-$1.time"
    "${inside[@]}" curl -sS --max-time 5 "http://$target:$metrics_port/metrics" >"$output/metrics-$1.txt" 2>&1 \
        || say "could not read /metrics $1 the load (see $output/metrics-$1.txt)"
}
# The guest: Swiglet's ISO (boot options through fw_cfg, the exit device its tests use), or the
# Linux guest's kernel and initramfs as the experiments boot it.
if [[ $linux == 1 ]]; then
    guest=(-kernel images/linux/vmlinuz -initrd images/linux/initramfs.cpio.gz -append "console=ttyS0 quiet panic=-1")
    ready="linux-guest: ready" name=linux
    say "booting the Linux guest (images/linux): -smp $cpus -m $mem, tap network; results in $output"
else
    guest=(-device isa-debug-exit,iobase=0xf4,iosize=0x04 "${cmdline[@]}" -cdrom "$image")
    ready="swiglet: ready" name=swiglet
    say "booting $image: -smp $cpus -m $mem, $nic network${boot_options:+, boot options '$boot_options'}; results in $output"
fi
# debug-threads: QEMU names its threads (`CPU 0/TCG`, ...), which --host reports by.
"${inside[@]}" qemu-system-x86_64 -name "$name,debug-threads=on" -accel tcg,thread=multi -smp "$cpus" -m "$mem" -display none \
    -serial "file:$output/console.log" -monitor none -qmp "unix:$qmp,server=on,wait=off" -no-reboot \
    -netdev "$netdev" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 "${guest[@]}" </dev/null >"$output/qemu.log" 2>&1 &
qemu_pid=$!
for _ in $(seq 600); do
    grep -q "$ready" "$output/console.log" 2>/dev/null && break
    kill -0 "$qemu_pid" 2>/dev/null || { cat "$output/qemu.log" "$output/console.log" >&2 2>/dev/null; die "QEMU exited before the ready line"; }
    sleep 0.1
done
grep -q "$ready" "$output/console.log" || die "no ready line ('$ready') within 60 s (console: $output/console.log)"
# The programs start after the ready line: give them a moment to bind their ports.
sleep 1

load_seconds=$(awk -v d="$duration" 'BEGIN { printf "%d", d + 2.999 }')
case $load in
    http) load_command=(wrk -t1 -c"$connections" -d"${load_seconds}s" --latency "http://$target:$http_port/") ;;
    http-close) load_command=(wrk -t1 -c"$connections" -d"${load_seconds}s" --latency -H "Connection: close" "http://$target:$http_port/") ;;
    tcp) load_command=("$bench" tcp-rr -d "$load_seconds" -w 0 -c "$connections" "$target:$tcp_port") ;;
    # One connection streaming until the time is up (tcp-echo --duration), as tcp-bulk measures.
    bulk) load_command=("$bench" tcp-echo --duration "$load_seconds" --chunk 65536 --timeout 10 "$target:$tcp_port") ;;
    udp) load_command=("$bench" -q -d "$load_seconds" -w 0 --sizes 64 --windows "$window" "$target:$udp_port") ;;
    none) load_command=() ;;
esac
snapshot_metrics before
if [[ ${#load_command[@]} -gt 0 ]]; then
    say "load: ${load_command[*]}"
    "${inside[@]}" "${load_command[@]}" >"$output/load.txt" 2>&1 &
    load_pid=$!
    sleep 1
fi
host_frequency=499
if [[ $host == 1 ]]; then
    # `ip netns exec` (tap) execs QEMU in its own process, so $qemu_pid is QEMU either way.
    say "recording the host's CPU of QEMU (pid $qemu_pid) with perf at $host_frequency Hz for $duration s"
    perf record -q -e cpu-clock -F "$host_frequency" -p "$qemu_pid" -o "$output/host.perf.data" -- sleep "$duration" \
        >"$output/host.perf.log" 2>&1 &
    perf_pid=$!
fi
sampling=1
[[ ! $rate =~ ^0+([.]0*)?$ && $linux == 0 ]] || sampling=0
if [[ $sampling == 1 ]]; then
    say "sampling every vCPU at $rate Hz for $duration s (stack bytes $stack_bytes)"
    "$python" scripts/profile-tool.py sample --qmp "$qmp" --raw "$output/samples.tsv" \
        --duration "$duration" --rate "$rate" --stack-bytes "$stack_bytes" >&2
else
    say "not sampling the vCPUs ($([[ $linux == 1 ]] && echo "--linux" || echo "--rate 0")): the load alone for $duration s"
    sleep "$duration"
fi
if [[ -n $perf_pid ]]; then
    wait "$perf_pid" || say "perf record failed (exit status $?): see $output/host.perf.log"
    perf_pid=""
fi
if [[ -n $load_pid ]]; then
    wait "$load_pid" || say "the load generator failed (exit status $?): see $output/load.txt"
    load_pid=""
    case $load in
        http|http-close) say "load result: $(grep -E 'Requests/sec' "$output/load.txt" || echo 'no Requests/sec line')" ;;
        # swiglet-bench's UDP table: its header line names req/s, the row under it has the numbers.
        udp) say "load result: $(grep -A1 'req/s' "$output/load.txt" | tail -n 2 | tr -s ' ' | tr '\n' ' ')" ;;
        *) say "load result: $(grep -E 'result:|req/s' "$output/load.txt" | tail -n 2 | tr '\n' ' ')" ;;
    esac
fi
snapshot_metrics after
cleanup; qemu_pid=""
if [[ $linux == 0 ]]; then
scrape_seconds=$(awk -v a="$(cat "$output/metrics-before.time")" -v b="$(cat "$output/metrics-after.time")" 'BEGIN { printf "%.3f", b - a }')
rm -f "$output"/metrics-*.time
"$python" scripts/profile-tool.py metrics-delta --before "$output/metrics-before.txt" --after "$output/metrics-after.txt" \
    --seconds "$scrape_seconds" >"$output/metrics-delta.txt" || say "no metrics delta (see $output/metrics-before.txt and metrics-after.txt)"
[[ ! -s $output/metrics-delta.txt ]] || say "the kernel's counters over the load: $output/metrics-delta.txt"
fi
if [[ $host == 1 && -s $output/host.perf.data ]]; then
    perf script -i "$output/host.perf.data" -F comm,tid,ip,dso -G >"$output/host.perf.txt" 2>>"$output/host.perf.log" || true
    if "$python" scripts/profile-tool.py host-report --perf-script "$output/host.perf.txt" --seconds "$duration" \
        --frequency "$host_frequency" >"$output/host.txt"; then
        cat "$output/host.txt"
    else
        say "no host report (see $output/host.perf.log)"
    fi
    rm -f "$output/host.perf.txt"
fi
[[ $sampling == 1 ]] || exit 0
"$python" scripts/profile-tool.py report --raw "$output/samples.tsv" --output "$output" \
    --kernel images/swiglet.elf --programs images/programs --console "$output/console.log" --top "$top"
say "folded stacks: $output/folded.txt (flamegraph.pl $output/folded.txt > flame.svg)"
