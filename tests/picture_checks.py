"""Reading generated PNGs back: runs of colour along a pixel column, to count the bars / lanes a chart drew."""

from pathlib import Path

import numpy as np
from PIL import Image


def load_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a PNG."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def png_text(path: Path) -> dict[str, str]:
    """The PNG's text chunks (Title, Description, ...)."""
    with Image.open(path) as image:
        image.load()
        return dict(image.text)


def colour_runs(column: np.ndarray, colours: dict[str, tuple[int, int, int]], tolerance: int = 12,
                min_length: int = 4) -> list[str]:
    """Top to bottom, the names of the colours that `column` (N, 3) shows in runs of >= `min_length` pixels within
    `tolerance` per channel (antialiased edges and text belong to no run)."""
    names = np.full(len(column), "", dtype=object)
    for name, rgb in colours.items():
        close = (np.abs(column.astype(int) - np.array(rgb)) <= tolerance).all(axis=1)
        names[close] = name
    runs, start = [], 0
    for index in range(1, len(column) + 1):
        if index == len(column) or names[index] != names[start]:
            if names[start] and index - start >= min_length:
                runs.append(names[start])
            start = index
    return runs


def left_spine(image: np.ndarray) -> tuple[int, int, int]:
    """(x, top, bottom) of the longest vertical run of dark pixels: the y axis of a chart."""
    dark = image.max(axis=2) < 80
    best = (0, 0, 0, 0)
    for x in range(image.shape[1]):
        column = dark[:, x]
        if not column.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], column.astype(int), [0]])))
        starts, ends = edges[::2], edges[1::2]
        longest = int(np.argmax(ends - starts))
        if ends[longest] - starts[longest] > best[0]:
            best = (int(ends[longest] - starts[longest]), x, int(starts[longest]), int(ends[longest]))
    return best[1], best[2], best[3]
