"""Write synthetic H.264 videos with PyAV, for tests and benchmarks of clip reading.

Each frame shows its own index as a row of black/white cells (16 bits) over a moving colour gradient, so two
different frames never look alike after compression and a frame read at the wrong position shows.
"""

from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=4)
def _gradients(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    x = (np.arange(width, dtype=np.int64) * 255 // max(1, width - 1)).astype(np.uint8)
    y = (np.arange(height, dtype=np.int64) * 255 // max(1, height - 1)).astype(np.uint8)
    return np.broadcast_to(x[None, :], (height, width)), np.broadcast_to(y[:, None], (height, width))


def synthetic_frame(index: int, width: int, height: int) -> np.ndarray:
    """Frame `index` (0-based) as `(height, width, 3)` uint8 RGB."""
    x, y = _gradients(width, height)
    frame = np.empty((height, width, 3), dtype=np.uint8)
    np.add(x, np.uint8((3 * index) % 256), out=frame[..., 0])  # uint8 arithmetic wraps modulo 256
    np.add(y, np.uint8((5 * index) % 256), out=frame[..., 1])
    frame[..., 2] = (7 * index) % 256
    cell = max(2, min(width // 16, height // 4))
    for bit in range(16):
        if bit * cell + cell > width:
            break
        frame[:cell, bit * cell : (bit + 1) * cell] = 255 if (index >> bit) & 1 else 0
    return frame


def synthetic_frame_index(frame: np.ndarray) -> int:
    """The index drawn into a decoded `(height, width, 3)` synthetic frame (inverse of `synthetic_frame`)."""
    height, width = frame.shape[:2]
    cell = max(2, min(width // 16, height // 4))
    index = 0
    for bit in range(16):
        if bit * cell + cell > width:
            break
        centre = frame[cell // 2, bit * cell + cell // 2].astype(np.int32)
        index |= int(centre.mean() > 127) << bit
    return index


def write_synthetic_video(
    path,
    num_frames: int,
    *,
    width: int = 64,
    height: int = 48,
    fps=30,
    gop: int = 30,
    b_frames: int = 2,
    preset: str = "ultrafast",
    crf: int = 23,
    codec: str = "libx264",
) -> Path:
    """Write `num_frames` synthetic frames as a yuv420p file; the container follows the suffix (mp4, mkv, webm, ...).

    `codec`: "libx264" (H.264; `preset`, `crf`, `b_frames` apply) or another PyAV encoder such as "libvpx-vp9" for
    webm. Width and height must be even. `gop`: keyframe interval; `b_frames`: max consecutive B-frames (0 for
    none). `fps` may be a Fraction (e.g. Fraction(30000, 1001)). Returns the path.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(100000))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.gop_size = gop
        if codec == "libx264":
            stream.options = {
                "preset": preset,
                "crf": str(crf),
                "bf": str(b_frames),
                "keyint_min": str(gop),
                "sc_threshold": "0",
            }
        elif codec.startswith("libvpx"):
            stream.options = {"deadline": "realtime", "cpu-used": "8", "crf": str(crf), "b": "0"}
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(synthetic_frame(index, width, height), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
