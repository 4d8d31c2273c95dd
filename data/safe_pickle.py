"""Unpickling third-party files without running their code.

``pickle.load`` imports and calls whatever the file names, so a weights or
data file from a package mirror could execute arbitrary code. The
:class:`RestrictedUnpickler` here resolves only the globals the format needs,
each mapped explicitly to a safe stand-in, and refuses everything else with an
:class:`UnsafePickleError` that names the file and the global.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from typing import IO, Any

__all__ = ["RestrictedUnpickler", "UnsafePickleError", "numpy_globals"]


class UnsafePickleError(ValueError):
    """A pickle asked for a global outside the allowed set."""


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that maps ``(module, name)`` only through ``allowed``.

    Args:
      file: binary file positioned at a pickle.
      allowed: ``{(module, name): object}``; the object is returned in place of
        the global, so it can be a stand-in rather than the real thing.
      source: file name used in error messages.
      persistent_load: optional handler for persistent ids.
      encoding: passed to :class:`pickle.Unpickler` (``"latin1"`` for Python 2
        pickles holding NumPy arrays).
    """

    def __init__(self, file: IO[bytes], allowed: Mapping[tuple[str, str], Any], *,
                 source: str = "<pickle>",
                 persistent_load: Callable[[Any], Any] | None = None,
                 encoding: str = "ASCII") -> None:
        super().__init__(file, encoding=encoding)
        self._allowed = dict(allowed)
        self._source = source
        self._persistent = persistent_load

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self._source}: refusing to unpickle global {module}.{name}; "
                f"this format only needs {sorted('.'.join(k) for k in self._allowed)}"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise UnsafePickleError(f"{self._source}: unexpected persistent id {pid!r}")
        return self._persistent(pid)


def numpy_globals() -> dict[tuple[str, str], Any]:
    """The globals a plain pickle of NumPy arrays needs (both NumPy 1 and 2 names)."""
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct  # NumPy 2
    except ImportError:  # pragma: no cover - NumPy 1
        from numpy.core.multiarray import _reconstruct
    allowed: dict[tuple[str, str], Any] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = _reconstruct
        allowed[(mod, "scalar")] = _numpy_scalar
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    allowed[("_codecs", "encode")] = _latin1_encode  # Python 3 protocol-2 bytes
    return allowed


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``codecs.encode`` as protocol-2 pickles use it, latin-1 only."""
    if encoding.replace("-", "").lower() not in ("latin1", "iso88591"):
        raise UnsafePickleError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _numpy_scalar(dtype: Any, data: bytes | str) -> Any:
    import numpy as np

    if isinstance(data, str):  # latin1-decoded Python 2 bytes
        data = data.encode("latin1")
    return np.frombuffer(data, dtype=dtype)[0]
