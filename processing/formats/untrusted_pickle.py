"""Loading pickles that come from elsewhere (checkpoints, proposal files) without running their code.

A pickle can name any importable callable and call it while loading (`os.system`, `builtins.eval`, ...). The default
unpickler obeys; these loaders do not:

- `load_pickled_data(path)`: data files (AVA proposal pickles). Only dicts, lists, tuples, sets, strings, bytes,
  numbers and numpy arrays / scalars / dtypes are built; any other global refuses the whole file.
- `load_checkpoint(path)`: PyTorch checkpoints (e.g. mmaction2's), read with a restricted unpickler that builds
  tensors and plain containers and turns every other class into an inert `UnpickledPlaceholder` that records its
  arguments and never runs code. Globals that can execute code (`builtins.eval`, `os.system`, `subprocess.*`, ...)
  refuse the whole file with `UntrustedPickleError`.

What the restricted unpicklers guarantee, on top of the allow-lists:

- No interpreter state changes. The globals a pickle may name are handed out as small wrapper functions (or, for
  numpy's `ndarray` / `dtype` classes, only as arguments of those wrappers); the pickle opcodes that mutate an
  object (BUILD, SETITEM(S), APPEND(S), ADDITEMS) are refused on anything the pickle did not build itself in this
  load: a module, class, function or any object from the allow-list. BUILD is accepted only on inert placeholders
  and on fresh numpy arrays / dtypes, tensors and ordered dicts. numpy dtypes are always built as copies, never as
  numpy's shared built-in dtype objects. Extension-registry opcodes (EXT1/2/4) are refused.
- Bounded allocation. What a pickle makes is bounded by its own size: `bytearray` takes bytes (never a length),
  `set` / `frozenset` take a list or tuple, there is no `range`; a numpy array's element count must match the bytes
  (or the objects) the pickle holds; a tensor may not address more elements than its storage holds (a stride-0
  tensor of shape (10**6, 10**6) over 4 bytes is refused before anything makes it contiguous).
- Clear errors. A corrupt or truncated file, and any exception torch or numpy raise on garbage (IndexError,
  AttributeError, ...), become one error that names the file.
"""

import codecs
import collections
import io
import math
import os
import pickle
import types

import numpy as np
import torch


class UntrustedPickleError(pickle.UnpicklingError):
    """A pickle asked for something the restricted loader does not allow."""


# ------------------------------------------------------------------------------------ bounded constructors
def _bytearray(data=b"", encoding=None):
    """`bytearray` from bytes (protocol 3+) or from a latin-1 str (protocol 2); never from a length."""
    if isinstance(data, (bytes, bytearray)) and encoding is None:
        return bytearray(data)
    if isinstance(data, str) and encoding in ("latin-1", "latin1"):
        return bytearray(data, "latin-1")
    raise UntrustedPickleError(f"refused bytearray({type(data).__name__}, ...): only bytes can make a bytearray here")


def _materialised(iterable, kind: str):
    if not isinstance(iterable, (list, tuple, set, frozenset)):
        raise UntrustedPickleError(f"refused {kind}({type(iterable).__name__}): only a list or tuple can make a {kind}")
    return iterable


def _set(iterable=()):
    return set(_materialised(iterable, "set"))


def _frozenset(iterable=()):
    return frozenset(_materialised(iterable, "frozenset"))


def _codecs_encode(text, encoding="utf-8", errors="strict"):
    """How protocol-2 pickles write bytes: `_codecs.encode(text, 'latin1')`; no other codec."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UntrustedPickleError(f"refused _codecs.encode(..., {encoding!r}): only latin1 text is allowed")
    return codecs.encode(text, "latin-1", errors)


def _numpy_dtype(spec, align=False, copy=True):
    """`numpy.dtype`, always a new object: numpy's shared built-in dtypes are never handed to BUILD."""
    return np.dtype(spec, align=bool(align), copy=True)


def _numpy_reconstruct(subtype, shape, dtype):
    """numpy's `_reconstruct(ndarray, (0,), b'b')`: an empty array that BUILD then fills (see `_build_ndarray`)."""
    if subtype is not np.ndarray:
        raise UntrustedPickleError(f"refused numpy _reconstruct of {subtype!r}: only numpy.ndarray")
    if math.prod(np.atleast_1d(shape).tolist()) != 0:
        raise UntrustedPickleError(f"refused numpy _reconstruct with shape {shape!r}: numpy pickles start empty")
    return np.ndarray.__new__(np.ndarray, (0,), dtype="b")


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype):
        raise UntrustedPickleError(f"refused numpy scalar of {type(dtype).__name__}: needs a dtype")
    if not dtype.hasobject and (not isinstance(data, (bytes, bytearray)) or len(data) != dtype.itemsize):
        raise UntrustedPickleError(f"refused numpy scalar: {dtype} needs {dtype.itemsize} bytes")
    return np._core.multiarray.scalar(dtype, data)


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")


def _numpy_globals() -> dict[str, object]:
    """The numpy names array and scalar pickles use. `numpy.ndarray` is handed out as an argument only."""
    allowed = {"numpy.dtype": _numpy_dtype, "numpy.ndarray": np.ndarray}
    for module in _NUMPY_MODULES:
        allowed[f"{module}._reconstruct"] = _numpy_reconstruct
        allowed[f"{module}.scalar"] = _numpy_scalar
    return allowed


def _data_globals() -> dict[str, object]:
    return {
        **_numpy_globals(),
        "collections.OrderedDict": collections.OrderedDict,
        "_codecs.encode": _codecs_encode,
        "builtins.set": _set,
        "builtins.frozenset": _frozenset,
        "builtins.bytearray": _bytearray,
        "builtins.complex": complex,
        "builtins.slice": slice,
    }


# Handed out as arguments only, never called by REDUCE / NEWOBJ.
_ARGUMENT_ONLY = (np.ndarray,)


def _build_ndarray(array: np.ndarray, state) -> None:
    """ndarray.__setstate__ after checking the element count matches the data the pickle holds."""
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise UntrustedPickleError(f"refused a numpy array state of type {type(state).__name__}")
    shape, dtype, _, raw = state[-4:]
    if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple):
        raise UntrustedPickleError("refused a numpy array state without a dtype and a shape")
    count = math.prod(int(size) for size in shape)
    if dtype.hasobject:
        fits = isinstance(raw, list) and len(raw) == count
    else:
        fits = isinstance(raw, (bytes, bytearray)) and dtype.itemsize > 0 and count * dtype.itemsize == len(raw)
        fits = fits or count == 0
    if not fits:
        raise UntrustedPickleError(f"refused a numpy array of shape {shape} {dtype}: its data does not match that size")
    array.__setstate__(state)


# ------------------------------------------------------------------------------------------ shared machinery
class _RestrictedUnpickler(pickle._Unpickler):
    """Python's unpickler with every opcode that could call or mutate something outside the pickle checked.

    Subclasses give `_lookup(module, name)`: the object for an allowed global (or raise UntrustedPickleError).
    """

    dispatch = dict(pickle._Unpickler.dispatch)
    build_types: tuple = (np.ndarray, np.dtype)

    def __init__(self, file, *args, source: str = "pickle", **kwargs):
        kwargs.setdefault("encoding", "latin1")
        super().__init__(file, *args, **kwargs)
        self.source = source
        self._handed_out: list = []  # every global given to the pickle (kept alive so their ids stay unique)
        self._handed_out_ids: set[int] = set()

    # -- globals
    def find_class(self, module: str, name: str):
        if module == "__builtin__":
            module = "builtins"
        found = self._lookup(module, name)
        self._handed_out.append(found)
        self._handed_out_ids.add(id(found))
        return found

    def _lookup(self, module: str, name: str):
        raise NotImplementedError

    def _is_external(self, target) -> bool:
        """True for objects the pickle did not build in this load: globals, modules, classes, functions."""
        return id(target) in self._handed_out_ids or isinstance(
            target, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
        )

    def _check_callable(self, func, opcode: str):
        if isinstance(func, type) and issubclass(func, UnpickledPlaceholder):
            return
        if id(func) not in self._handed_out_ids or any(func is kind for kind in _ARGUMENT_ONLY):
            raise UntrustedPickleError(f"refused {opcode} on {_describe(func)}: only allow-listed constructors run")

    def _check_mutable(self, target, opcode: str):
        if self._is_external(target):
            raise UntrustedPickleError(f"refused {opcode} on {_describe(target)}: a pickle may only fill what it built")

    # -- opcodes that call
    def load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        self._check_callable(func, "a call")
        self.stack[-1] = func(*args)

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_callable(cls, "NEWOBJ")
        self.append(cls.__new__(cls, *args))

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_callable(cls, "NEWOBJ_EX")
        self.append(cls.__new__(cls, *args, **kwargs))

    def _instantiate(self, klass, args):
        self._check_callable(klass, "INST/OBJ")
        self.append(klass(*args))

    def _refuse_extension(self):
        raise UntrustedPickleError("refused an extension-registry reference (EXT opcode)")

    # -- opcodes that mutate
    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        self._check_mutable(inst, "BUILD")
        if isinstance(inst, UnpickledPlaceholder):
            inst.__setstate__(state)
        elif type(inst) is np.ndarray:
            _build_ndarray(inst, state)
        elif isinstance(inst, self.build_types):
            if isinstance(inst, collections.OrderedDict):
                if not isinstance(state, dict) or set(state) - {"_metadata"}:
                    raise UntrustedPickleError("refused BUILD on an OrderedDict with state other than `_metadata`")
                inst.__dict__.update(state)
            else:
                inst.__setstate__(state)
        else:
            raise UntrustedPickleError(f"refused BUILD on {_describe(inst)}")

    def load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        self._check_mutable(self.stack[-1], "SETITEM")
        self.stack[-1][key] = value

    def load_setitems(self):
        items = self.pop_mark()
        self._check_mutable(self.stack[-1], "SETITEMS")
        target = self.stack[-1]
        for index in range(0, len(items), 2):
            target[items[index]] = items[index + 1]

    def load_append(self):
        value = self.stack.pop()
        self._check_mutable(self.stack[-1], "APPEND")
        if not isinstance(self.stack[-1], list):
            raise UntrustedPickleError(f"refused APPEND on {_describe(self.stack[-1])}")
        self.stack[-1].append(value)

    def load_appends(self):
        items = self.pop_mark()
        self._check_mutable(self.stack[-1], "APPENDS")
        if not isinstance(self.stack[-1], list):
            raise UntrustedPickleError(f"refused APPENDS on {_describe(self.stack[-1])}")
        self.stack[-1].extend(items)

    def load_additems(self):
        items = self.pop_mark()
        self._check_mutable(self.stack[-1], "ADDITEMS")
        if not isinstance(self.stack[-1], set):
            raise UntrustedPickleError(f"refused ADDITEMS on {_describe(self.stack[-1])}")
        self.stack[-1].update(items)


_OVERRIDDEN = {
    pickle.REDUCE: _RestrictedUnpickler.load_reduce,
    pickle.NEWOBJ: _RestrictedUnpickler.load_newobj,
    pickle.NEWOBJ_EX: _RestrictedUnpickler.load_newobj_ex,
    pickle.BUILD: _RestrictedUnpickler.load_build,
    pickle.SETITEM: _RestrictedUnpickler.load_setitem,
    pickle.SETITEMS: _RestrictedUnpickler.load_setitems,
    pickle.APPEND: _RestrictedUnpickler.load_append,
    pickle.APPENDS: _RestrictedUnpickler.load_appends,
    pickle.ADDITEMS: _RestrictedUnpickler.load_additems,
    pickle.EXT1: _RestrictedUnpickler._refuse_extension,
    pickle.EXT2: _RestrictedUnpickler._refuse_extension,
    pickle.EXT4: _RestrictedUnpickler._refuse_extension,
}
for _opcode, _handler in _OVERRIDDEN.items():
    _RestrictedUnpickler.dispatch[_opcode[0]] = _handler


def _describe(target) -> str:
    if isinstance(target, types.ModuleType):
        return f"module {target.__name__}"
    if isinstance(target, type):
        return f"class {target.__module__}.{target.__qualname__}"
    if callable(target) and hasattr(target, "__qualname__"):
        return f"{getattr(target, '__module__', '?')}.{target.__qualname__}"
    return f"a {type(target).__name__} the pickle did not build"


# ------------------------------------------------------------------------------------------------ data files
class _DataUnpickler(_RestrictedUnpickler):
    """Builds only plain data: containers, strings, numbers, numpy arrays."""

    build_types = (np.ndarray, np.dtype)
    allowed = None

    def _lookup(self, module: str, name: str):
        if _DataUnpickler.allowed is None:
            _DataUnpickler.allowed = _data_globals()
        found = self.allowed.get(f"{module}.{name}")
        if found is None:
            raise UntrustedPickleError(
                f"{self.source}: refused to load {module}.{name}: this file may only hold dicts, lists, strings, "
                "numbers and numpy arrays"
            )
        return found

    def persistent_load(self, pid):
        raise UntrustedPickleError(f"{self.source}: refused a persistent reference in a data pickle")


def load_pickled_data(path: str | os.PathLike):
    """Unpickle a data file (e.g. `ava_dense_proposals_val.FAIR.recall_93.9.pkl`), refusing anything but plain data.

    Raises:
        FileNotFoundError: the file does not exist.
        UntrustedPickleError: the pickle names a class or function other than plain data (e.g. one that would run
            code), mutates an object it did not build, or asks for more memory than it holds; the message names the
            file.
        pickle.UnpicklingError: a truncated or corrupt file (the message names the file).
    """
    path = os.fspath(path)
    with open(path, "rb") as handle:
        payload = handle.read()
    try:
        return _DataUnpickler(io.BytesIO(payload), source=path).load()
    except UntrustedPickleError as error:
        raise UntrustedPickleError(_named(path, error)) from None
    except Exception as error:
        raise pickle.UnpicklingError(f"{path}: not a readable pickle ({type(error).__name__}: {error})") from error


def _named(path: str, error: Exception) -> str:
    message = str(error)
    return message if message.startswith(path) else f"{path}: {message}"


# ------------------------------------------------------------------------------------------------ checkpoints
# Modules whose globals can execute code, touch the system or reach arbitrary attributes: never built, never
# replaced by placeholders; their presence refuses the file.
_FORBIDDEN_MODULES = {
    "builtins", "__builtin__", "os", "posix", "nt", "sys", "subprocess", "shutil", "socket", "importlib", "runpy",
    "code", "codeop", "pty", "ctypes", "marshal", "pickle", "_pickle", "types", "operator", "functools", "webbrowser",
    "commands", "platform", "signal", "multiprocessing", "threading", "asyncio", "inspect", "pdb", "timeit", "io",
    "pathlib", "tempfile", "glob", "site", "sysconfig", "ensurepip", "pip", "setuptools", "distutils", "torch.hub",
    "torch._C", "torch.jit", "torch.ops", "torch.classes", "torch.package", "torch._utils", "torch.serialization",
    "numpy.testing", "numpy.f2py", "numpy.distutils", "numpy.lib.npyio", "numpy.ctypeslib", "numpy.dtypes", "copyreg",
    "_io", "zipimport", "pkgutil", "gc", "weakref", "atexit", "_thread", "_posixsubprocess", "mmap", "resource",
    "collections", "_codecs", "codecs",
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


def _check_tensor_extent(tensor: torch.Tensor) -> torch.Tensor:
    """Refuse a view that addresses more elements than its storage holds (stride 0 over a huge shape)."""
    if tensor.layout != torch.strided:
        raise UntrustedPickleError(f"refused a {tensor.layout} tensor: checkpoints hold strided tensors only")
    held = tensor.untyped_storage().nbytes() // max(1, tensor.element_size())
    if tensor.numel() > max(held, 1):
        raise UntrustedPickleError(
            f"refused a tensor of shape {tuple(tensor.shape)} and stride {tensor.stride()}: it addresses "
            f"{tensor.numel()} elements but its storage holds {held} (made contiguous it would take "
            f"{tensor.numel() * tensor.element_size()} bytes)"
        )
    return tensor


def _checked_rebuild(rebuild):
    def rebuild_checked(*args, **kwargs):
        return _check_tensor_extent(rebuild(*args, **kwargs))

    rebuild_checked.__qualname__ = rebuild.__name__
    return rebuild_checked


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    if not isinstance(data, torch.Tensor) or type(data) is not torch.Tensor:
        raise UntrustedPickleError("refused a Parameter that does not wrap a plain tensor")
    if state:
        raise UntrustedPickleError("refused a Parameter with extra state")
    return torch.nn.Parameter(data, bool(requires_grad))


def _torch_size(sizes=()):
    return torch.Size(_materialised(sizes, "torch.Size"))


def _defaultdict(factory=None, *args):
    if factory not in (None, list, dict, int, float, _set) and not (
        isinstance(factory, type) and issubclass(factory, UnpickledPlaceholder)
    ):
        raise UntrustedPickleError(f"refused a defaultdict whose factory is {_describe(factory)}")
    return collections.defaultdict(factory, *args)


def _counter(counts=None):
    if counts is not None and not isinstance(counts, dict):
        raise UntrustedPickleError(f"refused Counter({type(counts).__name__}): only a dict makes a Counter here")
    return collections.Counter(counts or {})


def _checkpoint_allowed_globals() -> dict[str, object]:
    allowed = {
        **_data_globals(),
        "collections.defaultdict": _defaultdict,
        "collections.Counter": _counter,
        "torch.Size": _torch_size,
        "torch.device": lambda *args: torch.device(*args),
        "torch.serialization._get_layout": torch.serialization._get_layout,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
        "builtins.getattr": _placeholder_getattr,
    }
    for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3"):
        if hasattr(torch._utils, name):
            allowed[f"torch._utils.{name}"] = _checked_rebuild(getattr(torch._utils, name))
    for value in vars(torch).values():
        if isinstance(value, (torch.dtype, torch.layout, torch.memory_format)):
            allowed[str(value)] = value
    return allowed


class _CheckpointUnpickler(_RestrictedUnpickler):
    build_types = (np.ndarray, np.dtype, collections.OrderedDict)
    allowed = None

    def _lookup(self, module: str, name: str):
        if _CheckpointUnpickler.allowed is None:
            _CheckpointUnpickler.allowed = _checkpoint_allowed_globals()
        full_name = f"{module}.{name}"
        if full_name in self.allowed:
            return self.allowed[full_name]
        root = module.split(".")[0]
        if module in _FORBIDDEN_MODULES or root in _FORBIDDEN_MODULES or any(
            module.startswith(forbidden + ".") for forbidden in _FORBIDDEN_MODULES
        ):
            raise UntrustedPickleError(f"refused to load {full_name}: it could run code or is not a checkpoint type")
        return _placeholder_class(full_name)


# A stand-in for the `pickle` module that torch.load accepts as `pickle_module`.
_restricted_pickle_module = types.ModuleType("restricted_pickle")
_restricted_pickle_module.Unpickler = _CheckpointUnpickler
_restricted_pickle_module.load = lambda file, **kwargs: _CheckpointUnpickler(file, **kwargs).load()
_restricted_pickle_module.__name__ = "restricted_pickle"


def load_checkpoint(path: str | os.PathLike, map_location="cpu"):
    """Load a PyTorch checkpoint without running code from it (see the module docstring for what is refused).

    Raises:
        FileNotFoundError: no such file.
        UntrustedPickleError: the checkpoint names a code-running global, mutates something it did not build, or
            addresses more memory than it holds (the message names the file).
        ValueError: a truncated or corrupt file, including whatever torch raises on garbage (the message names the
            file).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=False, pickle_module=_restricted_pickle_module)
    except UntrustedPickleError as error:
        raise UntrustedPickleError(_named(path, error)) from None
    except Exception as error:  # torch / zipfile / numpy on garbage: IndexError, AttributeError, RuntimeError, ...
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {error})") from error


__all__ = ["UntrustedPickleError", "UnpickledPlaceholder", "load_pickled_data", "load_checkpoint"]
