#!/usr/bin/env bash
# Checks one lab of docs/labs: runs the checker its `check` file names; fails until the lab is solved.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    cat <<'TEXT'
lab-check: check a lab of docs/labs (make lab-check LAB=name)

USAGE: scripts/lab-check.sh LAB
       scripts/lab-check.sh --list

Each lab is a directory docs/labs/LAB with a README.md (goal, hints, how it is checked) and a
file `check` whose lines say what to run:
  test CLASS      the host test class Tests/LabChecks/CLASS (swift test --filter LabChecks.CLASS)
  system CLASS    a QEMU test class Tests/SystemTests/CLASS, named Lab... (builds the image first)
  file PATH       PATH must exist and not be empty (a written answer, a plot)
The check passes only when every line does. Exit status: 0 solved, 1 not yet, 2 bad usage.
TEXT
}

labs() { for dir in docs/labs/*/; do [ -f "$dir/check" ] && basename "$dir"; done; }

case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    ""|--list)
        echo "labs (make lab-check LAB=name):"
        for lab in $(labs); do
            printf '  %-20s %s\n' "$lab" "$(sed -n 's/^# //p' "docs/labs/$lab/README.md" | head -1)"
        done
        [ -n "${1:-}" ] || { echo "lab-check: give LAB=name" >&2; exit 2; }
        exit 0 ;;
esac
lab="$1"
if [ ! -f "docs/labs/$lab/check" ]; then
    echo "lab-check: no lab named '$lab' (labs: $(labs | tr '\n' ' '))" >&2
    exit 2
fi

failed=0
while read -r kind argument; do
    case "$kind" in
        ""|\#*) continue ;;
        test)
            echo "lab-check: $lab: host test LabChecks.$argument"
            swift test --disable-swift-testing --filter "LabChecks.$argument" || failed=1 ;;
        system)
            echo "lab-check: $lab: QEMU test SystemTests.$argument (building the image)"
            make -s image >/dev/null && SWIGLET_REQUIRE_QEMU=1 swift test --disable-swift-testing --filter "SystemTests.$argument" || failed=1 ;;
        file)
            if [ -s "$argument" ]; then echo "lab-check: $lab: $argument is there"
            else echo "lab-check: $lab: $argument is missing or empty"; failed=1; fi ;;
        *)
            echo "lab-check: docs/labs/$lab/check: unknown line '$kind $argument'" >&2
            exit 2 ;;
    esac
done < "docs/labs/$lab/check"

if [ "$failed" = 0 ]; then
    echo "lab-check: $lab: solved"
else
    echo "lab-check: $lab: not yet (see docs/labs/$lab/README.md)"
    exit 1
fi
