"""Shared fixtures. Tests import the packages from the repository root."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.env import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # no TensorFlow start-up lines in the test output (also in xdist workers)

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """A private project cache, so tests never touch ~/.cache/deepfake-lab."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("DEEPFAKE_LAB_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def vgg_imagenet():
    """The real ImageNet VGG19 extractor (Keras cache, download, or the pip mirror)."""
    from nst.stylize import get_extractor

    return get_extractor("imagenet", "float32")
