#!/usr/bin/env bash
# TCP benchmark: Swiglet against a stock Linux guest in the same QEMU configuration.
#
#   sudo scripts/bench-tcp.sh [--duration S] [--cpus N] [--only swiglet|linux] [--path URL_PATH]
#                             [--connections N] [--wrk-threads N] [--connectors N]
#                             [--mebibytes N] [--ready-timeout S] [--swiglet-cmdline "OPTIONS"]
#                             [--linux-offloads on|off] [--no-build]
#
# For each system: boot it in QEMU (TCG, -smp CPUS, virtio-net-pci on a tap device) inside a
# network namespace this script creates, wait for its ready line on the serial console, check
# that http://10.0.2.15/PATH answers (curl), then measure from inside the namespace:
#   1. HTTP/1.1 keep-alive requests per second and latency p50/p99:
#      wrk -t WRK_THREADS -c CONNECTIONS -d DURATION --latency http://10.0.2.15/PATH
#   2. new TCP connections per second (connect, close; the client closes first):
#      swiglet-bench tcp-connect -c CONNECTORS -d DURATION --sources 10.0.2.100-10.0.2.131 10.0.2.15:7
#      (32 extra addresses of the namespace, so that client TIME-WAIT does not run out of ports)
#   3. one connection's TCP echo throughput: swiglet-bench tcp-echo --mebibytes N 10.0.2.15:7
# and stop QEMU. Then print one table: each metric for Swiglet, Linux and their ratio.
# Results and consoles are kept in images/bench/ (tcp-NAME.txt, NAME-console.log); with
# --only swiglet, an earlier images/bench/tcp-linux.txt is the baseline.
#
# Options:
#   --duration S        seconds of each wrk and tcp-connect measurement (default 10)
#   --cpus N            virtual CPUs of both guests (default $CPUS or 3: Swiglet's network
#                       core, http and tcp-echo each need one)
#   --mem SIZE          guest memory (default 256M)
#   --only NAME         measure only swiglet or only linux
#   --path URL_PATH     the page wrk fetches (default /index.html; must exist in site/)
#   --connections N     wrk connections (default 16)
#   --wrk-threads N     wrk threads (default 2)
#   --connectors N      tcp-connect connector threads (default 8)
#   --mebibytes N       bytes streamed by tcp-echo, in MiB (default 64)
#   --ready-timeout S   how long a guest may take to print its ready line (default 120)
#   --swiglet-cmdline S Swiglet boot options (fw_cfg opt/swiglet/cmdline; no ',')
#   --linux-offloads X  on (default): the Linux guest's virtio-net uses checksum and segmentation
#                       offload (TSO/GSO: up to 64 KiB per descriptor), as Linux does by default;
#                       off: they are switched off (-global virtio-net-pci.*=off), so Linux moves
#                       one MTU-sized frame per descriptor like Swiglet, whose driver offers none
#   --no-build          use the images and swiglet-bench as they are
#   -h, --help          this text
# Needs root (network namespace, tap device), wrk and curl (scripts/install-deps.sh).
# Exit status: 0 all measured, 1 a system failed to build, boot or answer (its console is
# printed), 2 bad options.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench-tcp: error: $*" >&2; exit 1; }
bad_option() { echo "bench-tcp: $* (see --help)" >&2; exit 2; }
say() { echo "bench-tcp: $*" >&2; }
show_console() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1" >&2 2>/dev/null || true; }

duration=10
cpus="${CPUS:-3}"
mem=256M
only=""
path=/index.html
connections=16
wrk_threads=2
connectors=8
mebibytes=64
ready_timeout=120
swiglet_cmdline=""
linux_offloads=on
build=1
number='^[0-9]+([.][0-9]+)?$'
whole='^[1-9][0-9]*$'
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --no-build) build=0; shift ;;
        --duration|--cpus|--mem|--only|--path|--connections|--wrk-threads|--connectors|--mebibytes|--ready-timeout|--swiglet-cmdline|--linux-offloads)
            [[ $# -ge 2 ]] || bad_option "$1 needs a value"
            case "$1" in
                --duration) duration="$2"; [[ $duration =~ ^[1-9][0-9]*$ ]] || bad_option "--duration '$2' is not a whole number of seconds (wrk needs one)" ;;
                --cpus) cpus="$2" ;;
                --mem) mem="$2"; [[ $mem =~ ^[0-9]+[MG]$ ]] || bad_option "--mem '$2' is not like 256M or 1G" ;;
                --only) only="$2"; [[ $only == swiglet || $only == linux ]] || bad_option "--only takes swiglet or linux, not '$2'" ;;
                --path) path="$2"; [[ $path =~ ^/[A-Za-z0-9._~/%-]*$ ]] || bad_option "--path '$2' is not a URL path starting with /" ;;
                --connections) connections="$2"; [[ $connections =~ $whole && $connections -le 10000 ]] || bad_option "--connections '$2' is not a number from 1 to 10000" ;;
                --wrk-threads) wrk_threads="$2"; [[ $wrk_threads =~ $whole && $wrk_threads -le 64 ]] || bad_option "--wrk-threads '$2' is not a number from 1 to 64" ;;
                --connectors) connectors="$2"; [[ $connectors =~ $whole && $connectors -le 256 ]] || bad_option "--connectors '$2' is not a number from 1 to 256" ;;
                --mebibytes) mebibytes="$2"; [[ $mebibytes =~ $whole && $mebibytes -le 16384 ]] || bad_option "--mebibytes '$2' is not a number from 1 to 16384" ;;
                --ready-timeout) ready_timeout="$2"; [[ $ready_timeout =~ $whole ]] || bad_option "--ready-timeout '$2' is not a whole number of seconds" ;;
                --swiglet-cmdline) swiglet_cmdline="$2"; [[ $swiglet_cmdline != *,* ]] || bad_option "--swiglet-cmdline cannot contain ',' (fw_cfg string syntax)" ;;
                --linux-offloads) linux_offloads="$2"; [[ $linux_offloads == on || $linux_offloads == off ]] || bad_option "--linux-offloads takes on or off, not '$2'" ;;
            esac
            shift 2 ;;
        *) bad_option "unknown option '$1'" ;;
    esac
done
[[ $cpus =~ ^[0-9]+$ && $cpus -ge 1 && $cpus -le 64 ]] || bad_option "CPUS/--cpus '$cpus' is not a number from 1 to 64"
(( wrk_threads <= connections )) || bad_option "--wrk-threads ($wrk_threads) cannot exceed --connections ($connections)"

source scripts/bench-common.sh
bench_check_machine wrk curl
targets=(swiglet linux)
[[ -n $only ]] && targets=("$only")
bench_prepare swiglet-tcp

# 1. Build what is needed.
bench_build

# 2. The namespace. The connection-rate test closes on the client side, so TIME-WAIT piles up
#    there: 60 s of it at thousands of connections a second is more than one address's ports,
#    so tcp-connect spreads its connections over 32 more addresses of the tap; the port range
#    is wide and TIME-WAIT ports may be reused (with timestamps, RFC 7323) besides.
bench_create_namespace
CONNECT_SOURCES=10.0.2.100-10.0.2.131
for host in $(seq 100 131); do ip netns exec "$NS" ip addr add "10.0.2.$host/24" dev tap0; done
ip netns exec "$NS" sysctl -q -w net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000" >/dev/null 2>&1 \
    || say "warning: could not set tcp_tw_reuse/ip_local_port_range in the namespace (tcp-connect may run out of ports)"

# wrk's latency (e.g. "130.00us", "3.02ms", "1.10s") in microseconds.
to_microseconds() {
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else if (v ~ /m$/) m = 60e6; else if (v ~ /s$/) m = 1e6; else m = 1; printf "%.0f", n * m }'
}

# 3. One system: boot, wait for ready, measure, stop. Writes $OUT/tcp-NAME.txt (key=value).
run_target() {  # run_target NAME READY_PATTERN QEMU_ARGS...
    local name="$1" ready="$2"; shift 2
    local log="$OUT/$name-console.log" results="$OUT/tcp-$name.txt" status=0
    rm -f "$results"
    bench_boot "$name" "$ready" "$@" || return 1

    local url="http://$GUEST$path"
    if ! ip netns exec "$NS" curl -sf --max-time 10 -o "$OUT/$name-page" "$url"; then
        say "$name: GET $url failed (curl status $?). Console:"
        show_console "$log"
        failed[$name]="did not serve $url"; stop_qemu; return 1
    fi
    echo "page_bytes=$(stat -c %s "$OUT/$name-page")" >>"$results"

    say "$name: wrk -t$wrk_threads -c$connections -d${duration}s --latency $url"
    local wrk_out="$OUT/$name-wrk.txt"
    if ip netns exec "$NS" wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency "$url" >"$wrk_out" 2>&1; then
        cat "$wrk_out" >&2
        local rps p50 p99 errors
        rps="$(awk '/^Requests\/sec:/ { print $2 }' "$wrk_out")"
        p50="$(awk '$1 == "50%" { print $2 }' "$wrk_out")"
        p99="$(awk '$1 == "99%" { print $2 }' "$wrk_out")"
        errors="$(awk '/Non-2xx or 3xx responses:/ { print $NF } /Socket errors:/ { print "socket:" $0 }' "$wrk_out" | tr '\n' ' ')"
        if [[ -n $rps && -n $p50 && -n $p99 ]]; then
            { echo "http_requests_per_s=$rps"; echo "http_p50_us=$(to_microseconds "$p50")"; echo "http_p99_us=$(to_microseconds "$p99")"; } >>"$results"
        else
            say "$name: could not read wrk's output (above)"; status=1
        fi
        [[ -z $errors ]] || say "$name: wrk reported errors: $errors"
    else
        cat "$wrk_out" >&2; say "$name: wrk failed"; status=1
    fi

    say "$name: swiglet-bench tcp-connect -c $connectors -d $duration --sources $CONNECT_SOURCES $GUEST:7"
    local line tool_out="$OUT/$name-tcp-tools.txt"
    : >"$tool_out"
    if ip netns exec "$NS" "$BENCH" tcp-connect -c "$connectors" -d "$duration" -w 1 --sources "$CONNECT_SOURCES" "$GUEST:7" >>"$tool_out" 2>&1 \
        && line="$(grep '^result: mode=tcp-connect' "$tool_out")"; then
        grep 'tcp-connect' "$tool_out" >&2
        for field in conns_per_s p50_us p99_us failed; do
            echo "connect_$field=$(sed -n "s/.* $field=\([^ ]*\).*/\1/p" <<<"$line")" >>"$results"
        done
    else
        cat "$tool_out" >&2; say "$name: tcp-connect failed"; status=1
    fi

    say "$name: swiglet-bench tcp-echo --mebibytes $mebibytes $GUEST:7"
    if ip netns exec "$NS" "$BENCH" tcp-echo --mebibytes "$mebibytes" "$GUEST:7" >>"$tool_out" 2>&1 \
        && line="$(grep '^result: mode=tcp-echo' "$tool_out")"; then
        grep 'tcp-echo' "$tool_out" >&2
        echo "echo_mib_per_s=$(sed -n 's/.* mib_per_s=\([^ ]*\).*/\1/p' <<<"$line")" >>"$results"
    else
        grep -v 'tcp-connect' "$tool_out" >&2; say "$name: tcp-echo failed"; status=1
    fi

    if [[ $status != 0 ]]; then
        say "$name: a measurement failed. Console:"
        show_console "$log"
        failed[$name]="a measurement failed (see above; console: $log)"
    fi
    stop_qemu
    [[ $status == 0 ]]
}

offloads=()
if [[ $linux_offloads == off ]]; then
    for feature in csum guest_csum gso host_tso4 host_tso6 host_ecn host_ufo guest_tso4 guest_tso6 guest_ecn guest_ufo mrg_rxbuf; do
        offloads+=(-global "virtio-net-pci.$feature=off")
    done
fi
bench_run_targets "${offloads[@]}"

# 4. The comparison: one row per metric, the ratio Swiglet / Linux.
value() { [[ -s $1 ]] && sed -n "s/^$2=//p" "$1" | tail -n 1 || true; }
echo
swiglet_file="$OUT/tcp-swiglet.txt"
linux_file="$OUT/tcp-linux.txt"
if [[ $only == swiglet && -s $linux_file ]]; then
    say "baseline: Linux results of an earlier run ($linux_file, $(date -r "$linux_file" '+%F %T'))"
fi
printf '%-40s %14s %14s %10s\n' "TCP (QEMU TCG, -smp $cpus, tap; Linux offloads $linux_offloads)" swiglet linux ratio
for row in "http_requests_per_s|HTTP keep-alive req/s (wrk -c$connections)|higher" \
           "http_p50_us|HTTP latency p50 (µs)|lower" \
           "http_p99_us|HTTP latency p99 (µs)|lower" \
           "connect_conns_per_s|new connections/s (-c $connectors)|higher" \
           "connect_p50_us|connection time p50 (µs)|lower" \
           "connect_p99_us|connection time p99 (µs)|lower" \
           "echo_mib_per_s|TCP echo, 1 connection (MiB/s)|higher"; do
    IFS='|' read -r key label better <<<"$row"
    s="$(value "$swiglet_file" "$key")"; l="$(value "$linux_file" "$key")"
    ratio="-"
    if [[ -n $s && -n $l ]]; then
        ratio="$(awk -v s="$s" -v l="$l" 'BEGIN { if (l + 0 > 0) printf "%.2f", s / l; else print "-" }')"
    fi
    printf '%-40s %14s %14s %10s\n' "$label" "${s:--}" "${l:--}" "$ratio"
done
echo "(ratio = swiglet / linux; for req/s, connections/s and MiB/s above 1 is better, for latencies below 1)"
status=0
for target in "${targets[@]}"; do
    if [[ -n ${failed[$target]:-} ]]; then
        say "$target: FAILED: ${failed[$target]}"
        status=1
    fi
done
exit $status
