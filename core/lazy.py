"""Packages whose public names load on first use (PEP 562), so that
``python -m PACKAGE --help`` (which imports the package first) does not pay
for TensorFlow. Importing this module does not import TensorFlow."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> None:
    """Make ``package`` resolve each name of ``exports`` (name -> submodule,
    e.g. ``{"train": ".train"}``) from that submodule on first access.

    A public name may equal its submodule's (``cogan.train`` the function,
    in ``cogan/train.py``): importing the submodule does not replace the
    package's attribute by the module, so ``from cogan import train`` always
    gives the function (reach the module through ``sys.modules``).
    """
    module = sys.modules[package]

    class LazyPackage(types.ModuleType):
        def __getattr__(self, name: str):
            if name not in exports:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            value = getattr(importlib.import_module(exports[name], package), name)
            self.__dict__[name] = value
            return value

        def __setattr__(self, name: str, value) -> None:
            # the import system sets a submodule on its parent after loading it
            if (name in exports and isinstance(value, types.ModuleType)
                    and value.__name__ == f"{package}.{name}"):
                return
            super().__setattr__(name, value)

        def __dir__(self):
            return sorted(set(self.__dict__) | set(exports))

    module.__class__ = LazyPackage
