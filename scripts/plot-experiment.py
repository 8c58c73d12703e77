#!/usr/bin/env python3
"""Draws the figures of one swiglet-lab results directory, next to its CSV files.

usage: scripts/plot-experiment.py RESULTS_DIR [--format png,svg] [--output DIR]
                                  [--plotted-json FILE]

Reads RESULTS_DIR/summary.csv (required), ratios.csv (when the experiment has a baseline) and
metadata.json (experiment, date, commit: every figure's title names them), as ExperimentKit
writes them (Sources/HostTools/ExperimentKit: SummaryCSV, RatioCSV, RunMetadata), and writes, for every
load LOAD of the experiment:

  throughput-LOAD.EXT  the load's rate (requests_per_second; connections_per_second for
                       http-close, bytes_per_second for tcp-bulk) against the swept parameter,
                       one line per target, one panel per cpus value: the median, bars from
                       min to max over the runs that did not fail
  latency-LOAD.EXT     p50_us (solid) and p99_us (dashed) against the swept parameter, the same way
  ratio-LOAD.EXT       each target's ratio to the baseline (ratios.csv) for the rate, p50 and p99:
                       the ratio of the medians, bars over its range (target min / baseline max
                       to target max / baseline min), hollow diamonds for the paired median
  cpu-share-LOAD.EXT   when the runs measured cpu-share: one stacked bar per CPU and load level,
                       a row of panels per target, a column per cpus value
  host-cpu-LOAD.EXT    when the runs measured host-cpu: one stacked bar per load level of the
                       host's CPU (percent of one host core) — QEMU's vCPU threads, its I/O
                       thread, its other threads, the rest of the host — under a dashed line
                       at the host's capacity (hostCores x 100 from metadata.json)

The swept parameter is the first of connections, size, window, rate that takes more than one
value; the others that vary split a target into several lines (`dedicated size=1024`). With
values from 1 to 256 the axis is logarithmic (base 2).

A point whose every run failed (status `failed` in summary.csv or ratios.csv) has no number:
its line has a gap there and a cross stands at the foot of the panel, never a value. A point
where only some runs failed (`partial`) is drawn from the others and ringed.

CPU shares, per CPU N (fractions of the elapsed time, as ExperimentKit's CPUShares and
LinuxCPUUsage record them), stacked from the bottom:

  segment          Swiglet metrics                          Linux metrics
  application      app_share_cpuN (ring 3)                  user_share_cpuN (user + nice)
  network work     network_share_cpuN                       irq_share_cpuN (irq + softirq)
  other kernel     kernel_share_cpuN                        system_share_cpuN
  idle             idle_share_cpuN (asleep in wait)         idle_share_cpuN (idle + iowait)

A target uses the Linux column when it recorded user_share_cpuN. A missing metric counts as 0.
The application segment is min(app_share, 1 - the other three), so that an app_share meaning
"all the time the network stack left" (MetricName.applicationShare's wording) cannot overlap
them. Linux counts its network stack inside irq+softirq and system, not apart.

Options:
  --format LIST        comma-separated: png, svg, pdf (default png,svg)
  --output DIR         where the figures go (default: RESULTS_DIR)
  --plotted-json FILE  also write what was drawn, read back from the figures' artists: per
                       figure and panel, each line's x and y (null where nothing is drawn),
                       the failed markers' x, and the bars (for tests)
  -h, --help           this text

Needs matplotlib (Debian: python3-matplotlib, which scripts/install-deps.sh installs). When
the python3 running this lacks it and /usr/bin/python3 has it (a python3 of pyenv or a venv
first on PATH), the script runs itself again with /usr/bin/python3.

Exit status: 0 figures written; 1 the directory or its files cannot be read; 2 bad arguments;
3 matplotlib is missing.
"""

import argparse
import csv
import json
import math
import os
import re
import sys
import textwrap
import warnings

PARAMETERS = ["connections", "size", "window", "rate"]
RATE_METRICS = ["requests_per_second", "connections_per_second", "bytes_per_second"]
RATE_BY_KIND = {"http-close": "connections_per_second", "tcp-bulk": "bytes_per_second"}
METRIC_LABELS = {
    "requests_per_second": "requests/s",
    "connections_per_second": "connections/s",
    "bytes_per_second": "bytes/s",
    "p50_us": "p50 latency (µs)",
    "p99_us": "p99 latency (µs)",
}
SHARE = re.compile(r"^(app|network|kernel|idle|user|system|irq|steal)_share_cpu(\d+)$")
SEGMENTS = [  # (key, legend label, colour)
    ("application", "application (Linux: user)", "#4878d0"),
    ("network", "network work (Linux: irq+softirq)", "#ee854a"),
    ("kernel", "other kernel (Linux: system)", "#d65f5f"),
    ("idle", "idle", "#d0d0d0"),
]
FAILED_COLOR = "#c00000"
HOST = re.compile(r"^host_(vcpu\d+|io_thread|qemu|rest|busy)_pct$")
HOST_SEGMENTS = [  # (key, legend label, colour)
    ("vcpus", "QEMU vCPU threads", "#4878d0"),
    ("io", "QEMU I/O thread (devices, tap)", "#ee854a"),
    ("qemu-other", "other QEMU threads", "#956cb4"),
    ("rest", "rest of the host (load generator, host kernel)", "#a0a0a0"),
]
# Lines of one target that other varying parameters split (window=1, window=32): told apart by
# line style, and in the latency figure (where the style tells p50 from p99) by marker.
SPLIT_STYLES = ["-", "--", ":", "-."]
SPLIT_MARKERS = ["o", "s", "^", "v", "D", "P"]


class Failure(Exception):
    """An error the user can fix: printed without a traceback."""


def die(message, status=1):
    print(f"plot-experiment: error: {message}", file=sys.stderr)
    sys.exit(status)


# ---------------------------------------------------------------------------------------------
# Reading the results


def number(text):
    """A cell as a float; None when empty (ExperimentKit leaves absent numbers empty)."""
    text = (text or "").strip()
    if not text:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def read_csv(path, required):
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in required if column not in (reader.fieldnames or [])]
            if missing:
                raise Failure(f"{path}: no column {', '.join(missing)} (is it ExperimentKit's file?)")
            rows = []
            for line, row in enumerate(reader, start=2):
                if None in row or None in row.values():
                    raise Failure(f"{path}:{line}: {len(row)} fields, expected {len(reader.fieldnames)}")
                rows.append(row)
            return rows
    except OSError as error:
        raise Failure(f"cannot read {path}: {error.strerror}")


def point_of(row, path):
    """The point a summary or ratio row is about: (load, kind, cpus, {parameter: value})."""
    try:
        cpus = int(row["cpus"])
        parameters = {name: int(row[name]) for name in PARAMETERS if row.get(name, "").strip()}
    except ValueError as error:
        raise Failure(f"{path}: bad point {row.get('point')!r}: {error}")
    return row["load"], row["load_kind"], cpus, parameters


class Results:
    """summary.csv, ratios.csv and metadata.json of one directory."""

    def __init__(self, directory):
        self.directory = directory
        summary_path = os.path.join(directory, "summary.csv")
        if not os.path.isdir(directory):
            raise Failure(f"{directory} is not a directory")
        if not os.path.isfile(summary_path):
            raise Failure(f"{directory} has no summary.csv: not a swiglet-lab results directory, "
                          "or no run has ended yet")
        self.summary = []
        for row in read_csv(summary_path, ["target", "point", "load", "load_kind", "cpus", "metric",
                                           "median", "min", "max", "status"]):
            load, kind, cpus, parameters = point_of(row, summary_path)
            try:
                self.summary.append({
                    "target": row["target"], "point": row["point"], "load": load, "kind": kind, "cpus": cpus,
                    "parameters": parameters, "metric": row["metric"], "status": row["status"],
                    "median": number(row["median"]), "min": number(row["min"]), "max": number(row["max"]),
                    "n": int(row.get("n") or 0), "runs": int(row.get("runs") or 0),
                    "failed_runs": int(row.get("failed_runs") or 0),
                })
            except ValueError as error:
                raise Failure(f"{summary_path}: bad number in the row of {row['target']} {row['point']}: {error}")
        if not self.summary:
            raise Failure(f"{summary_path} has no rows")

        self.ratios = []
        ratio_path = os.path.join(directory, "ratios.csv")
        if os.path.isfile(ratio_path):
            for row in read_csv(ratio_path, ["target", "baseline", "point", "load", "cpus", "metric", "ratio",
                                             "ratio_low", "ratio_high", "status"]):
                load, kind, cpus, parameters = point_of(row, ratio_path)
                try:
                    self.ratios.append({
                        "target": row["target"], "baseline": row["baseline"], "point": row["point"], "load": load,
                        "kind": kind, "cpus": cpus, "parameters": parameters, "metric": row["metric"],
                        "status": row["status"], "ratio": number(row["ratio"]), "low": number(row["ratio_low"]),
                        "high": number(row["ratio_high"]), "paired": number(row.get("paired_median")),
                    })
                except ValueError as error:
                    raise Failure(f"{ratio_path}: bad number in the row of {row['target']} {row['point']}: {error}")

        self.metadata = {}
        metadata_path = os.path.join(directory, "metadata.json")
        if os.path.isfile(metadata_path):
            try:
                with open(metadata_path, encoding="utf-8") as handle:
                    self.metadata = json.load(handle)
            except (OSError, ValueError) as error:
                raise Failure(f"cannot read {metadata_path}: {error}")
        else:
            print(f"plot-experiment: warning: {directory} has no metadata.json: titles name no date or commit",
                  file=sys.stderr)

        # Targets in the order the summary has them (the experiment file's).
        self.targets = []
        for row in self.summary:
            if row["target"] not in self.targets:
                self.targets.append(row["target"])
        self.loads = []
        for row in self.summary:
            if row["load"] not in self.loads:
                self.loads.append(row["load"])

    def caption(self):
        """`intrusion · 2026-12-05 12:21 UTC · commit fd44a1079178 (dirty)`, from metadata.json."""
        meta = self.metadata
        name = meta.get("experiment") or os.path.basename(os.path.normpath(self.directory))
        started = str(meta.get("started") or "")
        date = f"{started[:10]} {started[11:16]} UTC" if len(started) >= 16 else "date unknown"
        commit = str(meta.get("commit") or "")
        commit = f"commit {commit[:12]}{' (dirty)' if meta.get('dirty') else ''}" if commit else "commit unknown"
        return name, f"{date} · {commit}"


# ---------------------------------------------------------------------------------------------
# Shaping one load's points into panels and lines


class LoadView:
    """One load's points: the x parameter, the parameters that split lines, the cpus panels."""

    def __init__(self, results, load):
        self.load = load
        self.rows = [row for row in results.summary if row["load"] == load]
        self.kind = self.rows[0]["kind"]
        self.cpus = sorted({row["cpus"] for row in self.rows})
        values = {name: sorted({row["parameters"][name] for row in self.rows if name in row["parameters"]})
                  for name in PARAMETERS}
        varying = [name for name in PARAMETERS if len(values[name]) > 1]
        present = [name for name in PARAMETERS if values[name]]
        self.x_parameter = varying[0] if varying else (present[0] if present else None)
        self.split = [name for name in varying if name != self.x_parameter]
        self.targets = [target for target in results.targets if any(row["target"] == target for row in self.rows)]
        # (target, point) -> {metric: row}; failed (target, point)s.
        self.cells = {}
        self.failed = set()
        self.partial = set()
        for row in self.rows:
            key = (row["target"], row["point"])
            if row["status"] == "failed":
                self.failed.add(key)
            elif row["status"] == "partial":
                self.partial.add(key)
            if row["metric"]:
                self.cells.setdefault(key, {})[row["metric"]] = row
        self.points = {}  # point key -> row (for its parameters)
        for row in self.rows:
            self.points.setdefault(row["point"], row)
        self.metrics = {row["metric"] for row in self.rows if row["metric"]}
        self.rate_metric = RATE_BY_KIND.get(self.kind, "requests_per_second")
        if self.rate_metric not in self.metrics:
            self.rate_metric = next((m for m in RATE_METRICS if m in self.metrics), self.rate_metric)

    def x_of(self, point_row):
        return point_row["parameters"].get(self.x_parameter, 0) if self.x_parameter else 0

    def split_of(self, point_row):
        return tuple((name, point_row["parameters"].get(name)) for name in self.split)

    def series(self, cpus):
        """[(label suffix, split values, [(x, point key)...] sorted by x)] for one panel."""
        groups = {}
        for key, row in self.points.items():
            if row["cpus"] != cpus:
                continue
            groups.setdefault(self.split_of(row), []).append((self.x_of(row), key))
        result = []
        for split in sorted(groups, key=lambda s: [v if v is not None else -1 for _, v in s]):
            suffix = " ".join(f"{name}={value}" for name, value in split)
            result.append((suffix, split, sorted(groups[split])))
        return result

    def x_values(self):
        return sorted({self.x_of(row) for row in self.points.values()})

    def x_label(self):
        return self.x_parameter or "point"


def format_axis_x(axis, view):
    xs = view.x_values()
    if xs and min(xs) > 0 and max(xs) / min(xs) >= 8:
        axis.set_xscale("log", base=2)
    axis.set_xticks(xs)
    axis.set_xticklabels([str(x) for x in xs])
    axis.minorticks_off() if axis.get_xscale() == "log" else None
    axis.set_xlabel(view.x_label())


def draw_failed(axis, xs, color, label):
    """Crosses at the foot of the panel (x in data, y in axes coordinates): no value is drawn.
    Crosses of several lines at one x stack upwards, one "failed" above the top one."""
    import matplotlib.transforms as transforms
    if not xs:
        return
    if not hasattr(axis, "swiglet_failed"):
        axis.swiglet_failed = {}  # x -> (crosses so far, the annotation)
    blended = transforms.blended_transform_factory(axis.transData, axis.transAxes)
    ys = []
    for x in xs:
        count, note = axis.swiglet_failed.get(x, (0, None))
        y = 0.04 + 0.09 * count
        ys.append(y)
        if note is None:
            note = axis.annotate("failed", (x, y), xycoords=blended, xytext=(0, 8), textcoords="offset points",
                                 ha="center", fontsize=7, color=FAILED_COLOR)
        else:
            note.xy = (x, y)
        axis.swiglet_failed[x] = (count + 1, note)
    line, = axis.plot(xs, ys, linestyle="none", marker="X", markersize=10, color=color,
                      markeredgecolor=FAILED_COLOR, markeredgewidth=1.5, transform=blended, clip_on=False,
                      label=label)
    line.set_gid("failed")


def draw_series(axis, xs, ys, lows, highs, color, label, linestyle="-", marker="o", partial_xs=()):
    """A median line with min–max bars; NaN where nothing is drawn (a gap)."""
    yerr = [[(y - low) if not math.isnan(y) else float("nan") for y, low in zip(ys, lows)],
            [(high - y) if not math.isnan(y) else float("nan") for y, high in zip(ys, highs)]]
    container = axis.errorbar(xs, ys, yerr=yerr, color=color, linestyle=linestyle, marker=marker, markersize=5,
                              capsize=3, linewidth=1.5, elinewidth=1, label=label)
    container.lines[0].set_gid(f"series|{label}")  # errorbar gives the label to the container
    if partial_xs:
        partial_ys = [y for x, y in zip(xs, ys) if x in partial_xs and not math.isnan(y)]
        partial_x = [x for x, y in zip(xs, ys) if x in partial_xs and not math.isnan(y)]
        ring, = axis.plot(partial_x, partial_ys, linestyle="none", marker="o", markersize=11, markerfacecolor="none",
                          markeredgecolor=color, markeredgewidth=1, label="_partial")
        ring.set_gid(f"partial|{label}")


def values_for(view, target, points, metric, failed_xs, partial_xs):
    """x, median, min, max lists for one target's points; a failed point or a missing metric is
    NaN (and a failed one is listed in failed_xs)."""
    xs, ys, lows, highs = [], [], [], []
    for x, key in points:
        row = view.cells.get((target, key), {}).get(metric)
        xs.append(x)
        if (target, key) in view.failed:
            failed_xs.append(x)
        if (target, key) in view.failed or row is None or row["median"] is None:
            ys.append(float("nan")); lows.append(float("nan")); highs.append(float("nan"))
            continue
        if (target, key) in view.partial:
            partial_xs.append(x)
        ys.append(row["median"])
        lows.append(row["min"] if row["min"] is not None else row["median"])
        highs.append(row["max"] if row["max"] is not None else row["median"])
    return xs, ys, lows, highs


def colors_for(targets):
    import matplotlib
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2", "C3"])
    return {target: cycle[index % len(cycle)] for index, target in enumerate(targets)}


def title(figure, results, what, view):
    name, caption = results.caption()
    figure.suptitle(f"{name}: {what} — load {view.load} ({view.kind})\n{caption}", fontsize=11)


def finish(figure, axes, footnote):
    """One legend for the figure below the panels (each label once), the footnote under it, and
    the panels laid out between them and the title (margins in inches, whatever the size)."""
    handles, labels = [], []
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            if label not in labels and not label.startswith("_"):
                handles.append(handle)
                labels.append(label)
    # The lines first, then the markers' explanations (failed, paired median, baseline).
    notes = ("failed", "paired", "baseline")
    order = sorted(range(len(labels)), key=lambda index: labels[index].startswith(notes))
    handles, labels = [handles[index] for index in order], [labels[index] for index in order]
    width, height = figure.get_size_inches()
    columns = max(1, min(len(labels), int(width / 2.4)))
    rows = math.ceil(len(labels) / columns)
    footnote = textwrap.fill(footnote, width=int(width * 17))
    footnote_height = 0.06 + 0.13 * (footnote.count("\n") + 1)
    if handles:
        figure.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, (footnote_height + 0.05) / height),
                      ncol=columns, fontsize=8, frameon=False)
    figure.text(0.5, 0.06 / height, footnote, ha="center", va="bottom", fontsize=7, color="#555555")
    bottom = (footnote_height + 0.25 + 0.2 * rows) / height
    figure.tight_layout(rect=(0, bottom, 1, 1))  # tight_layout keeps clear of the suptitle itself


def new_figure(rows, columns, width=4.6, height=3.6, sharey=True):
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(rows, columns, figsize=(max(8.0, 0.6 + width * columns), 1.6 + height * rows),
                                squeeze=False, sharey=sharey)
    return figure, axes


# ---------------------------------------------------------------------------------------------
# The figures


def throughput_figure(results, view, footnote):
    metric = view.rate_metric
    if metric not in view.metrics and not view.failed:
        return None
    colors = colors_for(view.targets)
    figure, axes = new_figure(1, len(view.cpus))
    for axis, cpus in zip(axes[0], view.cpus):
        for target in view.targets:
            for split_index, (suffix, _, points) in enumerate(view.series(cpus)):
                failed_xs, partial_xs = [], []
                xs, ys, lows, highs = values_for(view, target, points, metric, failed_xs, partial_xs)
                label = f"{target} {suffix}".strip()
                draw_series(axis, xs, ys, lows, highs, colors[target], label,
                            SPLIT_STYLES[split_index % len(SPLIT_STYLES)], partial_xs=partial_xs)
                draw_failed(axis, failed_xs, colors[target], "failed: every run (no rate)")
        axis.set_title(f"{cpus} CPUs", fontsize=10)
        axis.grid(True, alpha=0.3)
        format_axis_x(axis, view)
    # Once every panel is drawn: the panels share y, and a limit set earlier would freeze the top.
    axes[0][0].set_ylim(bottom=0)
    axes[0][0].set_ylabel(METRIC_LABELS.get(metric, metric))
    title(figure, results, "throughput", view)
    finish(figure, axes.flat, footnote)
    return figure


def latency_figure(results, view, footnote):
    metrics = [m for m in ("p50_us", "p99_us") if m in view.metrics]
    if not metrics:
        return None
    colors = colors_for(view.targets)
    figure, axes = new_figure(1, len(view.cpus))
    styles = {"p50_us": "-", "p99_us": "--"}
    positive = []
    for axis, cpus in zip(axes[0], view.cpus):
        for target in view.targets:
            for split_index, (suffix, _, points) in enumerate(view.series(cpus)):
                for metric in metrics:
                    failed_xs, partial_xs = [], []
                    xs, ys, lows, highs = values_for(view, target, points, metric, failed_xs, partial_xs)
                    positive += [v for v in lows + highs if not math.isnan(v) and v > 0]
                    linestyle, marker = styles[metric], SPLIT_MARKERS[split_index % len(SPLIT_MARKERS)]
                    label = f"{target} {suffix} {metric[:3]}".replace("  ", " ")
                    draw_series(axis, xs, ys, lows, highs, colors[target], label, linestyle, marker, partial_xs)
                    if metric == metrics[0]:
                        draw_failed(axis, failed_xs, colors[target], "failed: every run (no latency)")
        axis.set_title(f"{cpus} CPUs", fontsize=10)
        axis.grid(True, alpha=0.3, which="both")
        format_axis_x(axis, view)
    if positive and max(positive) / min(positive) > 30:
        axes[0][0].set_yscale("log")
    axes[0][0].set_ylabel("latency (µs): p50 solid, p99 dashed")
    title(figure, results, "latency p50 / p99", view)
    finish(figure, axes.flat, footnote)
    return figure


def ratio_figure(results, view):
    rows = [row for row in results.ratios if row["load"] == view.load]
    if not rows:
        return None
    baseline = rows[0]["baseline"]
    metrics = [m for m in (view.rate_metric, "p50_us", "p99_us") if any(row["metric"] == m for row in rows)]
    if not metrics:
        metrics = [view.rate_metric]
    by_key = {}
    failed_all = set()
    for row in rows:
        if row["metric"]:
            by_key[(row["target"], row["point"], row["metric"])] = row
        else:
            failed_all.add((row["target"], row["point"]))
    targets = [t for t in view.targets if t != baseline and any(row["target"] == t for row in rows)]
    colors = colors_for(view.targets)
    figure, axes = new_figure(len(metrics), len(view.cpus), height=3.0, sharey="row")
    for row_index, metric in enumerate(metrics):
        for axis, cpus in zip(axes[row_index], view.cpus):
            axis.axhline(1, color="#333333", linewidth=1, linestyle=":", label=f"baseline: {baseline}")
            for target in targets:
                for split_index, (suffix, _, points) in enumerate(view.series(cpus)):
                    xs, ys, lows, highs, paired, failed_xs, partial_xs = [], [], [], [], [], [], []
                    for x, key in points:
                        row = by_key.get((target, key, metric))
                        xs.append(x)
                        if row is None or row["status"] == "failed" or row["ratio"] is None:
                            if row is not None or (target, key) in failed_all or (target, key) in view.failed \
                                    or (baseline, key) in view.failed:
                                failed_xs.append(x)
                            ys.append(float("nan")); lows.append(float("nan")); highs.append(float("nan"))
                            paired.append(float("nan"))
                            continue
                        if row["status"] == "partial":
                            partial_xs.append(x)
                        ys.append(row["ratio"])
                        lows.append(row["low"] if row["low"] is not None else row["ratio"])
                        highs.append(row["high"] if row["high"] is not None else row["ratio"])
                        paired.append(row["paired"] if row["paired"] is not None else float("nan"))
                    label = f"{target} {suffix}".strip() + f" / {baseline}"
                    draw_series(axis, xs, ys, lows, highs, colors[target], label,
                                SPLIT_STYLES[split_index % len(SPLIT_STYLES)], partial_xs=partial_xs)
                    if any(not math.isnan(p) for p in paired):
                        line, = axis.plot(xs, paired, linestyle="none", marker="D", markersize=6,
                                          markerfacecolor="none", markeredgecolor=colors[target],
                                          label="paired median (per repetition)")
                        line.set_gid(f"paired|{label}")
                    draw_failed(axis, failed_xs, colors[target], "failed: no ratio")
            axis.set_title(f"{METRIC_LABELS.get(metric, metric).split(' (')[0]}, {cpus} CPUs", fontsize=10)
            axis.grid(True, alpha=0.3)
            format_axis_x(axis, view)
        axes[row_index][0].set_ylabel(f"ratio of {METRIC_LABELS.get(metric, metric).split(' (')[0]}")
    title(figure, results, f"ratio to {baseline}", view)
    finish(figure, axes.flat, "ratio of the medians; bars: target min / baseline max to target max / baseline min; "
           "◇ median of the per-repetition ratios; ○ ringed: some runs failed; × no ratio (a side failed every run)")
    return figure


def cpu_segments(metrics):
    """{cpu: {segment: share}} for one (target, point)'s metric rows, and whether Linux's names."""
    shares = {}
    for name, row in metrics.items():
        match = SHARE.match(name)
        if match and row["median"] is not None:
            shares.setdefault(int(match.group(2)), {})[match.group(1)] = row["median"]
    linux = any("user" in values for values in shares.values())
    result = {}
    for cpu, values in shares.items():
        if linux:
            result[cpu] = {"application": values.get("user", 0.0), "network": values.get("irq", 0.0),
                           "kernel": values.get("system", 0.0), "idle": values.get("idle", 0.0)}
        else:
            network, kernel, idle = values.get("network", 0.0), values.get("kernel", 0.0), values.get("idle", 0.0)
            application = max(0.0, min(values.get("app", 0.0), 1 - network - kernel - idle))
            result[cpu] = {"application": application, "network": network, "kernel": kernel, "idle": idle}
    return result, linux


def cpu_share_figure(results, view):
    if not any(SHARE.match(metric) for metric in view.metrics):
        return None
    figure, axes = new_figure(len(view.targets), len(view.cpus), width=5.2, height=2.8)
    for row_index, target in enumerate(view.targets):
        linux_target = False
        for axis, cpus in zip(axes[row_index], view.cpus):
            groups = []
            for suffix, _, points in view.series(cpus):
                for x, key in points:
                    groups.append((f"{x}" + (f"\n{suffix}" if suffix else ""), key))
            width = 0.8 / max(cpus, 1)
            failed_positions, group_centres = [], []
            for group_index, (label, key) in enumerate(groups):
                group_centres.append(group_index)
                if (target, key) in view.failed:
                    failed_positions.append(group_index)
                    continue
                segments, linux = cpu_segments(view.cells.get((target, key), {}))
                linux_target = linux_target or linux
                if not segments:
                    axis.text(group_index, 0.5, "no data", ha="center", fontsize=7, color="#777777", rotation=90)
                    continue
                for cpu in range(cpus):
                    position = group_index - 0.4 + width * (cpu + 0.5)
                    bottom = 0.0
                    for segment, segment_label, color in SEGMENTS:
                        height = segments.get(cpu, {}).get(segment, float("nan")) if cpu in segments else float("nan")
                        if math.isnan(height):
                            continue
                        bar = axis.bar(position, height, width * 0.9, bottom=bottom, color=color,
                                       edgecolor="white", linewidth=0.3, label=segment_label)
                        bar.patches[0].set_gid(f"bar:{segment}:cpu{cpu}:{key}")
                        bottom += height
                    if bottom < 0.02:
                        axis.text(position, bottom + 0.01, "≈0", ha="center", va="bottom", fontsize=6, color="#555555")
                    if cpus <= 8:
                        axis.text(position, -0.02, str(cpu), ha="center", va="top", fontsize=6, color="#555555")
            if failed_positions:
                draw_failed(axis, failed_positions, "white", "failed: every run (no shares)")
            axis.set_xticks(group_centres)
            axis.set_xticklabels([label for label, _ in groups], fontsize=8)
            axis.tick_params(axis="x", pad=10)
            axis.set_xlim(-0.6, len(groups) - 0.4)
            axis.set_ylim(0, 1.05)
            axis.grid(True, axis="y", alpha=0.3)
            axis.set_title(f"{target}, {cpus} CPUs", fontsize=10)
            if row_index == len(view.targets) - 1:
                axis.set_xlabel(f"{view.x_label()} (small digits: CPU)")
        split = "user / irq+softirq / system / idle" if linux_target else "app / network / other kernel / idle"
        axes[row_index][0].set_ylabel(f"share\n({split})", fontsize=8)
    title(figure, results, "CPU shares", view)
    finish(figure, axes.flat, "medians over the runs that did not fail, one bar per CPU (small digits); "
           "a dedicated network core counts only its passes that found work (its empty polls are in no counter; ≈0: nothing counted)")
    return figure


def host_segments(metrics):
    """{segment: percent of one host core} for one (target, point)'s metric rows (medians)."""
    def median(name):
        row = metrics.get(name)
        return row["median"] if row and row["median"] is not None else None
    vcpus = [row["median"] for name, row in metrics.items()
             if re.match(r"^host_vcpu\d+_pct$", name) and row["median"] is not None]
    io, qemu, rest = median("host_io_thread_pct"), median("host_qemu_pct"), median("host_rest_pct")
    if qemu is None and not vcpus:
        return {}
    vcpu_total = sum(vcpus)
    io = io or 0.0
    other = max(0.0, (qemu or 0.0) - vcpu_total - io)
    return {"vcpus": vcpu_total, "io": io, "qemu-other": other, "rest": rest or 0.0}


def host_cpu_figure(results, view):
    if not any(HOST.match(metric) for metric in view.metrics):
        return None
    cores = results.metadata.get("hostCores")
    figure, axes = new_figure(len(view.targets), len(view.cpus), width=4.8, height=2.8)
    for row_index, target in enumerate(view.targets):
        for axis, cpus in zip(axes[row_index], view.cpus):
            groups = []
            for suffix, _, points in view.series(cpus):
                for x, key in points:
                    groups.append((f"{x}" + (f"\n{suffix}" if suffix else ""), key))
            failed_positions = []
            for position, (label, key) in enumerate(groups):
                if (target, key) in view.failed:
                    failed_positions.append(position)
                    continue
                segments = host_segments(view.cells.get((target, key), {}))
                if not segments:
                    axis.text(position, 5, "no data", ha="center", fontsize=7, color="#777777", rotation=90)
                    continue
                bottom = 0.0
                for segment, segment_label, color in HOST_SEGMENTS:
                    height = segments[segment]
                    bar = axis.bar(position, height, 0.7, bottom=bottom, color=color, edgecolor="white",
                                   linewidth=0.3, label=segment_label)
                    bar.patches[0].set_gid(f"bar:{segment}:host:{key}")
                    bottom += height
            if failed_positions:
                draw_failed(axis, failed_positions, "white", "failed: every run (no host CPU)")
            if isinstance(cores, int) and cores > 0:
                axis.axhline(cores * 100, color="#333333", linestyle="--", linewidth=0.8,
                             label=f"the host's {cores} cores")
            axis.set_xticks(range(len(groups)))
            axis.set_xticklabels([label for label, _ in groups], fontsize=8)
            axis.set_xlim(-0.6, len(groups) - 0.4)
            axis.set_ylim(0, max(100, (cores or 1) * 100) * 1.15)
            axis.grid(True, axis="y", alpha=0.3)
            axis.set_title(f"{target}, {cpus} CPUs", fontsize=10)
            if row_index == len(view.targets) - 1:
                axis.set_xlabel(view.x_label())
        axes[row_index][0].set_ylabel("host CPU\n(% of one core)", fontsize=8)
    title(figure, results, "host CPU", view)
    finish(figure, axes.flat, "medians over the runs that did not fail, from the host's /proc; "
           "under TCG a polling vCPU is a host thread at 100%")
    return figure


# ---------------------------------------------------------------------------------------------
# What was drawn, read back from the artists (--plotted-json)


def plotted(figure):
    def finite(values):
        return [None if (v is None or (isinstance(v, float) and math.isnan(v))) else float(v) for v in values]

    panels = []
    for axis in figure.axes:
        lines, failed, bars = [], [], []
        for line in axis.get_lines():
            kind, _, label = (line.get_gid() or "").partition("|")
            if kind in ("series", "paired", "partial"):
                lines.append({"kind": kind, "label": label, "x": finite(list(line.get_xdata())),
                              "y": finite(list(line.get_ydata()))})
            elif kind == "failed":
                failed.append({"label": line.get_label(), "x": finite(list(line.get_xdata()))})
        for patch in axis.patches:
            gid = patch.get_gid() or ""
            if gid.startswith("bar:"):
                _, segment, cpu, point = gid.split(":", 3)
                bars.append({"segment": segment, "cpu": int(cpu[3:]) if cpu.startswith("cpu") else cpu, "point": point,
                             "bottom": patch.get_y(), "height": patch.get_height()})
        panels.append({"title": axis.get_title(), "lines": lines, "failed": failed, "bars": bars})
    return {"title": figure._suptitle.get_text() if figure._suptitle else "", "panels": panels}


# ---------------------------------------------------------------------------------------------


def import_matplotlib(argv):
    try:
        import matplotlib
    except ImportError:
        system_python = "/usr/bin/python3"
        if os.environ.get("SWIGLET_PLOT_REEXEC") is None and os.path.realpath(sys.executable) != \
                os.path.realpath(system_python) and os.access(system_python, os.X_OK):
            os.environ["SWIGLET_PLOT_REEXEC"] = "1"
            os.execv(system_python, [system_python, os.path.abspath(__file__)] + argv)
        die(f"matplotlib is missing for {sys.executable}: install python3-matplotlib "
            "(scripts/install-deps.sh does, as root)", 3)
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "swiglet"      # the same SVG for the same data
    matplotlib.rcParams["axes.prop_cycle"] = matplotlib.cycler(
        color=["#4878d0", "#ee854a", "#6acc64", "#956cb4", "#8c613c", "#dc7ec0", "#797979", "#d5bb67"])


def main(argv):
    if "-h" in argv or "--help" in argv:
        print(__doc__.strip())
        return 0
    parser = argparse.ArgumentParser(
        prog="plot-experiment.py", add_help=False,
        usage="scripts/plot-experiment.py RESULTS_DIR [--format png,svg] [--output DIR] [--plotted-json FILE] (--help: more)")
    parser.add_argument("directory", metavar="RESULTS_DIR")
    parser.add_argument("--format", default="png,svg")
    parser.add_argument("--output")
    parser.add_argument("--plotted-json")
    args = parser.parse_args(argv)
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    unknown = [f for f in formats if f not in ("png", "svg", "pdf")]
    if not formats or unknown:
        die(f"--format takes png, svg and pdf, comma-separated, not '{args.format}'", 2)

    # The directory's errors come first, before matplotlib is looked for (or the script run
    # again under /usr/bin/python3), so that they are said once.
    if not os.path.isdir(args.directory):
        die(f"{args.directory} is not a directory")
    if not os.path.isfile(os.path.join(args.directory, "summary.csv")):
        die(f"{args.directory} has no summary.csv: not a swiglet-lab results directory, or no run has ended yet")
    import_matplotlib(argv)
    import matplotlib.pyplot as plt
    # An all-failed line is all NaN: matplotlib's limits then warn, harmlessly.
    warnings.filterwarnings("ignore", message="All-NaN", category=RuntimeWarning)
    try:
        results = Results(args.directory)
    except Failure as error:
        die(str(error))

    output = args.output or args.directory
    os.makedirs(output, exist_ok=True)
    written, drawn = [], {}
    for load in results.loads:
        view = LoadView(results, load)
        runs = max((row["runs"] for row in view.rows), default=0)
        footnote = (f"median; bars min–max over the runs that did not fail (up to {runs} per point); "
                    "○ ringed: some runs failed; × every run failed: no value drawn")
        for name, make in (("throughput", lambda: throughput_figure(results, view, footnote)),
                           ("latency", lambda: latency_figure(results, view, footnote)),
                           ("ratio", lambda: ratio_figure(results, view)),
                           ("cpu-share", lambda: cpu_share_figure(results, view)),
                           ("host-cpu", lambda: host_cpu_figure(results, view))):
            figure = make()
            if figure is None:
                continue
            stem = f"{name}-{re.sub(r'[^A-Za-z0-9_.-]', '_', load)}"
            for extension in formats:
                path = os.path.join(output, f"{stem}.{extension}")
                figure.savefig(path, dpi=120, metadata={"Date": None} if extension == "svg" else None)
                written.append(path)
            drawn[stem] = plotted(figure)
            plt.close(figure)
    if args.plotted_json:
        with open(args.plotted_json, "w", encoding="utf-8") as handle:
            json.dump(drawn, handle, indent=1, allow_nan=False)
    if not written:
        die(f"nothing to draw in {args.directory}: summary.csv has no rate, latency or CPU share metrics")
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
