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


# ------------------------------------------------------------------------------------------- CSV readers (BOM)
_BOM = b"\xef\xbb\xbf"


def test_bom_is_not_part_of_the_first_video_id_in_any_csv_reader(tmp_path):
    """Issue 13 item 3: with a UTF-8 BOM the slow CSV paths read the first video id as '\\ufeffvidA'."""
    from videomae_action_detection.processing.video_action_detection import ProposalsFile
    from videomae_action_detection.training.ava_annotations import read_excluded_keyframes
    from videomae_action_detection.training.ava_files import read_ava_csv, read_keyframe_list, read_label_map

    excluded = tmp_path / "excluded.csv"
    excluded.write_bytes(_BOM + b"vidA,0902\nvidB,0903\n")
    assert [row[:2] for row in read_keyframe_list(excluded)] == [("vidA", "0902"), ("vidB", "0903")]
    assert read_excluded_keyframes(excluded) == {("vidA", 902), ("vidB", 903)}

    groundtruth = tmp_path / "gt.csv"  # a 2-column row first: the slow exact pass reads it
    groundtruth.write_bytes(_BOM + b"vidA,0902\nvidA,0903,0.1,0.1,0.5,0.5,12,1\n")
    rows = read_ava_csv(groundtruth)
    assert list(rows.video_ids) == ["vidA"]
    fast = tmp_path / "fast.csv"  # pyarrow's pass: already right, stays right
    fast.write_bytes(_BOM + b"vidA,0903,0.1,0.1,0.5,0.5,12,1\n")
    assert list(read_ava_csv(fast).video_ids) == ["vidA"]

    proposals = tmp_path / "proposals.csv"
    proposals.write_bytes(_BOM + b"vidA,2,0.1,0.1,0.5,0.5\n")
    assert ProposalsFile(proposals).video_ids == ["vidA"]

    label_map = tmp_path / "labels.pbtxt"
    label_map.write_bytes(_BOM + b'item {\n  name: "stand"\n  id: 12\n}\n')
    assert read_label_map(label_map) == {12: "stand"}
