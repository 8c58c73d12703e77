#!/usr/bin/env python3
"""Lists the large struct copies (`rep movsb`) in a Swiglet ELF: which function copies how many bytes, and what it calls next.

Under TCG a `rep movsb` runs one byte at a time, so a 700-byte copy of a TCP connection on every
segment costs more than the protocol work. The Swift compiler emits one, for example, when a
mutating method calls a non-mutating method of a large struct: it copies `self` first. The
profiler (`make profile`) shows the symptom; this shows the copies themselves.

usage: scripts/struct-copies.py [--elf images/swiglet.elf] [--min-bytes 256]
                                [--match REGEX] [--exclude REGEX]
Prints `function | copy N bytes -> next call` per copy, demangled; exits 1 when --match is
given and a matching function has a copy (a check for the packet path), else 0.
"""
import argparse, os, re, shutil, subprocess, sys

parser = argparse.ArgumentParser(description="large struct copies (rep movsb) in a Swiglet ELF")
parser.add_argument("--elf", default="images/swiglet.elf")
parser.add_argument("--min-bytes", type=int, default=256, help="smallest copy listed (default 256)")
parser.add_argument("--match", help="only functions whose demangled name matches; any copy then fails (exit 1)")
parser.add_argument("--exclude", help="functions whose demangled name matches are left out")
args = parser.parse_args()

swift_bin = os.path.dirname(shutil.which("swift") or "/opt/swift/usr/bin/swift")
objdump = shutil.which("llvm-objdump") or os.path.join(swift_bin, "llvm-objdump")
if not os.path.exists(args.elf):
    sys.exit(f"struct-copies: no {args.elf} (build it: make image)")
lines = subprocess.run([objdump, "-d", "--no-show-raw-insn", args.elf], capture_output=True, text=True, check=True).stdout.split("\n")

def demangle(names):
    out = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names), capture_output=True, text=True).stdout
    return out.split("\n")[:len(names)]

header = re.compile(r"^[0-9a-f]+ <(.+)>:")
copies = []   # (function, bytes, next call)
function = None
for index, line in enumerate(lines):
    match = header.match(line)
    if match:
        function = match.group(1)
        continue
    if function is None or "rep" not in line or "movsb" not in line:
        continue
    size = None
    for previous in lines[max(0, index - 4):index]:
        found = re.search(r"movl\s+\$0x([0-9a-f]+), %ecx", previous)
        if found:
            size = int(found.group(1), 16)
    if size is None or size < args.min_bytes:
        continue
    call = ""
    for following in lines[index + 1:index + 12]:
        if "callq" in following:
            call = following.split("<")[-1].rstrip(">")
            break
    copies.append((function, size, call))

names = sorted({name for copy in copies for name in (copy[0], copy[2]) if name})
readable = dict(zip(names, demangle(names)))
failed = False
for function, size, call in copies:
    name = readable.get(function, function)
    if args.match and not re.search(args.match, name):
        continue
    if args.exclude and re.search(args.exclude, name):
        continue
    failed = failed or bool(args.match)
    print(f"{name[:110]} | copy {size} bytes -> {readable.get(call, call)[:90] if call else '(no call)'}")
sys.exit(1 if failed else 0)
