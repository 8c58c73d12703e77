#!/usr/bin/env bash
# C10K side by side: scripts/hold-connections.py against Swiglet and the Linux guest, each booted on a tap in its own network namespace with the same vCPUs and memory, interleaved, repeated.
#
# For every (vCPUs, repetition) it boots Swiglet, then Linux (images/linux, offloads on: its
# normal virtio-net configuration), and runs hold-connections.py: N keep-alive connections opened
# with one verified GET each, held idle together, a fresh GET meanwhile, then a second verified
# GET on every one. Each run is one JSON line in OUT/raw.jsonl; OUT/summary.md has the medians
# and ranges, and a rate only for points where every run of every repetition succeeded.
# Needs root (namespaces and taps), qemu, python3, and images/swiglet.iso + images/linux/*.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=10000
REPETITIONS=3
CPU_COUNTS="2 4"
MEMORY=256M
OUT=""

usage() {
    cat <<USAGE
usage: scripts/bench-c10k.sh [--connections N] [--repetitions R] [--cpus "2 4"] [--memory 256M] [--out DIR]

  --connections N   connections held at once (default $CONNECTIONS)
  --repetitions R   runs per target and vCPU count, interleaved (default $REPETITIONS)
  --cpus LIST       vCPU counts, space-separated (default "$CPU_COUNTS")
  --memory SIZE     guest memory, as QEMU's -m (default $MEMORY)
  --out DIR         where raw.jsonl and summary.md go (default results/c10k/DATE-COMMIT)
USAGE
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --connections) CONNECTIONS="${2:?--connections needs a number}"; shift 2 ;;
        --repetitions) REPETITIONS="${2:?--repetitions needs a number}"; shift 2 ;;
        --cpus) CPU_COUNTS="${2:?--cpus needs a list}"; shift 2 ;;
        --memory) MEMORY="${2:?--memory needs a size}"; shift 2 ;;
        --out) OUT="${2:?--out needs a directory}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench-c10k: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ $CONNECTIONS =~ ^[0-9]+$ && $CONNECTIONS -ge 1 ]] || { echo "bench-c10k: --connections must be a positive number, not '$CONNECTIONS'" >&2; exit 2; }
[[ $REPETITIONS =~ ^[0-9]+$ && $REPETITIONS -ge 1 ]] || { echo "bench-c10k: --repetitions must be a positive number, not '$REPETITIONS'" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "bench-c10k: needs root (network namespaces and taps)" >&2; exit 1; }
for file in images/swiglet.iso images/linux/vmlinuz images/linux/initramfs.cpio.gz; do
    [[ -f $file ]] || { echo "bench-c10k: $file is missing (make image; scripts/build-linux-guest.sh)" >&2; exit 1; }
done

commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources boot linker Makefile || echo -dirty)"
OUT="${OUT:-results/c10k/$(date -u +%Y-%m-%d-%H%M)-$commit}"
mkdir -p "$OUT"
raw="$OUT/raw.jsonl"
: > "$raw"
namespace="swiglet-c10k-$$"
qemu_pid=""

cleanup() {
    [[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
    ip netns del "$namespace" 2>/dev/null || true
}
trap cleanup EXIT

# boot TARGET CPUS CONSOLE: starts the guest in the namespace, waits for its ready line.
boot() {
    local target=$1 cpus=$2 console=$3
    ip netns add "$namespace"
    ip netns exec "$namespace" ip link set lo up
    ip netns exec "$namespace" ip tuntap add dev tap0 mode tap
    ip netns exec "$namespace" ip addr add 10.0.2.2/24 dev tap0
    ip netns exec "$namespace" ip link set tap0 up
    local guest=(-cdrom images/swiglet.iso -device isa-debug-exit,iobase=0xf4,iosize=0x04)
    local ready="http: serving HTTP on port 80"
    if [[ $target == linux ]]; then
        guest=(-kernel images/linux/vmlinuz -initrd images/linux/initramfs.cpio.gz -append "console=ttyS0 quiet panic=-1")
        ready="linux-guest: ready"
    fi
    ip netns exec "$namespace" qemu-system-x86_64 -accel tcg,thread=multi -smp "$cpus" -m "$MEMORY" -display none \
        -serial "file:$console" -monitor none -no-reboot \
        -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 \
        "${guest[@]}" &
    qemu_pid=$!
    for _ in $(seq 1 600); do
        grep -q "$ready" "$console" 2>/dev/null && return 0
        kill -0 "$qemu_pid" 2>/dev/null || { echo "bench-c10k: $target exited while booting (see $console)" >&2; return 1; }
        sleep 0.2
    done
    echo "bench-c10k: $target not ready after 120 s (see $console)" >&2
    return 1
}

for cpus in $CPU_COUNTS; do
    for repetition in $(seq 1 "$REPETITIONS"); do
        for target in swiglet linux; do
            echo "bench-c10k: $target, $cpus vCPUs, repetition $repetition of $REPETITIONS" >&2
            console="$OUT/$target-$cpus-$repetition.console.txt"
            metrics=()
            [[ $target == swiglet ]] && metrics=(--metrics-port 9090)
            result='{"failed": "boot"}'
            if boot "$target" "$cpus" "$console"; then
                result="$(ip netns exec "$namespace" python3 scripts/hold-connections.py --host 10.0.2.15 \
                    --connections "$CONNECTIONS" --hold 4 --timeout 60 "${metrics[@]}" | tail -1)" || true
                [[ $result == \{* ]] || result='{"failed": "client"}'
            fi
            echo "{\"target\": \"$target\", \"cpus\": $cpus, \"repetition\": $repetition, \"memory\": \"$MEMORY\", \"result\": $result}" >> "$raw"
            cleanup
            qemu_pid=""
        done
    done
done

python3 - "$raw" "$CONNECTIONS" "$commit" > "$OUT/summary.md" <<'PYTHON'
import json, statistics, sys
raw, connections, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = [json.loads(line) for line in open(raw) if line.strip()]
print(f"# C10K: {connections} keep-alive connections held at once (commit {commit})\n")
print("Opened = connections opened and served once per second; again = the second GET on all of them, per second.")
print("A rate is given only when every repetition held and served every connection with no error.\n")
print("| vCPUs | target | runs ok | opened/s median (min–max) | again/s median (min–max) |")
print("| --- | --- | --- | --- | --- |")
medians = {}
for cpus in sorted({run["cpus"] for run in runs}):
    for target in ("swiglet", "linux"):
        points = [run["result"] for run in runs if run["cpus"] == cpus and run["target"] == target]
        good = [p for p in points if p.get("held") == connections and p.get("served_again") == connections and not p.get("errors")]
        if len(good) != len(points) or not good:
            print(f"| {cpus} | {target} | {len(good)}/{len(points)} | (errors: no rate) | |")
            continue
        opened = [connections / p["open_seconds"] for p in good]
        again = [connections / p["second_seconds"] for p in good]
        medians[(cpus, target)] = (statistics.median(opened), statistics.median(again))
        print(f"| {cpus} | {target} | {len(good)}/{len(points)} | {statistics.median(opened):,.0f} ({min(opened):,.0f}–{max(opened):,.0f})"
              f" | {statistics.median(again):,.0f} ({min(again):,.0f}–{max(again):,.0f}) |")
print()
for cpus in sorted({key[0] for key in medians}):
    if (cpus, "swiglet") in medians and (cpus, "linux") in medians:
        s, l = medians[(cpus, "swiglet")], medians[(cpus, "linux")]
        print(f"- {cpus} vCPUs: Swiglet/Linux opened {s[0] / l[0]:.2f}×, served again {s[1] / l[1]:.2f}×")
PYTHON
cat "$OUT/summary.md"
echo "bench-c10k: raw runs in $raw" >&2
