#!/bin/bash
# /tmp/ab.sh "v1 v2 ..." ROUNDS CPUS: per round, per variant (/tmp/V.iso): boot run=tcp-echo@1,
# 5 s bulk stream with kernel counters, then UDP echo 64 B at 1 outstanding for 4 s.
B=/work/main/.build-bench/release/swiglet-bench
metric() { ip netns exec probe curl -s http://10.0.2.15:9090/metrics | awk -v k="$1" 'index($0,k)==1 {print $2}'; }
for round in $(seq 1 ${2:-3}); do
 for v in $1; do
  ISO=/tmp/$v.iso /tmp/nsrun.sh "run=tcp-echo@1" ${3:-2} >/dev/null || { echo "$v boot failed"; continue; }
  sleep 1
  f0=$(metric 'swiglet_frames_total{layer="ethernet",direction="out"}'); c0=$(metric 'swiglet_cpu_network_seconds_total{cpu="0"')
  r=$(ip netns exec probe $B tcp-echo --duration 5 10.0.2.15:7 2>&1 | grep result: || echo FAIL)
  f1=$(metric 'swiglet_frames_total{layer="ethernet",direction="out"}'); c1=$(metric 'swiglet_cpu_network_seconds_total{cpu="0"')
  bytes=$(echo "$r" | sed -n 's/.*bytes=\([0-9]*\).*/\1/p')
  u=$(ip netns exec probe $B --sizes 64 --windows 1 -d 4 -w 1 10.0.2.15:7 2>&1 | grep -E "^ *64 " | head -1)
  echo "$round $v $(echo "$r" | grep -o 'mib_per_s=[0-9.]*') net_ms/MB=$(echo "($c1-$c0)*1000000000/$bytes" | bc -l | cut -c1-5) frames/MB=$(echo "($f1-$f0)*1000000/$bytes" | bc -l | cut -c1-5) | udp: $u"
  kill $(cat /tmp/probe.pid); sleep 1; ip netns del probe
 done
done
