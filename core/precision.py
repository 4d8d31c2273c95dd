"""Which compute precision is fast on this machine.

bf16 halves the memory traffic of convolutions and, on CPUs with native bf16
arithmetic (AVX512_BF16 or AMX), roughly doubles their throughput. Without
those instructions TensorFlow emulates bf16 and runs several times slower than
float32, so ``precision="auto"`` picks bf16 only where it is native.

``DEEPFAKE_LAB_PRECISION=float32`` (or ``bf16``) overrides what ``"auto"``
detects, e.g. to run the bf16 path on an AVX2 machine (emulated, slowly) or
float32 on a bf16 one. Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PRECISION_ENV", "PRECISIONS", "bf16_supported", "cpu_flags", "keras_policy",
           "resolve_precision"]

#: the accepted values of every ``precision`` option in the repository
PRECISIONS = ("auto", "float32", "bf16")
PRECISION_ENV = "DEEPFAKE_LAB_PRECISION"


def cpu_flags(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (``avx2``, ``avx512_bf16``, ...) from the
    ``flags`` lines of ``cpuinfo``; empty where that file is missing."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    return {f for line in text.splitlines() if line.startswith("flags")
            for f in line.partition(":")[2].split()}


def bf16_supported(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> bool:
    """True when the CPU has native bf16 arithmetic (AVX512_BF16 or AMX) and no
    GPU is used (the ``flags`` of ``cpuinfo``; False where that file is missing)."""
    if not cpu_flags(cpuinfo) & {"avx512_bf16", "amx_bf16"}:
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


def resolve_precision(precision: str = "auto", *, name: str = "precision") -> str:
    """``"auto"`` -> ``$DEEPFAKE_LAB_PRECISION`` if set, else ``"bf16"`` where
    :func:`bf16_supported`, else ``"float32"``; ``"float32"``/``"bf16"`` pass.

    Raises ValueError naming ``name`` (the option as the caller spells it)
    for anything else.
    """
    if precision == "auto":
        forced = os.environ.get(PRECISION_ENV, "").strip()
        if forced:
            if forced not in PRECISIONS[1:]:
                raise ValueError(f"${PRECISION_ENV} must be 'float32' or 'bf16', got {forced!r}")
            return forced
        return "bf16" if bf16_supported() else "float32"
    if precision not in PRECISIONS:
        raise ValueError(f"{name} must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision


def keras_policy(precision: str) -> str:
    """The Keras dtype policy of a resolved precision: ``"mixed_bfloat16"``
    (bf16 compute, float32 weights) or ``"float32"``."""
    return "mixed_bfloat16" if resolve_precision(precision) == "bf16" else "float32"
