#!/bin/bash
# /tmp/abhttp.sh "v1 v2" ROUNDS CPUS: per variant boot default (http), wrk keep-alive at 1, 16, 64 connections 4 s each
for round in $(seq 1 ${2:-3}); do
 for v in $1; do
  ISO=/tmp/$v.iso /tmp/nsrun.sh "" ${3:-2} >/dev/null || { echo "$v boot failed"; continue; }
  sleep 1
  line="$round $v"
  for c in 1 16 64; do
   r=$(ip netns exec probe wrk -t1 -c$c -d4 --latency -s /work/main/scripts/wrk-verify.lua http://10.0.2.15/index.html 2>&1)
   rps=$(echo "$r" | awk '/Requests\/sec/ {print $2}'); bad=$(echo "$r" | grep -o 'wrong_status=[0-9]* wrong_length=[0-9]*')
   line="$line c$c=$rps ($bad)"
  done
  echo "$line"
  kill $(cat /tmp/probe.pid); sleep 1; ip netns del probe
 done
done
