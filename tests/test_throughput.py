"""Throughput tooling: the GPU benchmark's CPU smoke test, batched clip reading, the transcoded video store."""

import os
import re
import subprocess
import sys

from conftest import REPO_ROOT


def test_bench_gpu_runs_on_cpu_tiny():
    """`python benchmarks/bench_gpu.py --device cpu --tiny` prints every (shape, mode, pass) row and the data path."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "benchmarks/bench_gpu.py", "--device", "cpu", "--tiny"], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    rows = re.findall(r"^\| tiny \| (\S+) \| (\S+) \| (forward|train step) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)% \|",
                      result.stdout, flags=re.MULTILINE)
    assert {(shape, mode, kind) for shape, mode, kind, *_ in rows} == {
        (shape, mode, kind) for shape in ("4x64x64", "4x64x112") for mode in ("fp32", "bf16", "bf16+compile")
        for kind in ("forward", "train step")
    }
    assert all(float(clips_per_s) > 0 for *_, clips_per_s, _, _ in rows)
    assert "MFU against 989 TFLOP/s" in result.stdout
    data = re.findall(r"^\| (\d+) \| ([\d.]+) \|$", result.stdout, flags=re.MULTILINE)
    assert [workers for workers, _ in data] == ["0", "1"] and all(float(rate) > 0 for _, rate in data)


# --------------------------------------------------------------------------------------- several clips, one decode
def test_read_clips_equal_read_clip_with_one_decode_per_overlapping_run(tmp_path):
    """Keyframes 1 s apart (16 x 4 clips span 2 s) share one forward decode; far apart ones get their own; the frames
    and numbers equal read_clip's for each keyframe, in the order given, clamped clips at both ends included."""
    import numpy as np
    import pytest

    from videomae_action_detection.processing import read_clip, read_clips, read_frames
    from videomae_action_detection.processing.synthetic_video import write_synthetic_video

    video = write_synthetic_video(tmp_path / "long_gop.mp4", 600, gop=250, b_frames=2)  # 20 s, keyframes 8.3 s apart
    timestamps = [3, 0, 1, 2, 13, 12, 20, 4, 19]
    info = {}
    clips = read_clips(video, timestamps, decode_info=info)
    separate_decoded = 0
    for timestamp, (frames, numbers) in zip(timestamps, clips):
        single = {}
        expected_frames, expected_numbers = read_clip(video, timestamp)
        read_frames(video, expected_numbers, decode_info=single)
        separate_decoded += single["decoded_frames"]
        assert np.array_equal(numbers, expected_numbers), timestamp
        assert np.array_equal(frames, expected_frames), timestamp
    assert info["passes"] == 3  # 0-4 s, 12-13 s, 19-20 s
    assert info["decoded_frames"] < separate_decoded / 2, (info, separate_decoded)

    memory = np.stack([read_clip(video, t)[0][0] for t in range(1, 6)])  # 5 frames in memory
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
               for a, b in zip(read_clips(memory, [0], fps=1, clip_len=2, frame_interval=1),
                               [read_clip(memory, 0, fps=1, clip_len=2, frame_interval=1)]))
    with pytest.raises(ValueError, match="timestamp 21 is outside video"):
        read_clips(video, [2, 21])


def test_evaluation_batches_read_a_videos_keyframes_in_one_decode(tmp_path, monkeypatch):
    """The evaluation DataLoader's batches (`AVAClipDataset.__getitems__`) equal the items read one by one, and the
    keyframes of one video in a batch cost one forward decode."""
    import torch

    from videomae_action_detection.processing import ava_video_processor, clip_reader
    from videomae_action_detection.training.ava_dataset import load_ava_dataset
    from videomae_action_detection.training.run_action_detection import AVAClipDataset, collate_action_detection
    from videomae_action_detection.training.toy_dataset import generate_toy_dataset

    root = generate_toy_dataset(tmp_path / "toy", seed=2, train_videos=1, val_videos=2, keyframes_per_video=3,
                                width=96, height=96, min_people=1, max_people=2)
    validation = load_ava_dataset(root, "ava", cache_dir=tmp_path / "cache")["validation"]
    clips = AVAClipDataset(validation, ava_video_processor(size={"shortest_edge": 96}), train=False, clip_len=8,
                           frame_interval=8, num_labels=80)
    passes = []
    decode_at = clip_reader._decode_at

    def counting(*args, **kwargs):
        passes.append(1)
        return decode_at(*args, **kwargs)

    monkeypatch.setattr(clip_reader, "_decode_at", counting)
    indices = list(range(len(validation)))
    assert len({validation[i]["video_id"] for i in indices}) == 2 and len(indices) == 6
    batched = clips.__getitems__(indices)
    assert len(passes) == 2  # one per video (its 3 keyframes' clips overlap)
    one_by_one = [clips[index] for index in indices]
    assert len(passes) == 2 + 6
    for first, second in zip(batched, one_by_one):
        assert first.keys() == second.keys()
        for name in first:
            assert torch.equal(torch.as_tensor(first[name]), torch.as_tensor(second[name])), name
    loader = torch.utils.data.DataLoader(clips, batch_size=6, collate_fn=collate_action_detection)
    passes.clear()
    assert next(iter(loader))["example_index"].tolist() == indices and len(passes) == 2
