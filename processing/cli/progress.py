"""The progress bars of every long step (toy generation, video probing, conversion, annotated-video writing, the
metric on large files, inference): one tqdm style, on stderr.

A bar is shown only when stderr is a terminal (as `datasets` and `transformers` do: nothing goes into logs and
pipes), when the call asks for one (`enabled=True`, the default) and unless `set_quiet(True)` was called (the
commands' `--quiet`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

_quiet = False


def set_quiet(quiet: bool = True) -> None:
    """Turn every bar of this package off (`quiet=True`) or back on, for the rest of the process."""
    global _quiet
    _quiet = bool(quiet)


def is_quiet() -> bool:
    return _quiet


def progress_bar(iterable: Iterable | None = None, *, desc: str, total: int | float | None = None, unit: str = "it",
                 unit_scale: bool = False, enabled: bool = True):
    """A tqdm bar over `iterable` (or updated by hand with `.update(n)`), `desc` on its left, counting `unit`s out of
    `total` (None: unknown). Disabled (a no-op bar) when `enabled` is False, after `set_quiet(True)`, or when stderr
    is not a terminal."""
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, unit_scale=unit_scale, file=sys.stderr,
                dynamic_ncols=True, disable=True if (_quiet or not enabled) else None)


__all__ = ["is_quiet", "progress_bar", "set_quiet"]
