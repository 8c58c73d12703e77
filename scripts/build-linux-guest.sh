#!/usr/bin/env bash
# Build the Linux guest that the benchmarks (scripts/bench-udp.sh, scripts/bench-tcp.sh) compare
# Swiglet against: a stock Debian kernel and a busybox initramfs whose /init loads virtio-net,
# configures eth0 as 10.0.2.15/24 (gateway 10.0.2.2), starts linux-echo-server (UDP echo on
# port 7, TCP echo on port 7, HTTP on port 80 serving /site.bin, the repository's site/ packed
# by scripts/pack-site.sh exactly as for Swiglet's image, and GET /proc/stat and
# GET /proc/interrupts with the guest's own files, read afresh per request)
# and prints "linux-guest: ready" on the serial console once all three listen.
#
#   scripts/build-linux-guest.sh [--force]
#
# Outputs (images/ is ignored by git):
#   images/linux/vmlinuz             the kernel of linux-image-amd64's current dependency
#   images/linux/initramfs.cpio.gz   busybox-static + the static echo server + /init + /site.bin
# The Debian packages are fetched with `apt-get download` into images/linux/cache and only
# extracted (dpkg-deb -x) into a temporary directory: nothing is installed on the host.
# Does nothing when both outputs are newer than this script, the echo server's sources and
# every file of site/ (without site/, HTTP answers 404 to everything; a warning says so).
# Environment: LINUX_IMAGE_PACKAGE=linux-image-6.1.0-NN-amd64 picks the kernel package;
# BENCH_SCRATCH=DIR the SwiftPM scratch path of the server build (default .build-bench).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT=images/linux
CACHE="$OUT/cache"
KERNEL="$OUT/vmlinuz"
INITRAMFS="$OUT/initramfs.cpio.gz"
SCRATCH="${BENCH_SCRATCH:-.build-bench}"
SERVER_SOURCES=(Sources/HostTools/LinuxEchoServer/*.swift Sources/Portable/Protocols/HTTP/*.swift Sources/Portable/Protocols/RawBytes/*.swift scripts/pack-site.sh)

die() { echo "build-linux-guest: error: $*" >&2; exit 1; }
say() { echo "build-linux-guest: $*"; }

force=0
case "${1:-}" in
    --force) force=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "build-linux-guest: unknown option '$1' (known: --force, --help)" >&2; exit 2 ;;
esac

# Up to date? Both outputs newer than every input.
if [[ $force == 0 && -s $KERNEL && -s $INITRAMFS ]]; then
    stale=0
    site_inputs=()
    [[ -d site ]] && mapfile -t site_inputs < <(find site -newer "$INITRAMFS" 2>/dev/null)
    if [[ ${#site_inputs[@]} -gt 0 ]]; then stale=1; fi
    for input in "$0" "${SERVER_SOURCES[@]}"; do
        if [[ $input -nt $KERNEL || $input -nt $INITRAMFS ]]; then stale=1; fi
    done
    if [[ $stale == 0 ]]; then say "up to date ($KERNEL, $INITRAMFS)"; exit 0; fi
fi

# Tools this needs on the host (cpio comes from the busybox package itself).
for tool in apt-get apt-cache dpkg-deb gzip strip; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (needed to fetch and unpack the Debian packages; strip is in binutils)"
done
if ! command -v swift >/dev/null; then
    [[ -x /opt/swift/usr/bin/swift ]] || die "the Swift toolchain is missing (swift not on PATH, nor in /opt/swift/usr/bin)"
    export PATH="/opt/swift/usr/bin:$PATH"
fi

# 1. The static echo server.
mkdir -p "$SCRATCH"
say "building linux-echo-server (static)"
swift build -c release --product linux-echo-server --scratch-path "$SCRATCH" \
    --static-swift-stdlib -Xswiftc -static-executable >"$SCRATCH/linux-echo-server.log" 2>&1 || {
    cat "$SCRATCH/linux-echo-server.log" >&2
    die "building linux-echo-server as a static executable failed (log above)"
}
SERVER="$SCRATCH/release/linux-echo-server"
[[ -x $SERVER ]] || die "$SERVER was not produced"
if command -v file >/dev/null && ! file "$SERVER" | grep -q 'statically linked'; then
    die "$SERVER is not statically linked: it would not run in an initramfs without libraries"
fi

# 2. The Debian packages: the kernel linux-image-amd64 depends on now, and busybox-static.
kernel_package="${LINUX_IMAGE_PACKAGE:-}"
if [[ -z $kernel_package ]]; then
    kernel_package="$(apt-cache depends linux-image-amd64 2>/dev/null \
        | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')"
    [[ -n $kernel_package ]] || die "apt does not know linux-image-amd64's kernel package: run 'apt-get update' first (as root), or set LINUX_IMAGE_PACKAGE=linux-image-6.1.0-NN-amd64"
fi
mkdir -p "$CACHE"
fetch() {  # fetch PACKAGE: the .deb into $CACHE unless it is there already; prints its path
    local package="$1" deb
    deb="$(ls "$CACHE/${package}"_*.deb 2>/dev/null | head -n 1 || true)"
    if [[ -z $deb ]]; then
        (cd "$CACHE" && apt-get download "$package" >&2) \
            || die "apt-get download $package failed (is the Debian archive reachable? run 'apt-get update')"
        deb="$(ls "$CACHE/${package}"_*.deb 2>/dev/null | head -n 1 || true)"
        [[ -n $deb ]] || die "apt-get download $package produced no .deb in $CACHE"
    fi
    echo "$deb"
}
kernel_deb="$(fetch "$kernel_package")"
busybox_deb="$(fetch busybox-static)"
say "kernel package $(basename "$kernel_deb"), $(basename "$busybox_deb")"

WORK="$(mktemp -d /tmp/swiglet-linux-guest.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
dpkg-deb -x "$kernel_deb" "$WORK/kernel" || die "dpkg-deb -x $kernel_deb failed"
dpkg-deb -x "$busybox_deb" "$WORK/busybox" || die "dpkg-deb -x $busybox_deb failed"
vmlinuz="$(ls "$WORK"/kernel/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)"
config="$(ls "$WORK"/kernel/boot/config-* 2>/dev/null | head -n 1 || true)"
[[ -n $vmlinuz ]] || die "no boot/vmlinuz-* in $kernel_deb"
[[ -n $config ]] || die "no boot/config-* in $kernel_deb"
release="${vmlinuz##*/vmlinuz-}"
modules="$WORK/kernel/lib/modules/$release"
BUSYBOX="$WORK/busybox/bin/busybox"
[[ -x $BUSYBOX ]] || die "no bin/busybox in $busybox_deb"

# 3. The modules virtio-net needs, in dependency order. Which drivers are built in depends on
#    the Debian config (6.1: CONFIG_VIRTIO, VIRTIO_PCI, VIRTIO_NET, FAILOVER, NET_FAILOVER are
#    all =m); the dependencies come from each module's .modinfo "depends=" (the package has no
#    modules.dep: depmod runs at install time).
declare -A module_path=()
while IFS= read -r path; do
    name="${path##*/}"; name="${name%.ko}"; module_path[$name]="$path"
done < <(find "$modules/kernel" -name '*.ko')
order=()
declare -A placed=()
place() {  # place MODULE: its dependencies first, then itself
    local name="$1" deps dep
    [[ -n ${placed[$name]:-} ]] && return 0
    placed[$name]=1
    local path="${module_path[$name]:-}"
    [[ -n $path ]] || die "module $name is needed but not in $kernel_deb (compressed modules are not supported)"
    deps="$(tr '\0' '\n' <"$path" | grep -a '^depends=' | head -n 1 | cut -d= -f2)"
    for dep in ${deps//,/ }; do place "$dep"; done
    order+=("$name")
}
for option in VIRTIO VIRTIO_PCI VIRTIO_NET; do
    grep -q "^CONFIG_${option}=[ym]$" "$config" || die "the kernel config has no CONFIG_${option} (=y or =m): this kernel cannot drive virtio-net-pci"
done
grep -q '^CONFIG_VIRTIO_PCI=m$' "$config" && place virtio_pci
grep -q '^CONFIG_VIRTIO_NET=m$' "$config" && place virtio_net
say "modules (insmod order): ${order[*]:-none, virtio-net is built in}"

# 4. The initramfs tree.
root="$WORK/root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,lib/modules}
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"
done
cp "$SERVER" "$root/bin/linux-echo-server"
strip "$root/bin/linux-echo-server"
# The static site the HTTP server serves: the same archive as Swiglet's image.
if [[ -d site ]]; then
    scripts/pack-site.sh site "$root/site.bin" >&2 || die "packing site/ failed"
else
    say "warning: no site/ directory: the guest's HTTP server will answer 404 to every path"
fi
: >"$root/lib/modules/order"
for name in "${order[@]}"; do
    cp "${module_path[$name]}" "$root/lib/modules/$name.ko"
    echo "$name" >>"$root/lib/modules/order"
done
cat >"$root/init" <<'INIT'
#!/bin/sh
# Swiglet benchmark's Linux guest: virtio-net up as 10.0.2.15/24, UDP and TCP echo on port 7,
# HTTP on port 80 (/site.bin).
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
fatal() { echo "linux-guest: error: $*"; sleep 1; poweroff -f; }
for module in $(cat /lib/modules/order); do
    insmod "/lib/modules/$module.ko" || fatal "insmod $module failed"
done
tries=0
until [ -e /sys/class/net/eth0 ]; do
    tries=$((tries + 1))
    [ $tries -le 100 ] || fatal "no eth0 after 10 s (is there a -device virtio-net-pci?)"
    sleep 0.1
done
ip link set lo up
ip addr add 10.0.2.15/24 dev eth0 || fatal "ip addr add failed"
ip link set eth0 up || fatal "ip link set eth0 up failed"
ip route add default via 10.0.2.2
# A large accept backlog for the connection-rate benchmark (the default is 4096 on 6.1).
echo 4096 > /proc/sys/net/core/somaxconn 2>/dev/null
# As a real server is configured (systemd gives services 524288): the kernel's default of 1,024
# open files would stop the server far short of what the stack holds (the C10K comparison).
ulimit -n 65536 || fatal "ulimit -n 65536 failed"
linux-echo-server --udp 7 --tcp-echo 7 --http 80 --site /site.bin &
server=$!
# With "spinner" on the kernel command line (scripts/bench-intrusion.sh), the same binary also
# runs the spinner, on the last CPU when taskset is there.
if grep -qw spinner /proc/cmdline; then
    last=$(($(nproc) - 1))
    if command -v taskset >/dev/null 2>&1; then taskset -c $last linux-echo-server --spin & else linux-echo-server --spin & fi
fi
tries=0
until netstat -uln 2>/dev/null | grep -q '0.0.0.0:7 ' && netstat -tln 2>/dev/null | grep -q '0.0.0.0:7 ' \
        && netstat -tln 2>/dev/null | grep -q '0.0.0.0:80 '; do
    tries=$((tries + 1))
    kill -0 $server 2>/dev/null || fatal "linux-echo-server exited"
    [ $tries -le 100 ] || fatal "linux-echo-server is not listening on UDP port 7, TCP port 7 and TCP port 80 after 10 s"
    sleep 0.1
done
echo "linux-guest: ready cpus=$(nproc) kernel=$(uname -r) mac=$(cat /sys/class/net/eth0/address)"
wait $server
fatal "linux-echo-server exited with status $?"
INIT
chmod 755 "$root/init"

# 5. Pack: newc cpio (busybox's own, owned by root), gzip (the Debian kernel has RD_GZIP).
mkdir -p "$OUT"
(cd "$root" && find . | sort | "$BUSYBOX" cpio -o -H newc -R 0:0 2>/dev/null) \
    | gzip -9 >"$INITRAMFS.tmp" || die "packing the initramfs failed"
mv "$INITRAMFS.tmp" "$INITRAMFS"
cp "$vmlinuz" "$KERNEL"
touch "$KERNEL" "$INITRAMFS"
say "built $KERNEL ($release, $(du -h "$KERNEL" | cut -f1)) and $INITRAMFS ($(du -h "$INITRAMFS" | cut -f1))"
