#!/usr/bin/env bash
# What network load costs an application CPU: the spinner's work rate with and without UDP echo
# load on the other CPUs, in one boot of Swiglet.
#
#   scripts/bench-intrusion.sh [--duration S] [--app-wait sleep|spin] [--system swiglet|linux|both]
#                              [--no-build] [-h|--help]
#
# Boots Swiglet with 3 CPUs (cpu0: network core, cpu1: udp-echo, cpu2: spinner) — or the Linux
# guest of the UDP benchmark with 3 CPUs, its echo server and the same spinner loop on its last
# CPU — on QEMU's user-mode network (no root needed), lets the spinner report its iterations per second for S
# seconds of quiet, then for S seconds while swiglet-bench keeps 32 echo requests of 64 bytes
# outstanding, and prints the median rate of each phase and their ratio. Exit status: 0 measured,
# 1 the guest did not come up, 2 bad options.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

duration=6
app_wait=sleep
system=both
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration="${2:-}"; shift 2 ;;
        --app-wait) app_wait="${2:-}"; shift 2 ;;
        --system) system="${2:-}"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-intrusion: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$duration" =~ ^[0-9]+$ ]] && [ "$duration" -ge 2 ] || { echo "bench-intrusion: --duration takes whole seconds >= 2" >&2; exit 2; }
case "$app_wait" in sleep|spin) ;; *) echo "bench-intrusion: --app-wait takes sleep or spin" >&2; exit 2 ;; esac
case "$system" in swiglet|linux|both) ;; *) echo "bench-intrusion: --system takes swiglet, linux or both" >&2; exit 2 ;; esac

if [ "$build" = 1 ]; then
    [ "$system" = linux ] || make --no-print-directory image >/dev/null
    [ "$system" = swiglet ] || scripts/build-linux-guest.sh >/dev/null
    swift build -c release --product swiglet-bench --scratch-path .build-bench >/dev/null
fi
bench=.build-bench/release/swiglet-bench
[ -x "$bench" ] || { echo "bench-intrusion: $bench is missing (run without --no-build)" >&2; exit 1; }
mkdir -p images/bench

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print a[int((NR + 1) / 2)]}'; }

# measure NAME: boots NAME, prints its quiet and loaded spinner rates; sets global result_NAME.
measure() {
    local name=$1 console="images/bench/intrusion-$1-console.log" port=$((20000 + RANDOM % 30000))
    local guest
    if [ "$name" = swiglet ]; then
        guest=(-cdrom images/swiglet.iso
               -fw_cfg "name=opt/swiglet/cmdline,string=run=udp-echo@1 run=spinner@2 app-wait=$app_wait")
    else
        guest=(-kernel images/linux/vmlinuz -initrd images/linux/initramfs.cpio.gz
               -append "console=ttyS0 quiet panic=-1 spinner")
    fi
    rm -f "$console"
    qemu-system-x86_64 -accel tcg,thread=multi -smp 3 -m 256M -display none -monitor none -no-reboot \
        -serial "file:$console" -netdev "user,id=n0,hostfwd=udp:127.0.0.1:$port-:7" \
        -device virtio-net-pci,netdev=n0 "${guest[@]}" &
    qemu=$!
    # Wait for the spinner's first report (at most 120 s).
    for _ in $(seq 1200); do grep -q "spinner: [0-9]" "$console" 2>/dev/null && break; sleep 0.1; done
    if ! grep -q "spinner: [0-9]" "$console"; then
        echo "bench-intrusion: $name's spinner never reported:" >&2; tr -d '\r' < "$console" >&2
        kill $qemu; wait $qemu 2>/dev/null || true; return 1
    fi
    rates() { tr -d '\r' < "$console" | grep -o 'spinner: [0-9]* iterations/s' | awk '{print $2}'; }
    sleep 1
    local before quiet_end loaded_end quiet loaded
    before=$(rates | wc -l)
    sleep "$duration"
    quiet_end=$(rates | wc -l)
    "$bench" --label "$name" --duration "$duration" --warmup 0 --sizes 64 --windows 32 "127.0.0.1:$port" \
        > "images/bench/intrusion-$name-load.txt" 2>&1 || true
    loaded_end=$(rates | wc -l)
    kill $qemu; wait $qemu 2>/dev/null || true
    quiet=$(rates | sed -n "$((before + 1)),${quiet_end}p" | median)
    loaded=$(rates | sed -n "$((quiet_end + 2)),${loaded_end}p" | median)
    echo "$name: spinner $quiet iterations/s quiet, $loaded under echo load" \
         "($(grep -E '^ +64 +32 ' "images/bench/intrusion-$name-load.txt" | awk '{print $3 " requests/s, " $8 " lost"}'))"
    awk -v q="$quiet" -v l="$loaded" -v n="$name" 'BEGIN { if (q > 0) printf "%s: ratio loaded/quiet %.3f\n", n, l / q }'
}

echo "spinner work rate, quiet and under UDP echo load (64 B, 32 outstanding, QEMU user-mode networking), ${duration} s per phase:"
[ "$system" = linux ] || measure swiglet
[ "$system" = swiglet ] || measure linux
