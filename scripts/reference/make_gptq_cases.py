#!/usr/bin/env python3
"""Writes tests/compress/data/gptq_cases.json: GPTQ and SparseGPT reference results on small random
layers, for tests/compress/test_gptq.cc.

The algorithms are written out plainly from the papers and their reference code (IST-DASLab
gptq.py / sparsegpt.py, llm-compressor's gptq_quantize.py), in float64 numpy:
  - GPTQ without lazy blocks: after each column every later column is updated at once (the lazy
    block update of the C++ code is the same arithmetic reordered), group parameters computed when
    the sweep reaches a group's first column from its fully updated weights; per-channel
    parameters, and with act-order all parameters, from the original W (llm-compressor's default
    `actorder: static`); act-order = stable sort by descending diag(H).
  - SparseGPT blockwise as sparsegpt.py (the unstructured mask is chosen per block).
The quantization rules (rtn.h: compressed-tensors' calculate_qparams with bf16 scales) are done in
float32 as the C++ code does them.

X is made of multiples of 1/32 and n = 128 so that H = 2/n X^T X is exact in double whatever the
summation order: the C++ HessianAccumulator reproduces it bit for bit.

Usage: build/venv-ref/bin/python scripts/reference/make_gptq_cases.py [out.json]
"""
import json
import sys

import numpy as np

F32 = np.float32


def bf16_round(x):
    u = np.array([x], dtype=F32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16
    return np.array([u[0] & 0xFFFFFFFF], dtype=np.uint32).view(F32)[0]


def qrange(bits):
    return F32(-(2 ** (bits - 1))), F32(2 ** (bits - 1) - 1)


def qparams(wg, bits, sym):
    """wg: float32 values of one row's group -> (scale, zero) as rtn.cc computes them."""
    wg = wg.astype(F32)
    mn = min(F32(0), wg.min())
    mx = max(F32(0), wg.max())
    qmin, qmax = qrange(bits)
    rng = F32(qmax - qmin)
    zp = F32(0)
    if sym:
        scale = F32(max(abs(mn), abs(mx)) / F32(rng / F32(2)))
    else:
        scale = F32((mx - mn) / rng)
        with np.errstate(invalid="ignore", divide="ignore"):
            zp = F32(qmin - F32(mn / scale))
        zp = F32(min(max(zp, qmin), qmax))
    scale = bf16_round(scale)
    if scale == 0:
        scale = F32(0.0078125)
    zero = 0
    if not sym:
        zero = (0 if np.isnan(zp) else int(np.rint(zp))) + 2 ** (bits - 1)
    return scale, zero


def quantize(w, scale, zero, bits, sym):
    """w float32 -> (code, dequantized float32)."""
    qmin, qmax = qrange(bits)
    if sym:
        code = int(np.rint(min(max(F32(F32(w) / scale), qmin), qmax)))
        return code, F32(F32(code) * scale)
    off = 2 ** (bits - 1)
    s = F32(F32(F32(w) / scale) + F32(zero - off))
    code = int(np.rint(min(max(s, qmin), qmax))) + off
    return code, F32(F32(code - zero) * scale)


def inv_hessian_upper(h, damp):
    h = h.copy()
    n = h.shape[0]
    h[np.arange(n), np.arange(n)] += damp * np.mean(np.diag(h))
    l = np.linalg.cholesky(h)
    linv = np.linalg.inv(l)
    hinv = linv.T @ linv
    return np.linalg.cholesky(hinv).T  # U, hinv = U^T U


def gptq(w32, h, bits, sym, gs, actorder, damp=0.01):
    rows, cols = w32.shape
    g = gs if gs > 0 else cols
    ng = cols // g
    upfront = gs == 0 or actorder
    scales = np.zeros((rows, ng), dtype=F32)
    zeros = np.zeros((rows, ng), dtype=np.int64)
    if upfront:
        for r in range(rows):
            for k in range(ng):
                scales[r, k], zeros[r, k] = qparams(w32[r, k * g:(k + 1) * g], bits, sym)
    w = w32.astype(np.float64)
    h = h.copy()
    dead = np.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    perm = np.argsort(-np.diag(h), kind="stable") if actorder else np.arange(cols)
    w = w[:, perm]
    h = h[perm][:, perm]
    u = inv_hessian_upper(h, damp)
    codes = np.zeros((rows, cols), dtype=np.int64)
    loss = 0.0
    for j in range(cols):
        if not upfront and j % g == 0:
            for r in range(rows):
                scales[r, j // g], zeros[r, j // g] = qparams(w[r, j:j + g].astype(F32), bits, sym)
        grp = perm[j] // g
        q = np.zeros(rows)
        for r in range(rows):
            codes[r, j], q[r] = quantize(F32(w[r, j]), scales[r, grp], zeros[r, grp], bits, sym)
        e = (w[:, j] - q) / u[j, j]
        loss += float(np.sum(e * e)) / 2
        w[:, j:] -= np.outer(e, u[j, j:])
        w[:, j] = q
    out = np.zeros_like(codes)
    out[:, perm] = codes
    return out, scales, zeros, loss


def sparsegpt(w32, h, sparsity, n, m, block, damp=0.01):
    rows, cols = w32.shape
    w = w32.astype(np.float64)
    h = h.copy()
    dead = np.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    u = inv_hessian_upper(h, damp)
    loss = 0.0
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        cnt = i2 - i1
        w1 = w[:, i1:i2].copy()
        err1 = np.zeros_like(w1)
        d1 = np.diag(u)[i1:i2]
        if n == 0:
            tmp = w1 ** 2 / d1[None, :] ** 2
            thresh = np.sort(tmp.flatten())[int(tmp.size * sparsity)]
            mask1 = tmp <= thresh
        else:
            mask1 = np.zeros(w1.shape, dtype=bool)
        for i in range(cnt):
            if n != 0 and i % m == 0:
                tmp = w1[:, i:i + m] ** 2 / d1[None, i:i + m] ** 2
                idx = np.argsort(tmp, axis=1, kind="stable")[:, :n]
                for r in range(rows):
                    mask1[r, i + idx[r]] = True
            wc = w1[:, i].copy()
            q = wc.copy()
            q[mask1[:, i]] = 0
            e = (wc - q) / u[i1 + i, i1 + i]
            loss += float(np.sum(e * e)) / 2
            w1[:, i:] -= np.outer(e, u[i1 + i, i1:i2][i:])
            w1[:, i] = q
            err1[:, i] = e
        w[:, i1:i2] = w1
        w[:, i2:] -= err1 @ u[i1:i2, i2:]
    return w, loss


def make_layer(rng, rows, cols, n_tok, dead_cols=()):
    # Correlated inputs: a few shared factors plus noise, in multiples of 1/32.
    z = rng.standard_normal((n_tok, cols // 4))
    a = rng.standard_normal((cols // 4, cols))
    x = z @ a * 0.5 + rng.standard_normal((n_tok, cols)) * 0.3
    xi = np.clip(np.rint(x * 32), -127, 127).astype(np.int64)
    for c in dead_cols:
        xi[:, c] = 0
    w = (rng.standard_normal((rows, cols)) * 0.05).astype(F32)
    w = np.array([float("%.6g" % v) for v in w.flatten()], dtype=F32).reshape(rows, cols)
    xf = xi.astype(np.float64) / 32
    h = 2.0 / n_tok * (xf.T @ xf)
    return w, xi, h


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/compress/data/gptq_cases.json"
    rng = np.random.default_rng(20240531)
    layers = []
    configs = [("int4_sym_g32", 4, True, 32), ("int4_asym_g32", 4, False, 32),
               ("int8_sym_channel", 8, True, 0)]
    for name, rows, cols, dead in [("a", 16, 64, ()), ("b", 12, 96, (5, 70))]:
        w, xi, h = make_layer(rng, rows, cols, 128, dead)
        layer = {"name": name, "rows": rows, "cols": cols, "n_tokens": 128, "x_scale": 1 / 32,
                 "w": [float(v) for v in w.flatten()], "x_int": [int(v) for v in xi.flatten()],
                 "gptq": [], "sparsegpt": []}
        for cname, bits, sym, gs in configs:
            for actorder in (False, True):
                codes, scales, zeros, loss = gptq(w, h, bits, sym, gs, actorder)
                layer["gptq"].append({
                    "name": cname + ("_actorder" if actorder else ""), "bits": bits,
                    "symmetric": sym, "group_size": gs, "actorder": actorder,
                    "codes": [int(v) for v in codes.flatten()],
                    "scales": [float(v) for v in scales.flatten()],
                    "zeros": [int(v) for v in zeros.flatten()] if not sym else [],
                    "loss": loss})
        if name == "a":
            for sname, sp, n, m in [("unstructured_0.5", 0.5, 0, 0), ("2:4", 0.0, 2, 4)]:
                wp, loss = sparsegpt(w, h, sp, n, m, 32)
                layer["sparsegpt"].append({"name": sname, "sparsity": sp, "n": n, "m": m,
                                           "block_size": 32, "loss": loss,
                                           "w": [float(v) for v in wp.flatten()]})
        layers.append(layer)
    with open(out_path, "w") as f:
        json.dump({"generator": "scripts/reference/make_gptq_cases.py", "damp": 0.01,
                   "layers": layers}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
