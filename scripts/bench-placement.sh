#!/usr/bin/env bash
# Placement benchmark: the same Swiglet image, with the same number of virtual CPUs,
# in net-mode=dedicated (the default: a polling network core) against net-mode=symmetric (no
# network core; the stack runs in the kernel of whichever CPU takes the NIC's interrupt or
# enters the kernel), in one invocation.
#
#   sudo scripts/bench-placement.sh [--repeat N] [--cpus N] [--duration S] [--quick]
#                                   [--connections LIST] [--udp-windows LIST] [--udp-size B]
#                                   [--path URL_PATH] [--cmdline "OPTIONS"] [--no-build] ...
#
# Each repetition boots the image once per mode and placement group, alternating the modes
# (dedicated, symmetric, dedicated, symmetric, ...) so that drift on a busy host hits both
# alike, on a tap device in a network namespace (scripts/bench-common.sh), and measures points:
#   http-cN   HTTP/1.1 keep-alive GETs of URL_PATH by wrk -tT -cN --latency (default N = 16
#             and 256): requests/s, p50, p99. One GET is checked first with curl (status 200,
#             body as long as the file in site/). Any non-2xx/3xx answer or socket error
#             (connect, read, write, timeout) fails the point: it gets no rate.
#   udp-wN    UDP echo of B-byte datagrams (default 64) to port 7, served by the udp-echo
#             program (not the network core's built-in echo: checked on the console and in
#             the channel counters), N requests outstanding (default 1 and 32), through
#             swiglet-bench, which checks every reply byte for byte: round trips/s, p50, p99.
#             Any lost, late, mismatched, refused or unexpected datagram fails the point.
# Around each point the kernel's intrusion meter is read from /metrics (port 9090): for every
# CPU the deltas of swiglet_cpu_{interrupts,ipis,timer_interrupts,system_calls}_total and of
# swiglet_cpu_{user,kernel,network,idle} times over the elapsed (host) time. For the
# application CPU that serves the point:
#   app kept %        = 100 × (1 − Δnetwork time / elapsed): the time the kernel did not take
#                       for the network stack;
#   app kept strict % = 100 × (1 − (Δkernel time − Δidle time) / elapsed): the time the kernel
#                       took for nothing at all — interrupts, system calls, the network — only
#                       when the kernel counts the program's sleep in `wait` (idle, which kernel
#                       time includes; swiglet_cpu_idle_seconds_total, since commit 7e02d23).
# With fewer than 4 CPUs the HTTP points and the UDP points need two boots (with 2 CPUs the
# one application CPU runs `http` by default, and `run=udp-echo@1` for UDP); with 4 or more
# the default programs (http, tcp-echo, udp-echo) serve both from one boot.
#
# Results go to results/placement/DATE-COMMIT/: raw.csv (one row per measured point and run),
# intrusion.csv (one row per CPU per point and run), summary.csv (median, min, max per mode and
# the dedicated/symmetric ratio of the medians), metadata.txt (commit, dirty files, QEMU, host
# CPU, load, the exact QEMU command lines), the consoles and the wrk and swiglet-bench outputs.
# A Markdown table is printed at the end.
#
# Options:
#   --repeat N          repetitions of each mode (default 3)
#   --cpus N            virtual CPUs, the same in both modes (default 2; at least 2)
#   --duration S        seconds of each wrk and UDP measurement (default 10)
#   --quick             one short point: http-c16, 3 s, one repetition (other options win)
#   --connections LIST  wrk connection counts, comma-separated (default 16,256)
#   --wrk-threads N     wrk threads (default 2)
#   --udp-windows LIST  UDP requests outstanding, comma-separated (default 1,32; empty: none)
#   --udp-size B        UDP payload bytes (default 64)
#   --path URL_PATH     the page wrk fetches (default /index.html; must exist in site/)
#   --mem SIZE          guest memory (default 256M)
#   --cmdline "OPTS"    more boot options for both modes (no ','; not net-mode=)
#   --ready-timeout S   how long a guest may take to print its ready line (default 120)
#   --image PATH        measure this ISO instead of building (make image) images/swiglet.iso
#   --commit REV        build the image from a clean export of commit REV (git archive into
#                       .build-bench-placement/COMMIT, its own make image; reused when already built)
#                       instead of the working tree, so uncommitted work stays out of it
#   --results DIR       where the DATE-COMMIT directory is made (default results/placement)
#   --no-build          do not run make image nor build swiglet-bench (use what is there)
#   --summarize DIR     measure nothing: recompute DIR's summary.csv and table.md from its
#                       raw.csv (e.g. after changing how the summary is made); no root needed
#   -h, --help          this text
# Needs root (network namespace, tap device), wrk and curl. Exit status: 0 every point
# measured, 1 a point or a boot failed (the rest is still measured and written), 2 bad options.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,66p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench-placement: error: $*" >&2; exit 1; }
bad_option() { echo "bench-placement: $* (see --help)" >&2; exit 2; }
say() { echo "bench-placement: $*" >&2; }
show_console() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1" >&2 2>/dev/null || true; }

repeat=3
cpus=2
duration=10
connections_list=16,256
wrk_threads=2
udp_windows=1,32
udp_size=64
path=/index.html
mem=256M
extra_cmdline=""
ready_timeout=120
image=""
commit=""
summarize_dir=""
results_root=results/placement
build=1
quick=0
declare -A given=()
whole='^[1-9][0-9]*$'
list='^[1-9][0-9]*(,[1-9][0-9]*)*$'
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --no-build) build=0; shift ;;
        --quick) quick=1; shift ;;
        --repeat|--cpus|--duration|--connections|--wrk-threads|--udp-windows|--udp-size|--path|--mem|--cmdline|--ready-timeout|--image|--commit|--results|--summarize)
            [[ $# -ge 2 ]] || bad_option "$1 needs a value"
            given[$1]=1
            case "$1" in
                --repeat) repeat="$2"; [[ $repeat =~ $whole && $repeat -le 100 ]] || bad_option "--repeat '$2' is not a number from 1 to 100" ;;
                --cpus) cpus="$2"; [[ $cpus =~ $whole && $cpus -ge 2 && $cpus -le 64 ]] || bad_option "--cpus '$2' is not a number from 2 to 64 (one CPU leaves no application CPU)" ;;
                --duration) duration="$2"; [[ $duration =~ $whole && $duration -le 3600 ]] || bad_option "--duration '$2' is not a whole number of seconds from 1 to 3600" ;;
                --connections) connections_list="$2"; [[ $connections_list =~ $list ]] || bad_option "--connections '$2' is not a comma-separated list of numbers" ;;
                --wrk-threads) wrk_threads="$2"; [[ $wrk_threads =~ $whole && $wrk_threads -le 64 ]] || bad_option "--wrk-threads '$2' is not a number from 1 to 64" ;;
                --udp-windows) udp_windows="$2"; [[ -z $udp_windows || $udp_windows =~ $list ]] || bad_option "--udp-windows '$2' is not a comma-separated list of numbers" ;;
                --udp-size) udp_size="$2"; [[ $udp_size =~ $whole && $udp_size -ge 16 && $udp_size -le 1472 ]] || bad_option "--udp-size '$2' is not a number from 16 to 1472" ;;
                --path) path="$2"; [[ $path =~ ^/[A-Za-z0-9._~/%-]*$ ]] || bad_option "--path '$2' is not a URL path starting with /" ;;
                --mem) mem="$2"; [[ $mem =~ ^[0-9]+[MG]$ ]] || bad_option "--mem '$2' is not like 256M or 1G" ;;
                --cmdline) extra_cmdline="$2"
                    [[ $extra_cmdline != *,* ]] || bad_option "--cmdline cannot contain ',' (fw_cfg string syntax)"
                    [[ " $extra_cmdline" != *" net-mode="* ]] || bad_option "--cmdline must not set net-mode= (the script sets it)" ;;
                --ready-timeout) ready_timeout="$2"; [[ $ready_timeout =~ $whole ]] || bad_option "--ready-timeout '$2' is not a whole number of seconds" ;;
                --image) image="$2"; [[ -s $image ]] || bad_option "--image '$2' is not a file" ;;
                --commit) commit=$(git rev-parse --verify --quiet "$2^{commit}") || bad_option "--commit '$2' is not a commit of this repository" ;;
                --summarize) summarize_dir="$2"; [[ -d $summarize_dir ]] || bad_option "--summarize '$2' is not a directory" ;;
                --results) results_root="$2"; [[ -n $results_root ]] || bad_option "--results needs a directory" ;;
            esac
            shift 2 ;;
        *) bad_option "unknown option '$1'" ;;
    esac
done
[[ -z $image || -z $commit ]] || bad_option "--image and --commit exclude each other"
if [[ $quick == 1 ]]; then
    [[ -n ${given[--repeat]:-} ]] || repeat=1
    [[ -n ${given[--duration]:-} ]] || duration=3
    [[ -n ${given[--connections]:-} ]] || connections_list=16
    [[ -n ${given[--udp-windows]:-} ]] || udp_windows=""
fi
IFS=, read -r -a connection_counts <<<"$connections_list"
udp_window_list=()
[[ -z $udp_windows ]] || IFS=, read -r -a udp_window_list <<<"$udp_windows"
for c in "${connection_counts[@]}"; do
    (( wrk_threads <= c )) || bad_option "--wrk-threads ($wrk_threads) cannot exceed a connection count ($c)"
    (( c <= 10000 )) || bad_option "--connections: $c is more than 10000"
done
for w in "${udp_window_list[@]}"; do (( w <= 1024 )) || bad_option "--udp-windows: $w is more than 1024"; done
[[ -f site$path ]] || bad_option "--path '$path' is not a file of site/ (site$path)"
expected_bytes=$(stat -c %s "site$path")

# Median, min and max; the summary and table of a results directory (also --summarize).
median_min_max() {  # numbers on stdin -> "median min max" (empty fields if none)
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "  "; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.10g %.10g %.10g\n", m, v[1], v[NR] }'
}

# Per point and metric, median/min/max of each mode over the runs that count
#    (rates and latencies: points that passed; app kept and counters: every point with both
#    snapshots), the ratio of the medians, and the paired ratios (dedicated/symmetric of the
#    same repetition, both passed), which drift on the host affects less.
summarize() {
    local SUMMARY="$RESULTS/summary.csv" table="$RESULTS/table.md" point row metric_name only_ok
    local dm dmin dmax sm smin smax dn sn ratio pm pmin pmax pn
    echo "point,metric,dedicated_median,dedicated_min,dedicated_max,dedicated_n,symmetric_median,symmetric_min,symmetric_max,symmetric_n,ratio_dedicated_over_symmetric,failed_dedicated,failed_symmetric,paired_ratio_median,paired_ratio_min,paired_ratio_max,paired_n" >"$SUMMARY"
    column_of() { head -n 1 "$RAW" | tr ',' '\n' | grep -nx "$1" | cut -d: -f1; }
    values() {  # values POINT MODE COLUMN ONLY_OK
        local col; col=$(column_of "$3")
        awk -F, -v p="$1" -v m="$2" -v c="$col" -v ok="$4" 'NR > 1 && $3 == p && $2 == m && $c != "" && (ok == 0 || $5 == "ok") { print $c }' "$RAW"
    }
    paired() {  # paired POINT COLUMN ONLY_OK: dedicated/symmetric per repetition
        local col; col=$(column_of "$2")
        awk -F, -v p="$1" -v c="$col" -v ok="$3" 'NR > 1 && $3 == p && $c != "" && (ok == 0 || $5 == "ok") { v[$2, $1] = $c; reps[$1] = 1 }
            END { for (r in reps) if (((("dedicated") SUBSEP r) in v) && ((("symmetric") SUBSEP r) in v) && v["symmetric", r] + 0 != 0)
                      printf "%.4f\n", v["dedicated", r] / v["symmetric", r] }' "$RAW"
    }
    failures() { awk -F, -v p="$1" -v m="$2" 'NR > 1 && $3 == p && $2 == m && $5 != "ok" { n++ } END { print n + 0 }' "$RAW"; }
    local metrics_rows=("rate_per_s|1" "p50_us|1" "p99_us|1" "app_kept_pct|0" "app_kept_strict_pct|0" "app_network_pct|0" "app_idle_pct|0" "app_user_pct|0" "app_interrupts_per_s|0" "worst_app_kept_pct|0" "cpu0_network_pct|0" "tcp_table_full|0" "tcp_retransmissions|0" "transmit_ring_full|0" "client_tcp_retransmissions|0")
    for point in "${points[@]}"; do
        for row in "${metrics_rows[@]}"; do
            IFS='|' read -r metric_name only_ok <<<"$row"
            column_of "$metric_name" >/dev/null || continue   # an older raw.csv without it
            read -r dm dmin dmax <<<"$(values "$point" dedicated "$metric_name" "$only_ok" | median_min_max)"
            read -r sm smin smax <<<"$(values "$point" symmetric "$metric_name" "$only_ok" | median_min_max)"
            read -r pm pmin pmax <<<"$(paired "$point" "$metric_name" "$only_ok" | median_min_max)"
            dn=$(values "$point" dedicated "$metric_name" "$only_ok" | wc -l); sn=$(values "$point" symmetric "$metric_name" "$only_ok" | wc -l)
            pn=$(paired "$point" "$metric_name" "$only_ok" | wc -l)
            ratio=$(awk -v d="${dm:-}" -v s="${sm:-}" 'BEGIN { if (d != "" && s != "" && s + 0 != 0) printf "%.3f", d / s }')
            echo "$point,$metric_name,${dm:-},${dmin:-},${dmax:-},$dn,${sm:-},${smin:-},${smax:-},$sn,$ratio,$(failures "$point" dedicated),$(failures "$point" symmetric),${pm:-},${pmin:-},${pmax:-},$pn" >>"$SUMMARY"
        done
    done

    # The Markdown table.
    fmt() {  # fmt METRIC MEDIAN MIN MAX N
        [[ -n $2 ]] || { echo "—"; return; }
        awk -v m="$1" -v a="$2" -v lo="$3" -v hi="$4" -v n="$5" -v reps="$repeat" '
            function grouped(x,   s, r) { s = sprintf("%.0f", x); r = ""
                while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
                return s r }
            function f(x) {
                if (m ~ /pct/) return sprintf("%.1f%%", x)
                if (m ~ /_us/) return (x >= 10000 ? sprintf("%.1f ms", x / 1000) : sprintf("%.0f µs", x))
                return grouped(x) }
            BEGIN { s = f(a); if (n > 1) s = s " (" f(lo) "–" f(hi) ")"; if (n < reps) s = s " [" n "/" reps "]"; print s }'
    }
    local label d s r fd fs
    {
        echo "Placement benchmark, $run_date, commit $short_commit$([[ $dirty == yes ]] && echo " (working tree dirty)"), -smp $cpus, ${duration} s per point, $repeat repetitions interleaved; median (min–max) over the repetitions, [passed/repetitions] when not all passed; ratio of the medians, and in parentheses the range of the per-repetition ratios:"
        echo
        echo "| point | metric | dedicated | symmetric | dedicated / symmetric |"
        echo "| --- | --- | --- | --- | --- |"
        while IFS=, read -r point metric_name dm dmin dmax dn sm smin smax sn ratio fd fs pm pmin pmax pn; do
            [[ $point != point ]] || continue
            case $metric_name in
                rate_per_s) label=$([[ $point == http-* ]] && echo "requests/s" || echo "round trips/s") ;;
                p50_us) label="p50 latency" ;; p99_us) label="p99 latency" ;;
                app_kept_pct) label="app CPU kept (1 − network time)" ;;
                app_kept_strict_pct) [[ -n $dm$sm ]] || continue; label="app CPU kept (1 − kernel time not asleep)" ;;
                app_user_pct) label="app CPU in ring 3" ;;
                app_interrupts_per_s) label="app CPU interrupts/s" ;;
                *) continue ;;
            esac
            d=$(fmt "$metric_name" "$dm" "$dmin" "$dmax" "$dn"); s=$(fmt "$metric_name" "$sm" "$smin" "$smax" "$sn")
            if [[ $metric_name == rate_per_s ]]; then
                (( fd == 0 )) || d="$d, $fd failed"; (( fs == 0 )) || s="$s, $fs failed"
            fi
            r="${ratio:-—}"
            [[ -z $ratio || ${pn:-0} -lt 2 ]] || r="$r ($(printf '%.2f' "$pmin")–$(printf '%.2f' "$pmax"))"
            printf '| %s | %s | %s | %s | %s |\n' "$point" "$label" "$d" "$s" "$r"
        done <"$SUMMARY"
    } >"$table"
    echo
    cat "$table"
    echo
    echo "Targets: dedicated ≥ 1.3× symmetric on network-heavy loads; application CPUs keep ≥ 99% of their time in dedicated mode."
    awk -F, 'function verdict(median, min) { return min >= 99 ? " (meets 99% in every run)" : median >= 99 ? " (median meets 99%, not every run)" : " (below 99%)" }
             NR > 1 && $2 == "rate_per_s" { printf "  %-10s rate ratio %s%s\n", $1, ($11 == "" ? "—" : $11), ($11 == "" ? " (no passing runs in one mode)" : ($11 >= 1.3 ? " (meets 1.3×)" : " (below 1.3×)")) }
             NR > 1 && $2 == "app_kept_pct" && $3 != "" { printf "  %-10s dedicated app CPU kept %.2f%% of its time from the network (min %.2f%%)%s\n", $1, $3, $4, verdict($3, $4) }
             NR > 1 && $2 == "app_kept_strict_pct" && $3 != "" { printf "  %-10s dedicated app CPU kept %.2f%% of its time from all kernel work (min %.2f%%)%s\n", $1, $3, $4, verdict($3, $4) }' "$SUMMARY"
}
if [[ -n $summarize_dir ]]; then
    # Recompute summary.csv and table.md of an earlier run from its raw.csv and metadata.txt.
    RESULTS="${summarize_dir%/}"; RAW="$RESULTS/raw.csv"
    [[ -s $RAW && -s $RESULTS/metadata.txt ]] || bad_option "--summarize: $RESULTS has no raw.csv and metadata.txt"
    meta() { sed -n "s/^$1: //p" "$RESULTS/metadata.txt" | head -n 1; }
    options_line=$(meta options)
    option_value() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$options_line"; }
    repeat=$(option_value repeat); cpus=$(option_value cpus); duration=$(option_value duration); duration=${duration%s}
    short_commit=$(meta commit | cut -c1-7); run_date=$(meta started | cut -d' ' -f1)
    dirty=$(meta dirty | cut -d' ' -f1)
    read -r -a points <<<"$(meta points)"
    summarize
    exit 0
fi

source scripts/bench-common.sh
bench_check_machine wrk curl
targets=(swiglet)
bench_prepare swiglet-place
# `failed` (bench-common) is per boot name here; the points keep their own status.

# 1. What is measured: the image (copied, so that a rebuild meanwhile does not change it under
#    the run), the commit it comes from, swiglet-bench.
head_commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
short_commit=$(git rev-parse --short=7 HEAD 2>/dev/null || echo unknown)
dirty_files=$(git status --porcelain 2>/dev/null || true)
tree_head=$head_commit
stamp=$(date +%Y-%m-%d-%H%M%S)
image_note=""
if [[ -n $image ]]; then
    image_note="given with --image ($image, modified $(date -r "$image" '+%F %T'))"
fi
if [[ -n $commit ]]; then
    # A clean export of the commit, built on its own (nothing of the working tree gets in).
    export_dir=".build-bench-placement/$commit"
    if [[ ! -s $export_dir/images/swiglet.iso ]]; then
        say "building the image of commit ${commit:0:12} in $export_dir (git archive, make image; log: $export_dir/make-image.log)"
        rm -rf "$export_dir" && mkdir -p "$export_dir"
        git archive "$commit" | tar -x -C "$export_dir"
        (cd "$export_dir" && make image) >"$export_dir.make-image.log" 2>&1 \
            || { tail -n 40 "$export_dir.make-image.log" >&2; die "make image of commit $commit failed (log: $export_dir.make-image.log)"; }
        mv "$export_dir.make-image.log" "$export_dir/make-image.log"
    else
        say "using the image of commit ${commit:0:12} built earlier in $export_dir"
    fi
    image="$export_dir/images/swiglet.iso"
    image_note="built by make image from a clean export (git archive) of commit $commit in $export_dir"
    head_commit=$commit; short_commit=${commit:0:7}; dirty_files=""
fi
if [[ $build == 1 ]]; then
    if [[ -n $image ]]; then
        # Only swiglet-bench: the image is given.
        targets=()
    fi
    bench_build
    targets=(swiglet)
    if [[ -z $image ]]; then
        if [[ -n ${failed[swiglet]:-} ]]; then
            [[ -s images/swiglet.iso ]] || die "make image failed and there is no images/swiglet.iso to fall back on"
            say "WARNING: make image failed (${failed[swiglet]}); measuring the last built images/swiglet.iso ($(date -r images/swiglet.iso '+%F %T')), whose commit is not known for sure"
            image_note="make image FAILED at $head_commit; used the last built images/swiglet.iso (modified $(date -r images/swiglet.iso '+%F %T'))"
            unset 'failed[swiglet]'
        else
            image_note="built by make image at $head_commit$([[ -n $dirty_files ]] && echo " with uncommitted changes in the working tree (listed below)")"
        fi
        image=images/swiglet.iso
    fi
else
    [[ -x $BENCH ]] || die "$BENCH is missing (run without --no-build)"
    if [[ -z $image ]]; then
        image=images/swiglet.iso
        [[ -s $image ]] || die "$image is missing (run without --no-build)"
        image_note="images/swiglet.iso as found (--no-build; modified $(date -r "$image" '+%F %T'); HEAD was $head_commit)"
    fi
fi
RESULTS="$results_root/$stamp-$short_commit"
mkdir -p "$RESULTS"
ISO=images/bench-placement.iso
if [[ $(realpath "$image") != $(realpath -m "$ISO") ]]; then cp "$image" "$ISO.tmp.$$" && mv "$ISO.tmp.$$" "$ISO"; fi
iso_sha=$(sha256sum "$ISO" | cut -c1-16)
OUT="$RESULTS"   # bench_boot keeps the consoles in $OUT

# 2. The namespace (bench-common): tap0 with the gateway's address 10.0.2.2.
bench_create_namespace

# 3. Helpers.
in_ns() { ip netns exec "$NS" "$@"; }
now_ns() { date +%s%N; }
load1() { cut -d' ' -f1 /proc/loadavg; }
# wrk's latency (130.00us, 3.02ms, 1.10s, 1.00m) in microseconds.
to_microseconds() {
    awk -v v="$1" 'BEGIN { n = v + 0; m = 1
        if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else if (v ~ /m$/) m = 60e6; else if (v ~ /s$/) m = 1e6
        printf "%.0f", n * m }'
}

# Fetches /metrics and keeps the lines the benchmark reads (CPU meter, TCP, channels) in FILE;
# sets `snapshot_time` to the middle of the request (host nanoseconds). Retries a few times.
metrics_snapshot() {  # metrics_snapshot FILE
    local file="$1" try start end
    for try in 1 2 3 4 5; do
        start=$(now_ns)
        if in_ns curl -sf --max-time 5 "http://$GUEST:9090/metrics" -o "$file.all" 2>/dev/null \
            && grep -Eq '^swiglet_cpu_network_(nano)?seconds_total' "$file.all"; then
            end=$(now_ns)
            snapshot_time=$(( (start + end) / 2 ))
            # Per-context series (context="N") repeat the sums with one context: left out.
            grep -E '^swiglet_(cpu|tcp|channel|drops)_' "$file.all" | grep -v 'context="' >"$file" || true
            rm -f "$file.all"
            return 0
        fi
        sleep 1
    done
    rm -f "$file.all"
    return 1
}
# The value of one series in a snapshot (0 if absent), e.g. metric FILE 'swiglet_tcp_drops_total{reason="tableFull"}'.
metric() { awk -v k="$2" '$1 == k { print $NF; found = 1 } END { if (!found) print 0 }' "$1"; }
# The sum of a family's series (PREFIX like 'name{'), leaving out per-context series
# (context="N"), which repeat the unlabelled sums when there are several network contexts.
metric_sum() { awk -v p="$2" 'index($1, p) == 1 && $1 !~ /context="/ { s += $NF } END { printf "%.0f\n", s }' "$1"; }
# The load generator's side: TCP segments the namespace's kernel sent again (SYNs included).
client_retransmissions() {
    in_ns awk '$1 == "Tcp:" { if (!c) { for (i = 2; i <= NF; i++) if ($i == "RetransSegs") c = i } else print $c }' /proc/net/snmp
}
open_connections() {  # TCP connections in the table other than CLOSED
    awk 'index($1, "swiglet_tcp_connections{") == 1 && $1 !~ /CLOSED|context="/ { s += $NF } END { print s + 0 }' "$1"
}
# One row per CPU of intrusion deltas between two snapshots:
# cpu role interrupts ipis timer syscalls user_ns kernel_ns network_ns idle_ns (NA: no idle counter)
intrusion_rows() {  # intrusion_rows BEFORE AFTER
    awk '
        function label(line, name) {   # the value of label NAME in a series line
            if (!match(line, "[{,]" name "=\"[^\"]*\"")) return ""
            return substr(line, RSTART + length(name) + 3, RLENGTH - length(name) - 4)
        }
        # Times come as swiglet_cpu_X_nanoseconds_total (integers) or, since the metrics
        # switched to seconds, swiglet_cpu_X_seconds_total (nine decimals): both become ns.
        function parse(line,   name, cpu) {
            if (line !~ /^swiglet_cpu_/) return 0
            name = line; sub(/[{ ].*/, "", name); cpu = label(line, "cpu")
            if (cpu == "") return 0
            value = $NF
            if (name ~ /_seconds_total$/) { sub(/_seconds_total$/, "_nanoseconds_total", name); value = value * 1e9 }
            if (name == "swiglet_cpu_idle_nanoseconds_total") has_idle = 1
            key = name SUBSEP cpu; role[cpu] = label(line, "role"); return 1
        }
        FNR == NR { if (parse($0)) before[key] = value; next }
        { if (parse($0)) after[key] = value }
        END {
            n = split("interrupts ipis timer_interrupts system_calls user_nanoseconds kernel_nanoseconds network_nanoseconds idle_nanoseconds", names, " ")
            for (cpu = 0; cpu < 256; cpu++) {
                if (!((cpu "") in role)) continue
                line = cpu " " role[cpu]
                for (i = 1; i <= n; i++) {
                    k = "swiglet_cpu_" names[i] "_total" SUBSEP cpu
                    line = line " " ((names[i] == "idle_nanoseconds" && !has_idle) ? "NA" : sprintf("%.0f", after[k] - before[k]))
                }
                print line
            }
        }' "$1" "$2"
}

# The CPU a program runs on, from the console ("programs: NAME loaded ..., starting on cpuN").
program_cpu() {  # program_cpu CONSOLE NAME
    tr -d '\r' <"$1" | sed -n "s/.*programs: $2 loaded .*starting on cpu\([0-9]*\).*/\1/p" | head -n 1
}
wait_console() {  # wait_console CONSOLE PATTERN SECONDS
    local started=$SECONDS
    until tr -d '\r' <"$1" 2>/dev/null | grep -q "$2"; do
        (( SECONDS - started < $3 )) || return 1
        kill -0 "$qemu_pid" 2>/dev/null || return 1
        sleep 0.2
    done
}

# 4. The plan: points, boots, runs.
points=()
for c in "${connection_counts[@]}"; do points+=("http-c$c"); done
for w in "${udp_window_list[@]}"; do points+=("udp-w$w"); done
# Boot groups: NAME|EXTRA_BOOT_OPTIONS|POINTS (space-separated)
http_points=""; udp_points=""
for p in "${points[@]}"; do
    case $p in http-*) http_points+="$p " ;; udp-*) udp_points+="$p " ;; esac
done
groups=()
if (( cpus >= 4 )) || [[ -z $udp_points ]]; then
    groups=("all||${http_points}${udp_points}")
else
    [[ -z $http_points ]] || groups+=("http||$http_points")
    groups+=("udp|run=udp-echo@1|$udp_points")
fi
[[ -n $http_points || -n $udp_points ]] || bad_option "nothing to measure (no connections and no UDP windows)"
modes=(dedicated symmetric)
total_points=$(( repeat * ${#modes[@]} * ${#points[@]} ))

RAW="$RESULTS/raw.csv"
INTRUSION="$RESULTS/intrusion.csv"
META="$RESULTS/metadata.txt"
echo "rep,mode,point,boot,status,errors,error_detail,rate_per_s,p50_us,p99_us,requests,app_program,app_cpu,app_kept_pct,app_network_pct,app_user_pct,app_kernel_pct,app_idle_pct,app_kept_strict_pct,app_interrupts_per_s,app_ipis_per_s,app_syscalls_per_s,worst_app_cpu,worst_app_kept_pct,cpu0_network_pct,tcp_table_full,tcp_retransmissions,transmit_ring_full,client_tcp_retransmissions,open_connections_before,elapsed_s,load1,started" >"$RAW"
echo "rep,mode,point,cpu,role,elapsed_s,interrupts,ipis,timer_interrupts,system_calls,user_ns,kernel_ns,network_ns,idle_ns,user_pct,kernel_pct,network_pct,idle_pct,kept_pct,kept_strict_pct" >"$INTRUSION"
{
    echo "# bench-placement metadata"
    echo "started: $(date '+%F %T %z')"
    echo "command: scripts/bench-placement.sh $*"
    echo "options: repeat=$repeat cpus=$cpus mem=$mem duration=${duration}s connections=$connections_list wrk_threads=$wrk_threads udp_windows=${udp_windows:-none} udp_size=$udp_size path=$path extra_cmdline='$extra_cmdline' quick=$quick"
    echo "points: ${points[*]}"
    echo "boot groups (name|extra boot options|points): ${groups[*]}"
    echo "order: for each repetition, dedicated then symmetric (interleaved); within a mode, the boot groups in order"
    echo "commit: $head_commit"
    echo "commit date: $(git log -1 --format=%cd "$head_commit" 2>/dev/null || echo unknown)"
    [[ $tree_head == "$head_commit" ]] || echo "working tree HEAD at the start (not measured): $tree_head"
    if [[ -n $dirty_files ]]; then
        echo "dirty: yes (working tree at the start; others may be editing):"
        sed 's/^/    /' <<<"$dirty_files"
    else
        echo "dirty: no$([[ -n $commit ]] && echo " (clean export of the commit)")"
    fi
    echo "image: $image_note"
    echo "image copy measured: $ISO (sha256 $iso_sha...)"
    echo "qemu: $(qemu-system-x86_64 --version | head -n 1)"
    echo "wrk: $(wrk --version 2>&1 | head -n 1 || true)"
    echo "swiglet-bench: $BENCH"
    echo "host cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) ($(nproc) online CPUs)"
    echo "host kernel: $(uname -r)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "expected body: site$path, $expected_bytes bytes"
    echo
    echo "# QEMU command lines (from /proc/PID/cmdline of each boot)"
} >"$META"

run_number=0
status_all=0

# Writes one raw.csv row (and the intrusion rows) for a measured point.
# Arguments: rep mode point boot status errors detail rate p50 p99 requests program before after
record_point() {
    local rep="$1" mode="$2" point="$3" boot="$4" status="$5" errors="$6" detail="$7" rate="$8" p50="$9" p99="${10}" requests="${11}"
    local program="${12}" before="${13}" after="${14}" started="${15}" open_before="${16}" load="${17}" client_retrans="${18}"
    local console="$OUT/$boot-console.log" app_cpu elapsed rows
    app_cpu=$(program_cpu "$console" "$program")
    elapsed=$(( after_time - before_time ))
    rows=$(intrusion_rows "$before" "$after")
    awk -v el="$elapsed" -v rep="$rep" -v mode="$mode" -v point="$point" '{
        idle = ($10 == "NA") ? "" : $10
        printf "%s,%s,%s,%s,%s,%.3f,%s,%s,%s,%s,%s,%s,%s,%s,%.3f,%.3f,%.3f,%s,%.3f,%s\n", rep, mode, point, $1, $2, el / 1e9,
            $3, $4, $5, $6, $7, $8, $9, idle, 100 * $7 / el, 100 * $8 / el, 100 * $9 / el,
            (idle == "" ? "" : sprintf("%.3f", 100 * idle / el)), 100 * (1 - $9 / el),
            (idle == "" ? "" : sprintf("%.3f", 100 * (1 - ($8 - idle) / el))) }' <<<"$rows" >>"$INTRUSION"
    local app
    app=$(awk -v el="$elapsed" -v cpu="$app_cpu" '
        $2 == "program" && (worst == "" || $9 > worstnet) { worst = $1; worstnet = $9 }
        $1 == "0" { cpu0 = 100 * $9 / el }
        $1 == cpu { printf "%.3f,%.3f,%.3f,%.3f,", 100 * (1 - $9 / el), 100 * $9 / el, 100 * $7 / el, 100 * $8 / el
                    if ($10 == "NA") printf ",,"; else printf "%.3f,%.3f,", 100 * $10 / el, 100 * (1 - ($8 - $10) / el)
                    printf "%.1f,%.1f,%.1f,", $3 * 1e9 / el, $4 * 1e9 / el, $6 * 1e9 / el; found = 1 }
        END {
            if (!found) printf ",,,,,,,,,"
            if (worst != "") printf "%s,%.3f,", worst, 100 * (1 - worstnet / el); else printf ",,"
            printf "%.3f\n", cpu0 }' <<<"$rows")
    local table_full retrans
    table_full=$(( $(metric "$after" 'swiglet_tcp_drops_total{reason="tableFull"}') - $(metric "$before" 'swiglet_tcp_drops_total{reason="tableFull"}') ))
    retrans=$(( $(metric_sum "$after" 'swiglet_tcp_retransmissions_total{') - $(metric_sum "$before" 'swiglet_tcp_retransmissions_total{') ))
    local ring_full=$(( $(metric "$after" 'swiglet_drops_total{reason="transmitRingFull"}') - $(metric "$before" 'swiglet_drops_total{reason="transmitRingFull"}') ))
    echo "$rep,$mode,$point,$boot,$status,$errors,$detail,$rate,$p50,$p99,$requests,$program,$app_cpu,$app,$table_full,$retrans,$ring_full,$client_retrans,$open_before,$(awk -v e="$elapsed" 'BEGIN { printf "%.3f", e / 1e9 }'),$load,$started" >>"$RAW"
}
record_unmeasured() {  # rep mode point boot status detail: the measured columns stay empty
    local empty; empty=$(head -n 1 "$RAW" | awk -F, '{ for (i = 8; i <= NF - 2; i++) printf "," }')
    echo "$1,$2,$3,$4,$5,,$6$empty,$(load1),$(date +%T)" >>"$RAW"
}

# Measures one point on the running guest.
measure_point() {  # measure_point REP MODE BOOT POINT
    local rep="$1" mode="$2" boot="$3" point="$4"
    local tag="r$rep-$mode-$point" before="$OUT/.before" after="$OUT/.after"
    local started load open_before status=ok errors=0 detail="" rate="" p50="" p99="" requests="" program
    run_number=$((run_number + 1))
    started=$(date +%T); load=$(load1)
    case $point in http-*) program=http ;; udp-*) program=udp-echo ;; esac
    # Let connections of the previous point close first (the table has 256 slots).
    local waited=0
    while :; do
        if ! metrics_snapshot "$before"; then
            say "[$run_number/$total_points] rep $rep/$repeat $mode $point: /metrics did not answer; point not measured"
            record_unmeasured "$rep" "$mode" "$point" "$boot" failed "metrics-unavailable"; status_all=1; return
        fi
        open_before=$(open_connections "$before")
        (( open_before > 1 && waited < 10 )) || break
        sleep 1; waited=$((waited + 1))
    done
    before_time=$snapshot_time
    local retrans_before; retrans_before=$(client_retransmissions)
    case $point in
        http-c*)
            local c=${point#http-c} out="$OUT/$tag-wrk.txt"
            say "[$run_number/$total_points] rep $rep/$repeat, $mode: $point (wrk -t$wrk_threads -c$c -d${duration}s --latency http://$GUEST$path; load $load)"
            local wrk_status=0
            in_ns wrk -t"$wrk_threads" -c"$c" -d"${duration}s" --latency "http://$GUEST$path" >"$out" 2>&1 || wrk_status=$?
            metrics_snapshot "$after" || { say "  /metrics did not answer after the load"; cp "$before" "$after"; snapshot_time=$before_time; status=failed; detail="metrics-unavailable-after;"; }
            after_time=$snapshot_time
            local non2xx sock
            non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out"); non2xx=${non2xx:-0}
            sock=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$out")
            read -r e_connect e_read e_write e_timeout <<<"${sock:-0 0 0 0}"
            errors=$(( non2xx + e_connect + e_read + e_write + e_timeout ))
            detail+="non2xx=$non2xx;connect=$e_connect;read=$e_read;write=$e_write;timeout=$e_timeout"
            requests=$(awk '/requests in/ { print $1 }' "$out")
            local r p5 p9
            r=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
            p5=$(awk '$1 == "50%" { print $2 }' "$out"); p9=$(awk '$1 == "99%" { print $2 }' "$out")
            if [[ $wrk_status != 0 || -z $r || -z $p5 || -z $p9 || -z $requests || $requests == 0 ]]; then
                status=failed; detail+=";wrk-status=$wrk_status-or-no-output"
            elif (( errors > 0 )); then
                status=failed
            fi
            p50=$( [[ -n $p5 ]] && to_microseconds "$p5" ); p99=$( [[ -n $p9 ]] && to_microseconds "$p9" )
            [[ $status != ok ]] || rate=$r
            say "  $([[ $status == ok ]] && echo "$r req/s, p50 $p5, p99 $p9, no errors" || echo "FAILED: ${r:-?} req/s with $errors errors ($detail)")" ;;
        udp-w*)
            local w=${point#udp-w} save="$OUT/$tag-udp.txt" out="$OUT/$tag-udp-output.txt"
            say "[$run_number/$total_points] rep $rep/$repeat, $mode: $point (swiglet-bench ${udp_size} B, $w outstanding, 1 s warm-up + ${duration} s, $GUEST:7; load $load)"
            local bench_status=0
            in_ns "$BENCH" --label "$mode" --save "$save" --duration "$duration" --warmup 1 --sizes "$udp_size" \
                --windows "$w" --cpu-pid "$qemu_pid" "$GUEST:7" >"$out" 2>&1 || bench_status=$?
            metrics_snapshot "$after" || { say "  /metrics did not answer after the load"; cp "$before" "$after"; snapshot_time=$before_time; status=failed; detail="metrics-unavailable-after;"; }
            after_time=$snapshot_time
            local line lost late mism refused unexpected replies through
            line=$(grep -m1 "^size=$udp_size window=$w " "$save" 2>/dev/null || true)
            field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
            lost=$(field lost); late=$(field late); mism=$(field mismatched); refused=$(field refused); unexpected=$(field unexpected)
            replies=$(field replies); requests=$(field sent)
            errors=$(( ${lost:-0} + ${late:-0} + ${mism:-0} + ${refused:-0} + ${unexpected:-0} ))
            detail+="lost=${lost:-?};late=${late:-?};mismatched=${mism:-?};refused=${refused:-?};unexpected=${unexpected:-?}"
            # Served by the program: its channel took requests (a receive and a send each).
            through=$(( $(metric_sum "$after" 'swiglet_channel_requests_total{') - $(metric_sum "$before" 'swiglet_channel_requests_total{') ))
            detail+=";channel_requests=$through"
            if [[ $bench_status != 0 || -z $line ]]; then
                status=failed; detail+=";swiglet-bench-status=$bench_status"
            elif (( errors > 0 )); then
                status=failed
            elif (( through < ${replies:-0} )); then
                status=failed; detail+=";not-through-the-program"
            fi
            if [[ -n $line ]]; then p50=$(field p50_us); p99=$(field p99_us); fi
            [[ $status != ok ]] || rate=$(field rps)
            say "  $([[ $status == ok ]] && printf '%.0f round trips/s, p50 %s µs, p99 %s µs, no errors' "$rate" "$p50" "$p99" || echo "FAILED: status $bench_status, $errors errors ($detail)")" ;;
    esac
    [[ $status == ok ]] || status_all=1
    local client_retrans=$(( $(client_retransmissions) - retrans_before ))
    record_point "$rep" "$mode" "$point" "$boot" "$status" "$errors" "$detail" "$rate" "$p50" "$p99" "${requests:-}" \
        "$program" "$before" "$after" "$started" "$open_before" "$load" "$client_retrans"
    {
        echo "## $tag (boot $boot) before"; cat "$before"; echo "## $tag after"; cat "$after"
    } >>"$OUT/metrics-snapshots.txt"
    rm -f "$before" "$after"
}

# One boot of one group in one mode, and its points.
run_group() {  # run_group REP MODE GROUP
    local rep="$1" mode="$2" group="$3" gname gopts gpoints
    IFS='|' read -r gname gopts gpoints <<<"$group"
    local boot="r$rep-$mode-$gname"
    local options="net-mode=$mode${extra_cmdline:+ $extra_cmdline}${gopts:+ $gopts}"
    local console="$OUT/$boot-console.log" p
    say "rep $rep/$repeat, $mode: booting $boot with '$options'"
    if ! bench_boot "$boot" "swiglet: ready" -cdrom "$ISO" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -fw_cfg "name=opt/swiglet/cmdline,string=$options"; then
        for p in $gpoints; do record_unmeasured "$rep" "$mode" "$p" "$boot" boot-failed "${failed[$boot]// /-}"; run_number=$((run_number + 1)); done
        status_all=1; return
    fi
    { echo "$boot:"; echo -n "    "; xargs -0 printf '%q ' <"/proc/$qemu_pid/cmdline" 2>/dev/null || echo "(gone)"; echo; } >>"$META"
    local problem=""
    tr -d '\r' <"$console" | grep -q "swiglet: ready.* net-mode=$mode " || problem="the ready line does not say net-mode=$mode"
    if [[ -z $problem && $gpoints == *http-* ]] && ! wait_console "$console" "http: serving HTTP" 30; then problem="http did not announce it serves"; fi
    if [[ -z $problem && $gpoints == *udp-* ]] && ! wait_console "$console" "udp-echo: serving UDP echo on port 7" 30; then problem="udp-echo did not announce it serves port 7"; fi
    if [[ -z $problem && $gpoints == *http-* ]]; then
        local check
        check=$(in_ns curl -s --max-time 10 -o /dev/null -w '%{http_code} %{size_download}' "http://$GUEST$path" || true)
        [[ $check == "200 $expected_bytes" ]] || problem="curl GET $path answered '$check', expected '200 $expected_bytes'"
        [[ -n $problem ]] || say "  curl: GET $path -> 200, $expected_bytes bytes, as expected"
    fi
    if [[ -n $problem ]]; then
        say "$boot: $problem. Console:"; show_console "$console"
        for p in $gpoints; do record_unmeasured "$rep" "$mode" "$p" "$boot" failed "${problem// /-}"; run_number=$((run_number + 1)); done
        status_all=1; stop_qemu; return
    fi
    for p in $gpoints; do measure_point "$rep" "$mode" "$boot" "$p"; done
    stop_qemu
}

say "results in $RESULTS; $repeat repetitions × ${modes[*]} × points ${points[*]}; -smp $cpus; ${duration} s per point"
start_seconds=$SECONDS
for rep in $(seq "$repeat"); do
    for mode in "${modes[@]}"; do
        for group in "${groups[@]}"; do run_group "$rep" "$mode" "$group"; done
    done
done
bench_cleanup
{
    echo
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "finished: $(date '+%F %T %z') after $((SECONDS - start_seconds)) s"
} >>"$META"

# 5. Summary and table (summarize, above).
run_date=$(date +%F)
dirty=$([[ -n $dirty_files ]] && echo yes || echo no)
summarize
say "results: $RESULTS (raw.csv, summary.csv, intrusion.csv, table.md, metadata.txt, consoles)"
exit $status_all
