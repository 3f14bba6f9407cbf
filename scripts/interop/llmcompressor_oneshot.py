"""Writes compressed-tensors folders with PyPI llm-compressor (CPU, RTN: no calibration data) from
quanta's HF folder, so that quanta can be checked on folders it did not write.

usage: llmcompressor_oneshot.py MODEL_DIR OUT_ROOT [--dtype float32|bfloat16]
Writes OUT_ROOT/llmc-w4a16-g64-<dtype> (int4 sym group 64, pack-quantized) and
OUT_ROOT/llmc-w8a8-<dtype> (int8 per-channel weights + dynamic per-token int8 activations).
"""
import argparse
import os
import shutil

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from llmcompressor import oneshot
from llmcompressor.modifiers.quantization import QuantizationModifier


def w4a16_g64():
    return QuantizationModifier(
        config_groups={
            "group_0": {
                "targets": ["Linear"],
                "weights": {"num_bits": 4, "type": "int", "symmetric": True,
                            "strategy": "group", "group_size": 64},
            }
        },
        ignore=["lm_head"],
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out_root")
    ap.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16"])
    a = ap.parse_args()
    dtype = getattr(torch, a.dtype)
    recipes = {
        f"llmc-w4a16-g64-{a.dtype}": w4a16_g64,
        f"llmc-w8a8-{a.dtype}": lambda: QuantizationModifier(targets="Linear", scheme="W8A8",
                                                             ignore=["lm_head"]),
    }
    for name, recipe in recipes.items():
        out = os.path.join(a.out_root, name)
        if os.path.exists(os.path.join(out, "config.json")):
            print(f"exists: {out}")
            continue
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=dtype)
        tok = AutoTokenizer.from_pretrained(a.model)
        oneshot(model=model, recipe=recipe())
        tmp = out + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp, save_compressed=True)
        tok.save_pretrained(tmp)
        os.replace(tmp, out)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
