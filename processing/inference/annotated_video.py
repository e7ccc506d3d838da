"""Draw action detections into a video: person boxes with their top actions (name and score), re-encoded with PyAV.

The input is decoded once, sequentially, frame by frame (memory: one frame); each frame is drawn into and encoded
at once, with the input's size, frame count and timestamps (so its frame rate). The input's first audio stream is
copied into the output as it is (same packets, no re-encoding), so the annotated video keeps its sound; an audio
codec the output container cannot hold is an error naming it (choose another container, e.g. `.mkv`). A keyframe's boxes are shown from
the keyframe second until the next keyframe (at most `stride` seconds): frame `f` (shown from `t_f` seconds of the
video) shows the keyframe with the largest `t <= t_f`.

Drawing (PIL, its built-in font): for each person a rectangle outline and, inside its top-left corner, one line per
action `"name score"` on a filled background. Everything drawn is clipped to the person's box, so pixels outside
all boxes are the decoded input's. With `lossless=True` the video is encoded with `libx264rgb` at `qp 0` (RGB,
lossless): decoding it gives exactly the input's decoded pixels outside the boxes. Otherwise `libx264` (yuv420p, yuv444p
for an odd width or height; `crf` 18 by default), which changes every pixel slightly.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from ...modeling import ava_id2label, index_to_action_id
from ..clip_reader import displayed_rgb, open_video, video_rotation
from ..cli.progress import progress_bar
from ..video_processing_videomae_action_detection import top_action_order


# Distinct colours for successive persons of a keyframe (RGB).
PALETTE = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def pixel_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """`(N, 4)` normalised x1 y1 x2 y2 -> `(N, 4)` int64 pixel bounds `[x1, y1, x2, y2]` (inclusive), inside the frame."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scaled = np.rint(boxes * np.array([width, height, width, height]))
    scaled[:, 0::2] = np.clip(scaled[:, 0::2], 0, width - 1)
    scaled[:, 1::2] = np.clip(scaled[:, 1::2], 0, height - 1)
    return scaled.astype(np.int64)


def box_mask(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """`(H, W)` bool: True inside any of the normalised `boxes` (as `pixel_boxes` rounds them, bounds included)."""
    mask = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in pixel_boxes(boxes, width, height).tolist():
        mask[y1 : y2 + 1, x1 : x2 + 1] = True
    return mask


def draw_detections(frame: np.ndarray, boxes: np.ndarray, labels: Sequence[Sequence[str]], font=None,
                    line_width: int = 2) -> np.ndarray:
    """Draw person boxes and their label lines into a copy of `frame` `(H, W, 3)` uint8 RGB.

    `boxes`: `(N, 4)` normalised x1 y1 x2 y2; `labels`: per box the text lines (e.g. `"stand 0.93"`). Everything
    drawn stays inside its box (pixels outside all boxes are unchanged).
    """
    from PIL import Image, ImageDraw

    height, width = frame.shape[:2]
    if len(boxes) == 0:
        return frame
    font = font if font is not None else _font(max(10, min(height, width) // 30))
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    bounds = pixel_boxes(boxes, width, height)
    for index, ((x1, y1, x2, y2), lines) in enumerate(zip(bounds.tolist(), labels)):
        colour = PALETTE[index % len(PALETTE)]
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=line_width)
        y = y1 + line_width
        for line in lines:
            left, top, right, bottom = draw.textbbox((x1 + line_width, y), line, font=font)
            draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=colour)
            draw.text((x1 + line_width, y), line, fill=(0, 0, 0), font=font)
            y = bottom + 2
    drawn = np.asarray(image)
    inside = box_mask(boxes, width, height)
    return np.where(inside[..., None], drawn, frame)


def _labels(scores: np.ndarray, top_k: int | None, threshold: float, id2label: dict) -> list[str]:
    return [f"{id2label.get(int(i), str(index_to_action_id(i)))} {float(scores[i]):.2f}"
            for i in top_action_order(scores, top_k, threshold)]


def write_annotated_video(
    video: str | os.PathLike,
    output: str | os.PathLike,
    results: Sequence,
    *,
    stride=1,
    top_k: int | None = 3,
    threshold: float = 0.0,
    id2label: dict | None = None,
    lossless: bool = False,
    crf: int = 18,
    preset: str = "veryfast",
    output_name: str | os.PathLike | None = None,
    progress: bool = True,
) -> int:
    """Re-encode `video` into `output` with each keyframe's persons and top actions drawn (see the module docstring).

    Args:
        output_name: the name errors show and whose suffix picks the container, when `output` is a temporary
            file that will be renamed to it (None: `output` itself).
        results: `KeyframeResult`s (timestamp, boxes, action_scores), in any order.
        stride: how long (seconds) a keyframe's boxes stay at most, if no later keyframe comes first.
        top_k, threshold: the actions shown per person (at most `top_k`, scores > threshold).
        id2label: classifier index -> action name (default: the AVA names).
        lossless: `libx264rgb` at qp 0 instead of `libx264` yuv420p at `crf`.
        progress: a progress bar over the frames (`processing.cli.progress`: only on a terminal, off after `--quiet`).

    Returns:
        the number of frames written (the input's).

    Raises:
        ValueError: a corrupt input, or an input audio codec the output container cannot hold.
    """
    import av

    id2label = id2label or ava_id2label()
    results = sorted(results, key=lambda result: result.timestamp)
    times = [Fraction(result.timestamp) for result in results]
    labels = [
        [_labels(scores, top_k, threshold, id2label) for scores in result.action_scores] for result in results
    ]
    hold = Fraction(str(stride)) if isinstance(stride, float) else Fraction(stride)
    path = os.fspath(video)
    shown_output = os.fspath(output_name if output_name is not None else output)
    source, in_stream = open_video(path)
    written = 0
    font = None
    with source, progress_bar(desc=f"annotating {os.path.basename(path)}", total=in_stream.frames or None,
                              unit="frame", enabled=progress) as bar:
        in_stream.thread_type = "AUTO"
        origin = in_stream.start_time or 0
        rate = in_stream.average_rate or in_stream.guessed_rate or Fraction(30)
        try:
            sink = av.open(os.fspath(output), "w", format=_container_format(shown_output))
        except (av.error.FFmpegError, OSError, ValueError) as error:
            raise OSError(f"cannot write the annotated video {shown_output}: {error}") from error
        with sink:
            out_stream = sink.add_stream("libx264rgb" if lossless else "libx264", rate=rate)
            out_stream.width, out_stream.height = in_stream.codec_context.width, in_stream.codec_context.height
            if video_rotation(path) in (90, 270):  # frames are drawn and written as a player shows them: upright
                out_stream.width, out_stream.height = out_stream.height, out_stream.width
            even = out_stream.width % 2 == 0 and out_stream.height % 2 == 0
            # 4:2:0 needs an even size; odd-sized inputs keep full-resolution chroma (4:4:4).
            out_stream.pix_fmt = "rgb24" if lossless else ("yuv420p" if even else "yuv444p")
            out_stream.time_base = in_stream.time_base
            out_stream.codec_context.time_base = in_stream.time_base
            out_stream.options = {"qp": "0", "preset": preset} if lossless else {"crf": str(crf), "preset": preset}
            in_audio, out_audio = _copied_audio_stream(source, sink, path, shown_output)
            reformatter = av.video.reformatter.VideoReformatter()  # one conversion context for every frame
            try:
                for packet in source.demux(*(stream for stream in (in_stream, in_audio) if stream is not None)):
                    if packet.stream is in_audio:
                        if packet.dts is not None:  # not the demuxer's end-of-stream marker
                            packet.stream = out_audio
                            sink.mux(packet)
                        continue
                    for frame in packet.decode():
                        image = displayed_rgb(frame, reformatter)
                        if font is None:
                            font = _font(max(10, min(image.shape[:2]) // 30))
                        seconds = (frame.pts - origin) * in_stream.time_base if frame.pts is not None else None
                        if seconds is not None:
                            index = bisect.bisect_right(times, seconds) - 1
                            if index >= 0 and seconds < times[index] + hold and len(results[index].boxes):
                                image = draw_detections(image, results[index].boxes, labels[index], font=font)
                        out_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                        out_frame.pts = frame.pts
                        out_frame.time_base = in_stream.time_base
                        _encode(out_stream, sink, out_frame, shown_output)
                        written += 1
                        bar.update(1)
                _encode(out_stream, sink, None, shown_output)
            except av.error.FFmpegError as error:
                raise ValueError(f"error while decoding video {path} (corrupt or truncated file): {error}") from error
    return written


def _container_format(name: str) -> str | None:
    """The FFmpeg muxer for an output file name's suffix (the file itself may be a temporary name)."""
    suffix = os.path.splitext(name)[1].lower().lstrip(".")
    return {"mp4": "mp4", "m4v": "mp4", "mov": "mov", "mkv": "matroska", "webm": "webm", "avi": "avi"}.get(suffix)


def _encode(out_stream, sink, frame, output_name: str) -> None:
    """Encode one frame (None: flush) and mux its packets; an error here is the output's, and says so."""
    import av

    try:
        for packet in out_stream.encode(frame):
            sink.mux(packet)
    except (av.error.FFmpegError, OSError) as error:
        raise OSError(f"cannot write the annotated video {output_name}: {error}") from error


def _copied_audio_stream(source, sink, input_path: str, output_path: str):
    """(input audio stream, its copy in `sink`) for the input's first audio stream, or (None, None) without one.

    Raises:
        ValueError: the output container cannot hold the input's audio codec.
    """
    if not source.streams.audio:
        return None, None
    in_audio = source.streams.audio[0]
    codec = in_audio.codec_context.name
    if codec not in sink.supported_codecs:
        raise ValueError(
            f"the audio of {input_path} is {codec}, which the container of {output_path} cannot hold; write the "
            "annotated video to a container that can (e.g. .mkv)"
        )
    return in_audio, sink.add_stream_from_template(in_audio)


__all__ = ["PALETTE", "box_mask", "draw_detections", "pixel_boxes", "write_annotated_video"]
