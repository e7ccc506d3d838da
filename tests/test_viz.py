"""Pictures: the per-class AP chart (`videomae-ava-eval --plot`), the per-person timeline, read back from the PNG."""

import json
import math
import sys
import warnings

import pytest

from conftest import fixture_path
from picture_checks import colour_runs, left_spine, load_rgb, png_text

def _bar_colours():
    from videomae_action_detection.training.evaluation.ap_chart import GROUP_STYLES, TRACK_COLOUR

    colours = {group: rgb for group, (_, rgb) in GROUP_STYLES.items()}
    colours["track"] = TRACK_COLOUR
    return colours


def _bars(png):
    """Per bar row, top to bottom: its group, or "track" where the AP is 0 (only the grey track shows)."""
    image = load_rgb(png)
    x, top, bottom = left_spine(image)
    return colour_runs(image[top:bottom, x + 3], _bar_colours())


@pytest.mark.parametrize("protocol", ["activitynet-2020", "mmaction2"])
def test_eval_plot_draws_one_bar_per_class_with_an_ap(tmp_path, capsys, protocol):
    from videomae_action_detection.modeling import AVA_ACTION_TYPES
    from videomae_action_detection.training.evaluation.ava_evaluation import evaluate_ava_frame_map
    from videomae_action_detection.training.evaluation.evaluation_command import main

    folder = fixture_path("ava_eval", "synthetic_small")
    results = json.loads((folder / "expected.json").read_text())["results"]
    expected = results["official_2020" if protocol == "activitynet-2020" else "mmaction2"]
    groundtruth = folder / ("groundtruth.csv" if protocol == "activitynet-2020" else "groundtruth_2019.csv")
    excluded = folder / "excluded_timestamps.csv" if protocol == "mmaction2" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = evaluate_ava_frame_map(groundtruth, folder / "detections.csv", folder / "label_map.pbtxt",
                                         excluded, protocol)  # equal to the reference: tests/test_metric.py
    with_ap = {action_id: value for action_id, value in outcome.average_precision.items() if not math.isnan(value)}
    arguments = ["--groundtruth", str(groundtruth),
                 "--detections", str(folder / "detections.csv"), "--label_map", str(folder / "label_map.pbtxt"),
                 "--protocol", protocol, "--plot", str(tmp_path / "ap.png")]
    if protocol == "mmaction2":
        arguments += ["--excluded_timestamps", str(folder / "excluded_timestamps.csv")]
    assert main(arguments) == 0
    assert f"per-class AP chart ({len(with_ap)} classes)" in capsys.readouterr().out

    image = load_rgb(tmp_path / "ap.png")
    groups = [AVA_ACTION_TYPES[action_id] for action_id in with_ap]
    group_gaps = len(set(groups)) - 1
    assert image.shape[1] == 800
    assert image.shape[0] == round(100 * max(2.5, (len(with_ap) + group_gaps) * 0.22 + 1.6))
    bars = _bars(tmp_path / "ap.png")
    assert len(bars) == len(with_ap) > 40
    # AP 0 shows only the track; every other bar its group's colour, groups in AVA's order
    visible = [groups[i] for i, action_id in enumerate(with_ap) if with_ap[action_id] * 448 >= 3]
    assert [bar for bar in bars if bar != "track"] == sorted(
        visible, key=["PERSON_MOVEMENT", "OBJECT_MANIPULATION", "PERSON_INTERACTION"].index)
    assert bars.count("track") == sum(1 for value in with_ap.values() if value * 448 < 1)
    mean = expected["PascalBoxes_Precision/mAP@0.5IOU" if protocol == "activitynet-2020" else "overall"]
    text = png_text(tmp_path / "ap.png")
    assert text["Title"] == f"frame-mAP@0.5IoU {100 * mean:.2f} ({protocol} protocol, {len(with_ap)} classes)"
    drawn = [item.split(": ") for item in text["Description"].split("; ")]
    assert sorted(int(entry.split(" ", 1)[0]) for entry, _ in drawn) == sorted(with_ap)
    for entry, value in drawn:
        assert float(value) == pytest.approx(with_ap[int(entry.split(" ", 1)[0])], abs=1e-6)


def test_eval_plot_without_matplotlib_or_with_a_bad_path_is_an_error(tmp_path, capsys, monkeypatch):
    from videomae_action_detection.training.evaluation.evaluation_command import main

    folder = fixture_path("ava_eval", "synthetic_small")
    arguments = ["--groundtruth", str(folder / "groundtruth.csv"), "--detections", str(folder / "detections.csv"),
                 "--label_map", str(folder / "label_map.pbtxt")]
    assert main(arguments + ["--plot", str(tmp_path / "ap.jpg")]) == 2
    assert "error: --plot: the chart is written as PNG" in capsys.readouterr().err
    assert main(arguments + ["--plot", str(tmp_path / "no" / "ap.png")]) == 2
    assert "folder of the chart does not exist" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(arguments + ["--plot", str(tmp_path / "ap.png")]) == 2
    assert 'pip install "videomae-action-detection[viz]"' in capsys.readouterr().err
    assert not (tmp_path / "ap.png").exists()


# ------------------------------------------------------------------------------------------------ annotated video
def _video_with_audio(path, seconds=2, fps=25, width=64, height=48, sample_rate=16000, audio_codec="aac"):
    """An h264 video with a sine tone in `audio_codec`; returns the audio packets' bytes as muxed."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream(audio_codec, rate=sample_rate)
        audio.layout = "mono"
        for index in range(seconds * fps):
            image = np.full((height, width, 3), index * 5 % 256, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        samples_per_frame = 1024
        for start in range(0, seconds * sample_rate, samples_per_frame):
            times = (np.arange(start, start + samples_per_frame) / sample_rate).astype(np.float32)
            tone = (0.3 * np.sin(2 * np.pi * 440 * times)).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
            frame.sample_rate, frame.pts = sample_rate, start
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)


def _audio_packets(path):
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        packets = [bytes(packet) for packet in container.demux(stream) if packet.dts is not None]
        return stream.codec_context.name, stream.sample_rate, packets


def test_annotated_video_keeps_the_audio_stream(tmp_path):
    from fractions import Fraction

    import numpy as np

    from videomae_action_detection.processing.inference.annotated_video import write_annotated_video
    from videomae_action_detection.processing.keyframe_actions import KeyframeResult

    source = tmp_path / "with_audio.mp4"
    _video_with_audio(source)
    codec, rate, packets = _audio_packets(source)
    assert codec == "aac" and len(packets) > 20
    scores = np.zeros((1, 80), np.float32)
    scores[0, 11] = 0.9
    result = KeyframeResult(Fraction(0), np.array([[0.1, 0.1, 0.6, 0.9]]), np.array([0.99]), scores)
    frames = write_annotated_video(source, tmp_path / "annotated.mp4", [result], progress=False)
    assert frames == 50
    assert _audio_packets(tmp_path / "annotated.mp4") == (codec, rate, packets)  # the same packets, not re-encoded
    import av

    with av.open(str(tmp_path / "annotated.mp4")) as container:
        assert container.streams.video[0].frames == 50
        assert abs(float(container.streams.audio[0].duration * container.streams.audio[0].time_base) - 2.0) < 0.1


def test_audio_the_output_container_cannot_hold_is_an_error(tmp_path, monkeypatch):
    import av

    from videomae_action_detection.processing.inference.annotated_video import write_annotated_video

    source = tmp_path / "with_audio.mp4"
    _video_with_audio(source)
    real_open = av.open

    class NoAudioCodecs:  # a container that accepts no audio codec
        def __init__(self, container):
            self._container = container

        def __getattr__(self, name):
            return getattr(self._container, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._container.__exit__(*exc)

        @property
        def supported_codecs(self):
            return {"h264", "libx264"}

    monkeypatch.setattr(av, "open", lambda path, mode="r", **kw: NoAudioCodecs(real_open(path, mode, **kw))
                        if mode == "w" else real_open(path, mode, **kw))
    with pytest.raises(ValueError, match="audio of .*with_audio.mp4 is aac, which the container of .*out.mp4 cannot"):
        write_annotated_video(source, tmp_path / "out.mp4", [], progress=False)


# ------------------------------------------------------------------------------------------------------ timeline
# Person A moves right a little each second (listed second at 2 s), B appears at 1 s, C (far from both) at 3 s.
TIMELINE_PROPOSALS = {
    "bikes,0000": [[0.10, 0.20, 0.45, 0.95, 0.99]],
    "bikes,0001": [[0.12, 0.20, 0.47, 0.95, 0.99], [0.60, 0.10, 0.90, 0.80, 0.99]],
    "bikes,0002": [[0.62, 0.10, 0.92, 0.80, 0.99], [0.14, 0.20, 0.49, 0.95, 0.99]],
    "bikes,0003": [[0.30, 0.00, 0.40, 0.10, 0.99]],
}


def _results(proposals):
    from fractions import Fraction

    import numpy as np

    from videomae_action_detection.processing.keyframe_actions import KeyframeResult

    rng = np.random.default_rng(0)
    return [KeyframeResult(Fraction(int(key[-4:])), np.array(boxes)[:, :4], np.array(boxes)[:, 4],
                           rng.random((len(boxes), 80)).astype(np.float32)) for key, boxes in proposals.items()]


def test_iou_linking_keeps_a_person_on_one_track():
    from videomae_action_detection.processing.inference.timeline import link_tracks

    results = _results(TIMELINE_PROPOSALS)
    assert [track.boxes for track in link_tracks(results)] == [((0, 0), (1, 0), (2, 1)), ((1, 1), (2, 0)), ((3, 0),)]
    assert [track.boxes for track in link_tracks(results, link=False)] == [
        ((0, 0), (1, 0), (2, 0), (3, 0)), ((1, 1), (2, 1))]
    # IoU of A at 0 s and 1 s is 0.35 / 0.37 = 0.89: a stricter threshold splits it
    assert len(link_tracks(results, iou_threshold=0.95)) == 6
    gap = [results[0], results[3], results[2]]  # A, then only C, then A again
    assert [len(track.boxes) for track in link_tracks(gap, max_gap=2)] == [2, 1, 1]  # A again after one miss
    with pytest.raises(ValueError, match="iou_threshold"):
        link_tracks(results, iou_threshold=0)


@pytest.mark.parametrize("tracking", [True, False])
def test_cli_timeline_draws_one_lane_per_track(tmp_path, capsys, tracking):
    import pickle

    import numpy as np
    import torch

    from conftest import tiny_config
    from videomae_action_detection.modeling import VideoMAEForActionDetection
    from videomae_action_detection.processing.inference.annotated_video import PALETTE
    from videomae_action_detection.processing.inference.command import main

    torch.manual_seed(0)
    VideoMAEForActionDetection(tiny_config()).eval().save_pretrained(tmp_path / "model")
    with open(tmp_path / "proposals.pkl", "wb") as handle:
        pickle.dump({key: np.array(value, np.float32) for key, value in TIMELINE_PROPOSALS.items()}, handle)
    png = tmp_path / "timeline.png"
    arguments = [str(fixture_path("videos", "bikes.mp4")), "--model", str(tmp_path / "model"), "--proposals",
                 str(tmp_path / "proposals.pkl"), "--end", "4", "--short_side", "64", "--output_dir",
                 str(tmp_path / "out"), "--timeline", str(png), "--top_k", "2", "--quiet"]
    assert main(arguments + ([] if tracking else ["--no_tracking"])) == 0
    lanes = 3 if tracking else 2
    assert f"timeline: {lanes} {'tracks' if tracking else 'box rows'} -> {png}" in capsys.readouterr().out
    image = load_rgb(png)
    rows = lanes * 2 + lanes - 1
    assert image.shape[:2] == (round(100 * max(2.0, 0.22 * rows + 1.3)), 1000)
    colours = {f"track {index + 1}": PALETTE[index] for index in range(4)}
    assert colour_runs(image[:, 10], colours) == [f"track {index + 1}" for index in range(lanes)]
    description = png_text(png)["Description"]
    expected = "track 1: 0:0 1:0 2:1; track 2: 1:1 2:0; track 3: 3:0" if tracking else \
        "track 1: 0:0 1:0 2:0 3:0; track 2: 1:1 2:1"
    assert description == f"{lanes} tracks; {expected}"
