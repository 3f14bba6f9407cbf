#!/usr/bin/env python3
"""Compares the Q4_0 / Q8_0 blocks of two GGUF files, read with llama.cpp's own gguf-py reader.

Usage: compare_gguf_blocks.py A.gguf B.gguf
For every tensor that has the same name, shape and block type (Q4_0 or Q8_0) in both files, counts
the blocks whose f16 scale d differs and the quantized values (codes) that differ. Tensors of other
types, or of different types in the two files (llama-quantize keeps token_embd at Q8_0, say), are
listed and skipped. Exit status 0 only if at least one tensor was compared and every compared
block is byte-identical.
Needs numpy and gguf-py (llama.cpp's gguf-py/ on PYTHONPATH, e.g. the copy vendored with
llama.cpp's sources: scripts/peers/check_gguf.sh sets it).
"""
import sys

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType as Q

BLOCK = {Q.Q4_0: 18, Q.Q8_0: 34}


def blocks(t):
    b = np.asarray(t.data).view(np.uint8).reshape(-1, BLOCK[t.tensor_type])
    return b[:, :2].copy().view(np.uint16).ravel(), b[:, 2:]


def codes(t, qs):
    if t.tensor_type == Q.Q8_0:
        return qs.view(np.int8)
    lo, hi = qs & 0x0F, qs >> 4  # element j: low nibble of qs[j]; j + 16: high nibble
    return np.concatenate([lo, hi], axis=1).astype(np.int8) - 8


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = (GGUFReader(p) for p in sys.argv[1:])
    tb = {t.name: t for t in b.tensors}
    n_tensors = n_blocks = n_d = n_codes = n_values = 0
    bad = []
    for t in a.tensors:
        u = tb.get(t.name)
        if u is None or t.tensor_type not in BLOCK or u.tensor_type != t.tensor_type:
            kind = "absent" if u is None else f"{t.tensor_type.name} vs {u.tensor_type.name}"
            if t.tensor_type in BLOCK or (u is not None and u.tensor_type in BLOCK):
                print(f"skipped {t.name}: {kind}")
            continue
        if list(t.shape) != list(u.shape):
            sys.exit(f"{t.name}: shape {list(t.shape)} vs {list(u.shape)}")
        da, qa = blocks(t)
        db, qb = blocks(u)
        ca, cb = codes(t, qa), codes(u, qb)
        nd = int((da != db).sum())
        nc = int((ca != cb).sum())
        n_tensors += 1
        n_blocks += da.size
        n_values += ca.size
        n_d += nd
        n_codes += nc
        if nd or nc:
            bad.append(f"{t.name}: {nd} of {da.size} d differ, {nc} of {ca.size} codes differ")
    for line in bad[:20]:
        print(line)
    print(f"compared {n_tensors} tensors, {n_blocks} blocks: {n_d} d values differ, "
          f"{n_codes} of {n_values} codes differ")
    sys.exit(0 if n_tensors > 0 and n_d == 0 and n_codes == 0 else 1)


if __name__ == "__main__":
    main()
