"""Hostile and careless input (issue 13): every entry point refuses it with a clear error naming the file, row or
argument, and changes nothing else.

Entry points attacked here: read_clip, the CSV readers, the unpicklers, the video processor, the converter, the
data set builder, the toy generator and the command lines. Every test builds its own small files (a few KB) so the
module runs in seconds.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from videomae_action_detection.processing.clip_reader import read_clip
from videomae_action_detection.processing.synthetic_video import write_synthetic_video


def _faststart_copy(source: Path, target: Path) -> Path:
    """Remux `source` with its index (moov) first, as web downloads are: cutting it leaves a readable header."""
    import av

    with av.open(str(source)) as reader, av.open(str(target), "w", options={"movflags": "faststart"}) as writer:
        stream = reader.streams.video[0]
        out_stream = writer.add_stream_from_template(stream)
        for packet in reader.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = out_stream
            writer.mux(packet)
    return target


# --------------------------------------------------------------------------------------------------- read_clip
def test_read_clip_past_the_cut_of_a_truncated_faststart_download_is_a_clear_error(tmp_path):
    """Issue 13 item 2: this raised `NameError: name 'av' is not defined`."""
    whole = write_synthetic_video(tmp_path / "whole.mp4", 300)
    data = _faststart_copy(whole, tmp_path / "faststart.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    frames, numbers = read_clip(cut, 1)  # before the cut: still reads
    assert frames.shape == (16, 48, 64, 3) and numbers[-1] == 58
    with pytest.raises(ValueError, match=r"cut\.mp4 \(corrupt or truncated file\)"):
        read_clip(cut, 8)
