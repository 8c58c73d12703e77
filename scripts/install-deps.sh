#!/usr/bin/env bash
# Installs the Debian packages Swiglet needs to build and boot its image, if any are missing.
# As root it installs them with apt-get; otherwise it names them and exits with an error.
set -euo pipefail

# command -> Debian package that provides it
declare -A needed=(
    [qemu-system-x86_64]=qemu-system-x86
    [nasm]=nasm
    [grub-mkrescue]=grub-common
    [xorriso]=xorriso
    [mformat]=mtools
    # For the network tests: namespaces and tap devices, and ping from inside them.
    [ip]=iproute2
    [ping]=iputils-ping
    # For the TCP benchmark (scripts/bench-tcp.sh) and HTTP tests: load generator and client.
    [wrk]=wrk
    [curl]=curl
    # For the metrics tests: Prometheus' own checker of the exposition format.
    [promtool]=prometheus
    # For the live meter page's test: a headless browser.
    [chromium]=chromium
    # For scripts/plot-experiment.py (the experiments' figures).
    [python3]=python3
    # For scripts/profile.sh --host (perf record of QEMU's threads).
    [perf]=linux-perf
)
packages=()
for command in "${!needed[@]}"; do
    command -v "$command" >/dev/null 2>&1 || packages+=("${needed[$command]}")
done
# plot-experiment.py needs matplotlib, a module, not a command: asked of Debian's python3, which
# the script falls back to when a python3 first on PATH (pyenv, a venv) lacks it.
python=/usr/bin/python3
[ -x "$python" ] || python=python3
"$python" -c 'import matplotlib' >/dev/null 2>&1 || packages+=(python3-matplotlib)
# grub-mkrescue needs the BIOS platform files, which come in grub-pc-bin.
[ -d /usr/lib/grub/i386-pc ] || packages+=(grub-pc-bin)
[ ${#packages[@]} -eq 0 ] && exit 0

mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
    echo "swiglet: missing Debian packages: ${packages[*]}" >&2
    echo "swiglet: install them as root: apt-get install ${packages[*]}" >&2
    exit 1
fi
echo "swiglet: installing ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2
