#!/usr/bin/env python3
"""Samples every vCPU of a running Swiglet QEMU through QMP, then symbolizes and reports the samples.

usage: scripts/profile-tool.py sample --qmp SOCKET --raw FILE [--duration S] [--rate HZ]
                                      [--stack-bytes N]
       scripts/profile-tool.py report --raw FILE --output DIR [--kernel ELF | --kernel-symbols NM_FILE]
                                      [--programs DIR] [--console LOG] [--program CPU=NAME]...
                                      [--top N]
       scripts/profile-tool.py metrics-delta --before FILE --after FILE [--seconds S]
       scripts/profile-tool.py host-report --perf-script FILE --seconds S --frequency HZ

sample   asks QEMU (QMP `human-monitor-command`) for `info registers -a` RATE times a second for
         DURATION seconds: every vCPU's RIP, RSP, RBP, CPL and HLT at that moment. With
         --stack-bytes N > 0 it also reads N bytes above each running vCPU's RSP (`x`, one
         command per vCPU, sent together) and walks the frame-pointer chain inside them. Writes
         one line per vCPU per round to the raw file, and the achieved rate and QMP round trip.
report   symbolizes a raw file: ring-0 addresses against the kernel ELF, ring-3 addresses
         against the program each CPU runs (named by the boot console's "programs: NAME loaded
         ..., starting on cpuN" lines or --program CPU=NAME; the ELF is DIR/NAME.elf). Writes
         DIR/profile.txt (per CPU: ring-0/ring-3/idle split and the top N functions by samples)
         and DIR/folded.txt (Brendan Gregg's folded stacks: `cpu1;kernel;outer;inner COUNT`),
         and prints profile.txt.
metrics-delta
         compares two scrapes of the kernel's /metrics (Prometheus text) taken around a load:
         prints every counter (`_total`) that moved, sorted by name, with its change and, given
         the SECONDS between the two scrapes, its change per second.
host-report
         reads `perf script -F comm,tid,ip,dso -G` of a `perf record -e cpu-clock -F HZ` of the
         QEMU process over SECONDS (scripts/profile.sh --host) and prints, per QEMU thread (vCPU
         threads are `CPU N/TCG`, the main loop and I/O is `qemu-system-x86`), the share of one
         host core it used, split into guest code (what TCG generated: the guest running), QEMU
         (the emulator's own code: helpers, device models, translation), host kernel (system
         calls, scheduling, tap I/O) and libraries. The guest-side profile cannot see this: a
         vCPU waiting for QEMU's lock or for a host core looks busy from inside.

Every sample is counted: an address outside every symbol is `[unknown ring 0]`/`[unknown ring 3]`,
a halted vCPU is `[idle (hlt)]`. The logic (parsing, symbol lookup, frame walking, folding,
top-N) is plain functions, tested by scripts/profile-tool-tests.py.
"""

import bisect
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict

RAW_HEADER = "# swiglet-profile raw v1"
RAW_COLUMNS = "round\ttime_s\tcpu\tcpl\thalted\trip\trsp\trbp\tstack_top\tframes\tround_ms"
# Programs are linked at 0x4000_0000_0000 (linker/program.ld); the kernel lives low.
USER_BASE = 0x4000_0000_0000
MAX_FRAMES = 64
# Stack reads per vCPU and round at most, and how far above RSP a frame may be: kernel and
# program stacks are a few pages, and a chain that climbs further is garbage.
MAX_STACK_READS = 4
MAX_STACK_SPAN = 256 * 1024


class UsageError(Exception):
    """A bad command line: printed with the usage, exit status 2."""


# ---------------------------------------------------------------------------------------------
# Parsing QEMU's output


def parse_registers(text):
    """Parses HMP `info registers -a` (QEMU 7.2's x86_cpu_dump_state, one block per `CPU#N`).

    Returns a list of dicts {cpu, rip, rsp, rbp, cpl, halted} ordered by CPU. A block without
    RIP (a vCPU not yet started prints one all the same) is skipped rather than guessed.
    """
    samples = []
    current = None
    for line in text.splitlines():
        header = re.match(r"\s*CPU#(\d+)", line)
        if header:
            current = {"cpu": int(header.group(1))}
            samples.append(current)
            continue
        if current is None:
            # `info registers` without -a prints a single block with no header.
            if re.search(r"\b(RAX|EAX|RIP|EIP)=", line):
                current = {"cpu": 0}
                samples.append(current)
            else:
                continue
        for name, value in re.findall(r"\b(RIP|EIP|RSP|ESP|RBP|EBP|CPL|HLT)=\s*([0-9a-fA-F]+)", line):
            key = {"EIP": "rip", "ESP": "rsp", "EBP": "rbp"}.get(name, name.lower())
            current[key] = int(value, 16) if key in ("rip", "rsp", "rbp") else int(value)
    result = []
    for sample in samples:
        if "rip" not in sample:
            continue
        result.append({"cpu": sample["cpu"], "rip": sample["rip"], "rsp": sample.get("rsp", 0),
                       "rbp": sample.get("rbp", 0), "cpl": sample.get("cpl", 0),
                       "halted": bool(sample.get("hlt", 0))})
    return sorted(result, key=lambda s: s["cpu"])


def parse_memory_dump(text):
    """Parses HMP `x /Ngx ADDR` output (`ADDR: 0xWORD 0xWORD`) into {address: 64-bit word}.

    A line QEMU could not read (`Cannot access memory`) ends the dump: the words before it stay.
    """
    words = {}
    for line in text.splitlines():
        match = re.match(r"\s*([0-9a-fA-F]+):((?:\s+0x[0-9a-fA-F]+)+)\s*$", line)
        if not match:
            if "Cannot access memory" in line:
                break
            continue
        address = int(match.group(1), 16)
        for index, word in enumerate(match.group(2).split()):
            words[address + 8 * index] = int(word, 16)
    return words


def walk_frames(rbp, words):
    """The return addresses of the frame-pointer chain from RBP, innermost first, and where it stopped.

    `words` maps stack addresses to 64-bit words. Each frame is [RBP] = the caller's RBP,
    [RBP+8] = the return address (the System V prologue `push rbp; mov rbp, rsp`). Returns
    (return addresses, the frame address to read next or None): the walk pauses at a frame
    that is not in `words` (the sampler reads there and walks again), and ends at a zero
    return address or a caller frame that is not higher up the stack. The stack is read after
    the registers, while the vCPU runs on, so the report trusts a chain only as far as its
    return addresses land in functions.
    """
    frames = []
    frame = rbp
    while len(frames) < MAX_FRAMES:
        if frame == 0 or frame % 8 != 0:
            return frames, None
        if frame not in words or frame + 8 not in words:
            return frames, frame
        return_address = words[frame + 8]
        if return_address == 0:
            return frames, None
        frames.append(return_address)
        caller = words[frame]
        if caller <= frame:
            return frames, None
        frame = caller
    return frames, None


def read_stacks(run_commands, running, stack_bytes, max_reads=MAX_STACK_READS):
    """Walks the frame-pointer chain of each running vCPU by reading its stack through `run_commands`.

    `run_commands` takes [(HMP command, cpu index)] and returns their outputs (one QMP batch).
    The first batch reads the word at RSP (the return address when RIP is a function's first
    instruction) and `stack_bytes` from RBP for every vCPU at once; each further batch, up to
    `max_reads`, reads on from where a chain left the words read so far. A chain is not
    followed more than MAX_STACK_SPAN above RSP: further up it is not a stack. Returns
    {cpu: (word at RSP or 0, return addresses)}.
    """
    words_per_read = stack_bytes // 8
    state = {one["cpu"]: {"sample": one, "words": {}, "top": 0} for one in running}
    commands = []
    for one in running:
        commands.append((f"x /1gx 0x{one['rsp']:x}", one["cpu"]))
        commands.append((f"x /{words_per_read}gx 0x{one['rbp']:x}", one["cpu"]))
    outputs = run_commands(commands) if commands else []
    for index, one in enumerate(running):
        top = parse_memory_dump(outputs[2 * index])
        state[one["cpu"]]["top"] = top.get(one["rsp"], 0)
        state[one["cpu"]]["words"].update(parse_memory_dump(outputs[2 * index + 1]))
    result = {}
    for attempt in range(max_reads):
        pending = []
        for cpu, entry in state.items():
            frames, next_frame = walk_frames(entry["sample"]["rbp"], entry["words"])
            result[cpu] = (entry["top"], frames)
            rsp = entry["sample"]["rsp"]
            if next_frame is not None and rsp <= next_frame < rsp + MAX_STACK_SPAN and attempt + 1 < max_reads:
                pending.append((cpu, next_frame))
        if not pending:
            break
        outputs = run_commands([(f"x /{words_per_read}gx 0x{frame:x}", cpu) for cpu, frame in pending])
        for (cpu, _), output in zip(pending, outputs):
            state[cpu]["words"].update(parse_memory_dump(output))
    return result


def parse_console_roles(text):
    """What each CPU does, from the boot console: {cpu: program name} and the network cores.

    Reads "cpu0: programs: http loaded (entry ...), starting on cpu1" and
    "cpu0: net: network core running (...)". Returns (programs, network_cpus). Several
    programs on one CPU are named together, "http+tcp-echo": they share one virtual layout,
    so a ring-3 address alone cannot say whose it is, and their samples stay unsymbolized.
    """
    programs = {}
    network_cpus = set()
    for line in text.splitlines():
        loaded = re.search(r"programs: (\S+) loaded .*starting on cpu(\d+)", line)
        if loaded:
            cpu = int(loaded.group(2))
            programs[cpu] = programs[cpu] + "+" + loaded.group(1) if cpu in programs else loaded.group(1)
        core = re.search(r"cpu(\d+): net: network core running", line)
        if core:
            network_cpus.add(int(core.group(1)))
    return programs, network_cpus


# ---------------------------------------------------------------------------------------------
# Symbols


class SymbolTable:
    """Functions of one ELF sorted by address; `lookup` finds the one holding an address.

    `symbols` is a list of (start, size, name); size 0 means unknown (assembly labels), and
    such a symbol then reaches up to the next one. An address past a sized symbol's end and
    before the next symbol belongs to none.
    """

    def __init__(self, symbols):
        by_start = {}
        for start, size, name in symbols:
            # Aliases at one address (kernel_text_start, boot_entry...): keep one with a size.
            kept = by_start.get(start)
            if kept is None or (kept[0] == 0 and size > 0):
                by_start[start] = (size, name)
        self.starts = sorted(by_start)
        self.sizes = [by_start[start][0] for start in self.starts]
        self.names = [by_start[start][1] for start in self.starts]
        self.entry_points = set(self.starts)

    def lookup(self, address):
        """The (name, offset) of the function holding `address`, or None."""
        index = bisect.bisect_right(self.starts, address) - 1
        if index < 0:
            return None
        start, size = self.starts[index], self.sizes[index]
        if size > 0 and address >= start + size:
            return None
        if size == 0 and index + 1 == len(self.starts) and address - start > 0x10000:
            # The last label of the image has no end: do not let it swallow everything above.
            return None
        return self.names[index], address - start


def parse_nm(text):
    """Parses `nm -n -S --defined-only` output into (start, size, name) of code symbols.

    Lines are `ADDR SIZE TYPE NAME` or, without a size, `ADDR TYPE NAME`; only text symbols
    (t, T, w, W) are kept: RIP is never in data.
    """
    symbols = []
    for line in text.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and len(parts[2]) == 1:
            address, size, kind, name = parts
        elif len(parts) >= 3 and len(parts[1]) == 1:
            address, kind, name = parts[0], parts[1], line.split(None, 2)[2]
            size = "0"
        else:
            continue
        if kind not in "tTwW":
            continue
        try:
            symbols.append((int(address, 16), int(size, 16), name.strip()))
        except ValueError:
            continue
    return symbols


def find_tool(name, fallbacks=()):
    """A host tool on PATH or at one of `fallbacks`, else None."""
    found = shutil.which(name)
    if found:
        return found
    return next((path for path in fallbacks if os.access(path, os.X_OK)), None)


def demangle(names):
    """Swift-demangles names with `swift-demangle --simplified` in one batch (unchanged without it)."""
    tool = find_tool("swift-demangle", ["/opt/swift/usr/bin/swift-demangle"])
    if not tool or not names:
        return list(names)
    result = subprocess.run([tool, "--simplified"], input="\n".join(names) + "\n",
                            capture_output=True, text=True, check=False)
    lines = result.stdout.split("\n")
    if result.returncode != 0 or len(lines) < len(names):
        return list(names)
    return lines[:len(names)]


def clean_frame_name(name):
    """A demangled name fit for a folded stack: no `;` (the frame separator), no newlines."""
    return name.replace(";", ":").replace("\n", " ").strip()


def load_symbols(elf=None, nm_file=None):
    """A SymbolTable from an ELF (through nm) or from a saved `nm -n -S` listing; demangled."""
    if nm_file:
        with open(nm_file, encoding="utf-8") as handle:
            text = handle.read()
    else:
        tool = find_tool("nm") or find_tool("llvm-nm", ["/opt/swift/usr/bin/llvm-nm"])
        if not tool:
            raise UsageError("neither nm nor llvm-nm found (install binutils)")
        result = subprocess.run([tool, "-n", "-S", "--defined-only", elf], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise UsageError(f"nm failed on {elf}: {result.stderr.strip()}")
        text = result.stdout
    symbols = parse_nm(text)
    names = demangle([name for _, _, name in symbols])
    return SymbolTable([(start, size, clean_frame_name(name)) for (start, size, _), name in zip(symbols, names)])


# ---------------------------------------------------------------------------------------------
# Raw samples


def format_raw_line(round_index, seconds, sample, stack_top, frames, round_ms):
    """One raw line (RAW_COLUMNS) for one vCPU of one sampling round."""
    frame_text = ",".join(f"{address:x}" for address in frames) or "-"
    return (f"{round_index}\t{seconds:.6f}\t{sample['cpu']}\t{sample['cpl']}\t{int(sample['halted'])}\t"
            f"{sample['rip']:x}\t{sample['rsp']:x}\t{sample['rbp']:x}\t{stack_top:x}\t{frame_text}\t{round_ms:.3f}")


def parse_raw(text):
    """Reads a raw file back: (metadata dict from `# key=value` lines, list of sample dicts)."""
    metadata = {}
    samples = []
    for line in text.splitlines():
        if line.startswith("#"):
            match = re.match(r"#\s*([\w-]+)=(.*)$", line)
            if match:
                metadata[match.group(1)] = match.group(2).strip()
            continue
        if not line.strip() or line.startswith("round\t"):
            continue
        fields = line.split("\t")
        if len(fields) != 11:
            raise ValueError(f"raw line with {len(fields)} fields, expected 11: {line!r}")
        samples.append({
            "round": int(fields[0]), "time": float(fields[1]), "cpu": int(fields[2]), "cpl": int(fields[3]),
            "halted": fields[4] == "1", "rip": int(fields[5], 16), "rsp": int(fields[6], 16),
            "rbp": int(fields[7], 16), "stack_top": int(fields[8], 16),
            "frames": [] if fields[9] == "-" else [int(word, 16) for word in fields[9].split(",")],
            "round_ms": float(fields[10]),
        })
    return metadata, samples


# ---------------------------------------------------------------------------------------------
# Symbolizing, folding, top N

IDLE = "[idle (hlt)]"


def symbolize_sample(sample, kernel, programs_by_cpu, program_names):
    """The stack of one sample as (kind, frames outermost first), kind `kernel`, `user:NAME`, `idle`.

    The sampled RIP is symbolized as is; return addresses as address - 1, so that a call that
    ends a function is charged to that function, not to the one after it. When RIP is a
    function's first instruction (TCG reports RIP at translation-block starts, and a call
    starts one), its prologue has not run: RBP is still the caller's frame and the caller's
    return address is the word at RSP, so that word goes first. The walk is cut at the first
    return address that is in no function of the same image (a stale or foreign frame), so a
    folded stack never mixes garbage into its callers.
    """
    cpu = sample["cpu"]
    user = sample["cpl"] == 3
    if user:
        table = programs_by_cpu.get(cpu)
        kind = "user:" + program_names.get(cpu, "unknown-program")
        unknown = "[unknown ring 3]"
    else:
        table = kernel
        kind = "kernel"
        unknown = "[unknown ring 0]"
    if sample["halted"]:
        leaf = lookup_name(table, sample["rip"]) or unknown
        return "idle", [IDLE, leaf]
    leaf = lookup_name(table, sample["rip"])
    if leaf is None:
        return kind, [unknown]
    frames = [leaf]
    return_addresses = list(sample["frames"])
    if sample.get("stack_top") and table.lookup(sample["rip"]) == (leaf, 0):
        return_addresses.insert(0, sample["stack_top"])
    for return_address in return_addresses:
        caller = lookup_name(table, return_address - 1)
        if caller is None:
            break
        frames.append(caller)
    frames.reverse()
    return kind, frames


def lookup_name(table, address):
    """The function name of `address` in `table` (None when there is no table or no function)."""
    if table is None:
        return None
    found = table.lookup(address)
    return found[0] if found else None


def fold(stacks):
    """Folded lines (`cpu1;kernel;outer;inner COUNT`) from (cpu, kind, frames) tuples, sorted."""
    counts = Counter()
    for cpu, kind, frames in stacks:
        counts[";".join([f"cpu{cpu}", kind] + frames)] += 1
    return [f"{stack} {count}" for stack, count in sorted(counts.items())]


def top_functions(stacks, limit):
    """Per CPU: [(leaf function, self count, total count)], the `limit` largest self counts.

    Self counts the samples whose innermost frame is the function (idle samples are one row,
    `[idle (hlt)]`); total counts the samples where it is anywhere on the stack (once per
    sample, however often it recurses). Ties are broken by name, so the order is stable.
    """
    self_counts = defaultdict(Counter)
    total_counts = defaultdict(Counter)
    for cpu, kind, frames in stacks:
        leaf = IDLE if kind == "idle" else frames[-1]
        self_counts[cpu][leaf] += 1
        for name in set([IDLE] if kind == "idle" else frames):
            total_counts[cpu][name] += 1
    result = {}
    for cpu, counter in self_counts.items():
        ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]
        result[cpu] = [(name, count, total_counts[cpu][name]) for name, count in ordered]
    return result


def mode_split(samples):
    """Per CPU: Counter of `ring 0`, `ring 3`, `idle` samples."""
    split = defaultdict(Counter)
    for sample in samples:
        if sample["halted"]:
            split[sample["cpu"]]["idle"] += 1
        elif sample["cpl"] == 3:
            split[sample["cpu"]]["ring 3"] += 1
        else:
            split[sample["cpu"]]["ring 0"] += 1
    return split


def percentile(values, fraction):
    """The nearest-rank percentile of `values` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def format_report(metadata, samples, stacks, limit, roles):
    """The text report: the sampling's own numbers, then one table per CPU."""
    programs, network_cpus = roles
    rounds = {}
    for sample in samples:
        rounds[sample["round"]] = sample["round_ms"]
    lines = []
    duration = float(metadata.get("duration_s", "0") or 0)
    achieved = len(rounds) / duration if duration > 0 else 0
    round_times = list(rounds.values())
    lines.append(f"samples: {len(rounds)} rounds x vCPUs = {len(samples)} samples over {duration:.1f} s; "
                 f"asked {metadata.get('rate_hz', '?')} Hz, achieved {achieved:.0f} Hz; "
                 f"stack bytes {metadata.get('stack_bytes', '?')}")
    lines.append(f"QMP round trip per round: p50 {percentile(round_times, 0.5):.2f} ms, "
                 f"p99 {percentile(round_times, 0.99):.2f} ms, max {max(round_times, default=0):.2f} ms")
    # Each sample takes QEMU's global lock (the monitor's `info registers`), which device and
    # APIC accesses wait for too: a vCPU waiting there is found there more often than it is.
    lines.append("caveat: functions that read or write devices or the APIC (port I/O, IPIs, notify) are over-counted "
                 "(up to 4x measured); the kernel's swiglet_cpu_ipi_send_seconds_total, "
                 "swiglet_cpu_device_notify_seconds_total and swiglet_cpu_apic_write_seconds_total "
                 "time the writes (docs/debugging.md)")
    split = mode_split(samples)
    top = top_functions(stacks, limit)
    has_stacks = any(sample["frames"] for sample in samples)
    busy = [frames for _, kind, frames in stacks if kind != "idle"]
    if has_stacks and busy:
        with_callers = sum(1 for frames in busy if len(frames) > 1)
        lines.append(f"stacks: {100 * with_callers / len(busy):.1f}% of the running samples have callers "
                     f"(the rest stop at the sampled function: a frame-less leaf, or a chain that changed while read)")
    for cpu in sorted(split):
        total = sum(split[cpu].values())
        # Roles come from the console; without one, say nothing rather than "no program".
        role = ("network core" if cpu in network_cpus else
                f"program {programs[cpu]}" if cpu in programs else
                "no program" if programs or network_cpus else "")
        shares = ", ".join(f"{mode} {100 * split[cpu][mode] / total:.1f}%" for mode in ("ring 0", "ring 3", "idle"))
        lines.append("")
        lines.append(f"cpu{cpu}{f' ({role})' if role else ''}: {total} samples: {shares}")
        header = f"  {'samples':>7} {'self%':>6}" + (f" {'total%':>6}" if has_stacks else "") + "  function"
        lines.append(header)
        for name, count, inclusive in top.get(cpu, []):
            row = f"  {count:>7} {100 * count / total:>5.1f}%"
            if has_stacks:
                row += f" {100 * inclusive / total:>5.1f}%"
            lines.append(f"{row}  {name}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# QMP


class QMPClient:
    """A QMP connection (QEMU Machine Protocol, JSON lines) that runs HMP commands.

    `human_monitor_commands` sends several commands at once and reads their answers: QMP
    answers in order, and each carries the id it was sent with, so asynchronous events
    between them are skipped.
    """

    def __init__(self, path, timeout=10):
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.settimeout(timeout)
        self.socket.connect(path)
        self.buffer = b""
        self.next_id = 0
        self._read_message()  # the greeting
        self._send({"execute": "qmp_capabilities", "id": "capabilities"})
        self._read_reply("capabilities")

    def _send(self, message):
        self.socket.sendall(json.dumps(message).encode() + b"\n")

    def _read_message(self):
        while b"\n" not in self.buffer:
            more = self.socket.recv(1 << 16)
            if not more:
                raise ConnectionError("QEMU closed the QMP socket")
            self.buffer += more
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def _read_reply(self, identifier):
        while True:
            message = self._read_message()
            if message.get("id") != identifier:
                continue
            if "error" in message:
                raise RuntimeError(f"QMP error: {message['error']}")
            return message.get("return")

    def human_monitor_commands(self, commands):
        """Runs [(command line, cpu index or None)] and returns their outputs, in order."""
        identifiers = []
        payload = b""
        for command, cpu in commands:
            self.next_id += 1
            identifier = f"c{self.next_id}"
            arguments = {"command-line": command}
            if cpu is not None:
                arguments["cpu-index"] = cpu
            payload += json.dumps({"execute": "human-monitor-command", "arguments": arguments,
                                   "id": identifier}).encode() + b"\n"
            identifiers.append(identifier)
        self.socket.sendall(payload)
        return [self._read_reply(identifier) for identifier in identifiers]

    def close(self):
        self.socket.close()


def sample(arguments):
    """The `sample` command: sampling rounds at the rate asked, written as they come."""
    client = QMPClient(arguments.qmp)
    period = 1.0 / arguments.rate
    words = arguments.stack_bytes // 8
    with open(arguments.raw, "w", encoding="utf-8") as raw:
        raw.write(f"{RAW_HEADER}\n# rate_hz={arguments.rate}\n# stack_bytes={words * 8}\n")
        raw.write(f"# started={time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n{RAW_COLUMNS}\n")
        start = time.monotonic()
        due = start
        round_index = 0
        while True:
            now = time.monotonic()
            if now - start >= arguments.duration:
                break
            if now < due:
                time.sleep(due - now)
            began = time.monotonic()
            registers = parse_registers(client.human_monitor_commands([("info registers -a", None)])[0])
            # Halted vCPUs are not walked: idle is idle, and every read costs the round time.
            running = [s for s in registers if not s["halted"]] if words else []
            stacks = read_stacks(client.human_monitor_commands, running, words * 8)
            ended = time.monotonic()
            for one in registers:
                stack_top, frames = stacks.get(one["cpu"], (0, []))
                raw.write(format_raw_line(round_index, began - start, one, stack_top, frames,
                                          1000 * (ended - began)) + "\n")
            round_index += 1
            # A round late by more than a period is not made up with a burst: the rate is what it is.
            due = max(due + period, ended - period)
        elapsed = time.monotonic() - start
        raw.write(f"# duration_s={elapsed:.3f}\n# rounds={round_index}\n")
    client.close()
    print(f"profile-tool: {round_index} rounds in {elapsed:.1f} s ({round_index / elapsed:.0f} Hz, asked {arguments.rate})")
    return 0


def report(arguments):
    """The `report` command: symbolize a raw file, write profile.txt and folded.txt."""
    with open(arguments.raw, encoding="utf-8") as handle:
        metadata, samples = parse_raw(handle.read())
    if not samples:
        raise UsageError(f"{arguments.raw} holds no samples")
    kernel = load_symbols(elf=arguments.kernel, nm_file=arguments.kernel_symbols)
    programs, network_cpus = {}, set()
    if arguments.console:
        with open(arguments.console, encoding="utf-8", errors="replace") as handle:
            programs, network_cpus = parse_console_roles(handle.read())
    for assignment in arguments.program:
        cpu, _, name = assignment.partition("=")
        programs[int(cpu)] = name
    tables = {}
    programs_by_cpu = {}
    for cpu, name in programs.items():
        elf = program_elf(arguments.programs, name)
        if elf and elf not in tables:
            tables[elf] = load_symbols(elf=elf)
        programs_by_cpu[cpu] = tables.get(elf)
    stacks = []
    for one in samples:
        kind, frames = symbolize_sample(one, kernel, programs_by_cpu, programs)
        stacks.append((one["cpu"], kind, frames))
    os.makedirs(arguments.output, exist_ok=True)
    text = format_report(metadata, samples, stacks, arguments.top, (programs, network_cpus))
    with open(os.path.join(arguments.output, "profile.txt"), "w", encoding="utf-8") as handle:
        handle.write(text)
    with open(os.path.join(arguments.output, "folded.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(fold(stacks)) + "\n")
    sys.stdout.write(text)
    return 0


def program_elf(directory, name):
    """The ELF of program `name` in `directory`: NAME.elf, else the longest ELF whose name and a
    dash start NAME (grub.cfg ships tcp-client-crash as tcp-client.elf, faulty-ud as faulty.elf)."""
    if not directory:
        return None
    exact = os.path.join(directory, f"{name}.elf")
    if os.path.exists(exact):
        return exact
    candidates = [entry[:-4] for entry in os.listdir(directory) if entry.endswith(".elf")
                  and name.startswith(entry[:-4] + "-")] if os.path.isdir(directory) else []
    return os.path.join(directory, max(candidates, key=len) + ".elf") if candidates else None


# ---------------------------------------------------------------------------------------------
# The kernel's counters around a load


def parse_metrics(text):
    """Prometheus text exposition into {"name{labels}": value}; comments and bad lines are skipped."""
    samples = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            samples[key] = float(value)
        except ValueError:
            continue
    return samples


def metrics_delta(before_text, after_text, seconds=None):
    """The counters that moved between two scrapes `seconds` apart: lines `name{labels} delta [per_second/s]`."""
    before, after = parse_metrics(before_text), parse_metrics(after_text)
    lines = []
    for key in sorted(after):
        name = key.split("{", 1)[0]
        if not name.endswith("_total") or key not in before:
            continue
        delta = after[key] - before[key]
        if delta == 0:
            continue
        text = f"{key} {delta:.9g}"
        if seconds:
            text += f" {delta / seconds:.6g}/s"
        lines.append(text)
    header = f"# counters that moved over {seconds:.3f} s between the scrapes" if seconds \
        else "# counters that moved (the time between the scrapes not given: no rates)"
    return "\n".join([header] + lines) + "\n"


def delta(arguments):
    """The metrics-delta command."""
    with open(arguments.before, encoding="utf-8") as handle:
        before_text = handle.read()
    with open(arguments.after, encoding="utf-8") as handle:
        after_text = handle.read()
    if not parse_metrics(before_text) or not parse_metrics(after_text):
        raise ValueError(f"no samples in {arguments.before} or {arguments.after}: not /metrics output")
    sys.stdout.write(metrics_delta(before_text, after_text, arguments.seconds))
    return 0


# ---------------------------------------------------------------------------------------------
# The host's view: where QEMU's threads spend the host's CPU (perf)

HOST_CATEGORIES = ("guest code", "QEMU", "host kernel", "libraries")
PERF_LINE = re.compile(r"^\s*(?P<comm>.*?)\s+(?P<tid>\d+)\s+(?P<ip>[0-9a-f]+)\s+\((?P<dso>.*)\)\s*$")


def host_category(dso):
    """Which part of the host's work a sample's DSO is: TCG's generated code has no file behind
    it (perf names it `[JIT] tid N`, `/tmp/perf-PID.map` or `//anon`), the emulator is the
    qemu-system binary and its modules, the host kernel `[kernel.kallsyms]`. An address perf
    places in no file (`[unknown]`) counts as guest code: in QEMU's process the only executable
    anonymous memory is TCG's code buffer."""
    name = os.path.basename(dso)
    if dso.startswith("[kernel"):
        return "host kernel"
    if dso.startswith("[JIT]") or re.fullmatch(r"perf-\d+\.map", name) or dso.startswith("//anon") or dso == "[unknown]":
        return "guest code"
    if name.startswith("qemu-system") or name.startswith("accel-") or "/qemu/" in dso:
        return "QEMU"
    return "libraries"


def parse_perf_script(text):
    """`perf script -F comm,tid,ip,dso -G` lines into {(comm, tid): Counter(category)}; other lines are skipped."""
    threads = defaultdict(Counter)
    for line in text.splitlines():
        match = PERF_LINE.match(line)
        if match:
            threads[(match["comm"].strip(), int(match["tid"]))][host_category(match["dso"])] += 1
    return threads


def format_host_report(threads, seconds, frequency):
    """Per thread, busiest first: its share of one host core in all and by category."""
    if not threads:
        raise ValueError("no samples in the perf script output: did perf record the QEMU process?")
    full = seconds * frequency

    def row(label, tid, counts):
        return (f"{label:<22}{tid:>8}{100 * sum(counts.values()) / full:>7.0f}%"
                + "".join(f"{100 * counts[name] / full:>12.0f}%" for name in HOST_CATEGORIES))

    everything = sum(threads.values(), Counter())
    lines = [f"host: {sum(everything.values())} samples of QEMU's threads at {frequency:g} Hz over {seconds:.1f} s "
             "(perf record -e cpu-clock); each column is % of one host core",
             f"{'thread':<22}{'tid':>8}{'total':>8}" + "".join(f"{name:>13}" for name in HOST_CATEGORIES)]
    ordered = sorted(threads.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    lines += [row(comm, tid, counts) for (comm, tid), counts in ordered]
    lines.append(row("all of QEMU", "", everything))
    return "\n".join(lines) + "\n"


def host_report(arguments):
    """The host-report command."""
    with open(arguments.perf_script, encoding="utf-8", errors="replace") as handle:
        threads = parse_perf_script(handle.read())
    sys.stdout.write(format_host_report(threads, arguments.seconds, arguments.frequency))
    return 0


# ---------------------------------------------------------------------------------------------
# Command line (argparse would do, but its messages do not name our usage; this stays small)


def parse_arguments(argv):
    """Parses argv into an object with the options of its command; UsageError names the culprit."""
    if not argv or argv[0] in ("-h", "--help"):
        raise SystemExit(print(__doc__.strip()) or 0)
    command, rest = argv[0], argv[1:]
    specs = {
        "sample": {"--qmp": str, "--raw": str, "--duration": float, "--rate": float, "--stack-bytes": int},
        "report": {"--raw": str, "--output": str, "--kernel": str, "--kernel-symbols": str, "--programs": str,
                   "--console": str, "--program": list, "--top": int},
        "metrics-delta": {"--before": str, "--after": str, "--seconds": float},
        "host-report": {"--perf-script": str, "--seconds": float, "--frequency": float},
    }
    if command not in specs:
        raise UsageError(f"unknown command '{command}' (sample, report, metrics-delta or host-report)")
    values = {"duration": 10.0, "rate": 100.0, "stack_bytes": 1024, "top": 10, "program": [],
              "kernel": None, "kernel_symbols": None, "programs": None, "console": None, "seconds": None}
    index = 0
    while index < len(rest):
        option = rest[index]
        if option in ("-h", "--help"):
            raise SystemExit(print(__doc__.strip()) or 0)
        kind = specs[command].get(option)
        if kind is None:
            raise UsageError(f"unknown option '{option}' for {command}")
        if index + 1 >= len(rest):
            raise UsageError(f"option '{option}' needs a value")
        text = rest[index + 1]
        key = option[2:].replace("-", "_")
        try:
            if kind is list:
                if not re.fullmatch(r"\d+=[\w.-]+", text):
                    raise ValueError
                values[key].append(text)
            else:
                values[key] = kind(text)
        except ValueError:
            raise UsageError(f"option '{option}': bad value '{text}'") from None
        index += 2
    checks = {"sample": [("qmp", "--qmp"), ("raw", "--raw")], "report": [("raw", "--raw"), ("output", "--output")],
              "metrics-delta": [("before", "--before"), ("after", "--after")],
              "host-report": [("perf_script", "--perf-script")]}
    for key, option in checks[command]:
        if key not in values:
            raise UsageError(f"{command} needs {option}")
    if command == "sample":
        if not 0 < values["duration"] <= 3600:
            raise UsageError("option '--duration': must be more than 0 and at most 3600 seconds")
        if not 0 < values["rate"] <= 10000:
            raise UsageError("option '--rate': must be more than 0 and at most 10000 Hz")
        if not 0 <= values["stack_bytes"] <= 65536 or values["stack_bytes"] % 8:
            raise UsageError("option '--stack-bytes': a multiple of 8 from 0 to 65536")
    if command == "host-report":
        if values["seconds"] is None or values["seconds"] <= 0:
            raise UsageError("host-report needs --seconds, more than 0")
        if values.get("frequency") is None or values["frequency"] <= 0:
            raise UsageError("host-report needs --frequency, more than 0 Hz")
    if command == "report":
        if (values["kernel"] is None) == (values["kernel_symbols"] is None):
            raise UsageError("report needs one of --kernel or --kernel-symbols")
        if values["top"] < 1:
            raise UsageError("option '--top': at least 1")
    values["command"] = command
    return type("Arguments", (), values)


def main(argv):
    """Runs one command; exit status 0, 1 on a failure, 2 on a bad command line."""
    try:
        arguments = parse_arguments(argv)
        commands = {"sample": sample, "report": report, "metrics-delta": delta, "host-report": host_report}
        return commands[arguments.command](arguments)
    except UsageError as error:
        print(f"profile-tool: {error}\nrun 'scripts/profile-tool.py --help' for the options", file=sys.stderr)
        return 2
    except (OSError, ConnectionError, RuntimeError, ValueError) as error:
        print(f"profile-tool: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
