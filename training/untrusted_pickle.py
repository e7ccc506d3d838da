"""Loading pickles that come from elsewhere (checkpoints, proposal files) without running their code.

A pickle can name any importable callable and call it while loading (`os.system`, `builtins.eval`, ...). The default
unpickler obeys; these loaders do not:

- `load_pickled_data(path)`: data files (AVA proposal pickles). Only dicts, lists, tuples, sets, strings, bytes,
  numbers and numpy arrays / scalars / dtypes are built; any other global refuses the whole file.
- `load_checkpoint(path)`: PyTorch checkpoints (e.g. mmaction2's). Tried first with `torch.load(weights_only=True)`;
  if the file carries other objects (mmengine's `MessageHub`, optimizer state with custom classes...), it is read
  again with a restricted unpickler that builds tensors and plain containers and turns every other class into an
  inert `UnpickledPlaceholder` that records its arguments and never runs code. Globals that can execute code
  (`builtins.eval`, `os.system`, `subprocess.*`, ...) refuse the whole file with `UntrustedPickleError`.
"""

import builtins
import codecs
import collections
import io
import os
import pickle
import types
import zipfile

import numpy as np
import torch


class UntrustedPickleError(pickle.UnpicklingError):
    """A pickle asked for something the restricted loader does not allow."""


_NUMPY_GLOBALS = {
    f"{module}.{name}"
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {"numpy.ndarray", "numpy.dtype"}


def _resolve(global_name: str):
    module_name, _, name = global_name.rpartition(".")
    if module_name.startswith("numpy.core"):
        # numpy 2 renamed numpy.core to numpy._core; pickles from numpy 1 still name the old module
        module_name = "numpy._core" + module_name[len("numpy.core") :]
    module = __import__(module_name, fromlist=[name])
    return getattr(module, name)


_DATA_BUILTINS = {"set", "frozenset", "complex", "bytearray", "slice", "range"}


def _is_data_global(module: str, name: str) -> bool:
    full_name = f"{module}.{name}"
    if module in ("builtins", "__builtin__"):
        return name in _DATA_BUILTINS
    if full_name in ("collections.OrderedDict", "_codecs.encode"):
        return True
    if full_name in _NUMPY_GLOBALS or module == "numpy.dtypes":
        return True
    return False


class _DataUnpickler(pickle.Unpickler):
    """Builds only plain data: containers, strings, numbers, numpy arrays."""

    def __init__(self, file, source: str):
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str):
        if _is_data_global(module, name):
            if module in ("builtins", "__builtin__"):
                return getattr(builtins, name)
            if module == "_codecs":
                return codecs.encode
            if module == "collections":
                return collections.OrderedDict
            return _resolve(f"{module}.{name}")
        raise UntrustedPickleError(
            f"{self.source}: refused to load {module}.{name}: this file may only hold dicts, lists, strings, numbers "
            "and numpy arrays"
        )

    def persistent_load(self, pid):
        raise UntrustedPickleError(f"{self.source}: refused a persistent reference in a data pickle")


def load_pickled_data(path: str | os.PathLike):
    """Unpickle a data file (e.g. `ava_dense_proposals_val.FAIR.recall_93.9.pkl`), refusing anything but plain data.

    Raises:
        FileNotFoundError: the file does not exist.
        UntrustedPickleError: the pickle names a class or function other than plain data (e.g. one that would run
            code); the message names the file and the global.
        pickle.UnpicklingError / EOFError: a truncated or corrupt file (the message names the file).
    """
    path = os.fspath(path)
    with open(path, "rb") as handle:
        payload = handle.read()
    try:
        return _DataUnpickler(io.BytesIO(payload), path).load()
    except UntrustedPickleError:
        raise
    except Exception as error:
        raise pickle.UnpicklingError(f"{path}: not a readable pickle ({type(error).__name__}: {error})") from error


# Modules whose globals can execute code, touch the system or reach arbitrary attributes: never built, never
# replaced by placeholders; their presence refuses the file.
_FORBIDDEN_MODULES = {
    "builtins", "__builtin__", "os", "posix", "nt", "sys", "subprocess", "shutil", "socket", "importlib", "runpy",
    "code", "codeop", "pty", "ctypes", "marshal", "pickle", "_pickle", "types", "operator", "functools", "webbrowser",
    "commands", "platform", "signal", "multiprocessing", "threading", "asyncio", "inspect", "pdb", "timeit", "io",
    "pathlib", "tempfile", "glob", "site", "sysconfig", "ensurepip", "pip", "setuptools", "distutils", "torch.hub",
    "torch._C", "torch.jit", "torch.ops", "torch.classes", "torch.package", "numpy.testing", "numpy.f2py",
    "numpy.distutils", "numpy.lib.npyio", "copyreg", "_io", "zipimport", "pkgutil",
}


class UnpickledPlaceholder:
    """Stands in for a class the restricted checkpoint loader does not build (e.g. mmengine's `MessageHub`).

    It runs no code of the original class: it only records the constructor arguments (`args`, `kwargs`) and the
    pickled state (`state`). `global_name` says what it replaces.
    """

    global_name = "?"

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs, self.state = args, kwargs, None

    def __new__(cls, *args, **kwargs):
        return super().__new__(cls)

    def __setstate__(self, state):
        self.state = state

    def __reduce__(self):
        raise TypeError(f"placeholder for {self.global_name} cannot be pickled again")

    def __repr__(self):
        return f"<placeholder for {self.global_name}>"


def _placeholder_class(global_name: str) -> type:
    return type(global_name.rpartition(".")[2] or "Placeholder", (UnpickledPlaceholder,), {"global_name": global_name})


def _placeholder_getattr(target, name):
    """`getattr` for pickles (method references such as `getattr(HistoryBuffer, 'min')`): allowed on placeholders
    only, where it returns another placeholder."""
    is_placeholder = isinstance(target, UnpickledPlaceholder) or (
        isinstance(target, type) and issubclass(target, UnpickledPlaceholder)
    )
    if not is_placeholder:
        raise UntrustedPickleError(f"refused getattr({type(target).__name__}, {name!r}) on a real object")
    return _placeholder_class(f"{target.global_name}.{name}")


def _checkpoint_allowed_globals() -> dict[str, object]:
    allowed = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.defaultdict": collections.defaultdict,
        "collections.Counter": collections.Counter,
        "torch.Size": torch.Size,
        "torch.device": torch.device,
        "torch.Tensor": torch.Tensor,
        "torch.nn.parameter.Parameter": torch.nn.Parameter,
        "torch.serialization._get_layout": torch.serialization._get_layout,
        "_codecs.encode": codecs.encode,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.complex": complex,
        "builtins.bytearray": bytearray,
        "builtins.slice": slice,
        "builtins.getattr": _placeholder_getattr,
    }
    for name in dir(torch._utils):
        if name.startswith("_rebuild_"):
            allowed[f"torch._utils.{name}"] = getattr(torch._utils, name)
    for value in vars(torch).values():
        if isinstance(value, (torch.dtype, torch.layout, torch.memory_format)):
            allowed[str(value)] = value
    for name in _NUMPY_GLOBALS:
        allowed[name] = _resolve(name)
    return allowed


class _CheckpointUnpickler(pickle.Unpickler):
    allowed = None

    def find_class(self, module: str, name: str):
        if self.allowed is None:
            type(self).allowed = _checkpoint_allowed_globals()
        full_name = f"{module}.{name}"
        if module == "__builtin__":
            full_name = f"builtins.{name}"
        if full_name in self.allowed:
            return self.allowed[full_name]
        if module == "numpy.dtypes":
            return _resolve(full_name)
        root = module.split(".")[0]
        if module in _FORBIDDEN_MODULES or root in _FORBIDDEN_MODULES or any(
            module.startswith(forbidden + ".") for forbidden in _FORBIDDEN_MODULES
        ):
            raise UntrustedPickleError(f"refused to load {full_name}: it could run code")
        return _placeholder_class(full_name)


# A stand-in for the `pickle` module that torch.load accepts as `pickle_module`.
_restricted_pickle_module = types.ModuleType("restricted_pickle")
_restricted_pickle_module.Unpickler = _CheckpointUnpickler
_restricted_pickle_module.load = lambda file, **kwargs: _CheckpointUnpickler(file, **kwargs).load()
_restricted_pickle_module.__name__ = "restricted_pickle"


def load_checkpoint(path: str | os.PathLike, map_location="cpu"):
    """Load a PyTorch checkpoint without running code from it.

    Raises:
        FileNotFoundError: no such file.
        UntrustedPickleError: the checkpoint names a code-running global (the message names the file and it).
        ValueError: a truncated or corrupt file (the message names the file).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        pass  # holds objects other than tensors and containers: read again with placeholders
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {error})") from error
    try:
        return torch.load(path, map_location=map_location, weights_only=False, pickle_module=_restricted_pickle_module)
    except UntrustedPickleError as error:
        raise UntrustedPickleError(f"{path}: {error}") from None
    except Exception as error:
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {error})") from error


__all__ = ["UntrustedPickleError", "UnpickledPlaceholder", "load_pickled_data", "load_checkpoint"]
