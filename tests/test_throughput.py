"""Throughput tooling: the GPU benchmark's CPU smoke test, batched clip reading, the transcoded video store."""

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT


def test_bench_gpu_runs_on_cpu_tiny():
    """`python benchmarks/bench_gpu.py --device cpu --tiny` prints every (shape, mode, pass) row and the data path with
    0 and 1 DataLoader workers. The compiled rows use the aot_eager backend (dynamo capture and AOTAutograd's
    backward; inductor's C++ code generation alone takes ~1.5 min on 2 cores) and one torch thread (2 threads on a
    shared 2-core machine make each tiny op wait): ~20 s rather than ~100 s."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "benchmarks/bench_gpu.py", "--device", "cpu", "--tiny",
                             "--compile-backend", "aot_eager"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    rows = re.findall(r"^\| tiny \| (\S+) \| (\S+) \| (forward|train step) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)% \| ([\d.]+) "
                      r"\| (- |\d+ / \d+ )\|$", result.stdout, flags=re.MULTILINE)
    expected = [(shape, mode, kind) for shape in ("4x64x64", "4x64x112") for mode in ("fp32", "bf16", "bf16+compile")
                for kind in ("forward", "train step")]
    assert [(shape, mode, kind) for shape, mode, kind, *_ in rows] == expected  # each once, in the table's order
    assert all(float(clips_per_s) > 0 and float(peak) > 0 for *_, clips_per_s, _, _, peak, _ in rows)
    # The +compile rows really ran compiled graphs (a silent fallback to eager would compile none).
    for shape, mode, kind, *_, graphs in rows:
        assert (graphs == "- ") == (mode != "bf16+compile"), (shape, mode, kind, graphs)
        if mode == "bf16+compile":
            assert int(graphs.split("/")[0]) >= 1, (shape, mode, kind, graphs)
    assert "batch 2, MFU against 989 TFLOP/s (bf16 dense peak), torch.compile backend aot_eager" in result.stdout
    assert [line for line in result.stderr.splitlines() if line.startswith("done: ")] == [
        f"done: tiny {name} {mode}" for name in ("train", "eval") for mode in ("fp32", "bf16", "bf16+compile")]
    assert "data path: read_clip + training transform, DataLoader batch 8, 16 clips" in result.stdout
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
    from videomae_action_detection.training.data.ava_dataset import load_ava_dataset
    from videomae_action_detection.training.clip_dataset import AVAClipDataset, collate_action_detection
    from videomae_action_detection.training.data.toy_dataset import generate_toy_dataset

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


# ---------------------------------------------------------------------------------------------- transcoded store
TRANSCODE_TOY = dict(train_videos=2, val_videos=2, keyframes_per_video=3, width=96, height=96, min_people=1,
                     max_people=2)


def test_transcoded_store_frames_equal_decode_plus_resize(tmp_path):
    """`videomae-ava-dataset DATA --transcode DIR` on the toy set: the builder's examples point at the store, read_clip
    returns the same frame numbers, and the frames equal the source's decode + the processor's resize within the
    H.264 error; the files are 30 fps, intra-only (every frame a keyframe), at the store's short side, and a clip read
    decodes only the clip's frames."""
    import json

    import av
    import numpy as np

    from videomae_action_detection.processing import read_clip, read_frames
    from videomae_action_detection.training.data.ava_dataset import load_ava_dataset
    from videomae_action_detection.training.data.dataset_command import main
    from videomae_action_detection.training.data.toy_dataset import generate_toy_dataset
    from videomae_action_detection.training.data.transcode import resize_frame

    root = generate_toy_dataset(tmp_path / "toy", seed=5, **TRANSCODE_TOY)
    store = tmp_path / "store"
    assert main([str(root), "--cache_dir", str(tmp_path / "cache"), "--transcode", str(store),
                 "--transcode_short_side", "64", "--transcode_workers", "2"]) == 0
    original = load_ava_dataset(root, "ava", cache_dir=tmp_path / "cache")
    transcoded = load_ava_dataset(root, "ava", cache_dir=tmp_path / "cache", transcoded_dir=store)
    differences, expected_frames, decoded = [], [], {}
    for split in original:
        for before, after in zip(original[split], transcoded[split]):
            assert after["video_path"] == str(store / "videos" / Path(before["video_path"]).name)
            assert {k: v for k, v in before.items() if k != "video_path"} == \
                {k: v for k, v in after.items() if k != "video_path"}
            arguments = dict(timestamp_start=before["timestamp_start"], video_start=before["video_start"],
                             fps=before["fps"], clip_len=8, frame_interval=8, num_frames=before["num_frames"] or None)
            frames, numbers = read_clip(before["video_path"], before["timestamp"], **arguments)
            stored, stored_numbers = read_frames(after["video_path"], numbers, decode_info=decoded, **{
                name: value for name, value in arguments.items() if name in ("timestamp_start", "video_start", "fps")})
            assert np.array_equal(numbers, stored_numbers)
            assert decoded["decoded_frames"] == len(set(numbers.tolist())), decoded
            assert stored.shape == (8, 64, 64, 3)
            expected = np.stack([resize_frame(frame, (64, 64)) for frame in frames])
            expected_frames.append(expected)
            differences.append(np.abs(stored.astype(np.int16) - expected))
    differences = np.concatenate([d.reshape(-1) for d in differences])
    jpeg = np.concatenate([np.abs(_jpeg_round_trip(frames).astype(np.int16) - frames).reshape(-1)
                           for frames in expected_frames])
    print(f"transcoded vs decode + resize: mean |diff| {differences.mean():.2f} grey levels, 99th percentile "
          f"{np.percentile(differences, 99):.0f}; JPEG quality 95 (rawframes) of the same frames: mean "
          f"{jpeg.mean():.2f}, 99th percentile {np.percentile(jpeg, 99):.0f}")
    assert differences.mean() <= jpeg.mean() and differences.mean() < 3.0, (differences.mean(), jpeg.mean())
    assert np.percentile(differences, 99) <= np.percentile(jpeg, 99) + 4

    with av.open(str(next(store.glob("videos/*.mp4")))) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 30 and (stream.height, stream.width) == (64, 64)
        key_frames = [frame.key_frame for frame in container.decode(stream)]
        assert len(key_frames) > 30 and all(key_frames)
    settings = json.loads((store / "manifest.json").read_text())["settings"]
    assert {name: settings[name] for name in ("gop", "tune", "crf", "pixel_format", "b_frames", "short_side")} == {
        "gop": 1, "tune": "none", "crf": 14, "pixel_format": "yuv444p", "b_frames": 0, "short_side": 64}


def test_intra_only_videos_decode_only_the_frames_asked_for(tmp_path):
    """In a video whose every frame is a keyframe, `read_frames` decodes only the frames it returns (from the
    packets' timestamps), with the frames of a full decode: scattered numbers, repeats, the first frames, and numbers
    past the end (the last frame, whose duration gives the end). A video with P-frames is decoded forward as before."""
    import av
    import numpy as np

    from videomae_action_detection.processing import read_frames
    from videomae_action_detection.processing.synthetic_video import write_synthetic_video

    intra = write_synthetic_video(tmp_path / "intra.mp4", 90, gop=1, b_frames=0)
    predicted = write_synthetic_video(tmp_path / "predicted.mp4", 90, gop=30, b_frames=0)
    for video, intra_only in ((intra, True), (predicted, False)):
        with av.open(str(video)) as container:
            assert all(packet.is_keyframe for packet in container.demux(video=0) if packet.size) is intra_only
        with av.open(str(video)) as container:
            everything = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        for numbers in ([40, 3, 77, 3, 58], [1, 2], [88, 90, 95, 120], [61]):
            info = {}
            frames, used = read_frames(video, numbers, decode_info=info)
            assert used.tolist() == [min(k, 90) for k in numbers]
            assert all(np.array_equal(frame, everything[k - 1]) for frame, k in zip(frames, used.tolist()))
            if intra_only:
                assert info["decoded_frames"] == len(set(used.tolist()) | ({90} if info["reached_end"] else set()))
            else:
                assert info["decoded_frames"] > max(used) - min(used)
            assert info["reached_end"] == (max(numbers) > 90 or max(numbers) == 90)
        # A 24 fps timeline over the 30 fps file: timeline frame k shows file frame floor((k - 1) * 30 / 24).
        frames, used = read_frames(video, [1, 2, 3, 4, 5, 50], fps=24)
        assert all(np.array_equal(frame, everything[(k - 1) * 30 // 24]) for frame, k in zip(frames, used.tolist()))


def test_store_settings_are_recorded_and_a_store_of_other_settings_is_read_but_not_extended(tmp_path):
    """The manifest names every setting (GOP, tune, pixel format); a store made with other settings (or by the
    earlier version-1 manifest, GOP 16 without `tune`) still gives its paths, and adding videos to it is refused."""
    import json

    import pytest

    from videomae_action_detection.processing.synthetic_video import write_synthetic_video
    from videomae_action_detection.training.data.transcode import MANIFEST_NAME, transcode_videos, transcoded_paths

    data = tmp_path / "data"
    videos = [write_synthetic_video(data / "videos" / f"v{i}.mp4", 40, width=64, height=48, gop=30) for i in range(2)]
    store = tmp_path / "store"
    manifest = transcode_videos(data, videos[:1], store, short_side=48, progress=False)
    assert manifest["settings"]["gop"] == 1 and manifest["settings"]["tune"] == "none"
    with pytest.raises(ValueError, match="transcoded with .*'gop': 1.*not .*'gop': 8"):
        transcode_videos(data, videos, store, short_side=48, gop=8, progress=False)
    with pytest.raises(ValueError, match="`tune` must be one of"):
        transcode_videos(data, videos, tmp_path / "other", short_side=48, tune="film", progress=False)
    older = json.loads((store / MANIFEST_NAME).read_text())
    older["settings"] = {"version": 1, "short_side": 48, "gop": 16, "crf": 18, "fps": 30, "codec": "libx264",
                         "b_frames": 0}
    (store / MANIFEST_NAME).write_text(json.dumps(older))
    assert transcoded_paths(data, store) == {str(videos[0]): str(store / "videos" / "v0.mp4")}
    with pytest.raises(ValueError, match="use another folder or the same settings"):
        transcode_videos(data, videos, store, short_side=48, progress=False)


def _jpeg_round_trip(frames):
    """(T, H, W, 3) uint8 through JPEG quality 95 (torchvision / libjpeg-turbo), as rawframes store them."""
    import numpy as np
    import torch
    from torchvision.io import decode_jpeg, encode_jpeg

    return np.stack([decode_jpeg(encode_jpeg(torch.from_numpy(frame).permute(2, 0, 1).contiguous(), quality=95))
                     .permute(1, 2, 0).numpy() for frame in frames])


def _decoded(path: Path):
    import av
    import numpy as np

    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]).astype(np.int16)


def test_transcoding_resumes_after_a_kill(tmp_path):
    """Killed mid-file (SIGKILL while a `.partial` file is written), and the states a kill leaves between files (a
    finished file not yet in the manifest, a manifest listing a subset): a rerun finishes with the same manifest and
    frames as an uninterrupted run, and a second rerun has nothing to do."""
    import json
    import signal
    import time

    import numpy as np

    from videomae_action_detection.processing.synthetic_video import write_synthetic_video
    from videomae_action_detection.training.data.transcode import MANIFEST_NAME, transcode_videos

    data = tmp_path / "data"
    videos = [write_synthetic_video(data / "videos" / f"v{i}.mp4", 300 + 150 * i, width=128, height=96, gop=60)
              for i in range(3)]
    settings = dict(short_side=64, gop=16, crf=18, progress=False)
    clean = transcode_videos(data, videos, tmp_path / "clean", **settings)

    store = tmp_path / "store"
    code = (f"from videomae_action_detection.training.data.transcode import transcode_videos\n"
            f"transcode_videos({str(data)!r}, [{str(videos[2])!r}], {str(store)!r}, short_side=64, gop=16, crf=18, "
            f"progress=False)\n")
    process = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, HF_HUB_OFFLINE="1"))
    partial = store / "videos" / "v2.partial.mp4"
    deadline = time.monotonic() + 120
    while not (partial.exists() and partial.stat().st_size > 0) and time.monotonic() < deadline:
        assert process.poll() is None, "the transcoding finished before it could be killed"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert partial.exists() and not (store / "videos" / "v2.mp4").exists()
    assert not (store / MANIFEST_NAME).exists()

    transcode_videos(data, videos[:1], store, **settings)   # a run that stopped after its first video ...
    (store / "videos" / "v1.mp4").write_bytes((tmp_path / "clean" / "videos" / "v1.mp4").read_bytes())
    # ... and one killed after writing v1.mp4 but before its manifest entry: v1 is not trusted, it is redone
    done_before = (store / "videos" / "v0.mp4").stat().st_mtime_ns
    resumed = transcode_videos(data, videos, store, **settings)
    assert (store / "videos" / "v0.mp4").stat().st_mtime_ns == done_before  # skipped
    assert resumed == clean
    assert sorted(p.name for p in (store / "videos").iterdir()) == ["v0.mp4", "v1.mp4", "v2.mp4"]
    for name in ("v0.mp4", "v1.mp4", "v2.mp4"):
        # libx264 was seen to give slightly different bytes from run to run here (as for the toy set's videos): the
        # decoded frames agree within the encoding noise (about 0.5 grey levels seen), well below a shifted frame (~4)
        first, second = _decoded(store / "videos" / name), _decoded(tmp_path / "clean" / "videos" / name)
        assert first.shape == second.shape and np.abs(first - second).mean() < 1.0, name
    stamp = {p.name: p.stat().st_mtime_ns for p in (store / "videos").iterdir()}
    again = transcode_videos(data, videos, store, **settings)
    assert again == json.loads((store / MANIFEST_NAME).read_text())
    assert stamp == {p.name: p.stat().st_mtime_ns for p in (store / "videos").iterdir()}


# ----------------------------------------------------------------------------------------------------- CPU model
def test_resized_position_table_is_computed_once_per_input_size(monkeypatch):
    """The bicubic resize of the position table runs once per (grid, device, dtype), and the outputs are unchanged."""
    import torch

    from conftest import tiny_config
    from videomae_action_detection.modeling import VideoMAEForActionDetection
    from videomae_action_detection.modeling import modeling_videomae_action_detection as modeling

    torch.manual_seed(0)
    model = VideoMAEForActionDetection(tiny_config(image_size=32)).eval()
    calls = []
    resize = modeling.resize_position_table
    monkeypatch.setattr(modeling, "resize_position_table", lambda *a, **k: calls.append(a[2]) or resize(*a, **k))
    boxes = [torch.tensor([[2.0, 2.0, 30.0, 40.0]])]
    first = model(torch.randn(1, 4, 3, 48, 64), boxes).logits
    again = model(torch.randn(1, 4, 3, 48, 64), boxes).logits  # same size: no resize
    model(torch.randn(1, 4, 3, 64, 48), boxes)
    model(torch.randn(1, 4, 3, 48, 64), boxes)
    assert calls == [(3, 4), (4, 3)]
    fresh = VideoMAEForActionDetection(tiny_config(image_size=32)).eval()
    fresh.load_state_dict(model.state_dict())
    pixel_values = torch.randn(1, 4, 3, 48, 64)
    torch.testing.assert_close(model(pixel_values, boxes).logits, fresh(pixel_values, boxes).logits, rtol=0, atol=0)
    assert first.shape == again.shape
