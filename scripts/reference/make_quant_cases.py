#!/usr/bin/env python3
"""Reference cases for quanta's RTN codecs, computed by compressed-tensors' own functions.

Writes tests/quant/data/quant_cases.json: per case the f32 input matrix, the QuantizationArgs,
and what compressed-tensors 0.19 computes: scales and zero points (calculate_qparams with
scale_dtype=bfloat16, i.e. f32 math with the scale rounded to bf16 as llm-compressor stores it),
codes (lifecycle.forward.quantize), packed int32 words (pack_to_int32) and, for FP8, E4M3 bytes.

Run (not part of the build):
  build/venv-ct/bin/python scripts/reference/make_quant_cases.py
where venv-ct has compressed-tensors==0.19.* and torch (e.g. PYTHONPATH pointing at a venv that
has torch 2.13 and pip install --no-deps compressed-tensors pydantic loguru frozendict psutil).
"""
import json
import os
import sys

import torch
import compressed_tensors
from compressed_tensors.compressors.pack_quantized.helpers import pack_to_int32
from compressed_tensors.quantization import QuantizationArgs
from compressed_tensors.quantization.lifecycle.forward import quantize
from compressed_tensors.quantization.utils import calculate_qparams

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "quant", "data",
                   "quant_cases.json")


def make_matrix(rows, cols, seed, scale=0.05):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g, dtype=torch.float32) * scale
    return w


def case(name, w, num_bits, typ, symmetric, strategy, group_size=None):
    args = QuantizationArgs(num_bits=num_bits, type=typ, symmetric=symmetric, strategy=strategy,
                            group_size=group_size, scale_dtype=torch.bfloat16)
    rows, cols = w.shape
    if strategy == "group":
        wg = w.reshape(rows, cols // group_size, group_size)
        mn, mx = wg.amin(dim=-1), wg.amax(dim=-1)
    else:
        mn, mx = w.amin(dim=-1, keepdim=True), w.amax(dim=-1, keepdim=True)
    scale, zp = calculate_qparams(mn, mx, args)
    scale = scale.to(torch.float32)
    dtype = args.pytorch_dtype()
    q = quantize(x=w, scale=scale, zero_point=zp if not symmetric else None, args=args,
                 dtype=dtype)
    out = {
        "name": name, "rows": rows, "cols": cols, "num_bits": num_bits, "type": typ,
        "symmetric": symmetric, "group_size": group_size or 0,
        "w": [float(x) for x in w.flatten().tolist()],
        "scales": [float(x) for x in scale.flatten().tolist()],
    }
    if typ == "float":
        out["codes"] = q.view(torch.uint8).flatten().tolist()
    else:
        out["codes"] = q.flatten().tolist()  # signed, as compressed-tensors stores them
        if not symmetric:
            out["zeros"] = zp.to(torch.int32).flatten().tolist()  # signed
        if num_bits < 8 or strategy == "group":
            out["packed"] = pack_to_int32(q.to(torch.int8), num_bits).flatten().tolist()
            if not symmetric:
                out["packed_zero"] = pack_to_int32(zp.to(torch.int8), num_bits,
                                                   packed_dim=0).flatten().tolist()
    return out


def main():
    torch.manual_seed(0)
    cases = []
    # Ties: absmax 7.5 -> scale exactly 1.0, so x.5 values are halfway (round half to even).
    ties = torch.tensor([[7.5, 0.5, 1.5, 2.5, -0.5, -2.5, 3.5, -7.5],
                         [-7.5, 6.5, 5.5, 4.5, -3.5, -1.5, 0.0, 7.49]], dtype=torch.float32)
    cases.append(case("int4_sym_ties", ties, 4, "int", True, "group", 8))
    w = make_matrix(5, 64, 1)
    w[1, :16] = 0.0  # an all-zero group
    w[2, 16:32] = 0.0
    w[2, 20] = 1e-3  # a lone value
    w[3, :] = w[3, :].abs()  # all positive (asymmetric zero point at the bottom)
    cases.append(case("int4_sym_g16", w, 4, "int", True, "group", 16))
    cases.append(case("int4_asym_g16", w, 4, "int", False, "group", 16))
    cases.append(case("int4_sym_g32_13rows", make_matrix(13, 96, 2), 4, "int", True, "group", 32))
    cases.append(case("int4_asym_g32_13rows", make_matrix(13, 96, 3), 4, "int", False, "group",
                      32))
    cases.append(case("int8_sym_channel", make_matrix(7, 33, 4), 8, "int", True, "channel"))
    w8 = make_matrix(6, 40, 5)
    w8[0, :] = 0.0
    cases.append(case("int8_sym_channel_zero_row", w8, 8, "int", True, "channel"))
    cases.append(case("int8_asym_channel", make_matrix(6, 40, 6), 8, "int", False, "channel"))
    wf = make_matrix(9, 31, 7, scale=0.2)
    wf[0, :] = 0.0
    wf[1, 3] = 40.0  # large outlier: others become fp8 subnormals
    cases.append(case("fp8_channel", wf, 8, "float", True, "channel"))

    # E4M3: every byte's value, and f32 -> e4m3 for awkward inputs (midpoints, subnormals).
    all_bytes = torch.arange(256, dtype=torch.uint8).view(torch.float8_e4m3fn).to(torch.float32)
    probes = [0.0, -0.0, 1.0, 1.0625, 1.1875, 448.0, 440.0, 447.9, 2.0 ** -9, 2.0 ** -10,
              3 * 2.0 ** -10, 2.0 ** -6, 2.0 ** -6 * 1.0625, 0.3, -0.3, 17.0, 19.0, 240.0,
              232.0, 1e-6, -100.5, 0.001953125 * 1.5, 0.0146484375]
    g = torch.Generator().manual_seed(9)
    probes += (torch.randn(64, generator=g) * 30).clamp(-448, 448).tolist()
    probes_t = torch.tensor(probes, dtype=torch.float32)
    e4m3 = {
        "byte_values": [None if x != x else float(x) for x in all_bytes.tolist()],
        "probes": [float(x) for x in probes_t.tolist()],
        "probe_bytes": probes_t.to(torch.float8_e4m3fn).view(torch.uint8).tolist(),
    }
    doc = {"generator": "scripts/reference/make_quant_cases.py",
           "compressed_tensors": compressed_tensors.__version__, "torch": torch.__version__,
           "cases": cases, "e4m3": e4m3}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
