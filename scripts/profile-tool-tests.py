#!/usr/bin/env python3
"""Unit tests of scripts/profile-tool.py's pure logic, on QEMU output captured from a Swiglet guest.

usage: scripts/profile-tool-tests.py [-v]   (Tests/SystemTests/ProfilerTests.swift runs it)

The fixtures in Tests/Fixtures/profile are real: info-registers-a.txt is QEMU 7.2's
`info registers -a` of a 3-CPU guest running `spinner` in ring 3 on cpu1 (cpu0 and cpu2
halted), x-16gx.txt is `x /16gx RBP` of that spinner's stack (it ends in an unmapped page),
spinner.nm is `nm -n -S --defined-only images/programs/spinner.elf` of the same build.
"""

import importlib.util
import os
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Tests", "Fixtures", "profile")
# The tool's file name has a dash and `profile` is a standard module: load it under another name.
_spec = importlib.util.spec_from_file_location("swiglet_profile_tool", os.path.join(HERE, "profile-tool.py"))
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


class ParseRegistersTests(unittest.TestCase):
    def test_golden_three_cpus(self):
        samples = tool.parse_registers(fixture("info-registers-a.txt"))
        self.assertEqual([s["cpu"] for s in samples], [0, 1, 2])
        self.assertEqual([s["halted"] for s in samples], [True, False, True])
        self.assertEqual([s["cpl"] for s in samples], [0, 3, 0])
        spinner = samples[1]
        self.assertEqual(spinner["rip"], 0x400000001163)
        self.assertEqual(spinner["rbp"], 0x4FFFFFFFFFD0)
        self.assertEqual(spinner["rsp"], 0x4FFFFFFFFF80)
        self.assertEqual(samples[0]["rip"], 0x100202)

    def test_single_block_without_header_is_cpu0(self):
        text = ("RAX=0000000000000000 RBX=0000000000000001\nRSI=0 RDI=0 RBP=0000000000000010 RSP=0000000000000020\n"
                "RIP=0000000000100010 RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0\n")
        self.assertEqual(tool.parse_registers(text),
                         [{"cpu": 0, "rip": 0x100010, "rsp": 0x20, "rbp": 0x10, "cpl": 0, "halted": False}])

    def test_segment_and_xmm_lines_do_not_leak_into_registers(self):
        # "R8 =" has a space; DPL=, ES = lines and XMM registers must not be read as RBP/RSP/CPL.
        samples = tool.parse_registers(fixture("info-registers-a.txt"))
        self.assertEqual(samples[0]["rsp"], 0x172C08)

    def test_block_without_rip_is_skipped(self):
        self.assertEqual(tool.parse_registers("CPU#0\nnothing here\n"), [])


class MemoryAndFramesTests(unittest.TestCase):
    def test_golden_dump_stops_at_unmapped_page(self):
        words = tool.parse_memory_dump(fixture("x-16gx.txt"))
        self.assertEqual(len(words), 6)
        self.assertEqual(words[0x4FFFFFFFFFD0], 0x4FFFFFFFFFE0)
        self.assertEqual(words[0x4FFFFFFFFFD8], 0x400000001115)

    def test_golden_walk(self):
        words = tool.parse_memory_dump(fixture("x-16gx.txt"))
        # [rbp+8] is programMain's return into program_main; the next frame's caller is 0: the end.
        self.assertEqual(tool.walk_frames(0x4FFFFFFFFFD0, words), ([0x400000001115, 0x400000000022], None))

    def test_walk_pauses_where_the_words_end(self):
        words = {0x1000: 0x1100, 0x1008: 0xAAAA}
        self.assertEqual(tool.walk_frames(0x1000, words), ([0xAAAA], 0x1100))

    def test_walk_stops_on_descending_chain_zero_return_and_misalignment(self):
        self.assertEqual(tool.walk_frames(0x1000, {0x1000: 0x0800, 0x1008: 0xAAAA}), ([0xAAAA], None))
        self.assertEqual(tool.walk_frames(0x1000, {0x1000: 0x1100, 0x1008: 0}), ([], None))
        self.assertEqual(tool.walk_frames(0x1004, {0x1004: 0x1100, 0x100C: 1}), ([], None))
        self.assertEqual(tool.walk_frames(0, {}), ([], None))

    def test_walk_is_bounded(self):
        words = {}
        for index in range(200):
            words[0x1000 + 16 * index] = 0x1000 + 16 * (index + 1)
            words[0x1008 + 16 * index] = 0x5000 + index
        frames, _ = tool.walk_frames(0x1000, words)
        self.assertEqual(len(frames), tool.MAX_FRAMES)

    def test_read_stacks_reads_on_where_a_chain_leaves_the_words(self):
        # cpu0's chain: 0x1000 -> 0x1800 (outside the first read) -> end; cpu1's fits in one read.
        memory = {0x0FF0: 0x7777, 0x1000: 0x1800, 0x1008: 0xA1, 0x1800: 0, 0x1808: 0xA2,
                  0x2000: 0x2010, 0x2008: 0xB1, 0x2010: 0, 0x2018: 0xB2}
        batches = []

        def run(commands):
            batches.append(commands)
            outputs = []
            for command, _ in commands:
                count, address = command.split()[1], int(command.split()[2], 16)
                words = int(count[1:-2])
                lines = [f"{address + 8 * i:016x}: 0x{memory.get(address + 8 * i, 0):016x}" for i in range(words)]
                outputs.append("\r\n".join(lines) + "\r\n")
            return outputs

        running = [{"cpu": 0, "rip": 1, "rsp": 0x0FF0, "rbp": 0x1000, "cpl": 0, "halted": False},
                   {"cpu": 1, "rip": 1, "rsp": 0x1FF0, "rbp": 0x2000, "cpl": 0, "halted": False}]
        result = tool.read_stacks(run, running, 32)
        self.assertEqual(result[0], (0x7777, [0xA1, 0xA2]))
        self.assertEqual(result[1], (0, [0xB1, 0xB2]))
        self.assertEqual(len(batches), 2, "one batch for both vCPUs, then one read for cpu0's chain")
        self.assertEqual(batches[0][0], ("x /1gx 0xff0", 0))
        self.assertEqual(batches[1], [("x /4gx 0x1800", 0)])

    def test_read_stacks_does_not_chase_far_frames(self):
        def run(commands):
            return ["0000000000001000: 0x0000000010000000 0x00000000000000a1\n" for _ in commands]
        running = [{"cpu": 0, "rip": 1, "rsp": 0x1000, "rbp": 0x1000, "cpl": 0, "halted": False}]
        calls = []
        result = tool.read_stacks(lambda commands: calls.append(commands) or run(commands), running, 16)
        self.assertEqual(result[0][1], [0xA1])
        self.assertEqual(len(calls), 1)


class SymbolTests(unittest.TestCase):
    def setUp(self):
        self.table = tool.SymbolTable([(0x100, 0x10, "sized"), (0x200, 0, "label"), (0x200, 0x20, "alias"),
                                       (0x300, 0, "last")])

    def test_lookup(self):
        self.assertIsNone(self.table.lookup(0xFF))
        self.assertEqual(self.table.lookup(0x100), ("sized", 0))
        self.assertEqual(self.table.lookup(0x10F), ("sized", 0xF))
        self.assertIsNone(self.table.lookup(0x110), "past a sized symbol's end")
        self.assertEqual(self.table.lookup(0x21F), ("alias", 0x1F), "the alias with a size wins")
        self.assertIsNone(self.table.lookup(0x220))
        self.assertEqual(self.table.lookup(0x400), ("last", 0x100))
        self.assertIsNone(self.table.lookup(0x300 + 0x10001), "the last label does not reach forever")

    def test_parse_nm_keeps_code_only(self):
        symbols = tool.parse_nm(fixture("kernel.nm"))
        names = [name for _, _, name in symbols]
        self.assertIn("interrupts_enable_and_halt", names)
        self.assertNotIn("data_is_never_code", names)
        self.assertEqual(symbols[0], (0x100000, 0, "kernel_text_start"))
        self.assertIn((0x100210, 6, "swift_beginAccess"), symbols)

    def test_golden_program_symbols(self):
        table = tool.SymbolTable(tool.parse_nm(fixture("spinner.nm")))
        name, offset = table.lookup(0x400000001163)
        self.assertEqual(name, "$e14SpinnerProgram11programMains5Int32VyF")
        self.assertEqual(offset, 0x4E)
        # A return address that is the first byte after a call at a function's end belongs to the caller.
        self.assertEqual(table.lookup(0x400000001115 - 1)[0], "program_main")

    def test_demangle(self):
        if not tool.find_tool("swift-demangle", ["/opt/swift/usr/bin/swift-demangle"]):
            self.skipTest("swift-demangle is not installed")
        self.assertEqual(tool.demangle(["$e6Kernel11NetworkCoreO3run7contexts5NeverOSi_tFZ", "plain_c"]),
                         ["static NetworkCore.run(context:)", "plain_c"])

    def test_clean_frame_name(self):
        self.assertEqual(tool.clean_frame_name("a;b\nc "), "a:b c")


class SymbolizeTests(unittest.TestCase):
    def setUp(self):
        self.kernel = tool.SymbolTable([(0x1000, 0x100, "loop"), (0x2000, 0x100, "callee"), (0x3000, 0, "halt")])
        self.user = tool.SymbolTable([(0x400000000000, 0x20, "program_main"), (0x400000000020, 0x100, "programMain")])

    def sample(self, **fields):
        base = {"cpu": 0, "cpl": 0, "halted": False, "rip": 0x2010, "rsp": 0, "rbp": 0, "stack_top": 0, "frames": []}
        base.update(fields)
        return base

    def test_kernel_stack_outermost_first(self):
        kind, frames = tool.symbolize_sample(self.sample(frames=[0x1050]), self.kernel, {}, {})
        self.assertEqual((kind, frames), ("kernel", ["loop", "callee"]))

    def test_return_address_minus_one(self):
        # 0x1100 is one past loop's end: the call was loop's last instruction.
        kind, frames = tool.symbolize_sample(self.sample(frames=[0x1100]), self.kernel, {}, {})
        self.assertEqual(frames, ["loop", "callee"])

    def test_entry_point_takes_the_word_at_rsp(self):
        kind, frames = tool.symbolize_sample(self.sample(rip=0x2000, stack_top=0x1040, frames=[]), self.kernel, {}, {})
        self.assertEqual(frames, ["loop", "callee"])
        # Not at the entry: the word at RSP is ignored.
        kind, frames = tool.symbolize_sample(self.sample(rip=0x2001, stack_top=0x1040), self.kernel, {}, {})
        self.assertEqual(frames, ["callee"])

    def test_chain_is_cut_at_an_address_in_no_function(self):
        kind, frames = tool.symbolize_sample(self.sample(frames=[0x1050, 0x99999, 0x1050]), self.kernel, {}, {})
        self.assertEqual(frames, ["loop", "callee"])

    def test_unknown_leaf_is_counted(self):
        self.assertEqual(tool.symbolize_sample(self.sample(rip=0x50000), self.kernel, {}, {}),
                         ("kernel", ["[unknown ring 0]"]))
        self.assertEqual(tool.symbolize_sample(self.sample(cpu=1, cpl=3, rip=0x400000000030), self.kernel, {}, {}),
                         ("user:unknown-program", ["[unknown ring 3]"]))

    def test_user_sample_uses_its_cpus_program(self):
        result = tool.symbolize_sample(self.sample(cpu=1, cpl=3, rip=0x400000000030, frames=[0x400000000020]),
                                       self.kernel, {1: self.user}, {1: "spinner"})
        self.assertEqual(result, ("user:spinner", ["program_main", "programMain"]))

    def test_idle(self):
        self.assertEqual(tool.symbolize_sample(self.sample(halted=True, rip=0x3002), self.kernel, {}, {}),
                         ("idle", [tool.IDLE, "halt"]))


class FoldAndTopTests(unittest.TestCase):
    stacks = [(0, "kernel", ["main", "loop"])] * 3 + [(0, "kernel", ["main", "loop", "copy"])] * 2 + \
             [(0, "kernel", ["main", "recurse", "recurse"])] + [(1, "idle", [tool.IDLE, "halt"])] * 4 + \
             [(1, "user:http", ["programMain"])]

    def test_fold(self):
        self.assertEqual(tool.fold(self.stacks), [
            "cpu0;kernel;main;loop 3",
            "cpu0;kernel;main;loop;copy 2",
            "cpu0;kernel;main;recurse;recurse 1",
            "cpu1;idle;[idle (hlt)];halt 4",
            "cpu1;user:http;programMain 1",
        ])

    def test_top_functions(self):
        top = tool.top_functions(self.stacks, 2)
        self.assertEqual(top[0], [("loop", 3, 5), ("copy", 2, 2)])
        self.assertEqual(top[1], [(tool.IDLE, 4, 4), ("programMain", 1, 1)])
        everything = tool.top_functions(self.stacks, 10)[0]
        self.assertIn(("recurse", 1, 1), everything, "a recursive function counts once per sample")

    def test_ties_are_ordered_by_name(self):
        top = tool.top_functions([(0, "kernel", ["b"]), (0, "kernel", ["a"])], 2)
        self.assertEqual([name for name, _, _ in top[0]], ["a", "b"])

    def test_mode_split_and_percentile(self):
        samples = [{"cpu": 0, "cpl": 0, "halted": False}, {"cpu": 0, "cpl": 3, "halted": False},
                   {"cpu": 0, "cpl": 0, "halted": True}, {"cpu": 0, "cpl": 3, "halted": True}]
        self.assertEqual(tool.mode_split(samples)[0], {"ring 0": 1, "ring 3": 1, "idle": 2})
        self.assertEqual(tool.percentile([4, 1, 3, 2], 0.5), 2)
        self.assertEqual(tool.percentile([4, 1, 3, 2], 0.99), 4)
        self.assertEqual(tool.percentile([], 0.5), 0.0)


class RawAndConsoleTests(unittest.TestCase):
    def test_raw_round_trip(self):
        sample = {"cpu": 2, "cpl": 3, "halted": False, "rip": 0x400000001163, "rsp": 0x4FFFFFFFFF80,
                  "rbp": 0x4FFFFFFFFFD0}
        line = tool.format_raw_line(7, 1.25, sample, 0x1234, [0x400000001115, 0x22], 3.5)
        metadata, samples = tool.parse_raw(f"{tool.RAW_HEADER}\n# rate_hz=100\n{tool.RAW_COLUMNS}\n{line}\n# duration_s=2.0\n")
        self.assertEqual(metadata, {"rate_hz": "100", "duration_s": "2.0"})
        self.assertEqual(samples[0]["frames"], [0x400000001115, 0x22])
        self.assertEqual(samples[0]["stack_top"], 0x1234)
        self.assertEqual((samples[0]["round"], samples[0]["cpu"], samples[0]["cpl"], samples[0]["rip"]),
                         (7, 2, 3, 0x400000001163))
        halted = tool.format_raw_line(0, 0, dict(sample, halted=True), 0, [], 1)
        self.assertTrue(tool.parse_raw(halted)[1][0]["halted"])
        self.assertEqual(tool.parse_raw(halted)[1][0]["frames"], [])

    def test_raw_with_wrong_field_count_is_an_error(self):
        with self.assertRaises(ValueError):
            tool.parse_raw("1\t2\t3\n")

    def test_console_roles(self):
        programs, network = tool.parse_console_roles(fixture("console.log"))
        self.assertEqual(programs, {1: "spinner"})
        self.assertEqual(network, {0})

    def test_program_elf_resolves_aliases(self):
        with tempfile.TemporaryDirectory() as directory:
            for name in ("tcp-client", "tcp", "faulty"):
                open(os.path.join(directory, f"{name}.elf"), "w").close()
            self.assertEqual(tool.program_elf(directory, "tcp-client-crash"), os.path.join(directory, "tcp-client.elf"))
            self.assertEqual(tool.program_elf(directory, "faulty"), os.path.join(directory, "faulty.elf"))
            self.assertIsNone(tool.program_elf(directory, "http"))
            self.assertIsNone(tool.program_elf(None, "http"))


class CommandLineTests(unittest.TestCase):
    def assertUsageError(self, argv, fragment):
        with self.assertRaises(tool.UsageError) as caught:
            tool.parse_arguments(argv)
        self.assertIn(fragment, str(caught.exception))

    def test_bad_options_are_named(self):
        self.assertUsageError(["sample", "--qmp", "q", "--raw", "r", "--rat", "5"], "'--rat'")
        self.assertUsageError(["sample", "--qmp", "q", "--raw", "r", "--rate", "fast"], "'--rate': bad value 'fast'")
        self.assertUsageError(["sample", "--qmp", "q", "--raw", "r", "--rate", "0"], "'--rate'")
        self.assertUsageError(["sample", "--qmp", "q", "--raw", "r", "--stack-bytes", "12"], "'--stack-bytes'")
        self.assertUsageError(["sample", "--raw", "r"], "--qmp")
        self.assertUsageError(["report", "--raw", "r", "--output", "o"], "--kernel")
        self.assertUsageError(["report", "--raw", "r", "--output", "o", "--kernel", "k", "--program", "one=http"], "'--program'")
        self.assertUsageError(["report", "--raw", "r", "--output", "o", "--kernel", "k", "--top"], "'--top' needs a value")
        self.assertUsageError(["frobnicate"], "unknown command 'frobnicate'")

    def test_defaults(self):
        arguments = tool.parse_arguments(["sample", "--qmp", "q", "--raw", "r"])
        self.assertEqual((arguments.duration, arguments.rate, arguments.stack_bytes), (10.0, 100.0, 1024))
        report = tool.parse_arguments(["report", "--raw", "r", "--output", "o", "--kernel", "k", "--program", "1=http"])
        self.assertEqual((report.top, report.program), (10, ["1=http"]))


class MetricsDeltaTests(unittest.TestCase):
    BEFORE = """# HELP swiglet_cpu_ipis_sent_total IPIs sent.
# TYPE swiglet_cpu_ipis_sent_total counter
swiglet_cpu_ipis_sent_total{cpu="0",role="network"} 100
swiglet_cpu_ipis_sent_total{cpu="1",role="program"} 0
swiglet_tcp_connections{state="established"} 3
swiglet_tcp_notice_visits_total 7
"""
    AFTER = """swiglet_cpu_ipis_sent_total{cpu="0",role="network"} 2100
swiglet_cpu_ipis_sent_total{cpu="1",role="program"} 0
swiglet_tcp_connections{state="established"} 900
swiglet_tcp_notice_visits_total 7
swiglet_tcp_new_total 5
"""

    def test_only_counters_that_moved_with_their_rates(self):
        self.assertEqual(tool.metrics_delta(self.BEFORE, self.AFTER, 4.0).splitlines(), [
            "# counters that moved over 4.000 s between the scrapes",
            'swiglet_cpu_ipis_sent_total{cpu="0",role="network"} 2000 500/s',
        ])

    def test_without_the_time_no_rates(self):
        self.assertEqual(tool.metrics_delta(self.BEFORE, self.AFTER).splitlines()[1],
                         'swiglet_cpu_ipis_sent_total{cpu="0",role="network"} 2000')

    def test_a_file_that_is_not_metrics_is_an_error(self):
        with tempfile.TemporaryDirectory() as directory:
            before, after = os.path.join(directory, "before"), os.path.join(directory, "after")
            with open(before, "w", encoding="utf-8") as handle:
                handle.write("curl: (7) Failed to connect\n")
            with open(after, "w", encoding="utf-8") as handle:
                handle.write(self.AFTER)
            arguments = tool.parse_arguments(["metrics-delta", "--before", before, "--after", after])
            with self.assertRaises(ValueError):
                tool.delta(arguments)

    def test_options(self):
        with self.assertRaises(tool.UsageError):
            tool.parse_arguments(["metrics-delta", "--before", "b"])
        with self.assertRaises(tool.UsageError):
            tool.parse_arguments(["metrics-delta", "--before", "b", "--after", "a", "--seconds", "soon"])


class HostReportTests(unittest.TestCase):
    # `perf script -F comm,tid,ip,dso -G` as perf 6.1 prints it for QEMU 7.2 started with
    # `-name swiglet,debug-threads=on`: comm right-aligned to 16 columns, may hold spaces.
    SCRIPT = """       CPU 0/TCG 14904      55dc6e066681 (/usr/bin/qemu-system-x86_64)
       CPU 0/TCG 14904      7ffb0848031b (/tmp/perf-14896.map)
       CPU 0/TCG 14904      7ffb0848031c (/tmp/perf-14896.map)
       CPU 0/TCG 14904      7ffb0848031d (/tmp/perf-14896.map)
       CPU 1/TCG 14905      ffffffff813aecd3 ([kernel.kallsyms])
       CPU 1/TCG 14905      7ffb0c1218c3 ([unknown])
 qemu-system-x86 14896      ffffffff813aecd3 ([kernel.kallsyms])
 qemu-system-x86 14896      7f2a01234567 (/usr/lib/x86_64-linux-gnu/libc.so.6)
perf: a line that is not a sample
"""

    def test_categories(self):
        self.assertEqual([tool.host_category(dso) for dso in [
            "[kernel.kallsyms]", "/tmp/perf-14896.map", "[JIT] tid 14896", "//anon", "[unknown]",
            "/usr/bin/qemu-system-x86_64", "/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so",
            "/usr/lib/x86_64-linux-gnu/libglib-2.0.so.0.7400.6", "[vdso]"]],
            ["host kernel", "guest code", "guest code", "guest code", "guest code",
             "QEMU", "QEMU", "libraries", "libraries"])

    def test_samples_by_thread_and_category(self):
        threads = tool.parse_perf_script(self.SCRIPT)
        self.assertEqual(set(threads), {("CPU 0/TCG", 14904), ("CPU 1/TCG", 14905), ("qemu-system-x86", 14896)})
        self.assertEqual(threads[("CPU 0/TCG", 14904)], {"QEMU": 1, "guest code": 3})
        self.assertEqual(threads[("CPU 1/TCG", 14905)], {"host kernel": 1, "guest code": 1})

    def test_report_in_shares_of_a_host_core(self):
        # At 2 Hz over 2 s, 4 samples are one host core: vCPU 0 used one (3 in guest code, 1 in QEMU).
        lines = tool.format_host_report(tool.parse_perf_script(self.SCRIPT), seconds=2.0, frequency=2.0).splitlines()
        self.assertIn("8 samples", lines[0])
        self.assertTrue(lines[2].startswith("CPU 0/TCG"), lines[2])   # busiest first
        self.assertEqual(lines[2].split()[-5:], ["100%", "75%", "25%", "0%", "0%"])
        self.assertEqual(lines[-1].split()[-5:], ["200%", "100%", "25%", "50%", "25%"])

    def test_no_samples_is_an_error(self):
        with self.assertRaises(ValueError):
            tool.format_host_report(tool.parse_perf_script("perf: nothing\n"), 1.0, 499.0)

    def test_options(self):
        with self.assertRaises(tool.UsageError) as caught:
            tool.parse_arguments(["host-report", "--perf-script", "p", "--frequency", "499"])
        self.assertIn("--seconds", str(caught.exception))
        with self.assertRaises(tool.UsageError) as caught:
            tool.parse_arguments(["host-report", "--perf-script", "p", "--seconds", "8"])
        self.assertIn("--frequency", str(caught.exception))
        arguments = tool.parse_arguments(["host-report", "--perf-script", "p", "--seconds", "8", "--frequency", "499"])
        self.assertEqual((arguments.seconds, arguments.frequency), (8.0, 499.0))


if __name__ == "__main__":
    unittest.main()
