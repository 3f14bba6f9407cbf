#!/usr/bin/env python3
"""Interop check (not in CI): transformers + compressed-tensors load folders that quanta wrote.

For each compressed-tensors FOLDER: AutoModelForCausalLM.from_pretrained(FOLDER) (transformers
decompresses with compressed-tensors), logits of a prompt, compared with quanta's logits of the
same folder (ct_rtn_driver logits: quanta's own reader + dequantization), and the weights
transformers decompressed compared with quanta's dequantization of one Linear.

  build/ct/interop/ct_rtn_driver compress models/smollm2-135m-instruct OUT/w4g64 W4A16 64
  build/ct/interop/ct_rtn_driver compress models/smollm2-135m-instruct OUT/w8a8 W8A8
  PYTHONPATH=<site-packages with torch + transformers> build/venv-ct/bin/python \
      scripts/interop/check_transformers_ct.py --driver build/ct/interop/ct_rtn_driver \
      OUT/w4g64 OUT/w8a8
(ct_rtn_driver: g++ -std=c++20 -O2 -Isrc scripts/interop/ct_rtn_driver.cc build/ct/libquanta.a
 -lfmt -lpcre2-8 -lpthread)
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPT = "The capital of France is Paris. The capital of Germany is"


def quanta_logits(driver, folder, ids):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "logits.f32")
        subprocess.run([driver, "logits", folder, out] + [str(i) for i in ids], check=True)
        return np.fromfile(out, dtype=np.float32).reshape(len(ids), -1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("folders", nargs="+")
    a = ap.parse_args()
    for folder in a.folders:
        print(f"== {folder}")
        tok = AutoTokenizer.from_pretrained(folder)
        ids = tok(PROMPT)["input_ids"]
        try:
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        except Exception as e:  # report the exact error
            print(f"transformers cannot load it: {type(e).__name__}: {e}")
            continue
        model.eval()
        with torch.no_grad():
            hf = model(torch.tensor([ids])).logits[0].float().numpy()
        ql = quanta_logits(a.driver, folder, ids)
        diff = np.abs(hf - ql)
        print(f"tokens {len(ids)}; max |logit diff| {diff.max():.4g}, mean {diff.mean():.4g}, "
              f"max |logit| {np.abs(hf).max():.3g}; argmax agree "
              f"{int((hf.argmax(-1) == ql.argmax(-1)).sum())}/{len(ids)}; next token hf "
              f"{tok.decode(int(hf[-1].argmax()))!r} quanta {tok.decode(int(ql[-1].argmax()))!r}")
        # W8A8 / FP8_DYNAMIC: transformers also fake-quantizes activations per token at run time;
        # quanta's CPU path runs the dequantized weights on f32 activations. Compare without it too.
        from compressed_tensors.quantization.lifecycle.helpers import disable_quantization
        model.apply(disable_quantization)
        with torch.no_grad():
            hf_w = model(torch.tensor([ids])).logits[0].float().numpy()
        d2 = np.abs(hf_w - ql)
        print(f"  with transformers' activation quantization disabled: max |logit diff| "
              f"{d2.max():.4g}, mean {d2.mean():.4g}")
        w = model.model.layers[0].mlp.down_proj.weight
        print(f"layer0 down_proj as transformers holds it: dtype {w.dtype}, shape {tuple(w.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
