"""Which compute precision is fast on this machine.

bf16 halves the memory traffic of convolutions and, on CPUs with native bf16
arithmetic (AVX512_BF16 or AMX), roughly doubles their throughput. Without
those instructions TensorFlow emulates bf16 and runs several times slower than
float32, so "auto" precisions in this repository pick bf16 only where it is
native.
"""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf

__all__ = ["bf16_supported"]


def bf16_supported(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> bool:
    """True when the CPU has native bf16 arithmetic (AVX512_BF16 or AMX) and no
    GPU is used (the ``flags`` of ``cpuinfo``; False where that file is missing)."""
    if tf.config.list_physical_devices("GPU"):
        return False
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = {f for line in text.splitlines() if line.startswith("flags")
             for f in line.partition(":")[2].split()}
    return bool(flags & {"avx512_bf16", "amx_bf16"})
