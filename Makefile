# dropboot's build. `make` builds the boot code and the `dropboot` CLI;
# `make qemu-bios` also makes a demo stick image and boots it in QEMU;
# `make test` runs every test; `make bench` records speed and sizes
# (`make bench ARGS=probe` runs one section: menu, probe, iso, exfat, live, togo or persistence);
# `make fuzz` fuzzes bootfs's parsers (libFuzzer, two targets at a time: tools/fuzz).
# Each public target first runs tools/deps, which installs what is missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := all

ROOT := $(CURDIR)
BUILD := $(ROOT)/build
TOOLCHAIN := $(shell tools/find-toolchain)
export PATH := $(if $(TOOLCHAIN),$(TOOLCHAIN):,)$(PATH)
CARGO := cargo
STAGE2_TARGET := $(ROOT)/stage2/i486-dropboot.json
STAGE2_ELF := $(ROOT)/target/i486-dropboot/release/stage2
DROPBOOT := $(ROOT)/target/release/dropboot
export DROPBOOT
QEMU := qemu-system-x86_64

.PHONY: all test qemu-bios bench fuzz deps clean _all _test _qemu-bios _bench _fuzz stage2 builder

all test qemu-bios bench fuzz: deps
	@$(MAKE) --no-print-directory _$@

deps:
	@tools/deps

_all: $(BUILD)/stage1.bin stage2 builder

# Blobs stage2 carries (stage2/resident/): the resident INT 13h hook (linked
# alone, so it cannot reach code that is gone after boot) and the final
# trampoline.
# (nasm fails when the hook is over bootfs::layout::HOOK_MAX_BYTES)
$(BUILD)/int13_hook.bin: stage2/resident/int13_hook.asm $(BUILD)/layout.inc
	nasm -f bin -I $(BUILD)/ -o $@ $<

$(BUILD)/trampoline.bin: stage2/resident/trampoline.asm $(BUILD)/layout.inc
	nasm -f bin -I $(BUILD)/ -o $@ $<

$(BUILD)/layout.inc $(BUILD)/layout.ld: bootfs/src/disk/layout.rs bootfs/examples/layout.rs
	@mkdir -p $(BUILD)
	$(CARGO) run -q --release -p bootfs --example layout nasm > $(BUILD)/layout.inc.tmp
	$(CARGO) run -q --release -p bootfs --example layout ld > $(BUILD)/layout.ld.tmp
	mv $(BUILD)/layout.inc.tmp $(BUILD)/layout.inc
	mv $(BUILD)/layout.ld.tmp $(BUILD)/layout.ld

# stage1: 440 bytes of 16-bit code (nasm fails the build when it is larger).
$(BUILD)/stage1.bin: stage1/stage1.asm $(BUILD)/layout.inc
	nasm -f bin -I $(BUILD)/ -o $@ $<
	@test $$(stat -c %s $@) -eq 440 || { echo "stage1 must be exactly 440 bytes"; exit 1; }

# stage2: core/alloc built from rust-src for the 32-bit target, linked by GNU ld.
# Everything in it (bootfs and core too, not only stage2's own crate) is
# built for size, with link-time optimisation across the crates: it must
# fit below STAGE2_END_LIMIT (measured with persistence added: opt-level
# "s" without LTO made a 325 KiB image, "z" with fat LTO 280 KiB), and bootfs's
# host builds keep the usual release settings.
stage2: $(BUILD)/layout.ld $(BUILD)/int13_hook.bin $(BUILD)/trampoline.bin
	RUSTC_BOOTSTRAP=1 $(CARGO) rustc -q --release -p stage2 \
	    --config 'profile.release.package.bootfs.opt-level="z"' --config 'profile.release.package."*".opt-level="z"' \
	    --config 'profile.release.lto="fat"' \
	    -Zbuild-std=core,compiler_builtins,alloc -Zbuild-std-features=compiler-builtins-mem \
	    -Zjson-target-spec --target $(STAGE2_TARGET) \
	    -- -C link-arg=-L$(BUILD) -C link-arg=-T$(ROOT)/stage2/stage2.ld
	objcopy -O binary $(STAGE2_ELF) $(BUILD)/stage2.bin.tmp
	cmp -s $(BUILD)/stage2.bin.tmp $(BUILD)/stage2.bin 2>/dev/null && rm $(BUILD)/stage2.bin.tmp || mv $(BUILD)/stage2.bin.tmp $(BUILD)/stage2.bin

# The CLI embeds build/stage1.bin and build/stage2.bin.
builder: $(BUILD)/stage1.bin stage2
	$(CARGO) build -q --release -p builder

# The format check (rustfmt.toml), every test (tools/run-tests: the QEMU
# test files and the unit tests two jobs at a time, longest first), then
# each fuzz target for a few seconds (a smoke run).
FUZZ_SMOKE_SECONDS := 8
# tools/wait-report names the QEMU waits that used over a third of their
# limit (a test must also pass beside another QEMU).
_test: _all
	$(CARGO) fmt --all --check
	rm -f target/qemu-tests/waits.tsv
	tools/run-tests
	tools/wait-report
	tools/fuzz $(FUZZ_SMOKE_SECONDS)

# `make fuzz` runs each bootfs parser's fuzz target for FUZZ_SECONDS
# (`make fuzz FUZZ_SECONDS=600 TARGETS=exfat`); findings go to
# fuzz/regressions/, the summary to target/fuzz-summary.txt.
FUZZ_SECONDS := 60
_fuzz: _all
	tools/fuzz $(FUZZ_SECONDS) $(TARGETS)

DEMO := $(BUILD)/demo.img
_qemu-bios: _all
	tools/make-demo $(DEMO)
	@echo "Booting $(DEMO) in QEMU (SeaBIOS, TCG). The menu is on the screen and on this terminal; Ctrl-A X quits."
	$(QEMU) -machine pc,accel=tcg -m 1024 -drive file=$(DEMO),format=raw,if=ide \
	    $(if $(DISPLAY)$(WAYLAND_DISPLAY),-serial mon:stdio,-nographic)

_bench: _all
	$(CARGO) run -q --release -p tests --bin bench -- $(ARGS)

clean:
	rm -rf $(BUILD) target
