# tests/cross.mk - build tests/test_unit.c for one TARGET and run it under the
# right emulator; run the whole cross matrix.
#
# Included by the top Makefile (`include tests/cross.mk`), or used alone from
# the repository root: `make -f tests/cross.mk test-unit TARGET=pi4`.
#
#   make test-unit TARGET=<t> [ARGS=...] [SELFTEST=1] [RUN_TIMEOUT=s]
#       build + run test_unit for one target; the status is the test's
#   make test-cross [CROSS_MATRIX="..."]
#       every target, one line each (target, SIMD path, passed/failed,
#       seconds), a total, and the deliberate-failure self-checks; then the
#       Shapes model's caption on the Cortex-M55 board (tests/board_caption.sh)
#   make cross-list      the targets with their compiler, CPU flags, emulator
#   make clean-cross     remove build/cross
#
# Targets (the toolchains and emulators come from Debian bookworm packages,
# see .ci/run):
#   native  gcc -march=native            (whatever this machine has)
#   clang   clang -march=x86-64-v3        AVX2+FMA
#   asan    gcc ASan+UBSan, non-recovering, -march=x86-64-v3
#   scalar  gcc -DVLA_NO_SIMD             the reference paths only
#   pi4     aarch64 Cortex-A72, NEON                 qemu-aarch64 -cpu cortex-a72
#   pi5     aarch64 Cortex-A76, NEON+dotprod         qemu-aarch64 -cpu cortex-a76
#   pi32    armhf Cortex-A7, NEON-VFPv4              qemu-arm -cpu cortex-a7
#   rv64    riscv64 Linux rv64gc, scalar             qemu-riscv64 (default CPU, no V)
#   rv64v   riscv64 Linux rv64gcv, RVV 1.0           qemu-riscv64 -cpu rv64,v=true,
#           run at VLEN=128, then again at VLEN=256 (target rv64v-vlen256)
#   m4      Cortex-M4F bare metal (MPS2 AN386), scalar   qemu-system-arm
#   m7      Cortex-M7 bare metal (MPS2 AN500), scalar    qemu-system-arm
#   m55     Cortex-M55 bare metal (MPS3 AN547), Helium   qemu-system-arm
#   rv64-bm   RISC-V rv64gc bare metal (virt), scalar    qemu-system-riscv64
#   rv64v-bm  RISC-V rv64gcv bare metal, RVV, VLEN=512   qemu-system-riscv64
# Bare metal = arm-none-eabi-gcc / riscv64-unknown-elf-gcc with picolibc and
# semihosting (output and exit status go through QEMU); the test arena is a
# static array in .bss, the flash model a const array in flash.
#
# Variables a caller may set: TARGET ARGS SELFTEST RUN_TIMEOUT CROSS_MATRIX
# X_OPT (default -O2) X_WERROR (default empty; -Werror to make warnings fatal)
# X_EXTRA_CFLAGS VLA_TEST_WORK VLA_TEST_ARENA_BYTES VX_HOSTCC VX_OUT.
# Everything this file defines starts with X_, VX_ or vx_ (plus the targets
# test-unit, test-cross, cross-list, clean-cross), so it does not disturb the
# CC/CFLAGS of the including Makefile.

VX_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)
VX_MK := $(lastword $(MAKEFILE_LIST))
VX_ROOT_ABS := $(abspath $(dir $(VX_MK))/..)
VX_ROOT := $(if $(filter $(abspath .),$(VX_ROOT_ABS)),.,$(VX_ROOT_ABS))

TARGET ?= native
RUN_TIMEOUT ?= 120
# Test workload (test_unit.c VLA_TEST_WORK): empty = the target's default,
# 16 on the build machine, 4 under QEMU (about a second per target).
VLA_TEST_WORK ?=
VLA_TEST_ARENA_BYTES ?= 4194304
X_OPT ?= -O2
X_WERROR ?=
X_EXTRA_CFLAGS ?=
VX_HOSTCC ?= gcc
VX_OUT ?= $(VX_ROOT)/build/cross

# The whole matrix, in the order it is printed.  "+selftest" builds with
# -DVLA_SELFTEST_FAIL and "+argfail" runs with --fail: both must exit 1.
CROSS_MATRIX ?= native clang asan scalar pi4 pi5 pi32 rv64 rv64v rv64v-vlen256 \
                m4 m7 m55 rv64-bm rv64v-bm native+selftest m4+selftest rv64-bm+argfail

# ---------------------------------------------------------------------------
# Per-target settings
#   X_CC          compiler driver
#   X_ARCH        CPU/ABI flags
#   X_CFLAGS      other compile flags for this target
#   X_LDFLAGS     link flags
#   X_RUN         the emulator command (without the binary); empty = run it
#   X_SYSTEM      1 for qemu-system (the binary goes after -kernel)
#   X_EXPECT_SIMD shell pattern that vla_simd_name() must match (empty: any)
#   X_BUILD       build directory name (targets that share a binary share it)
#   X_DESC        one line for cross-list / README
# ---------------------------------------------------------------------------

# qemu-system with semihosting on stdio: console output and exit status of the
# program come back through QEMU.  No display, monitor or serial port.
VX_SEMI := -display none -monitor none -serial none -chardev stdio,id=vxsh \
           -semihosting-config enable=on,target=native,chardev=vxsh
VX_PICO := --specs=picolibc.specs --oslib=semihost --crt0=semihost -DVLA_BOARD_BAREMETAL=1
# picolibc.ld memory layout: flash base/size, RAM base/size, 64 KiB stack
# (link flags); the test's "weights are in flash" check gets the same flash
# numbers (compile flags).
vx_pico_mem = -Wl,--defsym=__flash=$(1),--defsym=__flash_size=$(2),--defsym=__ram=$(3),--defsym=__ram_size=$(4),--defsym=__stack_size=0x10000
vx_pico_flash = -DVLA_BOARD_FLASH_BASE=$(1) -DVLA_BOARD_FLASH_SIZE=$(2)
# rvv_ta_all_1s / rvv_ma_all_1s: QEMU fills tail- and mask-agnostic elements
# with ones instead of leaving them alone, so code that declares "agnostic"
# but relies on "undisturbed" fails here instead of on some real core.
VX_RV_CPU = rv64,v=true,vlen=$(1),vext_spec=v1.0,rvv_ta_all_1s=true,rvv_ma_all_1s=true

X_SYSTEM :=
VX_ALSO :=
X_WORK := 4
X_BUILD := $(TARGET)
X_CFLAGS :=
X_LDFLAGS :=
X_RUN :=

ifeq ($(TARGET),native)
  X_WORK := 16
  X_CC := gcc
  X_ARCH := -march=native
  X_EXPECT_SIMD :=
  X_DESC := host gcc, -march=native; reports whatever this CPU offers
else ifeq ($(TARGET),clang)
  X_WORK := 16
  X_CC := clang
  X_ARCH := -march=x86-64-v3
  X_EXPECT_SIMD := avx2+fma
  X_DESC := clang, x86-64-v3 (Haswell/Zen and later)
else ifeq ($(TARGET),asan)
  X_WORK := 8
  X_CC := gcc
  X_ARCH := -march=x86-64-v3
  X_OPT := -O1 -g
  X_CFLAGS := -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
  X_LDFLAGS := -fsanitize=address,undefined
  X_RUN := env ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  X_EXPECT_SIMD := avx2+fma
  X_DESC := gcc AddressSanitizer + UBSan, every finding fatal, guard zones poisoned
else ifeq ($(TARGET),scalar)
  X_WORK := 16
  X_CC := gcc
  X_ARCH := -march=x86-64
  X_CFLAGS := -DVLA_NO_SIMD
  X_EXPECT_SIMD := scalar
  X_DESC := gcc with -DVLA_NO_SIMD: the scalar code every target falls back to
else ifeq ($(TARGET),pi4)
  X_CC := aarch64-linux-gnu-gcc
  X_ARCH := -mcpu=cortex-a72
  X_RUN := qemu-aarch64 -cpu cortex-a72 -L /usr/aarch64-linux-gnu
  X_EXPECT_SIMD := neon
  X_DESC := Raspberry Pi 4, 64-bit OS: Cortex-A72, NEON
else ifeq ($(TARGET),pi5)
  X_CC := aarch64-linux-gnu-gcc
  X_ARCH := -mcpu=cortex-a76
  X_RUN := qemu-aarch64 -cpu cortex-a76 -L /usr/aarch64-linux-gnu
  X_EXPECT_SIMD := neon+dotprod
  X_DESC := Raspberry Pi 5: Cortex-A76, NEON + dotprod (QEMU CPU model without later extensions)
else ifeq ($(TARGET),pi32)
  X_CC := arm-linux-gnueabihf-gcc
  X_ARCH := -mcpu=cortex-a7 -mfpu=neon-vfpv4 -mfloat-abi=hard
  X_RUN := qemu-arm -cpu cortex-a7 -L /usr/arm-linux-gnueabihf
  X_EXPECT_SIMD := neon
  X_DESC := Raspberry Pi 2/3/4, 32-bit OS (armhf): Cortex-A7 baseline, NEON-VFPv4
else ifeq ($(TARGET),rv64)
  X_CC := riscv64-linux-gnu-gcc
  X_ARCH := -march=rv64gc -mabi=lp64d
  X_RUN := qemu-riscv64 -L /usr/riscv64-linux-gnu
  X_EXPECT_SIMD := scalar
  X_DESC := RISC-V Linux boards without V (VisionFive 2, C906/C910 boards), rv64gc
else ifneq ($(filter rv64v rv64v-vlen256,$(TARGET)),)
  X_CC := riscv64-linux-gnu-gcc
  X_ARCH := -march=rv64gcv -mabi=lp64d
  X_BUILD := rv64v
  X_RUN := qemu-riscv64 -cpu $(call VX_RV_CPU,$(if $(filter rv64v-vlen256,$(TARGET)),256,128)) -L /usr/riscv64-linux-gnu
  X_EXPECT_SIMD := rvv1.0
  X_DESC := RISC-V Linux with RVV 1.0 (e.g. SpacemiT K1), VLEN $(if $(filter rv64v-vlen256,$(TARGET)),256,128)
  # `make test-unit TARGET=rv64v` runs the binary at VLEN 128 and then 256;
  # the matrix lists the two runs as separate lines.
  VX_ALSO := $(if $(filter rv64v,$(TARGET)),rv64v-vlen256)
else ifeq ($(TARGET),m4)
  X_CC := arm-none-eabi-gcc
  X_ARCH := -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
  X_CFLAGS := $(VX_PICO) $(call vx_pico_flash,0x0,0x400000)
  X_LDFLAGS := $(call vx_pico_mem,0x0,0x400000,0x21000000,0x1000000)
  X_RUN := qemu-system-arm -M mps2-an386 $(VX_SEMI)
  X_SYSTEM := 1
  X_EXPECT_SIMD := scalar
  X_DESC := Cortex-M4F bare metal, picolibc; code+weights in 4 MiB flash at 0, arena in 16 MiB PSRAM
else ifeq ($(TARGET),m7)
  X_CC := arm-none-eabi-gcc
  X_ARCH := -mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard
  X_CFLAGS := $(VX_PICO) $(call vx_pico_flash,0x0,0x400000)
  X_LDFLAGS := $(call vx_pico_mem,0x0,0x400000,0x60000000,0x1000000)
  X_RUN := qemu-system-arm -M mps2-an500 $(VX_SEMI)
  X_SYSTEM := 1
  X_EXPECT_SIMD := scalar
  X_DESC := Cortex-M7 (double-precision FPU) bare metal, picolibc
else ifeq ($(TARGET),m55)
  X_CC := arm-none-eabi-gcc
  X_ARCH := -mcpu=cortex-m55 -mthumb -mfloat-abi=hard
  # unused functions dropped and -Os: code + the tiny model must fit the 512 KiB ITCM
  # (at -O2 the header outgrew it by 2 KiB once the trainer learnt to train the CLIP trunk)
  X_OPT := -Os
  X_CFLAGS := $(VX_PICO) $(call vx_pico_flash,0x0,0x80000) -ffunction-sections -fdata-sections
  X_LDFLAGS := $(call vx_pico_mem,0x0,0x80000,0x60000000,0x1000000) -Wl,--gc-sections
  X_RUN := qemu-system-arm -M mps3-an547 $(VX_SEMI)
  X_SYSTEM := 1
  X_EXPECT_SIMD := helium (mve)
  X_DESC := Cortex-M55 with Helium (MVE int+float) bare metal; code in 512 KiB ITCM, arena in DDR
else ifeq ($(TARGET),rv64-bm)
  X_CC := riscv64-unknown-elf-gcc
  X_ARCH := -march=rv64gc -mabi=lp64d -mcmodel=medany
  X_CFLAGS := $(VX_PICO) $(call vx_pico_flash,0x80000000,0x400000)
  X_LDFLAGS := $(call vx_pico_mem,0x80000000,0x400000,0x80400000,0x3c00000)
  X_RUN := qemu-system-riscv64 -M virt -bios none $(VX_SEMI)
  X_SYSTEM := 1
  X_EXPECT_SIMD := scalar
  X_DESC := RISC-V rv64gc bare metal (M-mode, no SBI), picolibc
else ifeq ($(TARGET),rv64v-bm)
  X_CC := riscv64-unknown-elf-gcc
  X_ARCH := -march=rv64gcv -mabi=lp64d -mcmodel=medany
  X_CFLAGS := $(VX_PICO) $(call vx_pico_flash,0x80000000,0x400000)
  X_LDFLAGS := $(call vx_pico_mem,0x80000000,0x400000,0x80400000,0x3c00000)
  X_RUN := qemu-system-riscv64 -M virt -bios none -cpu $(call VX_RV_CPU,512) $(VX_SEMI)
  X_SYSTEM := 1
  X_EXPECT_SIMD := rvv1.0
  X_DESC := RISC-V rv64gcv bare metal, RVV 1.0 at VLEN 512 (mstatus.VS enabled by tests/board/vla_board.h)
else
  $(error tests/cross.mk: unknown TARGET '$(TARGET)'; known: $(filter-out %+selftest %+argfail,$(CROSS_MATRIX)))
endif

ifneq ($(SELFTEST),)
  X_BUILD := $(X_BUILD)-selftest
  X_CFLAGS += -DVLA_SELFTEST_FAIL
endif

# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------

VX_WARN := -std=c99 -Wall -Wextra -pedantic $(X_WERROR)
VX_DEFS := -DVLA_TEST_TARGET=\"$(X_BUILD)\" -DVLA_TEST_WORK=$(or $(VLA_TEST_WORK),$(X_WORK)) -DVLA_TEST_ARENA_BYTES=$(VLA_TEST_ARENA_BYTES)
VX_DIR := $(VX_OUT)/$(X_BUILD)
VX_BIN := $(VX_DIR)/test_unit$(if $(X_SYSTEM),.elf)
VX_HOST := $(VX_OUT)/host
VX_MODEL_GGUF := $(VX_HOST)/tiny_model.gguf
VX_MODEL_C := $(VX_HOST)/tiny_model.c
VX_ADAPTER_GGUF := $(VX_HOST)/tiny_adapter.gguf
VX_ADAPTER_C := $(VX_HOST)/tiny_adapter.c
VX_BOARD_H := $(wildcard $(VX_ROOT)/tests/board/*.h)
VX_CMD = $(X_CC) $(VX_WARN) $(X_OPT) $(X_ARCH) $(X_CFLAGS) $(X_EXTRA_CFLAGS) $(VX_DEFS)

# Rebuild when the command line changes (a flags file that is rewritten only
# when it differs).
VX_FLAGS_FILE := $(VX_DIR)/flags.txt
VX_FLAGS_NOW := $(subst ',,$(VX_CMD) $(X_LDFLAGS))
VX_FLAGS_OLD := $(strip $(shell cat $(VX_FLAGS_FILE) 2>/dev/null))
ifneq ($(strip $(VX_FLAGS_NOW)),$(VX_FLAGS_OLD))
  $(shell mkdir -p $(VX_DIR) && printf '%s\n' '$(VX_FLAGS_NOW)' > $(VX_FLAGS_FILE))
endif

# Host tools: the model generator and tools/vla-embed, built with the
# machine's compiler.  The generated files are the same for every target
# (and every build machine: fixed seeds, scalar reference kernels).
VX_HOST_CFLAGS := -std=c99 -O2 -Wall -Wextra -pedantic
VX_CONVERT_H := $(VX_ROOT)/tools/vla_convert.h $(VX_ROOT)/tools/vla_tool.h $(VX_ROOT)/tools/vla_torch.h

$(VX_HOST)/vla-embed: $(VX_ROOT)/tools/vla-embed.c $(VX_ROOT)/vladapter.h
	@mkdir -p $(dir $@)
	$(VX_HOSTCC) $(VX_HOST_CFLAGS) $< -lm -o $@

$(VX_HOST)/gen_tiny_model: $(VX_ROOT)/tests/board/gen_tiny_model.c $(VX_ROOT)/tests/board/tiny_model.h $(VX_ROOT)/vladapter.h \
                           $(VX_CONVERT_H) $(VX_ROOT)/tools/vla_tokconv.h
	@mkdir -p $(dir $@)
	$(VX_HOSTCC) $(VX_HOST_CFLAGS) $< -lm -o $@

# One run writes both files (the adapter is bound to the model's fingerprint).
$(VX_MODEL_GGUF): $(VX_HOST)/gen_tiny_model
	$(VX_HOST)/gen_tiny_model $@ $(VX_ADAPTER_GGUF)

$(VX_ADAPTER_GGUF): $(VX_MODEL_GGUF)
	@test -s $@

$(VX_MODEL_C): $(VX_MODEL_GGUF) $(VX_HOST)/vla-embed
	$(VX_HOST)/vla-embed $< $@ vla_tiny_model

$(VX_ADAPTER_C): $(VX_ADAPTER_GGUF) $(VX_HOST)/vla-embed
	$(VX_HOST)/vla-embed $< $@ vla_tiny_adapter

$(VX_BIN): $(VX_ROOT)/tests/test_unit.c $(VX_ROOT)/vladapter.h $(VX_BOARD_H) $(VX_MODEL_C) $(VX_ADAPTER_C) $(VX_FLAGS_FILE) $(VX_MK)
	@mkdir -p $(dir $@)
	$(VX_CMD) $(VX_ROOT)/tests/test_unit.c $(VX_MODEL_C) $(VX_ADAPTER_C) $(X_LDFLAGS) -lm -o $@

# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------

# $(call vx_run,BINARY,ARGS): the command that runs BINARY for this TARGET,
# always under timeout (a bare-metal crash without a handler spins forever).
vx_run = timeout -k 5 $(RUN_TIMEOUT) $(if $(X_SYSTEM),$(X_RUN) -kernel $(1)$(if $(strip $(2)), -append "$(strip $(2))") </dev/null,$(X_RUN) $(1) $(2))

VX_NAME ?= $(TARGET)$(if $(SELFTEST),+selftest)
VX_RESULT ?= $(VX_DIR)/result.txt
VX_EXPECT := $(if $(or $(SELFTEST),$(filter --fail,$(ARGS))),fail,pass)

.PHONY: test-unit test-cross cross-list clean-cross

test-unit: $(VX_BIN)
	@echo '== $(VX_NAME): $(call vx_run,$(VX_BIN),$(ARGS))'
	@sh $(VX_ROOT)/tests/board/xrun.sh '$(VX_NAME)' '$(X_EXPECT_SIMD)' $(VX_EXPECT) $(VX_DIR)/run.log '$(VX_RESULT)' -- \
	    $(call vx_run,$(VX_BIN),$(ARGS))
ifneq ($(VX_ALSO),)
ifeq ($(VX_FROM_MATRIX),)
	@$(MAKE) --no-print-directory -f $(VX_MK) test-unit TARGET=$(VX_ALSO)
endif
endif

# The matrix runs each entry in its own sub-make, one after the other.
# Then the Shapes world's shipped model captions a picture on the Cortex-M55
# board from flash, and the caption must equal this machine's (issue 11;
# tests/board_caption.sh, about 2 minutes).
test-cross:
	@sh $(VX_ROOT)/tests/board/matrix.sh $(VX_OUT) '$(MAKE) --no-print-directory -f $(VX_MK) VX_FROM_MATRIX=1' $(CROSS_MATRIX)
	@echo "== the Shapes model captions on the Cortex-M55 board from flash (tests/board_caption.sh)"
	@sh $(VX_ROOT)/tests/board_caption.sh examples/shapes/base.gguf examples/shapes/adapter.gguf examples/shapes/pictures/scene0.ppm

cross-list:
	@for t in $(filter-out %+selftest %+argfail,$(CROSS_MATRIX)); do \
	    $(MAKE) --no-print-directory -s -f $(VX_MK) vx-describe TARGET=$$t; done

.PHONY: vx-describe
vx-describe:
	@printf '%-14s %-22s %-14s %s\n    compile: %s\n    run:     %s\n' '$(TARGET)' '$(X_CC)' '$(or $(X_EXPECT_SIMD),(host))' \
	    '$(X_DESC)' '$(X_CC) $(X_ARCH) $(X_CFLAGS) $(X_LDFLAGS)' '$(call vx_run,<binary>,)'

clean-cross:
	rm -rf $(VX_OUT)

# Keep the including Makefile's default goal; alone, default to test-unit.
ifeq ($(VX_MK),$(firstword $(MAKEFILE_LIST)))
.DEFAULT_GOAL := test-unit
else
.DEFAULT_GOAL := $(VX_SAVED_DEFAULT_GOAL)
endif
