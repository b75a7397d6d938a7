# vladapter.h - build, test and benchmark.
#
#   make                 build the tools, examples and tests into build/
#   make test            the whole native test suite (what CI runs first)
#   make test TARGET=t   the unit tests for one board under QEMU (see README)
#   make test-cross      every board target, one line each
#   make bench           speed and memory next to OpenBLAS / PyTorch
#   make paper-table     trainable-parameter percentages of the paper's Table 1
#   make demo            the Shapes world's trained model captioning and answering (tests/shapes.mk)
#   make clean
#
# Variables: CC, CFLAGS, ARCH (default -march=native on the build machine),
# THREADS (for bench), FIXTURES (default tests/fixtures).

CC       ?= cc
CXX      ?= c++
CLANG    ?= clang
ARCH     ?= -march=native
CFLAGS   ?= -O2 -g
WARN     := -std=c99 -Wall -Wextra -Wpedantic
WERROR   := -Werror
SAN      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
TSAN     := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
LDLIBS   := -lm
B        := build
FIXTURES ?= tests/fixtures

# stb_image is optional: used by the examples when Debian's libstb-dev is present.
STB_H    := $(wildcard /usr/include/stb/stb_image.h)
ifneq ($(STB_H),)
IMG_FLAGS := -DVLA_HAVE_STB_IMAGE -I/usr/include/stb
IMG_LIBS  := -lstb
endif

HDR      := vladapter.h
TOOL_HDR := tools/vla_tool.h tools/vla_convert.h

TOOLS    := $(B)/vla-fixtures $(B)/vla-inspect $(B)/vla-convert $(B)/vla-mkmodel $(B)/vla-embed $(B)/vla-train \
            $(B)/vla-shapes $(B)/vla-eval $(B)/vla-data $(B)/vla-predict $(B)/vla-quantize $(B)/vla-fidelity
TESTS    := $(B)/test_gguf $(B)/test_gguf_asan $(B)/test_model $(B)/test_tokenizer $(B)/test_tokenizer_asan \
            $(B)/test_image $(B)/test_image_asan $(B)/test_torch_asan $(B)/test_gemm $(B)/test_i8 $(B)/test_i8_asan $(B)/test_quant $(B)/test_quant_asan $(B)/test_adapters_asan $(B)/test_convert_asan \
            $(B)/test_train_io $(B)/test_train_io_asan $(B)/test_whiten $(B)/test_pyrandom $(B)/test_train $(B)/test_train_asan \
            $(B)/test_task $(B)/test_task_asan $(B)/test_threads_tsan $(B)/test_exhaust $(B)/test_exhaust_asan $(B)/test_export $(B)/test_export_asan $(B)/test_eval $(B)/test_eval_asan $(B)/test_shapes $(B)/test_shapes_asan \
            $(B)/test_designed

.PHONY: all tools tests test test-native check-header clean bench bench-quick paper-table examples install valgrind
all: tools examples tests

tools: $(TOOLS)

EXAMPLES := $(B)/caption $(B)/vqa $(B)/hotswap $(B)/stream
examples: $(EXAMPLES)

$(B)/caption: examples/caption.c $(HDR) examples/image_io.h examples/example_util.h examples/vla_threads.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS) -lpthread

$(B)/vqa: examples/vqa.c $(HDR) examples/image_io.h examples/example_util.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS)

$(B)/stream: examples/stream.c $(HDR) examples/image_io.h examples/example_util.h examples/vla_threads.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS) -lpthread

$(B)/gen_i420: tools/gen_i420.c | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $< -o $@

$(B)/hotswap: examples/hotswap.c $(HDR) examples/image_io.h examples/example_util.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS)

# A small CLIP-BART from the fixtures (clip_trunk's trunk + bart_base's VL-BART
# + the real tokenizer), merged by the converter: the examples' test model.
$(B)/tiny_caption.gguf: $(B)/vla-convert
	$(B)/vla-convert --quiet -o $@ --bart $(FIXTURES)/bart_base/weights.safetensors \
	    --clip $(FIXTURES)/clip_trunk/weights.safetensors --tokenizer $(FIXTURES)/tokenizer 2>/dev/null

$(B)/test_pipeline: tests/test_pipeline.c $(HDR) tests/board/vla_check.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)
tests: $(TESTS)

$(B):
	@mkdir -p $(B)

$(B)/vla-fixtures: tools/vla-fixtures.c $(HDR) $(TOOL_HDR) | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/vla-inspect: tools/vla-inspect.c $(HDR) $(TOOL_HDR) | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/vla-convert: tools/vla-convert.c $(HDR) $(TOOL_HDR) tools/vla_torch.h tools/vla_tokconv.h tools/vla_export.h tools/vla_quant.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/vla-mkmodel: tools/vla-mkmodel.c $(HDR) $(TOOL_HDR) | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/vla-train: tools/vla-train.c $(HDR) $(TOOL_HDR) tools/vla_torch.h tools/vla_random.h tools/vla_pyrandom.h \
                examples/image_io.h examples/example_util.h examples/vla_threads.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS) -lpthread

$(B)/test_pyrandom: tests/test_pyrandom.c tools/vla_pyrandom.h tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $< -o $@

$(B)/vla-embed: tools/vla-embed.c $(HDR) | $(B)
	$(CC) $(WARN) $(CFLAGS) $< -o $@ $(LDLIBS)

# Table 1 of the paper from files: a random bart-base model (50465 tokens,
# 2048-channel visual projection) and one random adapter file per method,
# counted by vla-inspect --params (needs ~1.5 GB of disk in build/paper).
PAPER_METHODS := multiple_adapters half_shared_adapters single_adapter hyperformer multiple_compacters \
                 single_compacter single_lora multiple_lora multiple_prompts single_prompt
paper-table: $(B)/vla-mkmodel $(B)/vla-inspect
	@mkdir -p $(B)/paper
	@test -f $(B)/paper/base.gguf || $(B)/vla-mkmodel --preset bart-base -o $(B)/paper/base.gguf
	@for m in $(PAPER_METHODS); do \
	    $(B)/vla-mkmodel --adapter $$m --base $(B)/paper/base.gguf -o $(B)/paper/$$m.gguf || exit 1; \
	    $(B)/vla-inspect --params $(B)/paper/base.gguf $(B)/paper/$$m.gguf | head -n 1 | sed "s/^method=[a-z_]* /$$m /"; \
	    rm -f $(B)/paper/$$m.gguf; \
	done

$(B)/test_gguf: tests/test_gguf.c $(HDR) tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/test_gguf_asan: tests/test_gguf.c $(HDR) tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS)

$(B)/test_model: tests/test_model.c $(HDR) $(TOOL_HDR) tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS) -lpthread

$(B)/test_tokenizer: tests/test_tokenizer.c $(HDR) $(TOOL_HDR) tools/vla_tokconv.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/test_tokenizer_asan: tests/test_tokenizer.c $(HDR) $(TOOL_HDR) tools/vla_tokconv.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS)

$(B)/test_image: tests/test_image.c $(HDR) examples/image_io.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS)

$(B)/test_image_asan: tests/test_image.c $(HDR) examples/image_io.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS)

$(B)/test_torch_asan: tests/test_torch.c tools/vla_torch.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS)

$(B)/test_convert_asan: tests/test_convert.c $(HDR) $(TOOL_HDR) tools/vla_torch.h tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS)

$(B)/test_adapters_asan: tests/test_adapters.c $(HDR) $(TOOL_HDR) tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS)

$(B)/test_train: tests/test_train.c $(HDR) $(TOOL_HDR) tools/vla_torch.h tools/vla_random.h examples/vla_threads.h tests/board/vla_check.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS) -lpthread

$(B)/test_train_asan: tests/test_train.c $(HDR) $(TOOL_HDR) tools/vla_torch.h tools/vla_random.h examples/vla_threads.h tests/board/vla_check.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS) -lpthread

$(B)/test_whiten: tests/test_whiten.c tools/vla-train.c $(HDR) $(TOOL_HDR) tools/vla_random.h tools/vla_pyrandom.h examples/image_io.h examples/example_util.h examples/vla_threads.h tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS) -lpthread

$(B)/test_train_io: tests/test_train_io.c $(HDR) $(TOOL_HDR) tools/vla_torch.h tools/vla_random.h tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/test_train_io_asan: tests/test_train_io.c $(HDR) $(TOOL_HDR) tools/vla_torch.h tools/vla_random.h tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS)

$(B)/test_task: tests/test_task.c $(HDR) $(TOOL_HDR) tools/vla_tokconv.h tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/test_task_asan: tests/test_task.c $(HDR) $(TOOL_HDR) tools/vla_tokconv.h tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $(ARCH) $< -o $@ $(LDLIBS)

# One model, a context per thread, a thread pool as a context's exec:
# ThreadSanitizer must stay silent and every output equal the serial run's.
$(B)/test_threads_tsan: tests/test_threads.c $(HDR) $(TOOL_HDR) tools/vla_torch.h examples/vla_threads.h tests/board/vla_check.h tests/test_util.h | $(B)
	$(CLANG) $(WARN) $(WERROR) $(TSAN) $< -o $@ $(LDLIBS) -lpthread

$(B)/vla-data: tools/vla-data.c $(TOOL_HDR) | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/test_exhaust: tests/test_exhaust.c $(HDR) tools/vla_tool.h tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/test_exhaust_asan: tests/test_exhaust.c $(HDR) tools/vla_tool.h tests/board/vla_check.h | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS)

EXPORT_DEPS := $(HDR) $(TOOL_HDR) tools/vla_torch.h tools/vla_export.h tests/board/vla_check.h tests/test_util.h
$(B)/test_export: tests/test_export.c $(EXPORT_DEPS) | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/test_export_asan: tests/test_export.c $(EXPORT_DEPS) | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS)

$(B)/vla-shapes: tools/vla-shapes.c tools/vla_shapes.h tools/vla_eval.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS)

$(B)/vla-eval: tools/vla-eval.c tools/vla_eval.h tools/vla_tool.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

EVAL_DEPS := tools/vla-eval.c tools/vla_eval.h tools/vla_tool.h tests/board/vla_check.h
$(B)/test_eval: tests/test_eval.c $(EVAL_DEPS) | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/test_eval_asan: tests/test_eval.c $(EVAL_DEPS) | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS)

$(B)/test_designed: tests/test_designed.c $(HDR) $(TOOL_HDR) tools/vla_random.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/test_shapes: tests/test_shapes.c tools/vla_shapes.h $(EVAL_DEPS) | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/test_shapes_asan: tests/test_shapes.c tools/vla_shapes.h $(EVAL_DEPS) | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS)

$(B)/test_gemm: tests/test_gemm.c $(HDR) examples/vla_threads.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS) -lpthread

# The I8 format and integer path: every kernel equals the definition bit for
# bit (shapes, tails, 1..4 threads), error bounds, I8 convolutions, loader.
$(B)/test_i8: tests/test_i8.c $(HDR) examples/vla_threads.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS) -lpthread

$(B)/test_i8_asan: tests/test_i8.c $(HDR) examples/vla_threads.h tests/test_util.h | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $(ARCH) $< -o $@ $(LDLIBS) -lpthread

$(B)/vla-quantize: tools/vla-quantize.c tools/vla_quant.h $(HDR) tools/vla_tool.h examples/image_io.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS)

# Quantized vs F32 on every fixture case's inputs (cosines, token agreement):
# BART cases with their PEFT modules, the CLIP trunk, the e2e chain.  In
# test-native it fails when a cosine is under 0.999 (I8).
$(B)/vla-fidelity: tools/vla-fidelity.c tools/vla_quant.h tools/vla_random.h $(HDR) $(TOOL_HDR) tools/vla_torch.h examples/image_io.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS)

# vla-quantize's library (tools/vla_quant.h) and I8 model files: round trips,
# error table, the I8 model against F32, malformed inputs.  Takes the cross
# tests' tiny model (BART + CLIP trunk).
QUANT_DEPS := tests/test_quant.c tools/vla_quant.h tools/vla_tool.h $(HDR) tests/test_util.h examples/image_io.h
$(B)/test_quant: $(QUANT_DEPS) | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS)

$(B)/test_quant_asan: $(QUANT_DEPS) | $(B)
	$(CC) $(WARN) $(WERROR) $(SAN) $< -o $@ $(LDLIBS)

# The header must compile on its own as C99 and as C++ with gcc and clang,
# warning-free, and its implementation must not reference allocation or exit.
check-header: | $(B)
	@printf '#define VLADAPTER_IMPLEMENTATION\n#include "$(CURDIR)/vladapter.h"\n' > $(B)/hdr_impl.c
	$(CC) -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -c $(B)/hdr_impl.c -o $(B)/hdr_impl.o
	$(CC) -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 $(ARCH) -c $(B)/hdr_impl.c -o $(B)/hdr_impl_arch.o
	$(CC) -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -DVLA_NO_SIMD -DVLA_NO_STDIO -c $(B)/hdr_impl.c -o $(B)/hdr_impl_nosimd.o
	$(CXX) -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -O2 -c $(B)/hdr_impl.c -o $(B)/hdr_impl_cxx.o
	$(CLANG) -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 $(ARCH) -c $(B)/hdr_impl.c -o $(B)/hdr_impl_clang.o
	$(CLANG) -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -O2 -c $(B)/hdr_impl.c -o $(B)/hdr_impl_clangxx.o
	@bad=$$(for o in $(B)/hdr_impl*.o; do nm -u $$o; done | awk '{print $$NF}' | grep -E '^(malloc|calloc|realloc|free|exit|abort|_exit|atexit|__assert_fail)$$' | sort -u | tr '\n' ' '); \
	 if [ -n "$$bad" ]; then echo "check-header: the implementation references: $$bad"; exit 1; fi; \
	 echo "check-header: C99, C++, gcc and clang clean; no malloc/free/exit/abort referenced"

# The unit tests for one board (TARGET=pi4, m55, ...) under QEMU, and the
# whole matrix; see README "Supported targets".  (Included before test-native:
# it names the board test's tiny model files, which test_exhaust reads.)
include tests/cross.mk

# ASan under a plain run; leak checking stays on natively.
test-native: tools examples tests check-header $(B)/tiny_caption.gguf $(B)/test_pipeline $(VX_MODEL_GGUF) $(B)/gen_i420
	$(B)/test_gguf
	$(B)/test_gguf_asan
	$(B)/test_model $(FIXTURES)
	$(B)/test_tokenizer $(FIXTURES)
	$(B)/test_tokenizer_asan $(FIXTURES)
	$(B)/test_image $(FIXTURES)
	$(B)/test_image_asan $(FIXTURES)
	$(B)/test_torch_asan $(FIXTURES)
	$(B)/test_gemm
	$(B)/test_i8
	$(B)/test_i8_asan
	$(B)/test_quant $(VX_MODEL_GGUF) $(B)/tiny_caption.gguf tests/data/images/coffee.ppm
	$(B)/test_quant_asan $(VX_MODEL_GGUF) $(B)/tiny_caption.gguf tests/data/images/coffee.ppm
	@mkdir -p $(B)/tmp
	$(B)/vla-quantize --quiet --to i8 $(VX_MODEL_GGUF) $(B)/tmp/tiny_i8.gguf
	head -c 5000 $(B)/tmp/tiny_i8.gguf > $(B)/tmp/tiny_i8_cut.gguf
	! $(B)/vla-quantize --quiet --to f32 $(B)/tmp/tiny_i8_cut.gguf $(B)/tmp/never.gguf 2>/dev/null
	test ! -e $(B)/tmp/never.gguf
	@# the CLIP cases: a floor just under this header's measured grid cosine 0.724 (one activation scale per
	@# picture for the convolutions; 0.755 with one per im2col row before: tools/vla-fidelity.c,
	@# docs/clip-int8.md); with the trunk kept F32 they meet the default 0.999
	$(B)/vla-fidelity --min-cos-clip 0.71 $(FIXTURES)
	$(B)/vla-fidelity --keep 'visual.*' $(FIXTURES)/clip_trunk $(FIXTURES)/e2e
	@# and in mixed precision (vla-quantize --clip-calibrate): the plan measured on coffee and astronaut,
	@# checked on the fixtures' own picture (chelsea, held out) at the default 0.999 (docs/clip-int8.md)
	$(B)/vla-fidelity --clip-calibrate tests/data/images/coffee.ppm --clip-calibrate tests/data/images/astronaut.ppm \
	    $(FIXTURES)/clip_trunk $(FIXTURES)/e2e
	@# --model: a whole model file on drawn inputs (the bart-base-shaped figures: README, int8)
	$(B)/vla-fidelity --model $(B)/tiny_caption.gguf --inputs 3
	$(B)/test_adapters_asan
	$(B)/test_convert_asan $(FIXTURES)
	$(B)/test_train
	$(B)/test_train_asan
	$(B)/test_train_io $(FIXTURES)
	$(B)/test_train_io_asan $(FIXTURES)
	$(B)/test_whiten
	$(B)/test_designed
	$(B)/test_pyrandom
	bash tests/test_vla_train.sh $(B)
	$(B)/test_pipeline $(B)/tiny_caption.gguf tests/data/images/coffee.ppm $(B)/caption $(if $(STB_H),tests/data/images/coffee.png)
	$(B)/test_task $(FIXTURES) tests/data/images
	$(B)/test_task_asan $(FIXTURES) tests/data/images
	bash tests/test_examples.sh $(B)
	@mkdir -p $(B)/tmp
	$(B)/test_export $(FIXTURES) $(B)/tmp
	$(B)/test_export_asan $(FIXTURES) $(B)/tmp
	bash tests/test_install.sh $(B)
	$(B)/test_exhaust $(VX_MODEL_GGUF) $(VX_ADAPTER_GGUF)
	$(B)/test_exhaust_asan $(VX_MODEL_GGUF) $(VX_ADAPTER_GGUF)
	TSAN_OPTIONS=halt_on_error=1 $(B)/test_threads_tsan $(B)/tiny_caption.gguf
	bash tests/test_stream.sh $(B)
	bash tests/test_vla_data.sh $(B)
	bash tests/test_kill_resume.sh $(B)
	bash tests/test_fixture_rules.sh $(B)
	bash tests/test_cli.sh $(B)
	$(B)/test_eval $(B)
	$(B)/test_eval_asan $(B)
	$(B)/test_shapes $(B) --vla-train $(B)/vla-train
	$(B)/test_shapes_asan $(B)
	sh tests/test_shapes_model.sh $(B)
	$(B)/vla-fixtures $(FIXTURES)

ifeq ($(TARGET),native)
test: test-native test-unit
else
test: test-unit
endif

# Speed and memory next to OpenBLAS sgemm and PyTorch on CPU, measured in the
# same run (needs libopenblas-dev, python3-torch, python3-numpy and python3-pil;
# the PyTorch part is skipped with a message when torch is missing, the PyTorch
# pipeline when PIL is).  Not part of make test.
THREADS ?= 2
# Measured fp32 FMA, int8 dot-product and streaming-read peaks, printed first
# (same flags as the other bench programs: the loops use what the build has).
$(B)/bench_peaks: tools/bench_peaks.c | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ -lpthread

# The work of one caption (MACs, weight bytes per decode step) from the model
# shapes: the fractions of the peaks in make bench, and tools/pi_estimate.sh.
$(B)/bench_work: tools/bench_work.c | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $< -o $@

$(B)/bench_gemm: tools/bench_gemm.c $(HDR) examples/vla_threads.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $< -o $@ -lopenblas $(LDLIBS) -lpthread

$(B)/bench_model: tools/bench_model.c $(HDR) $(TOOL_HDR) tools/vla_torch.h tools/vla_random.h tools/vla_quant.h examples/vla_threads.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS) -lpthread

$(B)/bench_train: tools/bench_train.c $(HDR) $(TOOL_HDR) tools/vla_torch.h tools/vla_random.h examples/vla_threads.h | $(B)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) $(ARCH) $< -o $@ $(LDLIBS) -lpthread

bench: $(B)/bench_peaks $(B)/bench_work $(B)/bench_gemm $(B)/bench_model $(B)/bench_train
	THREADS="$(THREADS)" B=$(B) sh tools/bench.sh

bench-quick: $(B)/bench_peaks $(B)/bench_work $(B)/bench_gemm $(B)/bench_model $(B)/bench_train
	THREADS="$(THREADS)" B=$(B) sh tools/bench.sh -q

# valgrind memcheck over the examples and tools on the test models (its own
# -mavx2 build: valgrind does not run AVX-512); CI runs it after make test.
valgrind: tools examples $(B)/tiny_caption.gguf
	bash tests/test_examples.sh $(B) > /dev/null
	bash tests/test_valgrind.sh $(B)

# make install [PREFIX=/usr/local] [DESTDIR=...]: the header, the host tools
# and a pkg-config file (share/pkgconfig: the library is one header; a
# program that defines VLADAPTER_IMPLEMENTATION links libm).
PREFIX  ?= /usr/local
VERSION := 0.2.0
INSTALL_TOOLS := vla-convert vla-train vla-inspect vla-embed vla-mkmodel vla-shapes vla-eval
install: $(addprefix $(B)/,$(INSTALL_TOOLS))
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/pkgconfig
	install -m 644 $(HDR) $(DESTDIR)$(PREFIX)/include/vladapter.h
	install -m 755 $(addprefix $(B)/,$(INSTALL_TOOLS)) $(DESTDIR)$(PREFIX)/bin/
	printf 'prefix=%s\nincludedir=$${prefix}/include\n\nName: vladapter\nDescription: VL-Adapter (CLIP-BART with adapters) in one C header\nVersion: %s\nCflags: -I$${includedir}\nLibs: -lm\n' \
	    '$(PREFIX)' '$(VERSION)' > $(DESTDIR)$(PREFIX)/share/pkgconfig/vladapter.pc

clean:
	rm -rf $(B)

# Coverage-guided fuzzing (clang's libFuzzer): make fuzz [FUZZ_SECONDS=N] [FUZZ="torch json"].
include tests/fuzz/fuzz.mk
include tests/shapes.mk
