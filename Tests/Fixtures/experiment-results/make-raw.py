#!/usr/bin/env python3
"""Writes the fixture's raw.csv and metadata.json: a made-up but realistic run of
experiment.exp (3 targets, 2 and 4 CPUs, 1/16/256 connections, 3 repetitions), with
symmetric's every run at 4 CPUs and 256 connections failed and one failed run of dedicated at
2 CPUs and 256 connections. summary.csv and ratios.csv are then made from raw.csv by
ExperimentKit itself (PlotFixtureTests prints them when they differ). Seeded: reruns give the
same bytes."""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(10)
COLUMNS = ["run_key", "experiment", "target", "target_kind", "load", "load_kind", "point", "cpus",
           "connections", "size", "window", "rate", "repetition", "started", "seconds", "status", "reason",
           "requests", "errors_wrong_length", "errors_wrong_status", "errors_timeout", "errors_connect_failed",
           "errors_other", "metrics"]
TARGETS = [("dedicated", "swiglet"), ("symmetric", "swiglet"), ("linux", "linux")]
CONNECTIONS = [1, 16, 256]
RATE = {  # requests per second by (target, cpus), for 1, 16, 256 connections
    ("dedicated", 2): [3000, 21000, 19000], ("dedicated", 4): [3100, 26000, 25000],
    ("symmetric", 2): [2800, 17000, 15000], ("symmetric", 4): [2900, 23000, 4000],
    ("linux", 2): [2400, 9000, 8500], ("linux", 4): [2600, 14000, 13000],
}


def noisy(value, spread=0.05):
    return value * (1 + rng.uniform(-spread, spread))


def r(value, digits=4):
    return float(f"{value:.{digits}g}")


def shares(target, cpus, level):
    """Per-CPU metrics as CPUShares records them: Swiglet's app (ring 3), network, other kernel
    and idle (sleep in wait) shares — a dedicated network core made up here as kernels before
    2026-12-06 counted it, about 0 (they now count its busy passes as network time) — and
    Linux's user/system/irq/idle/steal (LinuxCPUUsage.metrics)."""
    metrics = {}
    for cpu in range(cpus):
        if target == "linux":
            user = noisy(0.08 + 0.25 * level, 0.1)
            system = noisy(0.05 + 0.3 * level, 0.1)
            irq = noisy(0.02 + 0.2 * level, 0.1)
            idle = max(0.0, 1 - user - system - irq)
            metrics.update({f"user_share_cpu{cpu}": r(user), f"system_share_cpu{cpu}": r(system),
                            f"irq_share_cpu{cpu}": r(irq), f"idle_share_cpu{cpu}": r(idle),
                            f"steal_share_cpu{cpu}": 0.0})
            continue
        if target == "dedicated" and cpu == 0:   # the network core: no program, polls
            application, network, kernel = 0.0, 0.0, noisy(0.002, 0.2)
        elif target == "dedicated":              # application CPUs: no network work at all
            application, network, kernel = noisy(0.05 + 0.4 * level, 0.1), 0.0, noisy(0.01 + 0.02 * level, 0.2)
        else:                                    # symmetric: every CPU runs the stack
            application = noisy(0.05 + 0.3 * level, 0.1)
            network = noisy(0.05 + 0.35 * level, 0.1)
            kernel = noisy(0.03 + 0.05 * level, 0.2)
        idle = 0.0 if target == "dedicated" and cpu == 0 else max(0.0, 1 - network - kernel - application)
        metrics.update({f"app_share_cpu{cpu}": r(application), f"network_share_cpu{cpu}": r(network),
                        f"kernel_share_cpu{cpu}": r(kernel), f"idle_share_cpu{cpu}": r(idle)})
    return metrics


host_rng = random.Random(20)   # its own generator: the other metrics stay as they were


def host(target, cpus, level):
    """host-cpu metrics as HostCPUUsage records them, in percent of one host core of a 2-core
    host: a dedicated network core's vCPU thread polls at about 95% whatever the load."""
    def wobble(value):
        return value * (1 + host_rng.uniform(-0.05, 0.05))
    metrics, vcpus = {}, 0.0
    for cpu in range(cpus):
        if target == "dedicated" and cpu == 0:
            percent = wobble(95)
        else:
            percent = wobble((10 + 70 * level) / (cpus - 1 if target == "dedicated" else cpus))
        metrics[f"host_vcpu{cpu}_pct"] = r(percent)
        vcpus += r(percent)
    io, rest = r(wobble(15 + 30 * level)), r(wobble(5 + 10 * level))
    qemu = r(vcpus + io + 1)
    metrics.update({"host_io_thread_pct": io, "host_qemu_pct": qemu, "host_rest_pct": rest,
                    "host_busy_pct": r(min(200, qemu + rest))})
    return metrics


def field(text):
    text = str(text)
    if any(c in text for c in ',"\n\r') or text[:1] == " " or text[-1:] == " ":
        return '"' + text.replace('"', '""') + '"'
    return text


rows = []
minute = 0
for repetition in range(1, 4):
    rotation = (repetition - 1) % len(TARGETS)
    for cpus in (2, 4):
        for target, kind in TARGETS[rotation:] + TARGETS[:rotation]:
            for index, connections in enumerate(CONNECTIONS):
                point = f"keepalive/cpus={cpus}/connections={connections}/rate=0"
                rate = noisy(RATE[(target, cpus)][index])
                p50 = connections / rate * 1e6 * noisy(0.9, 0.05)
                p99 = p50 * noisy(4 if target != "linux" else 9, 0.2)
                metrics = {"requests_per_second": r(rate, 6), "p50_us": r(p50), "p99_us": r(p99)}
                metrics.update(shares(target, cpus, index / 2))
                metrics.update(host(target, cpus, index / 2))
                status, reason, timeouts = "ok", "", 0
                failed = (target == "symmetric" and cpus == 4 and connections == 256) \
                    or (target == "dedicated" and cpus == 2 and connections == 256 and repetition == 2)
                if failed:
                    timeouts = int(rate * 10 * 0.125)
                    status, reason = "failed", "errors 12.50% > 1.00% of requests"
                started = f"2026-12-05T12:{22 + minute // 60:02d}:{minute % 60:02d}.125Z"
                minute += 13
                rows.append([f"{point}/r{repetition}/{target}", "intrusion-mini", target, kind, "keepalive",
                             "http-keepalive", point, cpus, connections, "", "", 0, repetition, started, "10.0",
                             status, reason, int(rate * 10), 0, 0, timeouts, 0, 0,
                             ";".join(f"{k}={v}" for k, v in sorted(metrics.items()))])

with open(os.path.join(HERE, "raw.csv"), "w", newline="") as out:
    for row in [COLUMNS] + rows:
        out.write(",".join(field(x) for x in row) + "\n")

with open(os.path.join(HERE, "experiment.exp")) as exp:
    text = exp.read()
metadata = {
    "bootOptions": {"dedicated": "net-mode=dedicated", "symmetric": "net-mode=symmetric", "linux": ""},
    "commit": "fd44a1079178ee1529bf77cbf918455c248428c3",
    "dirty": False,
    "experiment": "intrusion-mini",
    "experimentFile": "Tests/Fixtures/experiment-results/experiment.exp",
    "experimentText": text,
    "finished": "2026-12-05T12:33:50Z",
    "hostCPUModel": "Intel(R) Xeon(R) Processor",
    "hostCores": 2,
    "loadAverage": [2.12, 2.36, 2.42],
    "notes": {"fixture": "made up by make-raw.py for the plot script's test, not measured"},
    "qemuCommandLines": [
        {"arguments": ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-smp", "2", "-m", "256M"],
         "boot": "r1/cpus=2/dedicated/keepalive", "target": "dedicated"},
    ],
    "qemuVersion": "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)",
    "started": "2026-12-05T12:21:56Z",
}
with open(os.path.join(HERE, "metadata.json"), "w") as out:
    out.write(json.dumps(metadata, indent=2, sort_keys=True, separators=(",", " : ")) + "\n")
