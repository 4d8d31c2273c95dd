"""Named sample images: small public-domain/CC0 files shipped in ``data/samples``
(work offline) and the TensorFlow tutorial's images by URL (need internet).

>>> from data import samples, load_image
>>> content = load_image(samples.path("grace_hopper"))
>>> style = load_image(samples.TUTORIAL_STYLE_URL)      # online only
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["ATTRIBUTION", "CONTENT", "SAMPLES_DIR", "STYLE", "TUTORIAL_CONTENT_URL",
           "TUTORIAL_STYLE_URL", "load_first", "names", "path"]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

#: name -> (file, attribution). All are public domain or CC0; resized to a
#: longer side of at most 512 px.
ATTRIBUTION: dict[str, tuple[str, str]] = {
    "grace_hopper": ("grace_hopper.jpg", "Rear Admiral Grace Hopper, US Navy photo, public "
                     "domain (matplotlib sample data)"),
    "astronaut": ("astronaut.jpg", "Eileen Collins, NASA, public domain (scikit-image data)"),
    "chelsea": ("chelsea.jpg", "Chelsea the cat, by Stefan van der Walt, CC0 "
                "(scikit-image data)"),
    "coffee": ("coffee.jpg", "A cup of coffee, by Rachel Michetti, CC0 (scikit-image data)"),
    "starry_night": ("starry_night.jpg", "The Starry Night, Vincent van Gogh, 1889, public "
                     "domain (OpenCV sample data)"),
}
#: content photos and style paintings available offline
CONTENT = ("grace_hopper", "astronaut", "chelsea", "coffee")
STYLE = ("starry_night",)

#: The TensorFlow style-transfer tutorial's images (online users).
TUTORIAL_CONTENT_URL = ("https://storage.googleapis.com/download.tensorflow.org/"
                        "example_images/YellowLabradorLooking_new.jpg")
TUTORIAL_STYLE_URL = ("https://storage.googleapis.com/download.tensorflow.org/"
                      "example_images/Vassily_Kandinsky%2C_1913_-_Composition_7.jpg")


def names() -> tuple[str, ...]:
    """All offline sample names."""
    return tuple(ATTRIBUTION)


def path(name: str) -> Path:
    """Path of an offline sample image by name (see :data:`ATTRIBUTION`)."""
    try:
        return SAMPLES_DIR / ATTRIBUTION[name][0]
    except KeyError:
        raise ValueError(f"unknown sample image {name!r}; expected one of {names()}") from None


def load_first(sources: Sequence[str | Path], *, max_side: int | None = 512
               ) -> tuple[np.ndarray, str]:
    """Load the first source that works (sample name, path or URL).

    Notebooks use it to prefer the tutorial's online images and fall back to
    an offline sample; every failure is printed, not hidden.
    """
    from .images import load_image

    errors = []
    for source in sources:
        try:
            target = path(source) if isinstance(source, str) and source in ATTRIBUTION else source
            return load_image(target, max_side=max_side), str(source)
        except (OSError, ValueError) as exc:
            errors.append(f"{source}: {type(exc).__name__}: {exc}")
            print(f"[samples] unavailable, trying the next source: {errors[-1][:160]}")
    raise ValueError("no image source could be loaded:\n  " + "\n  ".join(errors))
