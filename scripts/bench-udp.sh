#!/usr/bin/env bash
# UDP echo benchmark: Swiglet against a stock Linux guest in the same QEMU configuration.
#
#   sudo scripts/bench-udp.sh [--duration S] [--warmup S] [--cpus N] [--only swiglet|linux]
#                             [--sizes LIST] [--windows LIST] [--ready-timeout S]
#                             [--swiglet-cmdline "OPTIONS"] [--no-build]
#
# For each system: boot it in QEMU (TCG, -smp CPUS, virtio-net-pci on a tap device) inside a
# network namespace this script creates, wait for its ready line on the serial console, run
# swiglet-bench inside the namespace against 10.0.2.15:7 (UDP echo, 64 and 1024 bytes, 1 and 32
# requests outstanding) while it samples the host CPU time of each QEMU thread, and stop QEMU. Then
# print the comparison (Swiglet, Linux, ratio). Results and consoles are kept in images/bench/;
# with --only swiglet, an earlier images/bench/linux.txt is used as the baseline.
#
# Options:
#   --duration S        measured seconds per measurement (default 5)
#   --warmup S          warm-up seconds before each measurement (default 1)
#   --cpus N            virtual CPUs of both guests (default $CPUS or 2)
#   --mem SIZE          guest memory (default 256M)
#   --only NAME         measure only swiglet or only linux
#   --sizes LIST        payload sizes (default 64,1024), passed to swiglet-bench
#   --windows LIST      requests outstanding (default 1,32), passed to swiglet-bench
#   --ready-timeout S   how long a guest may take to print its ready line (default 120)
#   --swiglet-cmdline S Swiglet boot options (fw_cfg opt/swiglet/cmdline)
#   --no-build          use the images and swiglet-bench as they are (no make image etc.)
#   -h, --help          this text
# Needs root (network namespace, tap device). Exit status: 0 all measured, 1 a system failed
# to build, boot or answer (its console is printed), 2 bad options.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench-udp: error: $*" >&2; exit 1; }
bad_option() { echo "bench-udp: $* (see --help)" >&2; exit 2; }
say() { echo "bench-udp: $*" >&2; }
# A guest console without terminal escapes (GRUB clears the screen) and carriage returns.
show_console() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1" >&2 2>/dev/null || true; }

duration=5
warmup=1
cpus="${CPUS:-2}"
mem=256M
only=""
sizes="64,1024"
windows="1,32"
ready_timeout=120
swiglet_cmdline=""
build=1
number='^[0-9]+([.][0-9]+)?$'
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --no-build) build=0; shift ;;
        --duration|--warmup|--cpus|--mem|--only|--sizes|--windows|--ready-timeout|--swiglet-cmdline)
            [[ $# -ge 2 ]] || bad_option "$1 needs a value"
            case "$1" in
                --duration) duration="$2"; [[ $duration =~ $number ]] || bad_option "--duration '$2' is not a number of seconds" ;;
                --warmup) warmup="$2"; [[ $warmup =~ $number ]] || bad_option "--warmup '$2' is not a number of seconds" ;;
                --cpus) cpus="$2" ;;
                --mem) mem="$2"; [[ $mem =~ ^[0-9]+[MG]$ ]] || bad_option "--mem '$2' is not like 256M or 1G" ;;
                --only) only="$2"; [[ $only == swiglet || $only == linux ]] || bad_option "--only takes swiglet or linux, not '$2'" ;;
                --sizes) sizes="$2"; [[ $sizes =~ ^[0-9]+(,[0-9]+)*$ ]] || bad_option "--sizes '$2' is not a comma-separated list of numbers" ;;
                --windows) windows="$2"; [[ $windows =~ ^[0-9]+(,[0-9]+)*$ ]] || bad_option "--windows '$2' is not a comma-separated list of numbers" ;;
                --ready-timeout) ready_timeout="$2"; [[ $ready_timeout =~ ^[0-9]+$ && $ready_timeout -ge 1 ]] || bad_option "--ready-timeout '$2' is not a whole number of seconds" ;;
                --swiglet-cmdline) swiglet_cmdline="$2"; [[ $swiglet_cmdline != *,* ]] || bad_option "--swiglet-cmdline cannot contain ',' (fw_cfg string syntax)" ;;
            esac
            shift 2 ;;
        *) bad_option "unknown option '$1'" ;;
    esac
done
[[ $cpus =~ ^[0-9]+$ && $cpus -ge 1 && $cpus -le 64 ]] || bad_option "CPUS/--cpus '$cpus' is not a number from 1 to 64"

source scripts/bench-common.sh
bench_check_machine
targets=(swiglet linux)
[[ -n $only ]] && targets=("$only")
bench_prepare swiglet-bench

# 1. Build what is needed.
bench_build

# 2. The namespace.
bench_create_namespace

# 3. One system: boot, wait for ready, measure, stop.
run_target() {  # run_target NAME READY_PATTERN QEMU_ARGS...
    local name="$1" ready="$2"; shift 2
    local log="$OUT/$name-console.log"
    rm -f "$OUT/$name.txt"
    bench_boot "$name" "$ready" "$@" || return 1
    # --cpu-pid: the host CPU of each QEMU thread (vCPUs, the main loop that emulates
    # virtio-net and moves frames through the tap) during each measurement.
    local status=0
    ip netns exec "$NS" "$BENCH" --label "$name" --save "$OUT/$name.txt" --duration "$duration" \
        --warmup "$warmup" --sizes "$sizes" --windows "$windows" --cpu-pid "$qemu_pid" "$GUEST:7" \
        || status=$?
    if [[ $status != 0 ]]; then
        say "$name: swiglet-bench failed (status $status): $name did not answer UDP echo at $GUEST:7 correctly. Console:"
        show_console "$log"
        failed[$name]="did not answer UDP echo correctly (swiglet-bench status $status)"
    fi
    stop_qemu
    [[ $status == 0 ]]
}

bench_run_targets

# 4. The comparison.
echo
if [[ -s $OUT/swiglet.txt && -z ${failed[swiglet]:-} ]]; then
    if [[ -s $OUT/linux.txt ]]; then
        [[ $only == swiglet ]] && say "baseline: Linux results of an earlier run ($OUT/linux.txt, $(date -r "$OUT/linux.txt" '+%F %T'))"
        "$BENCH" --comparison-only --results "$OUT/swiglet.txt" --baseline "$OUT/linux.txt"
    else
        say "no Linux results to compare with: run without --only (or with --only linux) once"
    fi
fi
status=0
for target in "${targets[@]}"; do
    if [[ -n ${failed[$target]:-} ]]; then
        say "$target: FAILED: ${failed[$target]}$([[ -s $OUT/$target-console.log ]] && echo " (console: $OUT/$target-console.log)")"
        status=1
    fi
done
exit $status
