"""Compares two compressed-tensors folders tensor by tensor: integer codes (int4 packed or int8)
and scales. usage: compare_ct_folders.py DIR_A DIR_B"""
import sys

import torch
from safetensors.torch import load_file


def unpack_int4(p):
    return torch.stack([(p >> (4 * s)) & 15 for s in range(8)], -1).reshape(p.shape[0], -1)


def main():
    a = load_file(sys.argv[1] + "/model.safetensors")
    b = load_file(sys.argv[2] + "/model.safetensors")
    if set(a) != set(b):
        print("tensor names differ:", sorted(set(a) ^ set(b))[:8])
    codes = total = scales = scale_total = 0
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        if x.shape != y.shape:
            print(f"{k}: shape {tuple(x.shape)} vs {tuple(y.shape)}")
            continue
        if k.endswith("weight_packed"):
            x, y = unpack_int4(x), unpack_int4(y)
        if k.endswith("weight_packed") or x.dtype == torch.int8:
            codes += int((x != y).sum())
            total += x.numel()
        elif k.endswith("weight_scale"):
            scales += int((x.float() != y.float()).sum())
            scale_total += x.numel()
    print(f"codes differing: {codes} of {total} ({100.0 * codes / max(total, 1):.2f}%); "
          f"scales differing: {scales} of {scale_total}; scale dtypes "
          f"{a[next(k for k in a if k.endswith('weight_scale'))].dtype} vs "
          f"{b[next(k for k in b if k.endswith('weight_scale'))].dtype}")


if __name__ == "__main__":
    main()
