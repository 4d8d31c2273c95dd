"""Data shared by every technique: image I/O, sample images, verified downloads
and safe unpickling of third-party files."""

from . import samples
from .cache import ChecksumError, atomic_path, cache_dir, download, fetch_wheel_member
from .images import load_image, read_provenance, resize_max_side, save_image, to_uint8
from .safe_pickle import RestrictedUnpickler, UnsafePickleError

__all__ = [
    "ChecksumError",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "atomic_path",
    "cache_dir",
    "download",
    "fetch_wheel_member",
    "load_image",
    "read_provenance",
    "resize_max_side",
    "samples",
    "save_image",
    "to_uint8",
]
