# tests/shapes.mk - the Shapes world's base model (issue 11), made by the
# library's own tools from nothing: data from vla-shapes, a random model from
# vla-mkmodel, full fine-tuning with vla-train, scores from vla-eval.
# Included by the top Makefile.
# The tools are order-only prerequisites: rebuilding one does not retrain.
#
#   make shapes-base      examples/shapes/base.gguf + $(SHAPES)/base-eval.txt
#   make shapes-base-eval only the evaluation of an existing base.gguf
#   make clean-shapes     remove $(SHAPES) (data, features, runs)
#   make demo             the shipped model and adapter on the bundled requests
#                         and on 200 scenes generated on the spot (tools/shapes_demo.sh)
#   make reproduce        the paper's Table 1 from the shipped base (tools/shapes_reproduce.sh)
#   make board-caption    the shipped model captions a picture on the Cortex-M55 board from flash
#
# What it does (docs/shapes.md, "Base model"):
#   1. pretraining data: seed 1, 6000 scenes, 2 VQA + 2 GQA questions and 1
#      NLVR statement per scene, 3% validation (a 200-line dev file: 50 per
#      task), no test split;
#   2. fresh test scenes: seed 2, 200 scenes, all of them test;
#   3. a random model: BART d_model 64, 3 + 3 layers, 4 heads, FFN 256, 64
#      positions, the real BART tokenizer (50265 + VL-Adapter's 200 tokens),
#      a random CLIP ModifiedResNet of width 8 with one bottleneck per stage
#      at 224 x 224 (7 x 7 x 256 grid, pooled to 6 x 6 as VL-Adapter does),
#      which stays frozen (the trainer never trains CLIP); no n-gram ban in
#      the generation defaults (BART's config bans repeated 3-grams, which
#      the shapes captions have: ", a small");
#   4. full fine-tuning from it on all four tasks (batch 32 for every task,
#      lr 1e-3, 5% warmup, 3 epochs, dropout 0.1), nice'd, 2 threads;
#   5. the scores of the result on the 200 test scenes: tools/vla-predict
#      (the task-level calls: vla_caption, vla_answer, vla_verify) writes the
#      predictions, vla-eval scores them.
# About 35 minutes on 2 shared cores (measured: 84 s of CLIP features, 1887 s
# of training, 18 s of test predictions; the machine was shared, 25 to 45
# minutes is the range to expect).

SHAPES        ?= $(B)/shapes
SHAPES_BASE   := examples/shapes/base.gguf
SHAPES_TOK    := tests/fixtures/tokenizer
SHAPES_NICE   ?= nice -n 10
SHAPES_THREADS ?= 2
SHAPES_MODEL_FLAGS := --d-model 64 --enc-layers 3 --dec-layers 3 --heads 4 --ffn 256 --max-pos 64 \
                      --clip-width 8 --clip-layers 1,1,1,1 --image-size 224 --no-repeat-ngram 0 --seed 1
SHAPES_TRAIN_FLAGS := --full --epochs 3 --batch 32 --batch-same --lr 1e-3 --warmup-ratio 0.05 --dropout 0.1 \
                      --seed 9595 --log-every 50

.PHONY: shapes-base shapes-base-eval clean-shapes demo reproduce board-caption

# Table 1 in miniature: every method from the shipped base (tools/shapes_reproduce.sh)
reproduce: $(B)/vla-train $(B)/vla-predict $(B)/vla-shapes $(B)/vla-eval $(B)/vla-inspect
	sh tools/shapes_reproduce.sh

demo: $(B)/vla-predict $(B)/vla-shapes $(B)/vla-eval
	sh tools/shapes_demo.sh

# A model captions a picture on the Cortex-M55 board (QEMU mps3-an547), read
# in place from its QSPI flash, and the caption must equal this machine's
# (tests/board_caption.sh; about 1.5 minutes).  BOARD_ADAPTER=- : no adapter.
BOARD_MODEL ?= $(SHAPES_BASE)
BOARD_ADAPTER ?= examples/shapes/adapter.gguf
BOARD_PICTURE ?= examples/shapes/pictures/scene0.ppm
board-caption:
	sh tests/board_caption.sh $(BOARD_MODEL) $(BOARD_ADAPTER) $(BOARD_PICTURE)

# vla-mkmodel now also includes these (the top Makefile lists only TOOL_HDR)
$(B)/vla-mkmodel: tools/vla_random.h tools/vla_tokconv.h

$(SHAPES)/pre/train.jsonl: | $(B)/vla-shapes
	@mkdir -p $(SHAPES)
	rm -rf $(SHAPES)/pre
	$(B)/vla-shapes --seed 1 --scenes 6000 --vqa 2 --gqa 2 --nlvr 1 --val 0.03 --test 0 --out $(SHAPES)/pre --quiet
	for t in caption vqa gqa nlvr; do head -n 50 $(SHAPES)/pre/$${t}_val.jsonl; done > $(SHAPES)/pre/dev.jsonl

$(SHAPES)/test/test.jsonl: | $(B)/vla-shapes
	@mkdir -p $(SHAPES)
	rm -rf $(SHAPES)/test
	$(B)/vla-shapes --seed 2 --scenes 200 --val 0 --test 1 --out $(SHAPES)/test --quiet

$(SHAPES)/random.gguf: | $(B)/vla-mkmodel
	@mkdir -p $(SHAPES)
	$(B)/vla-mkmodel -o $@ $(SHAPES_MODEL_FLAGS) --tokenizer $(SHAPES_TOK)

$(SHAPES)/base-run/model.gguf: $(SHAPES)/random.gguf $(SHAPES)/pre/train.jsonl | $(B)/vla-train
	rm -rf $(SHAPES)/base-run
	$(SHAPES_NICE) $(B)/vla-train --model $(SHAPES)/random.gguf --data $(SHAPES)/pre/train.jsonl \
	    --dev $(SHAPES)/pre/dev.jsonl --out $(SHAPES)/base-run --feat-cache $(SHAPES)/feats-random.bin \
	    --threads $(SHAPES_THREADS) $(SHAPES_TRAIN_FLAGS) 2> $(SHAPES)/base-train.log || \
	    { tail -n 20 $(SHAPES)/base-train.log; exit 1; }
	grep -E '^(vla-train:|epoch|dev epoch)' $(SHAPES)/base-train.log | tail -n 12

$(SHAPES_BASE): $(SHAPES)/base-run/model.gguf
	@mkdir -p $(dir $@)
	cp $< $@

# Predictions of a model file on the 200 fresh test scenes through the
# task-level calls (tools/vla-predict), scored by vla-eval.
$(B)/vla-predict: tools/vla-predict.c $(HDR) tools/vla_tool.h examples/image_io.h examples/example_util.h \
                  examples/vla_threads.h | $(B)
	$(CC) $(WARN) $(CFLAGS) $(ARCH) $(IMG_FLAGS) $< -o $@ $(IMG_LIBS) $(LDLIBS) -lpthread

define SHAPES_EVAL
$(SHAPES_NICE) $(B)/vla-predict --model $(SHAPES_BASE) --data $(SHAPES)/test/test.jsonl \
    --out $(SHAPES)/base-test-pred.jsonl --quiet
$(B)/vla-eval --data $(SHAPES)/test/test.jsonl --pred $(SHAPES)/base-test-pred.jsonl \
    --scores $(SHAPES)/base-test-scores.jsonl > $(SHAPES)/base-eval.txt
cat $(SHAPES)/base-eval.txt
endef

shapes-base-eval: $(SHAPES)/test/test.jsonl | $(B)/vla-predict $(B)/vla-eval
	$(SHAPES_EVAL)

shapes-base: $(SHAPES_BASE) $(SHAPES)/test/test.jsonl | $(B)/vla-predict $(B)/vla-eval
	$(SHAPES_EVAL)
	@ls -l $(SHAPES_BASE)

clean-shapes:
	rm -rf $(SHAPES)
