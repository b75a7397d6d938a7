#!/usr/bin/env python3
"""tools/shapes_other_renderer.py OUTDIR [SCENES] [SEED] - Shapes pictures drawn
by another renderer, written from the issue's description of the world alone
(not from tools/vla_shapes.h): Pillow, 4x supersampled and downsampled with
Lanczos (anti-aliased edges), picture sides 160/200/256/300 px, PNG.  Objects
are kept apart by their bounding circles (a stricter rule than vla-shapes').

Writes OUTDIR/img/NNN.png and OUTDIR/test.jsonl: the canonical caption of each
scene, "what color is the {shape}?" for every shape that occurs once, and
"how many circles are there?" (0 included: vla-shapes never asks that one).
Then, for example:

    build/vla-predict --model examples/shapes/base.gguf --adapter examples/shapes/adapter.gguf \\
        --data OUTDIR/test.jsonl --out OUTDIR/pred.jsonl && build/vla-eval --data OUTDIR/test.jsonl --pred OUTDIR/pred.jsonl

A check by hand (needs python3-pil), like tools/bench_torch.py: not part of
make test, which never runs Python.
"""
import json
import math
import os
import random
import sys

from PIL import Image, ImageDraw

SHAPES = ["circle", "square", "triangle"]
COLORS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (230, 200, 40),
          "purple": (140, 60, 180)}
NAMES = list(COLORS)
SIZES = ["small", "large"]
NUMBER = {1: "a", 2: "two", 3: "three", 4: "four"}


def scene(rng, side):
    want, objs, tries = rng.randint(1, 4), [], 0
    while len(objs) < want and tries < 1000:
        tries += 1
        size = rng.choice(SIZES)
        d = side * (rng.uniform(.12, .18) if size == "small" else rng.uniform(.26, .34))
        x, y = rng.uniform(d / 2 + 1, side - d / 2 - 1), rng.uniform(d / 2 + 1, side - d / 2 - 1)
        if any(math.hypot(x - o["x"], y - o["y"]) < (d + o["d"]) * 0.75 + 0.02 * side for o in objs):
            continue
        objs.append(dict(shape=rng.choice(SHAPES), color=rng.choice(NAMES), size=size, x=x, y=y, d=d))
    return objs


def draw(rng, objs, side, path):
    k = 4
    im = Image.new("RGB", (side * k, side * k), tuple(rng.randint(200, 240) for _ in range(3)))
    dr = ImageDraw.Draw(im)
    for o in objs:
        c = tuple(max(0, min(255, v + rng.randint(-15, 15))) for v in COLORS[o["color"]])
        x, y, d = o["x"] * k, o["y"] * k, o["d"] * k
        if o["shape"] == "circle":
            dr.ellipse([x - d / 2, y - d / 2, x + d / 2, y + d / 2], fill=c)
        elif o["shape"] == "square":
            dr.rectangle([x - d / 2, y - d / 2, x + d / 2, y + d / 2], fill=c)
        else:
            h = d * math.sqrt(3) / 2
            dr.polygon([(x, y - h / 2), (x - d / 2, y + h / 2), (x + d / 2, y + h / 2)], fill=c)
    im.resize((side, side), Image.LANCZOS).save(path)


def caption(objs):
    groups = {}
    for o in objs:
        key = (SHAPES.index(o["shape"]), NAMES.index(o["color"]), SIZES.index(o["size"]))
        groups[key] = groups.get(key, 0) + 1
    parts = ["%s %s %s %s%s" % (NUMBER[n], SIZES[k[2]], NAMES[k[1]], SHAPES[k[0]], "s" if n > 1 else "")
             for k, n in sorted(groups.items())]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def vqa(i, img, q, a, tag):
    return dict(task="vqa", image=img, input=q, answers={a: 1.0}, all_answers=[a] * 10, answer=a,
                id="vqa-%d-%s" % (i, tag))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    scenes = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 77)
    os.makedirs(os.path.join(out, "img"), exist_ok=True)
    with open(os.path.join(out, "test.jsonl"), "w") as f:
        for i in range(scenes):
            side = rng.choice([160, 200, 256, 300])
            objs = scene(rng, side)
            img = "img/%03d.png" % i
            draw(rng, objs, side, os.path.join(out, img))
            cap = caption(objs)
            lines = [dict(task="caption", image=img, target=cap, refs=[cap], id="caption-%d" % i)]
            for s in SHAPES:
                same = [o for o in objs if o["shape"] == s]
                if len(same) == 1:
                    lines.append(vqa(i, img, "what color is the %s?" % s, same[0]["color"], s))
            lines.append(vqa(i, img, "how many circles are there?", str(sum(o["shape"] == "circle" for o in objs)), "n"))
            for line in lines:
                f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
