# tests/fuzz/fuzz.mk - coverage-guided fuzzing with clang's libFuzzer.
# Included by the main Makefile (it uses B, HDR, CLANG, ARCH, LDLIBS and
# FIXTURES from there); every harness is tests/fuzz/fuzz_<name>.c.
#
#   make fuzz                  build every harness and run each for FUZZ_SECONDS
#                              (default 30), one after the other; fails if any
#                              harness finds a crash, a leak, a timeout or a
#                              broken property (the input is left in
#                              $(B)/fuzz/artifacts/)
#   make fuzz FUZZ=torch       only the named harness(es): FUZZ="model adapter"
#   make fuzz-regress          every harness once over its committed corpus
#                              (seeds + regression inputs), no mutation: seconds
#   make fuzz-build            the harness binaries only ($(B)/fuzz/fuzz_<name>)
#   make fuzz-corpus           regenerate the committed GGUF seeds in
#                              tests/fuzz/corpus (make_corpus.c; deterministic);
#                              the other seeds are committed files
#
# New inputs a run finds go to $(B)/fuzz/corpus/<name>/ (the committed corpus
# is only read).  FUZZ_FLAGS adds libFuzzer options, e.g. FUZZ_FLAGS=-jobs=2.
# One harness at a time; each run is a single process.

FUZZ_SECONDS ?= 30
FUZZ_HARNESSES := model adapter gguf tokenize detokenize image safetensors torch json tokconv train_state train_data
FUZZ ?= $(FUZZ_HARNESSES)
FUZZ_FLAGS ?=
FUZZ_CFLAGS := -std=c99 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
               -Wall -Wextra $(ARCH)
FUZZ_BINS := $(FUZZ_HARNESSES:%=$(B)/fuzz/fuzz_%)
FUZZ_DEPS := $(HDR) tests/fuzz/fuzz_common.h tools/vla_tool.h tools/vla_convert.h tools/vla_torch.h tools/vla_random.h \
             tools/vla_tokconv.h examples/image_io.h
# the dictionary each harness uses (tests/fuzz/<dict>.dict; none for detokenize)
FUZZ_DICT_model := gguf
FUZZ_DICT_adapter := gguf
FUZZ_DICT_gguf := gguf
FUZZ_DICT_train_state := gguf
FUZZ_DICT_torch := pickle
FUZZ_DICT_safetensors := json
FUZZ_DICT_json := json
FUZZ_DICT_tokconv := json
FUZZ_DICT_train_data := json
FUZZ_DICT_tokenize := tokenize
FUZZ_DICT_image := image
FUZZ_DICT_MAP := $(foreach h,$(FUZZ_HARNESSES),$(h):$(FUZZ_DICT_$(h)))

.PHONY: fuzz fuzz-build fuzz-regress fuzz-corpus

$(B)/fuzz:
	@mkdir -p $@

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS) | $(B)/fuzz
	$(CLANG) $(FUZZ_CFLAGS) $< -o $@ $(LDLIBS) -lpthread

# vla-train's data parser comes from the program itself
$(B)/fuzz/fuzz_train_data: tools/vla-train.c tools/vla_pyrandom.h examples/example_util.h examples/vla_threads.h

fuzz-build: $(FUZZ:%=$(B)/fuzz/fuzz_%)

# Each harness: its corpus copy in $(B)/fuzz/corpus/<name> first (new units
# land there), the committed corpus second; a failing harness does not stop
# the others, the target fails at the end with the list.
fuzz: fuzz-build
	@mkdir -p $(B)/fuzz/artifacts
	@failed=""; for h in $(FUZZ); do \
	    mkdir -p $(B)/fuzz/corpus/$$h; \
	    dict=""; for m in $(FUZZ_DICT_MAP); do \
	        if [ "$${m%%:*}" = "$$h" ] && [ -n "$${m#*:}" ]; then dict=-dict=tests/fuzz/$${m#*:}.dict; fi; \
	    done; \
	    echo "fuzz: $$h for $(FUZZ_SECONDS) s"; \
	    if VLA_FUZZ_FIXTURES=$(FIXTURES) $(B)/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 \
	        -print_final_stats=1 -artifact_prefix=$(B)/fuzz/artifacts/$$h- $$dict $(FUZZ_FLAGS) \
	        $(B)/fuzz/corpus/$$h tests/fuzz/corpus/$$h > $(B)/fuzz/$$h.log 2>&1; then \
	        grep -E '^(#[0-9]+[[:space:]]+DONE|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb))' $(B)/fuzz/$$h.log | tr '\n' ' '; echo; \
	    else \
	        echo "fuzz: $$h FAILED (log: $(B)/fuzz/$$h.log)"; grep -E 'ERROR|SUMMARY|fuzz property|Test unit written' $(B)/fuzz/$$h.log | head -n 8; \
	        failed="$$failed $$h"; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failures in:$$failed"; exit 1; fi; echo "fuzz: no crashes"

# Every committed input once (seeds and regression inputs of fixed bugs).
fuzz-regress: fuzz-build
	@failed=""; for h in $(FUZZ); do \
	    if VLA_FUZZ_FIXTURES=$(FIXTURES) $(B)/fuzz/fuzz_$$h -runs=0 -timeout=20 tests/fuzz/corpus/$$h > $(B)/fuzz/$$h.regress.log 2>&1; \
	    then echo "fuzz-regress: $$h ok ($$(ls tests/fuzz/corpus/$$h | wc -l) inputs)"; \
	    else echo "fuzz-regress: $$h FAILED (log: $(B)/fuzz/$$h.regress.log)"; failed="$$failed $$h"; fi; \
	done; \
	if [ -n "$$failed" ]; then exit 1; fi

$(B)/fuzz/make_corpus: tests/fuzz/make_corpus.c $(FUZZ_DEPS) | $(B)/fuzz
	$(CC) -std=c99 -O2 -g -w $< -o $@ $(LDLIBS)

fuzz-corpus: $(B)/fuzz/make_corpus
	$(B)/fuzz/make_corpus tests/fuzz/corpus $(FIXTURES)
