# Swiglet: build the kernel image, run it in QEMU, and test it.
#   make run     build what is stale and boot it (CPUS=, MEM=, CMDLINE= to change the machine,
#                PCAP=file.pcap to record the NIC's frames, RNG=none for no virtio-rng,
#                MONITOR=SOCKET for QEMU's monitor on a Unix socket: scripts/qemu-monitor.py)
#   make test    host unit tests, the kernel image, and the QEMU system tests
#   make debug   boot with QEMU's gdb stub waiting on :1234 (docs/debugging.md)
#   make bench   UDP echo against a Linux guest: experiments/udp-echo.exp (root; docs/experiments.md)
#   make bench-tcp  HTTP and connections against the Linux guest: experiments/http.exp and connections.exp (root)
#   make fuzz    every fuzzer, optimized, FUZZ_ITERATIONS= inputs each (10 million), FUZZ_SEED= one seed for all
#   make bench-placement  net-mode=dedicated against symmetric, same image and vCPUs (root; PLACEMENT_OPTIONS="--cpus 4")
#   make experiment NAME=placement  run experiments/NAME.exp with swiglet-lab (root; LAB_OPTIONS="--quick")
#   make results-table RESULTS=results/NAME/DATE-COMMIT  print a results directory's Markdown table
#   make lab-check LAB=name  check a lab of docs/labs (fails until it is solved); without LAB= it lists them

CPUS    ?= 4
MEM     ?= 256M
CMDLINE ?=
# The NIC of `make run`: virtio-net on QEMU's user-mode network, host UDP NET_PORT -> guest
# port NET_GUEST_PORT (7, UDP echo; 9100 is the intrusion meter), host TCP HTTP_PORT -> 80
# (the HTTP server), TCP_ECHO_PORT -> 7 (TCP echo), METRICS_PORT -> 9090 (the network core's
# Prometheus metrics and live meter page). PCAP=FILE records every frame of the NIC for
# Wireshark (QEMU's filter-dump).
NET      ?= user
PCAP     ?=
RNG      ?= virtio
MONITOR  ?=
NET_PORT ?= 5555
NET_GUEST_PORT ?= 7
HTTP_PORT ?= 8080
TCP_ECHO_PORT ?= 7007
METRICS_PORT ?= 9090
QEMU    ?= qemu-system-x86_64

SWIFT_BIN := $(dir $(shell command -v swiftc 2>/dev/null))
LLD       ?= $(SWIFT_BIN)ld.lld
OBJCOPY   ?= $(SWIFT_BIN)llvm-objcopy
BUILD     := images/build
KERNEL_SCRATCH := .build-kernel
KERNEL_LIB := $(KERNEL_SCRATCH)/x86_64-unknown-none-elf/release/libKernel.a
KERNEL_ELF := images/swiglet.elf
ISO        := images/swiglet.iso

ASM_SOURCES := boot/multiboot2.asm boot/cpu.asm boot/interrupts.asm boot/usermode.asm boot/layout.asm boot/memory.asm boot/kernel-allocator.asm boot/trampoline_image.asm
ASM_OBJECTS := $(patsubst boot/%.asm,$(BUILD)/%.o,$(ASM_SOURCES))
SWIFT_SOURCES := $(shell find Sources -name '*.swift') Package.swift linker/toolset.json

# User programs (ring 3): each a SwiftPM static library linked with the ring-3 runtime into its
# own ELF at 0x4000_0000_0000 (linker/program.ld), shipped as one multiboot2 module whose
# command line is every name it runs under. Which programs exist, their names, products and
# heaps come from Sources/UserSpace/Programs/programs.list, the one list (Package.swift reads
# it too); grub.cfg is written from it.
PROGRAM_LIST := Sources/UserSpace/Programs/programs.list
PROGRAMS := $(shell awk '!/^\#/ && NF { print $$1 }' $(PROGRAM_LIST))
# A program's field from the list: $(call program_field,NAME,COLUMN).
program_field = $(shell awk -v name='$(1)' '!/^\#/ && $$1 == name { print $$$(2) }' $(PROGRAM_LIST))
program_product = $(call program_field,$(1),2)Program
# Its heap (zero pages after its .bss): HEAP, or 1 MiB for -.
program_heap = $(patsubst -,0x100000,$(call program_field,$(1),3))
program_aliases = $(shell awk -v name='$(1)' '!/^\#/ && $$1 == name { for (i = 5; i <= NF; i++) printf "%s ", $$i }' $(PROGRAM_LIST))
PROGRAM_DIR := images/programs
PROGRAM_ELFS := $(patsubst %,$(PROGRAM_DIR)/%.elf,$(PROGRAMS))
PROGRAM_RUNTIME_OBJECTS := $(BUILD)/program-runtime.o $(BUILD)/memory.o
# The static site (site/), packed by scripts/pack-site.sh and linked into the HTTP server only.
SITE_FILES := $(shell find site -type f)
PROGRAM_EXTRA_OBJECTS_http := $(BUILD)/site-archive.o

# -boot order=d: the CD first, so SeaBIOS does not try the empty floppy drive (70 ms under TCG).
QEMU_MACHINE = -accel tcg,thread=multi -smp $(CPUS) -m $(MEM) -serial stdio -display none \
               -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -boot order=d
# virtio-rng (the host's /dev/urandom) gives TCP's secret keys; RNG=none leaves it out (the
# kernel then uses RDRAND if the CPU model has it, else timing jitter, and says so).
QEMU_DEVICES = $(if $(filter none,$(RNG)),,-device virtio-rng-pci) \
               $(if $(MONITOR),-monitor unix:$(MONITOR)$(comma)server=on$(comma)wait=off)
QEMU_CMDLINE = $(if $(CMDLINE),-fw_cfg 'name=opt/swiglet/cmdline$(comma)string=$(CMDLINE)')
comma := ,
QEMU_NETWORK = $(if $(filter none,$(NET)),-nic none,-netdev user$(comma)id=n0$(comma)hostfwd=udp:127.0.0.1:$(NET_PORT)-:$(NET_GUEST_PORT)$(comma)hostfwd=tcp:127.0.0.1:$(HTTP_PORT)-:80$(comma)hostfwd=tcp:127.0.0.1:$(TCP_ECHO_PORT)-:7$(comma)hostfwd=tcp:127.0.0.1:$(METRICS_PORT)-:9090 \
               -device virtio-net-pci$(comma)netdev=n0 \
               $(if $(PCAP),-object filter-dump$(comma)id=dump0$(comma)netdev=n0$(comma)file=$(PCAP)))

# `make fuzz`: every fuzzer — network frames, TCP segments, a TCP connection, the
# connection table, channel requests, ELF (fixture, builder image, every program), multiboot2,
# ACPI — at FUZZ_ITERATIONS inputs each, built optimized in its own scratch path (never .build),
# with progress and a summary per fuzzer. FUZZ_SEED replaces every fuzzer's own seed; a failure
# prints the seed and the count that replay it (docs/testing.md).
FUZZ_ITERATIONS ?= 10000000
FUZZ_SEED ?=
FUZZ_SCRATCH := .build-fuzz

.PHONY: all image kernel programs run debug test host-test system-test deps clean help bench bench-tcp bench-placement fuzz \
        lab bench-tool experiment results-table lab-check
all: image

help:
	@sed -n '2,11p' Makefile | sed 's/^# *//'

deps:
	@scripts/install-deps.sh

image: $(ISO)
kernel: $(KERNEL_ELF)
programs: $(PROGRAM_ELFS)

# The archive is removed first: ar would keep objects of deleted source files in it.
$(KERNEL_LIB): $(SWIFT_SOURCES)
	rm -f $(KERNEL_LIB)
	swift build --triple x86_64-unknown-none-elf --toolset linker/toolset.json -c release \
	    --product Kernel --scratch-path $(KERNEL_SCRATCH)

$(BUILD)/trampoline.bin: boot/trampoline.asm | $(BUILD) deps
	nasm -f bin -o $@ $<

$(BUILD)/trampoline_image.o: boot/trampoline_image.asm $(BUILD)/trampoline.bin
	nasm -f elf64 -i $(BUILD)/ -o $@ $<

$(BUILD)/site-archive.bin: scripts/pack-site.sh $(SITE_FILES) | $(BUILD)
	scripts/pack-site.sh site $@

$(BUILD)/site-archive.o: boot/site-archive.asm $(BUILD)/site-archive.bin | deps
	nasm -f elf64 -i $(BUILD)/ -o $@ $<

$(BUILD)/%.o: boot/%.asm | $(BUILD) deps
	nasm -f elf64 -o $@ $<

$(KERNEL_ELF): $(ASM_OBJECTS) $(KERNEL_LIB) linker/kernel.ld
	$(LLD) -T linker/kernel.ld -nostdlib --gc-sections -z max-page-size=4096 \
	    -o $@ $(ASM_OBJECTS) --whole-archive $(KERNEL_LIB) --no-whole-archive

# One SwiftPM build per program, in the kernel's scratch path so the shared modules are built
# once (and never by two builds at a time: keep make serial). The archive is removed first, as
# for the kernel. The link keeps the runtime's objects first so _start opens the text segment,
# and refuses a program whose objects have constructors: nothing runs .init_array in ring 3.
$(PROGRAM_DIR)/http.elf: $(BUILD)/site-archive.o
$(PROGRAM_DIR)/%.elf: $(SWIFT_SOURCES) $(PROGRAM_RUNTIME_OBJECTS) linker/program.ld
	@mkdir -p $(PROGRAM_DIR)
	rm -f $(KERNEL_SCRATCH)/x86_64-unknown-none-elf/release/lib$(call program_product,$*).a
	swift build --triple x86_64-unknown-none-elf --toolset linker/toolset.json -c release \
	    --product $(call program_product,$*) --scratch-path $(KERNEL_SCRATCH)
	@if $(SWIFT_BIN)llvm-objdump -h $(KERNEL_SCRATCH)/x86_64-unknown-none-elf/release/lib$(call program_product,$*).a \
	    | grep -q '\.init_array'; then echo "$@: global constructors are not supported in programs"; exit 1; fi
	$(LLD) -T linker/program.ld -nostdlib --gc-sections -z max-page-size=4096 -o $@ \
	    --defsym=PROGRAM_HEAP_BYTES=$(call program_heap,$*) \
	    $(PROGRAM_RUNTIME_OBJECTS) $(PROGRAM_EXTRA_OBJECTS_$*) --whole-archive \
	    $(KERNEL_SCRATCH)/x86_64-unknown-none-elf/release/lib$(call program_product,$*).a --no-whole-archive

# GRUB's boot commands: the kernel, then one module per program ELF whose command line is every
# name it runs under (Sources/Portable/Boot/BootProtocol/ProgramNames.swift parses it), so GRUB reads each
# file once. They go into GRUB's core image (scripts/make-boot-iso.sh) and into grub.cfg, the
# fallback that shows their errors on the serial console (boot/grub.cfg.in).
$(BUILD)/grub-boot.cfg: Makefile $(PROGRAM_LIST) | $(BUILD)
	{ echo 'multiboot2 /boot/swiglet.elf'; \
	  $(foreach program,$(PROGRAMS),echo 'module2 /boot/programs/$(program).elf $(strip $(program) $(call program_aliases,$(program)))';) \
	  echo 'boot'; } >$@.new && mv $@.new $@

$(BUILD)/grub.cfg: boot/grub.cfg.in $(BUILD)/grub-boot.cfg
	grep -qx '@BOOT_COMMANDS@' $<
	{ sed '/^@BOOT_COMMANDS@$$/,$$d' $<; cat $(BUILD)/grub-boot.cfg; sed '1,/^@BOOT_COMMANDS@$$/d' $<; } >$@.new && mv $@.new $@

# The ISO carries the kernel and the programs without symbols or debug information: under TCG
# GRUB reads every byte through BIOS disk calls, and it copies a multiboot2 kernel's sections
# that are not loaded (symbols, debug information) into memory as well. images/swiglet.elf and
# images/programs/ keep everything for gdb and llvm-symbolizer (`make debug`).
$(ISO): $(KERNEL_ELF) $(PROGRAM_ELFS) $(BUILD)/grub.cfg $(BUILD)/grub-boot.cfg scripts/make-boot-iso.sh | deps
	rm -rf $(BUILD)/iso && mkdir -p $(BUILD)/iso/boot/grub $(BUILD)/iso/boot/programs
	$(OBJCOPY) --strip-all $(KERNEL_ELF) $(BUILD)/iso/boot/swiglet.elf
	for elf in $(PROGRAM_ELFS); do $(OBJCOPY) --strip-all $$elf $(BUILD)/iso/boot/programs/$$(basename $$elf) || exit 1; done
	cp $(BUILD)/grub.cfg $(BUILD)/iso/boot/grub/grub.cfg
	scripts/make-boot-iso.sh $(BUILD)/iso $(BUILD)/grub-boot.cfg $@

$(BUILD):
	mkdir -p $@

run: $(ISO)
	$(QEMU) $(QEMU_MACHINE) $(QEMU_CMDLINE) $(QEMU_NETWORK) $(QEMU_DEVICES) -cdrom $(ISO)

debug: $(ISO)
	@echo "QEMU waits for gdb on :1234: gdb $(KERNEL_ELF) -ex 'target remote :1234'"
	$(QEMU) $(QEMU_MACHINE) $(QEMU_CMDLINE) $(QEMU_NETWORK) $(QEMU_DEVICES) -cdrom $(ISO) -s -S

# A sampling profile of every vCPU under a load, top functions per CPU and folded stacks (docs/debugging.md; PROFILE_OPTIONS="--load udp --duration 20").
.PHONY: profile
profile: $(ISO)
	scripts/profile.sh $(PROFILE_OPTIONS)

host-test:
	swift test --skip '$(LAB_CHECKS)'

# The labs (docs/labs): `make lab-check LAB=name` fails until the lab is solved; without
# LAB=, it lists them. Their checkers (host: LabChecks.*Lab; QEMU: SystemTests.Lab*) fail on an
# unsolved tree, so the test targets skip them; LabChecks.LabCheckerTests, which checks the
# checkers' own logic, runs.
LAB ?=
LAB_CHECKS := LabChecks\.[A-Za-z]+Lab/|SystemTests\.Lab
lab-check:
	@scripts/lab-check.sh $(if $(LAB),$(LAB),--list)

system-test: $(ISO)
	SWIGLET_REQUIRE_QEMU=1 swift test --disable-swift-testing --filter SystemTests --skip '$(LAB_CHECKS)'

# The UDP, TCP and HTTP system tests run a second time in net-mode=symmetric: the
# same programs must behave alike in both placements.
SYMMETRIC_SYSTEM_TESTS := SystemTests\.(NetworkTests|TCPEchoSystemTests|HTTPTests)
test: deps $(ISO) bench-tool
	SWIGLET_REQUIRE_QEMU=1 swift test --disable-swift-testing --skip '$(LAB_CHECKS)'
	SWIGLET_REQUIRE_QEMU=1 SWIGLET_NET_MODE=symmetric swift test --skip-build --disable-swift-testing \
	    --filter '$(SYMMETRIC_SYSTEM_TESTS)'

# The benchmarks against the Linux guest are experiments now: verified, repeated,
# interleaved, with CSVs and figures. The older one-shot scripts remain for what the
# experiments do not cover yet (bench-tcp.sh's tcp-connect rate and raw TCP echo MiB/s).
bench:
	$(MAKE) experiment NAME=udp-echo

bench-tcp:
	$(MAKE) experiment NAME=http
	$(MAKE) experiment NAME=connections

# The same image in net-mode=dedicated and net-mode=symmetric, interleaved (docs/placements.md).
bench-placement: $(ISO)
	scripts/bench-placement.sh $(PLACEMENT_OPTIONS)

# Experiments (experiments/NAME.exp) through swiglet-lab (docs/experiments.md). Builds
# swiglet-lab, swiglet-bench (release), and the Swiglet image and the Linux guest only when a
# target of the file is of that kind; LAB_OPTIONS= passes run options (--quick, --repetitions N,
# --results DIR to continue one, --only TARGET, --keep-going). Scratch paths of their own, so
# they never build into someone's .build.
NAME          ?=
LAB_OPTIONS   ?=
RESULTS       ?=
LAB_SCRATCH   ?= .build-lab
BENCH_SCRATCH ?= .build-bench
LAB_TOOL      := $(LAB_SCRATCH)/debug/swiglet-lab
BENCH_TOOL    := $(BENCH_SCRATCH)/release/swiglet-bench
EXPERIMENT    := experiments/$(NAME).exp
# A target's kind line (loads' kinds are never swiglet or linux).
kind_line = grep -Eq '^[[:space:]]*kind[[:space:]]*=[[:space:]]*$(1)([^[:alnum:]_-]|$$)' $(EXPERIMENT)

# swift build's progress goes to stderr, so that `make results-table` prints only the table.
lab:
	@swift build --product swiglet-lab --scratch-path $(LAB_SCRATCH) 1>&2

bench-tool:
	@swift build -c release --product swiglet-bench --scratch-path $(BENCH_SCRATCH) 1>&2

experiment: deps lab bench-tool
	@test -n "$(NAME)" || { echo "make experiment: give NAME=, one of: $$(cd experiments && ls *.exp | sed 's/\.exp$$//' | tr '\n' ' ')" >&2; exit 2; }
	@test -f $(EXPERIMENT) || { echo "make experiment: $(EXPERIMENT) does not exist" >&2; exit 2; }
	$(LAB_TOOL) check $(EXPERIMENT)
	@if $(call kind_line,swiglet); then $(MAKE) image; fi
	@if $(call kind_line,linux); then BENCH_SCRATCH=$(BENCH_SCRATCH) scripts/build-linux-guest.sh; fi
	$(LAB_TOOL) run $(EXPERIMENT) --bench $(BENCH_TOOL) $(LAB_OPTIONS)

results-table: lab
	@test -n "$(RESULTS)" || { echo "make results-table: give RESULTS=results/NAME/DATE-COMMIT" >&2; exit 2; }
	@$(LAB_TOOL) table $(RESULTS)

# The ELF fuzz needs the programs as `make programs` built them; they are not rebuilt here (a
# stale program is as good a seed), only required. `swift test -c release` keeps @testable
# imports working (a plain `swift build -c release` would not compile the modules for testing).
# Each fuzz test (every test of a *FuzzTests class) runs in its own process, so one that crashes
# does not stop the others; the summary lists every fuzzer, and any failure fails the target.
fuzz:
	@missing=; for elf in $(PROGRAM_ELFS); do test -f $$elf || missing="$$missing $$elf"; done; \
	  if [ -n "$$missing" ]; then echo "make fuzz: the ELF fuzz needs$$missing (make programs)" >&2; exit 2; fi
	@mkdir -p $(FUZZ_SCRATCH) && rm -f $(FUZZ_SCRATCH)/fuzz-summary.txt
	swift test -c release --scratch-path $(FUZZ_SCRATCH) --list-tests >$(FUZZ_SCRATCH)/fuzz-tests.txt \
	  || { cat $(FUZZ_SCRATCH)/fuzz-tests.txt; exit 1; }
	@failed=; for test in $$(grep -E '^[A-Za-z0-9_]+\.[A-Za-z0-9_]*FuzzTests/' $(FUZZ_SCRATCH)/fuzz-tests.txt); do \
	  SWIGLET_REQUIRE_QEMU=1 SWIGLET_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) $(if $(FUZZ_SEED),SWIGLET_FUZZ_SEED=$(FUZZ_SEED)) \
	    SWIGLET_FUZZ_SUMMARY=$(CURDIR)/$(FUZZ_SCRATCH)/fuzz-summary.txt \
	    swift test --skip-build -c release --scratch-path $(FUZZ_SCRATCH) --disable-swift-testing --filter "^$$test\$$" \
	    || { failed="$$failed $$test"; echo "fuzz summary: $$test FAILED" >>$(FUZZ_SCRATCH)/fuzz-summary.txt; }; \
	done; \
	echo; echo "make fuzz: $(FUZZ_ITERATIONS) inputs per fuzzer:"; cat $(FUZZ_SCRATCH)/fuzz-summary.txt; \
	if [ -n "$$failed" ]; then echo "make fuzz: failed:$$failed" >&2; exit 1; fi

clean:
	rm -rf images $(KERNEL_SCRATCH)
