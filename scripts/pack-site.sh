#!/usr/bin/env bash
# Packs a directory into a Swiglet static-site archive (the format of StaticSite in
# Sources/Portable/Protocols/HTTP/StaticSite.swift), using only bash and coreutils, deterministically.
#
#   scripts/pack-site.sh SITE_DIR OUT.bin
#
# Format (integers little-endian, 32-bit):
#   0   "SWGSITE1"   magic
#   8   N            number of files
#   12  LENGTH       total archive length
#   16  N entries    path offset, path length, data offset, data length (from the archive start)
#   then the paths, then the file data, in the entries' order: by path in byte order (LC_ALL=C).
# A file's path is "/" plus its path under SITE_DIR. Hidden files and directories (a segment
# starting with ".") are skipped; any other name outside RFC 3986's path characters
# (A-Z a-z 0-9 - . _ ~ ! $ & ' ( ) * + , ; = : @) is an error, as is a path over 256 bytes.
# Symbolic links are not followed. The same tree always gives the same bytes.
set -euo pipefail
export LC_ALL=C

if [ "$#" -ne 2 ]; then
    echo "usage: $0 SITE_DIR OUT.bin" >&2
    exit 2
fi
site=$1
out=$2
[ -d "$site" ] || { echo "$0: $site is not a directory" >&2; exit 1; }

# The files, as URL paths, sorted by bytes. (A name with a newline fails the check below.)
paths=()
while IFS= read -r relative; do
    path=${relative#.}
    case "$path" in
        */.*) continue ;;   # hidden
    esac
    if ! [[ "$path" =~ ^(/[A-Za-z0-9._~!\$\&\'\(\)*+,\;=:@-]+)+$ ]]; then
        echo "$0: unsupported file name: $path" >&2
        exit 1
    fi
    if [ "${#path}" -gt 256 ]; then
        echo "$0: path longer than 256 bytes: $path" >&2
        exit 1
    fi
    paths+=("$path")
done < <(cd "$site" && find . -type f -print | sort)

count=${#paths[@]}
# Little-endian 32-bit value, as raw bytes.
le32() {
    local value=$1
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((value & 255)) $((value >> 8 & 255)) \
        $((value >> 16 & 255)) $((value >> 24 & 255)))"
}

# Layout: header, table, paths, data.
table_end=$((16 + 16 * count))
path_offsets=() path_lengths=() data_offsets=() data_lengths=()
offset=$table_end
for path in "${paths[@]}"; do
    path_offsets+=("$offset")
    path_lengths+=("${#path}")
    offset=$((offset + ${#path}))
done
for path in "${paths[@]}"; do
    size=$(wc -c < "$site$path")
    size=$((size + 0))
    data_offsets+=("$offset")
    data_lengths+=("$size")
    offset=$((offset + size))
done
total=$offset
if [ "$total" -gt 4294967295 ]; then
    echo "$0: the archive would exceed 4 GiB" >&2
    exit 1
fi

temporary="$out.tmp.$$"
trap 'rm -f "$temporary"' EXIT
{
    printf 'SWGSITE1'
    le32 "$count"
    le32 "$total"
    for ((index = 0; index < count; index++)); do
        le32 "${path_offsets[index]}"
        le32 "${path_lengths[index]}"
        le32 "${data_offsets[index]}"
        le32 "${data_lengths[index]}"
    done
    for path in "${paths[@]}"; do printf '%s' "$path"; done
    for path in "${paths[@]}"; do cat "$site$path"; done
} > "$temporary"

actual=$(wc -c < "$temporary")
if [ "$((actual + 0))" -ne "$total" ]; then
    echo "$0: wrote $actual bytes, expected $total (a file changed while packing?)" >&2
    exit 1
fi
mv "$temporary" "$out"
trap - EXIT
echo "$0: packed $count files, $total bytes, into $out"
