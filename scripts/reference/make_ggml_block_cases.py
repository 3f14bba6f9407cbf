#!/usr/bin/env python3
"""Reference cases for quanta's ggml scale rule (--scale-rule ggml), computed by llama.cpp's gguf-py.

gguf-py's quants.Q4_0 / quants.Q8_0 are numpy ports of ggml's quantize_row_q4_0_ref /
quantize_row_q8_0_ref ("bit-exact same results as reference implementation in ggml-quants.c").
Writes tests/quant/data/ggml_block_cases.json: for each 32-value block, the f32 inputs, the f16 bits
of d and the codes (Q4_0: nibble - 8; Q8_0: the int8). Blocks: edge cases (a zero block, the
largest magnitude positive / negative / both signs tied, values exactly halfway between levels,
tiny and large magnitudes) and random normal blocks.
The real-model check is scripts/peers/check_gguf.sh (llama-quantize's own file, block for block).

Run (not part of the build), with numpy and gguf-py from llama.cpp's sources:
  PYTHONPATH=/work/peers/llama.cpp/src/llama_cpp_python-0.3.36/vendor/llama.cpp/gguf-py \
    /work/main/build/venv-vllm/bin/python scripts/reference/make_ggml_block_cases.py
"""
import json
import os

import numpy as np
from gguf import quants, GGMLQuantizationType as Q

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "quant", "data",
                   "ggml_block_cases.json")


def edge_blocks():
    out = []
    out.append(np.zeros(32, np.float32))
    r = np.random.default_rng(1)
    b = r.normal(0, 0.02, 32).astype(np.float32)
    b[5] = 0.1  # positive extreme: d < 0
    out.append(b.copy())
    b[5] = -0.1  # negative extreme: d > 0
    out.append(b.copy())
    b[5], b[20] = -0.1, 0.1  # tie in magnitude: the first sets the sign
    out.append(b.copy())
    b[5], b[20] = 0.1, -0.1
    out.append(b.copy())
    # Values on the midpoints between levels of a d = -0.01 block (w = -0.01 * (k + 0.5)).
    h = np.array([-0.01 * (k + 0.5) for k in range(-8, 8)] * 2, np.float32)
    h[0] = 0.08
    out.append(h)
    out.append((r.normal(0, 1e-6, 32)).astype(np.float32))
    out.append((r.normal(0, 30, 32)).astype(np.float32))
    out.append(np.full(32, -0.5, np.float32))
    return out


def main():
    r = np.random.default_rng(0)
    blocks = edge_blocks() + [r.normal(0, 0.05, 32).astype(np.float32) for _ in range(64)]
    x = np.stack(blocks)
    cases = []
    for qt, name in ((Q.Q4_0, "q4_0"), (Q.Q8_0, "q8_0")):
        q = quants.quantize(x, qt).reshape(len(blocks), -1)
        d = q[:, :2].copy().view(np.uint16).ravel()
        if qt == Q.Q4_0:
            qs = q[:, 2:]
            codes = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int32) - 8
        else:
            codes = q[:, 2:].view(np.int8).astype(np.int32)
        for i in range(len(blocks)):
            cases.append({"type": name, "x": [float(v) for v in x[i]], "d_f16": int(d[i]),
                          "codes": [int(c) for c in codes[i]]})
    with open(OUT, "w") as f:
        json.dump({"source": "llama.cpp gguf-py quants (vendored in llama-cpp-python 0.3.36)",
                   "cases": cases}, f)
    print(f"wrote {len(cases)} blocks to {OUT}")


if __name__ == "__main__":
    main()
