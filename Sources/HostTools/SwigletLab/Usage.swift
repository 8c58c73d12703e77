/// swiglet-lab's help texts: the tool's and each subcommand's.

import ExperimentKit

enum Usage {
    static let exitStatus = """
        EXIT STATUS:
          0    every run measured and ok (run); every file parsed (check); the table printed (table)
          1    a run or boot failed, or could not be measured (its row in raw.csv says why); the
               rest is written
          2    a bad command line or experiment file (the message names the option or file:line)
          3    cannot run at all: not root, a tool or image missing, a results directory of
               another experiment
          130  interrupted (Ctrl-C, SIGTERM): the guest stopped, the namespace deleted, the
               results so far kept and summarized; run again with --results DIR to continue
        """

    static let tool = """
        swiglet-lab: runs Swiglet's experiments (experiments/NAME.exp) and tabulates their results.

        USAGE:
          swiglet-lab run FILE [--quick] [--repetitions N] [--results DIR] [--only TARGET] [--keep-going]
          swiglet-lab check FILE...
          swiglet-lab table RESULTS_DIR
          swiglet-lab SUBCOMMAND --help

        The file format is described in experiments/README.md. Run from the repository's root
        (make experiment NAME=... builds what is needed and does so).

        """ + exitStatus

    static func text(_ subcommand: LabSubcommand?) -> String {
        switch subcommand {
        case nil: tool
        case .run: run
        case .check: check
        case .table: table
        }
    }

    static let run = """
        swiglet-lab run: measures an experiment.

        USAGE: swiglet-lab run FILE [OPTIONS]      (as root, from the repository's root)

        Plans FILE's runs (experiments/README.md: points, repetitions, targets interleaved), then
        for every boot: creates a network namespace with a tap device (multiqueue with queues > 1),
        boots the target in QEMU on it (Swiglet: images/swiglet.iso, boot options through fw_cfg;
        Linux: images/linux/vmlinuz and initramfs), waits for its ready line, measures the boot's
        runs, stops QEMU and deletes the namespace. Every run is verified: HTTP answers' status
        and body length (wrk with scripts/wrk-verify.lua), UDP and TCP echo answers and tcp-bulk
        streams byte for byte (swiglet-bench). Errors are counted by kind; a run over the
        experiment's error-threshold is failed and reports no rate. CPU shares, interrupts and
        system calls come from the guest kernel's counters before and after each run (Swiglet's
        /metrics, the Linux guest's /proc/stat). Progress goes to stderr, the table to stdout.

        Results go to results/NAME/DATE-COMMIT/ (DATE like 2026-12-05-1230, COMMIT the short hash,
        -dirty with uncommitted changes): raw.csv (a row per run, appended as runs end),
        summary.csv, ratios.csv, metadata.json (commit, QEMU version, host, every boot's QEMU
        command line, the experiment's text), consoles/ (every boot's serial console and QEMU
        log), pcaps/ (the NIC's frames of boots with a failed run, first 5 MB), logs/ (the load
        generators' outputs), and plots when scripts/plot-experiment.py and matplotlib are there.

        OPTIONS:
          --quick            one short point per target and load: the first value of every sweep
                             (and of cpus), 1 repetition, 2 s measured after 1 s of warm-up
          --repetitions N    N repetitions instead of the file's (wins over --quick's 1)
          --results DIR      use DIR as the results directory; if it holds an earlier run of the
                             same experiment text and options, continue it (runs in its raw.csv are
                             skipped); a different experiment text is refused
          --only TARGET      measure only this target
          --keep-going       go on after a failed run or boot (default: stop after the first one,
                             keeping what was measured)
          --ready-timeout S  seconds a guest may take to print its ready line (default 180)
          --bench PATH       swiglet-bench (default .build-bench/release/swiglet-bench)
          -h, --help         this text

        tcp-echo loads run swiglet-bench tcp-rr (request and answer over several connections, a
        window on each). A non-zero rate offers the load on a fixed schedule: swiglet-bench --rate
        (round trips counted from when each request was due) and scripts/wrk-paced.lua for HTTP
        (wrk's delay() hook; wrk counts latency from the write). nic = user is refused: numbers
        come from a tap in a namespace only.

        """ + exitStatus

    static let check = """
        swiglet-lab check: parses experiment files and prints each plan's size.

        USAGE: swiglet-lab check FILE...

        For each file: its name, then the points, runs and boots its plan has and the nominal time
        of its loads (warm-up and duration of every run, without boots). Errors are printed as
        FILE:LINE: message.

        """ + exitStatus

    static let table = """
        swiglet-lab table: prints the Markdown table of a results directory.

        USAGE: swiglet-lab table RESULTS_DIR

        Recomputes the summary and the ratios from RESULTS_DIR's raw.csv (with the experiment text
        its metadata.json keeps) and prints them as a Markdown table: a row per point and metric, a
        column per target (median [95% interval of the median]), then the ratios to the baseline,
        and a caption with the run's date, commit and path. Works on interrupted runs too.

        """ + exitStatus
}
