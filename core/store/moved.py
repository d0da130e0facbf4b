"""Models pickled before ``core`` became stages name the old module paths
(``core.preprocessing.Deskew``, ``core.cnn.DigitCNN``). This import hook lets such a signed model
load: importing an old path gives the module that now holds the same classes. It maps only the
names below, and only when they are imported (the CNN's module, and torch with it, is imported only
for a model that needs it).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

__all__ = ["MOVED_MODULES", "accept_moved_modules"]

#: old module path -> where its classes live now
MOVED_MODULES: dict[str, str] = {
    "core.preprocessing": "core.data.preprocessing",
    "core.cnn": "core.models.cnn",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The target module is already executed."""


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = MOVED_MODULES.get(fullname)
        return None if new is None else importlib.util.spec_from_loader(fullname, _Alias(new))


def accept_moved_modules() -> None:
    """Install the hook once per process (idempotent)."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
