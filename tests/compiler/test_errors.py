"""One exception root for the compiler: every exception class defined in ``compiler/``
derives from ``compiler.errors.CompilerError`` (no stray roots)."""

import importlib
import inspect
import pkgutil

import compiler
from compiler.errors import CompilerError


def test_every_compiler_exception_derives_from_the_root() -> None:
    found = {}
    for info in pkgutil.walk_packages(compiler.__path__, "compiler."):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, BaseException):
                found[f"{module.__name__}.{name}"] = cls
    assert "compiler.live.connections.ClusterConnectionError" in found
    assert {name for name, cls in found.items() if not issubclass(cls, CompilerError)} == set()
