#!/usr/bin/env bash
# Records QEMU's ACPI tables as a test fixture: boots the image with `acpi-dump` and joins the
# hex lines the kernel prints into Tests/ACPITablesTests/Recorded/qemu-MACHINE-smpN.txt.
#   usage: scripts/record-acpi-tables.sh [MACHINE (pc|q35)] [CPUS]
set -euo pipefail
machine=${1:-pc}
cpus=${2:-4}
case "$machine" in pc|q35) ;; *) echo "usage: $0 [pc|q35] [CPUS]" >&2; exit 2;; esac
[[ "$cpus" =~ ^[0-9]+$ ]] || { echo "usage: $0 [pc|q35] [CPUS]" >&2; exit 2; }
cd "$(dirname "$0")/.."
make --no-print-directory image >/dev/null
output="Tests/ACPITablesTests/Recorded/qemu-$machine-smp$cpus.txt"
console=$(mktemp)
trap 'rm -f "$console"' EXIT
timeout 120 qemu-system-x86_64 -machine "$machine" -accel tcg -smp "$cpus" -m 256M \
    -serial stdio -display none -monitor none -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -fw_cfg name=opt/swiglet/cmdline,string="acpi-dump test=cpus" \
    -cdrom images/swiglet.iso > "$console" || true   # isa-debug-exit makes QEMU exit non-zero
grep -q "acpi-dump: RSDP" "$console" || { echo "no ACPI dump on the console:" >&2; cat "$console" >&2; exit 1; }
{
    echo "# ACPI tables of qemu-system-x86_64 -machine $machine -smp $cpus -m 256M ($(qemu-system-x86_64 --version | head -1))"
    echo "# recorded by scripts/record-acpi-tables.sh from the kernel's acpi-dump output"
    tr -d '\r' < "$console" | awk '
        $1 == "acpi-dump:" {
            key = $2 " " $3
            if (!(key in data)) { order[++count] = key }
            data[key] = data[key] $5
        }
        END { for (i = 1; i <= count; i++) print order[i] " " data[order[i]] }'
} > "$output"
echo "wrote $output ($(grep -c -v '^#' "$output") structures)"
