#!/usr/bin/env python3
"""bench_torch.py - PyTorch on the CPU at the shapes of tools/bench_model.c.

    /usr/bin/python3 tools/bench_torch.py [-q] [--ours results.tsv]

The same work as build/bench_model, written directly with torch.nn.functional
(no nn.Transformer*: BART is post-LN with exact gelu and q scaled after its
projection, so its layers are spelled out here):
  bart      VL-BART encoder (text embeddings + layernorm_embedding, then the
            visual tokens: adaptive max pool of the grid, feature and box
            projections with their LayerNorms, image-order and object-order
            embeddings), decoder with a preallocated self-attention KV cache
            and cross-attention keys/values computed once, tied LM head with
            final_logits_bias; greedy and beam search with the rules of
            transformers 4.2.1 (no-repeat-ngram, min_length, BART's forced EOS at
            the last step, BeamHypotheses with early stopping)
  clip      CLIP ModifiedResNet trunk (3-conv stem, anti-aliased bottlenecks)
            with BatchNorm folded into the convolutions (nn.Conv2d with bias),
            NCHW (channels-first, PyTorch's native layout), eval mode
  pipeline  PIL Image.resize(BICUBIC) + ToTensor/Normalize arithmetic -> CLIP
            -> encoder -> beam search
  train     one optimizer step of the Single Adapter VQA setting of
            tools/bench_train.c: VL-BART's training forward in train mode
            (dropout 0.1 on the embeddings, attention probabilities, FFN
            activation and every sublayer output; adapters down -> gelu_new ->
            up + residual on the self-/cross-attention and FFN outputs before
            their dropout and residual), tied LM head + final_logits_bias, the
            VQA loss (per-example token mean x score, batch mean),
            loss.backward() with requires_grad only on the trainable set
            (adapters, every BART LayerNorm, the visual embedding),
            clip_grad_norm_(5), torch.optim.AdamW (decay / no-decay groups as
            the official script) and the linear schedule; with bench_train's
            recompute = 1, every layer runs under torch.utils.checkpoint
Weights are random (the values do not change the work); float32; the encoder,
decoder and trunk run under torch.inference_mode() (the training step
with autograd, of course).  Each section and thread
count runs in a fresh child process (OMP/OpenBLAS/MKL thread variables and
torch.set_num_threads set before work starts) whose peak RSS
(resource.getrusage ru_maxrss) is reported, next to its RSS right after
`import torch` (the library's own share).

Sizes and repeats come from the same BENCH_* variables as bench_model.c.
With --ours (bench_model's -o file) a comparison table is printed as well,
and our int8 model (bench_model's bart_i8 / clip_i8 / pipeline_i8, the I8
copy of the weights) against PyTorch fp32 and dynamic int8, with its peak
RSS against the int8 weight bytes + 64 MB; a row whose inputs were not
measured prints "missing".
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time


def env_int(name, dflt):
    v = os.environ.get(name, "")
    try:
        return int(v) if v.strip() else dflt
    except ValueError:
        return dflt


def env_ints(name, dflt):
    v = os.environ.get(name, "")
    try:
        out = [int(x) for x in v.replace(",", " ").replace("x", " ").split()]
        return out if out else dflt
    except ValueError:
        return dflt


def config(quick):
    c = {}
    c["d"] = env_int("BENCH_D_MODEL", 768)
    c["heads"] = env_int("BENCH_HEADS", 12)
    c["enc_layers"] = env_int("BENCH_ENC_LAYERS", 6)
    c["dec_layers"] = env_int("BENCH_DEC_LAYERS", 6)
    c["ffn"] = env_int("BENCH_FFN", 3072)
    c["vocab"] = env_int("BENCH_VOCAB", 50465)
    c["max_pos"] = 1024
    cl = env_ints("BENCH_CLIP_LAYERS", [3, 4, 23, 3])
    c["clip_layers"] = cl if len(cl) == 4 else [3, 4, 23, 3]
    c["clip_width"] = env_int("BENCH_CLIP_WIDTH", 64)
    c["feat"] = env_int("BENCH_FEAT", 32 * c["clip_width"])
    c["image"] = env_int("BENCH_IMAGE", 224)
    c["grid"] = env_int("BENCH_GRID", c["image"] // 32)
    c["text"] = env_int("BENCH_TEXT", 10)
    c["gen"] = env_int("BENCH_GEN", 20)
    c["beams"] = env_int("BENCH_BEAMS", 5)
    c["ngram"] = env_int("BENCH_NGRAM", 3)
    pic = env_ints("BENCH_PICTURE", [640, 480])
    c["pic_w"], c["pic_h"] = (pic[0], pic[1]) if len(pic) == 2 else (640, 480)
    c["pipe_text"] = env_int("BENCH_PIPE_TEXT", 4)
    c["repeat"] = env_int("BENCH_REPEAT", 2 if quick else 5)
    c["warmup"] = env_int("BENCH_WARMUP", 1)
    c["pipe_repeat"] = env_int("BENCH_PIPE_REPEAT", 1 if quick else 3)
    c["threads"] = env_ints("BENCH_THREADS", [1, 2])
    c["sections"] = os.environ.get("BENCH_SECTIONS", "") or "bart,clip,pipeline,adapters,train"
    c["train_batch"] = env_int("BENCH_TRAIN_BATCH", 8)
    c["train_text"] = env_int("BENCH_TRAIN_TEXT", 20)
    c["train_target"] = env_int("BENCH_TRAIN_TARGET", 5)
    c["train_repeat"] = env_int("BENCH_TRAIN_REPEAT", 2 if quick else 5)
    c["train_warmup"] = env_int("BENCH_TRAIN_WARMUP", 1)
    c["train_recompute"] = [r for r in env_ints("BENCH_TRAIN_RECOMPUTE", [0, 1]) if r in (0, 1)] or [0, 1]
    c["adapter_hidden"] = env_int("BENCH_ADAPTER_HIDDEN", 96)
    c["seed"] = env_int("BENCH_SEED", 1)
    return c


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# --------------------------------------------------------------------------
# The model (child process only)
# --------------------------------------------------------------------------

def build_bart(torch, c):
    g = torch.Generator().manual_seed(c["seed"])
    d, V, ffn = c["d"], c["vocab"], c["ffn"]

    def rnd(*shape):
        return torch.randn(*shape, generator=g).mul_(0.02)

    def lin(o, i):
        return (rnd(o, i), torch.zeros(o))

    def ln(n):
        return (torch.ones(n), torch.zeros(n))

    def attn():
        return {"q": lin(d, d), "k": lin(d, d), "v": lin(d, d), "o": lin(d, d)}

    m = {"emb": rnd(V, d), "flb": torch.zeros(V), "enc_pos": rnd(c["max_pos"] + 2, d),
         "dec_pos": rnd(c["max_pos"] + 2, d), "enc_ln": ln(d), "dec_ln": ln(d),
         "feat": lin(d, c["feat"]), "feat_ln": ln(d), "box": lin(d, 5), "box_ln": ln(d),
         "img_order": rnd(2, d), "enc": [], "dec": []}
    for _ in range(c["enc_layers"]):
        m["enc"].append({"sa": attn(), "sa_ln": ln(d), "fc1": lin(ffn, d), "fc2": lin(d, ffn), "ffn_ln": ln(d)})
    for _ in range(c["dec_layers"]):
        m["dec"].append({"sa": attn(), "sa_ln": ln(d), "ca": attn(), "ca_ln": ln(d),
                         "fc1": lin(ffn, d), "fc2": lin(d, ffn), "ffn_ln": ln(d)})
    return m


def quantize_bart(torch, w):
    """PyTorch's dynamic int8 quantisation of every linear layer of build_bart's
    weights: each (W [out, in], b) pair becomes an nn.Linear, the lot goes
    through torch.ao.quantization.quantize_dynamic({nn.Linear}, qint8) (int8
    weights per tensor, activations quantized on the fly per call), and the
    pairs are replaced by the quantized modules.  The tied LM head is an
    nn.Linear in the official model too (BartForConditionalGeneration.lm_head)
    and is quantized as well ("lm_head"); the token embedding lookup stays fp32."""
    import torch.nn as nn
    mods, slots = nn.ModuleList(), []

    def linear(pair):  # an nn.Linear that shares W and b (no fp32 copy)
        W, b = pair
        m = nn.Linear(W.shape[1], W.shape[0], device="meta")
        m.weight = nn.Parameter(W, requires_grad=False)
        m.bias = nn.Parameter(b, requires_grad=False)
        mods.append(m)
        return len(mods) - 1

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, tuple) and len(v) == 2 and v[0].dim() == 2:
                    slots.append((node, k, linear(v)))
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(w)
    w["lm_head"] = (w["emb"], w["flb"])
    slots.append((w, "lm_head", linear(w["lm_head"])))
    # in place: each fp32 module is replaced by its int8 version, so the fp32
    # matrices are freed as the dict's pairs are replaced (peak RSS = int8
    # weights + the fp32 token embedding, as a deployed quantized model)
    torch.ao.quantization.quantize_dynamic(mods, {nn.Linear}, dtype=torch.qint8, inplace=True)
    for node, k, i in slots:
        node[k] = mods[i]
    return w


class Bart:
    """VL-BART inference with the shapes and semantics of vladapter.h [I8]/[I9]."""

    def __init__(self, torch, c, weights):
        import torch.nn.functional as F
        self.torch, self.F, self.c, self.w = torch, F, c, weights
        self.d, self.H = c["d"], c["heads"]
        self.dh = self.d // self.H
        self.scale = self.dh ** -0.5
        self.eps = 1e-5
        self.V = c["vocab"]
        self.n_boxes = (c["grid"] - 1) ** 2
        self.pool = c["grid"] - 1
        self.pad, self.eos, self.start = 1, 2, 2
        # object-order embedding rows E[V-1-i], as the official model looks them up
        self.obj_rows = torch.arange(self.V - 1, self.V - 1 - self.n_boxes, -1)

    def lin(self, x, p):
        """x W^T + b: p is (W, b), or a module (PyTorch's dynamic int8 Linear)."""
        return self.F.linear(x, *p) if isinstance(p, tuple) else p(x)

    def ln(self, x, p):
        return self.F.layer_norm(x, (self.d,), p[0], p[1], self.eps)

    def heads(self, x):  # [B, L, d] -> [B, H, L, dh]
        B, L, _ = x.shape
        return x.view(B, L, self.H, self.dh).transpose(1, 2)

    def encode(self, ids, grid):
        """ids [1, Lt] int64, grid [1, F, g, g] -> encoder output [1, L, d], cross K/V per layer."""
        torch, F, w = self.torch, self.F, self.w
        Lt = ids.shape[1]
        x = F.embedding(ids, w["emb"]) + w["enc_pos"][2:2 + Lt]
        x = self.ln(x, w["enc_ln"])
        v = F.adaptive_max_pool2d(grid, (self.pool, self.pool)).flatten(2).transpose(1, 2)  # [1, 36, F]
        v = self.ln(self.lin(v, w["feat"]), w["feat_ln"])
        boxes = torch.zeros(1, self.n_boxes, 5)  # CLIP grid features: all-zero boxes
        v = v + self.ln(self.lin(boxes, w["box"]), w["box_ln"])
        v = v + w["img_order"][0] + F.embedding(self.obj_rows, w["emb"])
        x = torch.cat([x, v], 1)
        for p in w["enc"]:
            a = p["sa"]
            q = self.heads(self.lin(x, a["q"]) * self.scale)
            k = self.heads(self.lin(x, a["k"]))
            vv = self.heads(self.lin(x, a["v"]))
            o = torch.softmax(q @ k.transpose(-1, -2), -1) @ vv
            o = o.transpose(1, 2).reshape(x.shape)
            x = self.ln(x + self.lin(o, a["o"]), p["sa_ln"])
            h = self.lin(F.gelu(self.lin(x, p["fc1"])), p["fc2"])
            x = self.ln(x + h, p["ffn_ln"])
        xkv = [(self.heads(self.lin(x, p["ca"]["k"])), self.heads(self.lin(x, p["ca"]["v"]))) for p in w["dec"]]
        return x, xkv

    def new_cache(self, R):
        T = self.c["gen"]
        z = self.torch.zeros
        return [[z(R, self.H, T, self.dh), z(R, self.H, T, self.dh)] for _ in self.w["dec"]]

    def step(self, tok, t, cache, xkv):
        """tok [R] int64 at position t -> logits [R, V]; appends to cache."""
        torch, F, w = self.torch, self.F, self.w
        R = tok.shape[0]
        x = F.embedding(tok, w["emb"]) + w["dec_pos"][t + 2]
        x = self.ln(x, w["dec_ln"])
        for p, kv, (XK, XV) in zip(w["dec"], cache, xkv):
            a = p["sa"]
            q = (self.lin(x, a["q"]) * self.scale).view(R, self.H, 1, self.dh)
            kv[0][:, :, t] = self.lin(x, a["k"]).view(R, self.H, self.dh)
            kv[1][:, :, t] = self.lin(x, a["v"]).view(R, self.H, self.dh)
            K, Vc = kv[0][:, :, :t + 1], kv[1][:, :, :t + 1]
            o = torch.softmax(q @ K.transpose(-1, -2), -1) @ Vc
            x = self.ln(x + self.lin(o.reshape(R, self.d), a["o"]), p["sa_ln"])
            a = p["ca"]
            q = (self.lin(x, a["q"]) * self.scale).view(R, self.H, 1, self.dh)
            o = torch.softmax(q @ XK.transpose(-1, -2), -1) @ XV  # [1, H, L, dh] broadcast over the beams
            x = self.ln(x + self.lin(o.reshape(R, self.d), a["o"]), p["ca_ln"])
            h = self.lin(F.gelu(self.lin(x, p["fc1"])), p["fc2"])
            x = self.ln(x + h, p["ffn_ln"])
        return self.lin(x, w["lm_head"]) if "lm_head" in w else F.linear(x, w["emb"], w["flb"])

    @staticmethod
    def banned(hist, n):
        """Tokens that would repeat an n-gram of hist (transformers' _get_generated_ngrams)."""
        cur = len(hist)
        if n <= 0 or cur + 1 < n:
            return []
        grams = {}
        for i in range(cur - n + 1):
            grams.setdefault(tuple(hist[i:i + n - 1]), []).append(hist[i + n - 1])
        return grams.get(tuple(hist[cur - n + 1:]), [])

    def greedy(self, xkv, gp):
        torch = self.torch
        hist = [self.start]
        cache = self.new_cache(1)
        for cur in range(1, gp["max_length"]):
            s = self.step(torch.tensor([hist[-1]]), cur - 1, cache, xkv)[0]
            ban = self.banned(hist, gp["ngram"])
            if ban:
                s[ban] = -float("inf")
            if cur < gp["min_length"]:
                s[self.eos] = -float("inf")
            nxt = int(torch.argmax(s))
            hist.append(nxt)
            if nxt == self.eos:
                break
        return hist

    def beam(self, xkv, gp):
        torch, F = self.torch, self.F
        nb, T, V, lp = gp["beams"], gp["max_length"], self.V, 1.0
        hist = [[self.start] for _ in range(nb)]
        beam_scores = torch.zeros(nb)
        beam_scores[1:] = -1e9
        cache = self.new_cache(nb)
        hyps, worst, done = [], 1e9, False
        cur = 1
        for cur in range(1, T):
            logits = self.step(torch.tensor([h[-1] for h in hist]), cur - 1, cache, xkv)
            if cur == T - 1:  # BART forces EOS at the last step
                eos_col = logits[:, self.eos].clone()
                logits.fill_(-float("inf"))
                logits[:, self.eos] = eos_col
            s = F.log_softmax(logits, -1)
            for r in range(nb):
                ban = self.banned(hist[r], gp["ngram"])
                if ban:
                    s[r, ban] = -float("inf")
            if cur < gp["min_length"]:
                s[:, self.eos] = -float("inf")
            s = s + beam_scores[:, None]
            val, idx = torch.topk(s.view(-1), 2 * nb)
            val, idx = val.tolist(), idx.tolist()
            nxt = []
            for k in range(2 * nb):
                src, tok = idx[k] // V, idx[k] % V
                if tok == self.eos:
                    if k >= nb:
                        continue
                    score = val[k] / (cur ** lp)
                    if len(hyps) < nb or score > worst:
                        hyps.append((score, hist[src][:]))
                        if len(hyps) > nb:
                            hyps.sort(key=lambda h: h[0])
                            hyps.pop(0)
                        worst = min(h[0] for h in hyps)
                else:
                    nxt.append((val[k], tok, src))
                if len(nxt) == nb:
                    break
            if len(hyps) >= nb and gp["early_stopping"]:
                done = True
            src = [n[2] for n in nxt]
            hist = [hist[sr] + [n[1]] for sr, n in zip(src, nxt)]
            beam_scores = torch.tensor([n[0] for n in nxt])
            index = torch.tensor(src)
            for kv in cache:  # reorder the self-attention cache by source beam
                kv[0] = kv[0].index_select(0, index)
                kv[1] = kv[1].index_select(0, index)
            if done:
                break
        if not done:
            for r in range(nb):
                hyps.append((float(beam_scores[r]) / (len(hist[r]) ** lp), hist[r]))
        return max(hyps, key=lambda h: h[0])[1]


class BartTrain(Bart):
    """VL-BART's training step with Single Adapter (VL-Adapter's VQA setting), on
    the weights of build_bart plus one adapter (hidden adapter_hidden, biases) at
    each of the 2 encoder and 3 decoder sites per layer, shared by the tasks.
    Trainable, as vla_train_defaults("adapter") / unfreeze_parameters(): the
    adapters, every BART LayerNorm, the visual embedding (feature and box
    projections with their LayerNorms, image-order embedding)."""

    def __init__(self, torch, c, weights, recompute):
        super().__init__(torch, c, weights)
        self.p_drop = 0.1
        self.recompute = recompute
        d, r = self.d, c["adapter_hidden"]
        g = torch.Generator().manual_seed(c["seed"] + 100)

        def rnd(*shape):
            return torch.randn(*shape, generator=g).mul_(0.02)

        def adapter():
            return {"dw": rnd(r, d), "db": torch.zeros(r), "uw": rnd(d, r), "ub": torch.zeros(d)}
        w = self.w
        for p in w["enc"]:
            p["adp"] = [adapter() for _ in range(2)]  # self-attention, FFN
        for p in w["dec"]:
            p["adp"] = [adapter() for _ in range(3)]  # self-attention, cross-attention, FFN
        # The official grouping: no decay for names containing "bias" or "LayerNorm.weight".  BART's and the
        # visual embedding's LayerNorms are named *layer_norm / layernorm_embedding / feat_embedding.1, so
        # their weights do decay (as in vladapter.h's trainer); only biases do not.
        decay, no_decay = [], []

        def train(t, dec):
            t.requires_grad_(True)
            (decay if dec else no_decay).append(t)

        def train_ln(pair):
            train(pair[0], True)
            train(pair[1], False)
        for key in ("enc_ln", "dec_ln", "feat_ln", "box_ln"):
            train_ln(w[key])
        for key in ("feat", "box"):
            train(w[key][0], True)
            train(w[key][1], False)
        train(w["img_order"], True)
        for p in w["enc"] + w["dec"]:
            for key in ("sa_ln", "ca_ln", "ffn_ln"):
                if key in p:
                    train_ln(p[key])
            for a in p["adp"]:
                train(a["dw"], True)
                train(a["db"], False)
                train(a["uw"], True)
                train(a["ub"], False)
        self.params = decay + no_decay
        self.n_params = sum(t.numel() for t in self.params)
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                     lr=1e-3, betas=(0.9, 0.999), eps=1e-6)
        total = 100000
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: max(0.0, (total - s) / total))

    def drop(self, x):
        return self.F.dropout(x, self.p_drop, True)

    def attend(self, x, kv, a, causal):
        """BartAttention in train mode: q scaled after its projection, dropout on the probabilities."""
        F, torch = self.F, self.torch
        q = self.heads(F.linear(x, *a["q"]) * self.scale)
        k = self.heads(F.linear(kv, *a["k"]))
        v = self.heads(F.linear(kv, *a["v"]))
        s = q @ k.transpose(-1, -2)
        if causal:
            T = x.shape[1]
            s = s + torch.full((T, T), -float("inf")).triu_(1)
        o = self.drop(torch.softmax(s, -1)) @ v
        return F.linear(o.transpose(1, 2).reshape(x.shape), *a["o"])

    def adapter(self, h, a):
        """Adapter: up(gelu_new(down(h))) + h (gelu_new spelled as transformers 4.2.1 does)."""
        z = self.F.linear(h, a["dw"], a["db"])
        z = 0.5 * z * (1.0 + self.torch.tanh(0.7978845608028654 * (z + 0.044715 * self.torch.pow(z, 3.0))))
        return self.F.linear(z, a["uw"], a["ub"]) + h

    def ffn(self, x, p, a):
        F = self.F
        h = F.linear(self.drop(F.gelu(F.linear(x, *p["fc1"]))), *p["fc2"])
        return self.ln(x + self.drop(self.adapter(h, a)), p["ffn_ln"])

    def enc_layer(self, p, x):
        x = self.ln(x + self.drop(self.adapter(self.attend(x, x, p["sa"], False), p["adp"][0])), p["sa_ln"])
        return self.ffn(x, p, p["adp"][1])

    def dec_layer(self, p, y, enc):
        y = self.ln(y + self.drop(self.adapter(self.attend(y, y, p["sa"], True), p["adp"][0])), p["sa_ln"])
        y = self.ln(y + self.drop(self.adapter(self.attend(y, enc, p["ca"], False), p["adp"][1])), p["ca_ln"])
        return self.ffn(y, p, p["adp"][2])

    def loss(self, ids, grid, labels, scores):
        torch, F, w = self.torch, self.F, self.w
        B, Lt = ids.shape
        T = labels.shape[1]
        ckpt = None
        if self.recompute:
            import torch.utils.checkpoint as cp
            ckpt = cp.checkpoint
        # encoder input: text embeddings + positions, layernorm_embedding, then the visual tokens
        x = F.embedding(ids, w["emb"]) + w["enc_pos"][2:2 + Lt]
        x = self.ln(x, w["enc_ln"])
        v = F.adaptive_max_pool2d(grid, (self.pool, self.pool)).flatten(2).transpose(1, 2)  # [B, 36, F]
        v = self.ln(F.linear(v, *w["feat"]), w["feat_ln"])
        boxes = torch.zeros(B, self.n_boxes, 5)  # CLIP grid features: all-zero boxes
        v = v + self.ln(F.linear(boxes, *w["box"]), w["box_ln"])
        v = v + w["img_order"][0] + F.embedding(self.obj_rows, w["emb"])
        x = self.drop(torch.cat([x, v], 1))
        for p in w["enc"]:
            if ckpt:
                x = ckpt(lambda h, p=p: self.enc_layer(p, h), x)
            else:
                x = self.enc_layer(p, x)
        # decoder input: shift_tokens_right(labels) with -100 -> pad
        dec_ids = torch.cat([torch.full((B, 1), self.start, dtype=labels.dtype), labels[:, :-1]], 1)
        dec_ids = dec_ids.masked_fill(dec_ids == -100, self.pad)
        y = F.embedding(dec_ids, w["emb"]) + w["dec_pos"][2:2 + T]
        y = self.drop(self.ln(y, w["dec_ln"]))
        for p in w["dec"]:
            if ckpt:
                y = ckpt(lambda h, e, p=p: self.dec_layer(p, h, e), y, x)
            else:
                y = self.dec_layer(p, y, x)
        logits = F.linear(y, w["emb"], w["flb"])
        tok = F.cross_entropy(logits.view(-1, self.V), labels.view(-1), ignore_index=-100, reduction="none").view(B, T)
        mask = (labels != -100).float()
        per_ex = (tok * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return (per_ex * scores).mean()

    def train_step(self, ids, grid, labels, scores):
        """One optimizer step as the official trainer takes it; returns (loss, fwd+bwd ms, optimizer ms)."""
        torch = self.torch
        t0 = time.perf_counter()
        loss = self.loss(ids, grid, labels, scores)
        loss.backward()
        t1 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(self.params, 5.0)
        self.opt.step()
        self.sched.step()
        for t in self.params:
            t.grad = None
        t2 = time.perf_counter()
        return float(loss), (t1 - t0) * 1e3, (t2 - t1) * 1e3


def build_clip(torch, c):
    import torch.nn as nn

    class Bottleneck(nn.Module):
        def __init__(self, inpl, planes, stride):
            super().__init__()
            self.c1 = nn.Conv2d(inpl, planes, 1)
            self.c2 = nn.Conv2d(planes, planes, 3, padding=1)
            self.pool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
            self.c3 = nn.Conv2d(planes, 4 * planes, 1)
            self.down = None
            if stride > 1 or inpl != 4 * planes:
                self.down = nn.Sequential(nn.AvgPool2d(stride) if stride > 1 else nn.Identity(),
                                          nn.Conv2d(inpl, 4 * planes, 1))
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            out = self.relu(self.c1(x))
            out = self.relu(self.c2(out))
            out = self.c3(self.pool(out))
            idn = x if self.down is None else self.down(x)
            return self.relu(out + idn)

    class Trunk(nn.Module):
        def __init__(self, layers, w):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, w // 2, 3, stride=2, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv2d(w // 2, w // 2, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv2d(w // 2, w, 3, padding=1), nn.ReLU(inplace=True), nn.AvgPool2d(2))
            blocks, inpl = [], w
            for s, n in enumerate(layers):
                planes = w << s
                for b in range(n):
                    blocks.append(Bottleneck(inpl, planes, 2 if (b == 0 and s > 0) else 1))
                    inpl = 4 * planes
            self.blocks = nn.Sequential(*blocks)

        def forward(self, x):
            return self.blocks(self.stem(x))

    torch.manual_seed(c["seed"] + 1)
    return Trunk(c["clip_layers"], c["clip_width"]).eval()


def clock():
    """BENCH_CLOCK=cpu: the process's CPU time (as bench_model.c), else the wall clock."""
    return time.process_time() if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter()


def timed(fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(max(1, repeat)):
        t0 = clock()
        fn()
        ts.append((clock() - t0) * 1e3)
    return median(ts)


def text_ids(torch, c, n):
    s = c["seed"] * 7919 + 5
    ids = []
    for i in range(n):
        s = (s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        ids.append(0 if i == 0 else 2 if i == n - 1 else 4 + (s >> 33) % (c["vocab"] - 300))
    return torch.tensor([ids])


def gen_params(c, beams):
    # min_length = max_length - 1: every run decodes all steps (as bench_model.c)
    return {"beams": beams, "max_length": c["gen"], "min_length": c["gen"] - 1, "ngram": c["ngram"],
            "early_stopping": True}


def train_child(torch, c, recompute):
    """bench_train.c's batch: B x (text ids + 36 visual tokens from a grid), answer ids, VQA scores."""
    B, Lt, T, V = c["train_batch"], c["train_text"], c["train_target"], c["vocab"]
    s = c["seed"] * 7919 + 11

    def lcg():
        nonlocal s
        s = (s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return s >> 33
    ids = [[0 if k == 0 else 2 if k == Lt - 1 else 4 + lcg() % (V - 300) for k in range(Lt)] for _ in range(B)]
    labels = [[4 + lcg() % (V - 300) for _ in range(T)] for _ in range(B)]
    ids, labels = torch.tensor(ids), torch.tensor(labels)
    scores = torch.tensor([(1 + (i % 4) * 3) / 10.0 for i in range(B)])
    grid = torch.rand(B, c["feat"], c["grid"], c["grid"], generator=torch.Generator().manual_seed(7))
    torch.manual_seed(9595)
    m = BartTrain(torch, c, build_bart(torch, c), recompute)
    fb, opt, tot, loss = [], [], [], 0.0
    for i in range(c["train_warmup"] + max(1, c["train_repeat"])):
        loss, a, b = m.train_step(ids, grid, labels, scores)
        if i >= c["train_warmup"]:
            fb.append(a)
            opt.append(b)
            tot.append(a + b)
    return {"step_ms": median(tot), "step_min_ms": min(tot), "fwdbwd_ms": median(fb), "adamw_ms": median(opt), "loss": loss,
            "n_params": m.n_params, "recompute": recompute}


def child(section, threads, quick):
    rss0 = peak_rss_mb()
    import torch
    torch.set_num_threads(threads)
    rss_import = peak_rss_mb()
    c = config(quick)
    res = {"section": section, "threads": threads, "rss_import_mb": rss_import, "rss_python_mb": rss0}
    steps = c["gen"] - 1
    if section.startswith("train_rc"):
        res.update(train_child(torch, c, int(section[-1])))
        res["rss_mb"] = peak_rss_mb()
        print(json.dumps(res))
        return
    int8 = section.endswith("_int8")  # BART's linear layers through quantize_dynamic
    if int8:
        section = section[:-len("_int8")]
        res["qengine"] = torch.backends.quantized.engine

    def new_bart():
        w = build_bart(torch, c)
        return Bart(torch, c, quantize_bart(torch, w) if int8 else w)
    with torch.inference_mode():
        if section == "bart":
            bart = new_bart()
            ids = text_ids(torch, c, c["text"])
            grid = torch.rand(1, c["feat"], c["grid"], c["grid"], generator=torch.Generator().manual_seed(3))
            state = {}

            def enc():
                state["xkv"] = bart.encode(ids, grid)[1]
            res["encode_ms"] = timed(enc, c["warmup"], c["repeat"])
            gp = gen_params(c, 1)
            widths = set()
            res["greedy_ms"] = timed(lambda: widths.add(len(bart.greedy(state["xkv"], gp))), c["warmup"], c["repeat"])
            gp = gen_params(c, c["beams"])
            # + 1: a beam hypothesis is kept without its EOS; vla_generate's width counts it
            res["beam_ms"] = timed(lambda: widths.add(len(bart.beam(state["xkv"], gp)) + 1), c["warmup"], c["repeat"])
            res["greedy_tok_ms"] = res["greedy_ms"] / steps
            res["beam_tok_ms"] = res["beam_ms"] / steps
            res["widths"] = sorted(widths)
        elif section == "clip":
            trunk = build_clip(torch, c)
            img = torch.randn(1, 3, c["image"], c["image"], generator=torch.Generator().manual_seed(5))
            res["clip_ms"] = timed(lambda: trunk(img), c["warmup"], c["repeat"])
        elif section == "pipeline":
            import numpy as np
            from PIL import Image
            bart = new_bart()
            trunk = build_clip(torch, c)
            ids = text_ids(torch, c, c["pipe_text"])
            rng = np.random.default_rng(c["seed"])
            pw, ph, S = c["pic_w"], c["pic_h"], c["image"]
            yy, xx = np.mgrid[0:ph, 0:pw]
            pic = np.stack([(xx * 255 // pw + yy * 97 // ph + k * 40) for k in range(3)], -1)
            pic = ((pic + rng.integers(0, 32, pic.shape)) & 255).astype(np.uint8)
            mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
            std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)
            gp = gen_params(c, c["beams"])
            parts = {"pre": [], "enc": [], "dec": [], "tot": []}

            def run():
                t0 = time.perf_counter()
                im = Image.fromarray(pic, "RGB").resize((S, S), Image.BICUBIC)
                x = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float().div(255)
                x = ((x - mean) / std).unsqueeze(0)
                t1 = time.perf_counter()
                grid = trunk(x)
                xkv = bart.encode(ids, grid)[1]
                t2 = time.perf_counter()
                bart.beam(xkv, gp)
                t3 = time.perf_counter()
                return (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t3 - t0) * 1e3

            for _ in range(c["warmup"]):
                run()
            for _ in range(max(1, c["pipe_repeat"])):
                p, e, d, t = run()
                parts["pre"].append(p)
                parts["enc"].append(e)
                parts["dec"].append(d)
                parts["tot"].append(t)
            res.update({"pre_ms": median(parts["pre"]), "encode_ms": median(parts["enc"]),
                        "decode_ms": median(parts["dec"]), "total_ms": median(parts["tot"])})
    res["rss_mb"] = peak_rss_mb()
    print(json.dumps(res))


# --------------------------------------------------------------------------
# The parent: runs the children, prints the tables
# --------------------------------------------------------------------------

def run_child(section, threads, quick):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    for kv in torch_env().split():
        k, _, v = kv.partition("=")
        env[k] = v
    cmd = [sys.executable, os.path.abspath(__file__), "--child", section, "--threads", str(threads)]
    if quick:
        cmd.append("-q")
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        sys.stderr.write("bench_torch: %s with %d thread(s) failed:\n%s\n" % (section, threads, p.stderr[-2000:]))
        return None
    return json.loads(lines[-1])


def torch_env():
    """Extra environment of the PyTorch children.  The default makes libgomp's
    idle threads sleep instead of spinning: on this 2-core machine shared with
    other work, spinning OpenMP threads next to OpenBLAS's own pthreads made
    2-thread runs up to 10x slower than 1-thread runs.  BENCH_TORCH_ENV=""
    keeps the libraries' defaults."""
    v = os.environ.get("BENCH_TORCH_ENV")
    return "OMP_WAIT_POLICY=PASSIVE" if v is None else v


def read_ours(path):
    ours = {}
    try:
        with open(path) as f:
            for ln in f:
                parts = ln.rstrip("\n").split("\t")
                if len(parts) == 4:
                    ours[(parts[0], int(parts[1]), parts[2])] = float(parts[3])
    except OSError as e:
        sys.stderr.write("bench_torch: cannot read %s: %s\n" % (path, e))
    return ours


def has(c, section):
    return section in [s.strip() for s in c["sections"].replace(" ", ",").split(",")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-q", action="store_true", help="quick: fewer repetitions")
    ap.add_argument("--ours", help="bench_model's results (-o file): print the comparison too")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.threads, a.q)
        return 0
    try:
        import torch
    except ImportError:
        print("PyTorch: skipped: python3-torch not installed (apt-get install python3-torch); no ratios this run")
        return 0
    c = config(a.q)
    if has(c, "pipeline"):
        try:
            import PIL  # noqa: F401  (the pipeline's resize)
            import numpy  # noqa: F401
        except ImportError as e:
            print("PyTorch caption pipeline: skipped: %s (apt-get install python3-pil python3-numpy)" % e)
            c["sections"] = ",".join(x for x in c["sections"].replace(" ", ",").split(",") if x.strip() != "pipeline")
    blas = "OpenBLAS" if "openblas" in open("/proc/self/maps").read().lower() else "its BLAS"
    print("PyTorch %s on the CPU (%s, oneDNN %s), %s; median of %d runs after %d warm-up (pipeline: %d)"
          % (torch.__version__, blas, "on" if torch.backends.mkldnn.is_available() else "off", sys.executable,
             c["repeat"], c["warmup"], c["pipe_repeat"]))
    print("thread variables OMP/OPENBLAS/MKL_NUM_THREADS = threads, torch.set_num_threads(threads); extra: %s"
          % (torch_env() or "(none)"))
    print("peak RSS = the child process's getrusage ru_maxrss; \"import\" = its RSS right after `import torch`")
    steps = c["gen"] - 1
    res = {}
    sections = [s for s in ("bart", "clip", "pipeline") if has(c, s)]
    # PyTorch's dynamic int8 (torch.ao.quantization.quantize_dynamic of the
    # Linear layers) next to fp32; BENCH_TORCH_INT8=0 leaves it out
    if os.environ.get("BENCH_TORCH_INT8", "1") != "0":
        runs = sections + [s + "_int8" for s in ("bart", "pipeline") if s in sections]
    else:
        runs = sections
        print("PyTorch dynamic int8: skipped (BENCH_TORCH_INT8=0)")
    if has(c, "bart"):
        print("\n[1t] PyTorch BART + VL embedding, the shapes of [1] (batch 1, %d+%d tokens, max_length %d)"
              % (c["text"], (c["grid"] - 1) ** 2, c["gen"]))
        print("%7s %10s %10s %9s %10s %9s %11s %11s" % ("threads", "encode ms", "greedy ms", "ms/token", "beam5 ms",
                                                     "ms/token", "import MB", "peak RSS MB"))
    for s in runs:
        base = s[:-len("_int8")] if s.endswith("_int8") else s
        if s == "bart_int8":
            print("\n[1q] PyTorch dynamic int8, the shapes of [1]: quantize_dynamic({nn.Linear}, qint8) of every linear layer"
                  "\n     (LM head included; int8 weights per tensor, activations quantized per call), engine %s"
                  % torch.backends.quantized.engine)
            print("%7s %10s %10s %9s %10s %9s %11s %11s" % ("threads", "encode ms", "greedy ms", "ms/token", "beam5 ms",
                                                         "ms/token", "import MB", "peak RSS MB"))
        if s == "pipeline_int8":
            print("\n[3q] PyTorch caption pipeline with BART's linear layers dynamic int8 (as [1q]); the CLIP trunk stays fp32:"
                  "\n     quantize_dynamic covers Linear layers, not Conv2d.  Peak RSS includes the fp32 model it was quantized from")
            print("%7s %10s %10s %10s %10s %11s %11s" % ("threads", "total ms", "prep ms", "clip+enc", "decode ms",
                                                       "import MB", "peak RSS MB"))
        if s == "clip":
            print("\n[2t] PyTorch CLIP trunk (layers %s, width %d, %dx%d, NCHW, BatchNorm folded into conv bias)"
                  % (",".join(map(str, c["clip_layers"])), c["clip_width"], c["image"], c["image"]))
            print("%7s %10s %11s %11s" % ("threads", "ms/image", "import MB", "peak RSS MB"))
        if s == "pipeline":
            print("\n[3t] PyTorch caption pipeline (%dx%d picture, PIL bicubic resize, CLIP, encoder, beam %d)"
                  % (c["pic_w"], c["pic_h"], c["beams"]))
            print("%7s %10s %10s %10s %10s %11s %11s" % ("threads", "total ms", "prep ms", "clip+enc", "decode ms",
                                                       "import MB", "peak RSS MB"))
        for t in c["threads"]:
            r = run_child(s, t, a.q)
            if r is None:
                continue
            res[(s, t)] = r
            if base == "bart":
                print("%7d %10.1f %10.1f %9.2f %10.1f %9.2f %11.1f %11.1f" % (
                    t, r["encode_ms"], r["greedy_ms"], r["greedy_tok_ms"], r["beam_ms"], r["beam_tok_ms"],
                    r["rss_import_mb"], r["rss_mb"]))
                if r.get("widths") != [c["gen"]]:
                    print("        note: generated lengths %s (expected %d)" % (r.get("widths"), c["gen"]))
            elif base == "clip":
                print("%7d %10.1f %11.1f %11.1f" % (t, r["clip_ms"], r["rss_import_mb"], r["rss_mb"]))
            else:
                print("%7d %10.1f %10.2f %10.1f %10.1f %11.1f %11.1f" % (
                    t, r["total_ms"], r["pre_ms"], r["encode_ms"], r["decode_ms"], r["rss_import_mb"], r["rss_mb"]))
            sys.stdout.flush()
    if has(c, "adapters"):
        print("\n[4t] adapters: no PyTorch comparison (bench_model's table [4] stands alone)")
    if has(c, "train"):
        nv = (c["grid"] - 1) ** 2
        print("\n[5t] PyTorch training step, the setting of [5]: batch %d x (%d text + %d visual) tokens, %d targets, Single"
              " Adapter\n     (hidden %d), autograd on the trainable set only, clip_grad_norm_(5), torch.optim.AdamW;"
              " median of %d steps\n     after %d warm-up; checkpoint = every layer under torch.utils.checkpoint"
              % (c["train_batch"], c["train_text"], nv, c["train_target"], c["adapter_hidden"], c["train_repeat"],
                 c["train_warmup"]))
        print("%7s %10s %10s %8s %10s %9s %11s %11s %8s" % ("threads", "checkpoint", "step ms", "min ms", "fwd+bwd",
                                                           "optim ms", "import MB", "peak RSS MB", "loss"))
        for rc in c["train_recompute"]:
            for t in c["threads"]:
                r = run_child("train_rc%d" % rc, t, a.q)
                if r is None:
                    continue
                res[("train", t, rc)] = r
                print("%7d %10s %10.1f %8.1f %10.1f %9.2f %11.1f %11.1f %8.3f" % (
                    t, "on" if rc else "off", r["step_ms"], r["step_min_ms"], r["fwdbwd_ms"], r["adamw_ms"],
                    r["rss_import_mb"], r["rss_mb"], r["loss"]))
                sys.stdout.flush()
    if not a.ours:
        return 0
    ours = read_ours(a.ours)
    if sections:
        inference_tables(c, ours, res, sections, steps)
    if has(c, "train"):
        train_table(c, ours, res)
    return 0


def inference_tables(c, ours, res, sections, steps):
    import torch
    rows = [("bart", "encode_ms", "BART encode %d tokens" % (c["text"] + (c["grid"] - 1) ** 2)),
            ("bart", "greedy_ms", "BART greedy, %d steps" % steps),
            ("bart", "greedy_tok_ms", "  per decoded token"),
            ("bart", "beam_ms", "BART beam %d, %d steps" % (c["beams"], steps)),
            ("bart", "beam_tok_ms", "  per decoded token"),
            ("clip", "clip_ms", "CLIP trunk, per %dx%d image" % (c["image"], c["image"])),
            ("pipeline", "pre_ms", "pipeline: preprocess"),
            ("pipeline", "encode_ms", "pipeline: CLIP + encoder"),
            ("pipeline", "decode_ms", "pipeline: beam decode"),
            ("pipeline", "total_ms", "caption pipeline, total")]
    print("\n== vladapter.h vs PyTorch %s, same shapes and thread count, measured in this run ==" % torch.__version__)
    print("   ratio = PyTorch ms / vladapter.h ms  (> 1: vladapter.h is faster; < 1: slower); ours = fp32;")
    print("   torch int8 = PyTorch with quantize_dynamic of BART's Linear layers ([1q], [3q]; CLIP stays fp32)")
    print("%-30s %7s %10s %10s %8s %10s %8s" % ("benchmark", "threads", "ours ms", "torch ms", "ratio", "torch int8",
                                              "ratio"))
    for sec, key, label in rows:
        if sec not in sections:
            continue
        for t in c["threads"]:
            o, r = ours.get((sec, t, key)), res.get((sec, t), {}).get(key)
            if o is None or r is None:
                print("%-30s %7d   missing: %s" % (label, t, " and ".join(
                    w for w, v in (("ours %s %s" % (sec, key), o), ("PyTorch %s" % sec, r)) if v is None)))
                continue
            q = res.get((sec + "_int8", t), {}).get(key)
            qs = "%10.2f %7.2fx" % (q, q / o if o > 0 else float("nan")) if q is not None else "%10s %8s" % ("-", "-")
            print("%-30s %7d %10.2f %10.2f %7.2fx %s" % (label, t, o, r, r / o if o > 0 else float("nan"), qs))
    if "clip" in sections:
        print("acceptance, fp32 CLIP trunk: ours >= 1.00x PyTorch fp32")
        for t in c["threads"]:
            o, r = ours.get(("clip", t, "clip_ms")), res.get(("clip", t), {}).get("clip_ms")
            if o is None or r is None or o <= 0:
                print("  %d thread%s: missing (ours clip clip_ms or PyTorch clip)" % (t, "s" if t > 1 else ""))
            else:
                print("  %d thread%s: %.2fx (ours %.2f ms, PyTorch %.2f ms; goal >= 1.00x: %s)" % (
                    t, "s" if t > 1 else "", r / o, o, r, "met" if r / o >= 1.0 else "NOT met"))
    print("\n== peak memory (MB): ours = arenas from the size queries + weight bytes read from the mapped file,")
    print("   and the section process's peak RSS; PyTorch = its section process's peak RSS (after import) ==")
    print("%-10s %7s %11s %11s %13s %14s %11s" % ("section", "threads", "ours arenas", "ours weights", "ours peak RSS",
                                               "torch peak RSS", "(import)"))
    for sec in sections:
        for t in c["threads"]:
            r = res.get((sec, t))
            if (sec, t, "rss_mb") not in ours or r is None:
                print("%-10s %7d   missing: %s" % (sec, t, " and ".join(
                    w for w, v in (("ours %s rss_mb" % sec, ours.get((sec, t, "rss_mb"))), ("PyTorch %s" % sec, r))
                    if v is None)))
                continue
            print("%-10s %7d %11.1f %12.1f %13.1f %14.1f %11.1f" % (
                sec, t, ours.get((sec, t, "arena_mb"), 0), ours.get((sec, t, "weights_mb"), 0), ours[(sec, t, "rss_mb")],
                r["rss_mb"], r["rss_import_mb"]))
    int8_tables(c, ours, res, sections, steps)


def cell(v, fmt="%10.2f", width=10):
    """A table cell: the value, or "missing" when it was not measured."""
    return fmt % v if v is not None else "%*s" % (width, "missing")


def ratio(a, b):
    """a / b as "1.23x", or "-" when either is missing."""
    return "%7.2fx" % (a / b) if a is not None and b is not None and b > 0 else "%8s" % "-"


def int8_tables(c, ours, res, sections, steps):
    """Our int8 model (bench_model's bart_i8 / clip_i8 / pipeline_i8: the I8
    copy of the weights on the integer path) against PyTorch fp32 and PyTorch
    dynamic int8, and its peak RSS against the int8 weight bytes + 64 MB.
    A row whose inputs were not measured says "missing"."""
    import torch
    rows = [("bart", "encode_ms", "BART encode %d tokens" % (c["text"] + (c["grid"] - 1) ** 2)),
            ("bart", "greedy_ms", "BART greedy, %d steps" % steps),
            ("bart", "greedy_tok_ms", "  per decoded token"),
            ("bart", "beam_ms", "BART beam %d, %d steps" % (c["beams"], steps)),
            ("bart", "beam_tok_ms", "  per decoded token"),
            ("clip", "clip_ms", "CLIP trunk, per %dx%d image" % (c["image"], c["image"])),
            ("pipeline", "pre_ms", "pipeline: preprocess"),
            ("pipeline", "encode_ms", "pipeline: CLIP + encoder"),
            ("pipeline", "decode_ms", "pipeline: beam decode"),
            ("pipeline", "total_ms", "caption pipeline, total")]
    print("\n== vladapter.h int8 vs PyTorch %s fp32 and dynamic int8, same shapes and thread count, this run ==" %
          torch.__version__)
    print("   ours int8 = bench_model's I8 copy of the weights, integer path ([1i] [2i] [3i]); ratio = PyTorch ms / ours ms;")
    print("   torch int8 = quantize_dynamic of BART's Linear layers ([1q], [3q]).  The CLIP trunk has no PyTorch int8 figure:")
    print("   quantize_dynamic covers nn.Linear, not nn.Conv2d (PyTorch's CLIP runs fp32 in [3q] too)")
    print("%-36s %7s %10s %10s %8s %10s %8s" % ("benchmark", "threads", "ours int8", "torch ms", "ratio", "torch int8",
                                              "ratio"))
    for sec, key, label in rows:
        if sec not in sections:
            continue
        if key == "total_ms":
            label += " (ours int8)"
        for t in c["threads"]:
            o = ours.get((sec + "_i8", t, key))
            r = res.get((sec, t), {}).get(key)
            if sec == "clip":
                qs = "%10s %8s" % ("n/a", "(conv)")
            else:
                q = res.get((sec + "_int8", t), {}).get(key)
                qs = "%s %s" % (cell(q), ratio(q, o))
            print("%-36s %7d %s %s %s %s" % (label, t, cell(o), cell(r), ratio(r, o), qs))
    if "pipeline" in sections:
        print("acceptance, caption pipeline: ours int8 >= 4.00x PyTorch fp32 and >= 2.50x PyTorch dynamic int8")
        for t in c["threads"]:
            o = ours.get(("pipeline_i8", t, "total_ms"))
            r = res.get(("pipeline", t), {}).get("total_ms")
            q = res.get(("pipeline_int8", t), {}).get("total_ms")
            parts = []
            for name, v, goal in (("PyTorch fp32", r, 4.0), ("PyTorch dynamic int8", q, 2.5)):
                if o is None or v is None or o <= 0:
                    parts.append("vs %s missing" % name)
                else:
                    parts.append("%.2fx %s (goal >= %.2fx: %s)" % (v / o, name, goal, "met" if v / o >= goal else "NOT met"))
            print("  %d thread%s: %s%s" % (t, "s" if t > 1 else "", "" if o is not None else "ours int8 missing; ",
                                        "; ".join(parts)))
    print("\n== peak memory of the int8 model (MB): ours int8 weights = tensor bytes the section reads from the I8 file")
    print("   (int8 matrices + F32 scales + the tensors kept F32); limit = those + 64 MB (acceptance: ours peak RSS <= limit);")
    print("   PyTorch = its section process's peak RSS, fp32 and dynamic int8 (CLIP: fp32 only) ==")
    print("%-12s %7s %11s %12s %10s %13s %6s %14s %14s" % ("section", "threads", "ours arenas", "int8 weights", "limit",
                                                        "ours peak RSS", "holds", "torch fp32 RSS", "torch int8 RSS"))
    for sec in sections:
        for t in c["threads"]:
            w, rss = ours.get((sec + "_i8", t, "weights_mb")), ours.get((sec + "_i8", t, "rss_mb"))
            arenas = ours.get((sec + "_i8", t, "arena_mb"))
            lim = w + 64.0 if w is not None else None
            holds = ("yes" if rss <= lim else "NO") if rss is not None and lim is not None else "-"
            tr = res.get((sec, t), {}).get("rss_mb")
            tq = res.get((sec + "_int8", t), {}).get("rss_mb") if sec != "clip" else None
            print("%-12s %7d %s %s %s %s %6s %s %s" % (
                sec + "_i8", t, cell(arenas, "%11.1f", 11), cell(w, "%12.1f", 12), cell(lim, "%10.1f", 10),
                cell(rss, "%13.1f", 13), holds, cell(tr, "%14.1f", 14),
                "%14s" % "n/a (conv)" if sec == "clip" else cell(tq, "%14.1f", 14)))


def train_table(c, ours, res):
    """The training comparison: every measured (ours recompute, PyTorch) pair at the same thread count."""
    pairs = []
    for rc in c["train_recompute"]:
        pairs.append((rc, 0))  # PyTorch as one writes it by default
        if rc == 1:
            pairs.append((1, 1))  # like for like: PyTorch with checkpointing too
    lines = []
    for orc, trc in pairs:
        for t in c["threads"]:
            o, r = ours.get(("train", t, "step_ms_rc%d" % orc)), res.get(("train", t, trc))
            if o is None or r is None:
                continue
            orss = ours.get(("train", t, "rss_mb_rc%d" % orc), 0.0)
            osum = ours.get(("train", t, "arena_mb_rc%d" % orc), 0.0) + ours.get(("train", t, "model_mb"), 0.0)
            omin = ours.get(("train", t, "step_min_ms_rc%d" % orc), 0.0)
            lines.append("%-9s %-10s %7d %10.1f %10.1f %7.2fx %8.2fx %9.1f %9.1f %9.1f %7.2fx" % (
                "on" if orc else "off", "checkpoint" if trc else "plain", t, o, r["step_ms"], r["step_ms"] / o if o > 0 else 0,
                r["step_min_ms"] / omin if omin > 0 else 0, osum, orss, r["rss_mb"], r["rss_mb"] / orss if orss > 0 else 0))
    if not lines:
        return
    n_ours = ours.get(("train", c["threads"][0], "n_params"))
    n_torch = next((v["n_params"] for k, v in res.items() if k[0] == "train"), None)
    print("\n== training step: vla_trainer_step vs PyTorch forward + backward + clip + AdamW, same batch and threads ==")
    print("   ratio = PyTorch median ms / ours median ms (goal >= 1.30x), \"of min\" the same of the fastest steps;")
    print("   mem = PyTorch peak RSS / ours peak RSS (goal >= 2.00x); \"ours sum\" = vla_trainer_mem_req + model arena")
    print("   + BART weight bytes of the mapped file")
    if n_ours is not None and n_torch is not None:
        print("   trainable floats: ours %d, PyTorch %d%s" % (n_ours, n_torch, "" if int(n_ours) == n_torch else "  (DIFFER)"))
    print("%-9s %-10s %7s %10s %10s %8s %9s %9s %9s %9s %8s" % ("recompute", "torch", "threads", "ours ms", "torch ms",
                                                              "ratio", "of min", "ours sum", "ours RSS", "torch RSS", "mem"))
    for ln in lines:
        print(ln)


if __name__ == "__main__":
    sys.exit(main())
