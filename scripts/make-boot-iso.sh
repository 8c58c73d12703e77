#!/usr/bin/env bash
# Makes Swiglet's bootable ISO: a GRUB core image whose embedded configuration boots the kernel
# and its programs at once, plus only the GRUB modules that configuration loads.
#
#   scripts/make-boot-iso.sh STAGING BOOT_COMMANDS OUTPUT.iso
#
# STAGING is the ISO's tree (boot/swiglet.elf, boot/programs/, boot/grub/grub.cfg), BOOT_COMMANDS
# the `multiboot2 ...`, `module2 ...` and `boot` lines (the Makefile writes both from PROGRAMS).
#
# Why not grub-mkrescue: its core image starts with `search --fs-uuid`, which probes every BIOS
# drive (the empty floppy drive costs tens of milliseconds under TCG), then loads GRUB's normal
# mode, its command lists and grub.cfg, from a directory of about 280 modules whose names each
# lookup reads through. Here the core image (biosdisk and iso9660 only, the smallest: GRUB
# decompresses it with LZMA, slow under TCG) runs the embedded commands in GRUB's rescue parser
# before normal mode: `insmod multiboot2` reads the dozen modules it needs from a directory that
# holds only those, then the kernel and the programs are read and booted. If that fails, GRUB
# goes on to normal mode, which runs grub.cfg: it says so on the serial console and tries the
# same commands, so that their errors show there (docs/boot-time.md).
set -euo pipefail

if [[ $# -ne 3 || $1 == --help || $1 == -h ]]; then
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    [[ $# -eq 3 ]] || exit 2
    exit 0
fi
staging=$1 commands=$2 output=$3
grub_lib=${GRUB_LIB:-/usr/lib/grub/i386-pc}
for tool in grub-mkimage xorriso; do
    command -v "$tool" >/dev/null || { echo "make-boot-iso: $tool is missing (make deps)" >&2; exit 1; }
done
[[ -f $grub_lib/moddep.lst ]] || { echo "make-boot-iso: no $grub_lib/moddep.lst (package grub-pc-bin)" >&2; exit 1; }

# The modules `insmod multiboot2` loads (normal mode's too, the fallback), with their
# dependencies from moddep.lst ("module: dependency ..."), so that this follows GRUB's version.
closure() {
    awk -v wanted="$*" '
        { name = $1; sub(":", "", name); depends[name] = ""; for (i = 2; i <= NF; i++) depends[name] = depends[name] " " $i }
        END {
            count = split(wanted, first, " "); for (i = 1; i <= count; i++) need[first[i]] = 1
            grown = 1
            while (grown) {
                grown = 0
                for (module in need) {
                    n = split(depends[module], list, " ")
                    for (i = 1; i <= n; i++) if (!(list[i] in need)) { need[list[i]] = 1; grown = 1 }
                }
            }
            for (module in need) print module
        }' "$grub_lib/moddep.lst" | sort
}
modules_dir=$staging/boot/grub/i386-pc
rm -rf "$modules_dir" && mkdir -p "$modules_dir"
for module in $(closure multiboot2 normal serial terminal echo); do
    cp "$grub_lib/$module.mod" "$modules_dir/"
done
# Normal mode's lists (which module has which command, file system, terminal): only the
# fallback reads them, to load a command's module when it is first used.
cp "$grub_lib"/*.lst "$modules_dir/"

# The embedded configuration: the rescue parser takes one command a line, no comments, and
# loads no module by itself. GRUB's messages go to the serial console (COM1) as the kernel's
# do, so that an error (a program file missing) shows where people look.
embedded=$(mktemp)
log=$(mktemp)
trap 'rm -f "$embedded" "$log"' EXIT
{
    printf '%s\n' "insmod serial" "insmod terminal" "serial --unit=0 --speed=115200" "terminal_output serial" \
        "insmod multiboot2"
    grep -v '^[[:space:]]*\(#\|$\)' "$commands" | sed 's/^[[:space:]]*//'
} >"$embedded"
# -p /boot/grub: the prefix on the boot device (the CD GRUB started from), so no search.
grub-mkimage -O i386-pc-eltorito -d "$grub_lib" -p /boot/grub -c "$embedded" \
    -o "$modules_dir/eltorito.img" biosdisk iso9660
xorriso -as mkisofs -quiet -R -b boot/grub/i386-pc/eltorito.img -no-emul-boot -boot-load-size 4 \
    -boot-info-table -o "$output" "$staging" 2>"$log" || { cat "$log" >&2; exit 1; }
