# SPDX-License-Identifier: GPL-2.0
#
# rvirtio: a virtio guest stack for Linux in Rust, built out of tree.
#
#   make                 set up (first run), build the kernel (cached) and the modules
#   make run             boot a VM with virtio devices, load the drivers, show them
#   make check           every test: host cargo tests, lints, VM tests with KUnit
#   make check TESTS=x   only the VM tests named x (space separated; see tools/testing/vm/)
#   make CLIPPY=1        build the modules through clippy
#   make fmt / fmt-check rustfmt the Rust sources / check they are formatted
#   make kernel-image    print the path of the kernel image
#   make modules-root DIR=d   install the modules (with depmod) into d/lib/modules/<release>
#   make initramfs       the guest initramfs the tests boot (build/vm/initramfs.cpio)
#   make ... KVARIANT=kasan   the same against the KASAN kernel variant: its kernel,
#                        modules (built in a copy, build/kasan/src) and initramfs
#   make clean           remove build products from the clone (the cache stays)
#
# The kernel source, toolchain pieces and kernel builds live in the cache,
# $(RVIRTIO_CACHE) (default ~/.cache/rvirtio), so clones share them.

SHELL := /bin/bash
TOP := $(CURDIR)
RUSTC := /usr/bin/rustc
BUILD := $(TOP)/build
INITRAMFS := $(BUILD)/vm/initramfs.cpio
MODROOT := $(BUILD)/modroot

# A kernel variant (tools/lib.sh: kasan) has its own kernel build in the
# cache, and its own module build, modules tree and initramfs under
# build/<variant>/, so both can be built side by side. The modules are
# built in a copy of the sources (build/<variant>/src): kbuild refuses an
# output directory (MO=) for a source tree that holds an in-place build.
KVARIANT ?=
export RVIRTIO_KVARIANT := $(KVARIANT)
MODSRC := $(TOP)
VARIANT_FLAGS :=
ifneq ($(KVARIANT),)
INITRAMFS := $(BUILD)/$(KVARIANT)/initramfs.cpio
MODROOT := $(BUILD)/$(KVARIANT)/modroot
MODSRC := $(BUILD)/$(KVARIANT)/src
ifeq ($(KVARIANT),kasan)
VARIANT_FLAGS += LLVM=-22
endif
endif
# What the module build reads; a variant copies it (tar keeps the times, so
# its build stays incremental).
MODULE_SOURCES := Kbuild drivers rust samples
COPY_EXCLUDES := --exclude=target --exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
	--exclude='*.mod.c' --exclude='.*.cmd' --exclude='.*.d' --exclude=modules.order \
	--exclude=Module.symvers --exclude='*.rmeta'

# Every Rust warning and C warning is an error: the modules build clean.
MODULE_FLAGS := RUSTC=$(RUSTC) HOSTRUSTC=$(RUSTC) KRUSTFLAGS=-Dwarnings KCFLAGS=-Werror
ifeq ($(CLIPPY),1)
MODULE_FLAGS += CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver
# The no-panic lints, from their one list in rust/virtio/mod.rs, for the
# driver crates' Kbuild (rustflags-y): kext, kvirtio and each driver.
RVIRTIO_NOPANIC := $(shell sed -n '/^\#!\[deny(/,/^)\]/s/^ *\(clippy::[a-z_]*\),\{0,1\}$$/-D\1/p' rust/virtio/mod.rs)
MODULE_FLAGS += RVIRTIO_NOPANIC="$(RVIRTIO_NOPANIC)"
endif

# Set-up: packages, kernel source, kernel build. Idempotent; prints KDIR.
SETUP := $(TOP)/tools/setup/all.sh

.PHONY: all setup modules check run kernel-image modules-root initramfs fmt fmt-check clean help

all: modules

setup:
	@$(SETUP) >/dev/null

modules:
	@$(if $(KVARIANT),mkdir -p $(MODSRC) && tar -C $(TOP) -c $(COPY_EXCLUDES) $(MODULE_SOURCES) | \
	  tar -C $(MODSRC) -x && )kdir=$$($(SETUP)) && \
	  $(MAKE) -C "$$kdir" M=$(MODSRC) $(MODULE_FLAGS) $(VARIANT_FLAGS) modules

kernel-image:
	@kdir=$$($(SETUP)) && . tools/lib.sh && echo "$$kdir/$$RVIRTIO_KIMAGE"

modules-root: modules
	@[ -n "$(DIR)" ] || { echo "usage: make modules-root DIR=path" >&2; exit 2; }
	@RVIRTIO_MODULE_SRC=$(MODSRC) RVIRTIO_MODULE_FLAGS="$(VARIANT_FLAGS)" \
	  tools/setup/modules-root.sh "$(DIR)"

initramfs: modules
	@RVIRTIO_MODULE_SRC=$(MODSRC) RVIRTIO_MODULE_FLAGS="$(VARIANT_FLAGS)" \
	  tools/setup/modules-root.sh --with-kernel-modules $(MODROOT).tmp && \
	  rm -rf $(MODROOT) && mv $(MODROOT).tmp $(MODROOT) && \
	  tools/vm/mkinitramfs $(INITRAMFS) $(MODROOT)

check: setup
	@python3 tools/testing/check.py $(if $(TESTS),--only "$(TESTS)")

run: initramfs
	@tools/vm/run-demo

fmt fmt-check:
	@tools/setup/rustfmt.sh $(if $(filter fmt-check,$@),--check)

clean:
	@kdir=$$(tools/kernel/kdir.sh) && [ -d "$$kdir" ] && \
	  $(MAKE) -C "$$kdir" M=$(TOP) $(MODULE_FLAGS) clean >/dev/null || true
	rm -rf $(BUILD)

help:
	@sed -n '3,19p' Makefile | sed 's/^# \{0,1\}//'
