#!/bin/bash
# overload-vs-linux.sh RESULTS_DIR: one sitting of HTTP keep-alive (wrk -c64, 30 s, verified) under a 100,000/s UDP flood, Swiglet vs Linux, 2 vCPUs, interleaved.
# Needs root (a namespace and a tap per run), images/swiglet.iso, the Linux guest
# (scripts/build-linux-guest.sh) and swiglet-bench in .build-bench/release. A one-shot script
# until swiglet-lab can run a background load beside a measured one; its numbers are in
# results/overload/ with a README.
set -u
if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  echo "usage: scripts/overload-vs-linux.sh RESULTS_DIR   (root; see the comment at the top)" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
OUT=$1; mkdir -p "$OUT"
BENCH=.build-bench/release/swiglet-bench
LEN=$(stat -c %s site/index.html)
for rep in 1 2 3; do
  for target in swiglet linux; do
    ns=ovl-$$-$target-$rep
    ip netns add $ns; ip netns exec $ns ip link set lo up
    ip netns exec $ns ip tuntap add dev tap0 mode tap
    ip netns exec $ns ip addr add 10.0.2.2/24 dev tap0; ip netns exec $ns ip link set tap0 up
    console=$OUT/$target-$rep-console.txt
    args=(-accel tcg,thread=multi -smp 2 -m 256M -display none -serial file:$console -monitor none -no-reboot
          -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56)
    if [ $target = swiglet ]; then args+=(-cdrom images/swiglet.iso -device isa-debug-exit,iobase=0xf4,iosize=0x04); ready="http: serving HTTP on port 80"
    else args+=(-kernel images/linux/vmlinuz -initrd images/linux/initramfs.cpio.gz -append "console=ttyS0 quiet panic=-1"); ready="linux-guest: ready"; fi
    ip netns exec $ns qemu-system-x86_64 "${args[@]}" & qpid=$!
    for i in $(seq 1 120); do grep -q "$ready" $console 2>/dev/null && break; sleep 0.5; done
    sleep 2
    ip netns exec $ns $BENCH udp-flood --size 1400 -d 34 --rate 100000 10.0.2.15:7 > $OUT/$target-$rep-flood.txt 2>&1 &
    fpid=$!
    ip netns exec $ns wrk -t2 -c64 -d30s --timeout 10s -s scripts/wrk-verify.lua http://10.0.2.15/index.html -- 200 $LEN > $OUT/$target-$rep-wrk.txt 2>&1
    wait $fpid
    kill $qpid; wait $qpid 2>/dev/null
    ip netns del $ns
    echo "$target rep $rep: $(grep 'Requests/sec' $OUT/$target-$rep-wrk.txt) $(grep wrk-verify: $OUT/$target-$rep-wrk.txt | cut -d' ' -f2-9)"
  done
done
