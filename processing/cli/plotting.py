"""What every picture of this project shares: a matplotlib `Figure` drawn off-screen (Agg, no pyplot, no global
backend change) and a PNG writer that stores the title in the file's text metadata.

matplotlib is an optional dependency: `pip install "videomae-action-detection[viz]"`.
"""

from __future__ import annotations

import os
from pathlib import Path

VIZ_INSTALL_HINT = 'pictures need matplotlib: pip install "videomae-action-detection[viz]" (or pip install matplotlib)'
DPI = 100


def require_matplotlib() -> None:
    """Raise ImportError (saying how to install it) unless matplotlib can be imported; for commands to check before
    their long work rather than after it."""
    try:
        import matplotlib.figure  # noqa: F401
        import matplotlib.backends.backend_agg  # noqa: F401
    except ImportError as error:
        raise ImportError(VIZ_INSTALL_HINT) from error


def new_figure(width_inches: float, height_inches: float):
    """A matplotlib `Figure` of `width_inches` x `height_inches` at `DPI` pixels per inch, not attached to pyplot.

    Raises:
        ImportError: matplotlib is not installed (the message says how to install it).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(VIZ_INSTALL_HINT) from error
    return Figure(figsize=(width_inches, height_inches), dpi=DPI)


def save_png(figure, path: str | os.PathLike, title: str, description: str = "") -> Path:
    """Write `figure` as a PNG (its size: the figure's inches x `DPI`); the PNG's `Title` / `Description` text chunks
    hold `title` / `description`. Writes to a temporary name first, so `path` is never left half-written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"pictures are written as PNG: give a path ending in .png, got {os.fspath(path)!r}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder of the picture does not exist: {path.parent}")
    FigureCanvasAgg(figure)
    partial = path.with_name(path.name + ".partial")
    try:
        figure.savefig(partial, format="png", dpi=DPI, metadata={"Title": title, "Description": description})
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
