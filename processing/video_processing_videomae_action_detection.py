"""Video processor for `VideoMAEForActionDetection`: clips and normalised person boxes in, model inputs out, and the
model's output back to boxes with AVA action scores.

It reproduces mmaction2's AVA pipelines (`configs/detection/videomae/...ava-kinetics-rgb.py`):

- evaluation: `Resize(scale=(-1, 256))`: short side to `size["shortest_edge"]` keeping the aspect ratio, output
  `int(w * s + 0.5)` x `int(h * s + 0.5)` with `s = 256 / short side` (mmcv's `rescale_size`);
- training (`do_train_augmentation=True`): `RandomRescale((256, 320))` (short side uniform in `scale_range`, both
  ends included), `RandomCrop(256)` (offsets uniform in `[0, H - 256)` and `[0, W - 256)`: the last offset is never
  drawn, as in mmaction2; 0 when the side already equals the crop), `Flip(0.5)` (horizontal), the same choices for
  every frame, the proposals and the ground-truth boxes;
- then `(x - mean) / std` on the 0-255 values with mmaction2's mean and std (below: the one place they live).

Frames are resized with torchvision (bilinear, no antialiasing, like OpenCV's `INTER_LINEAR` that mmaction2 uses)
in float32 and rounded back to whole levels (mmaction2's resized frames are uint8). Against mmaction2's OpenCV
output on the reference clip this differs by 0.12 levels on average, at most 1 (see tests/test_processing.py).

Boxes: normalised x1 y1 x2 y2 in, pixels out, with mmaction2's float32 arithmetic: `float32(normalised * [w, h, w, h])`
(computed in float64, so pass float64 boxes for bit-exactness), then `* float32([new_w / w, new_h / h] * 2)`;
training crops shift the boxes and clip them to `[0, crop - 1]`, keeping every box (even ones cropped away to zero
area, as mmaction2 does); a flip maps `x1' = W - x2`, `x2' = W - x1`.

This file is the processor's remote code: it imports torch, torchvision, numpy, transformers (and huggingface_hub,
which transformers requires) and its sibling files `clip_reader.py` and `random_draws.py`, so
`AutoVideoProcessor.from_pretrained(folder, trust_remote_code=True)` works where this package is not installed.
"""

import os
from typing import NamedTuple

import numpy as np
import torch
from huggingface_hub.dataclasses import validate_typed_dict
from torchvision import tv_tensors
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as tvF
from transformers.image_processing_utils import BatchFeature
from transformers.image_utils import PILImageResampling, is_pil_image, validate_kwargs
from transformers.processing_utils import Unpack, VideosKwargs
from transformers.video_processing_utils import BaseVideoProcessor

from .clip_reader import ava_clip_frame_numbers, read_clip, read_frames
from .random_draws import randint, uniform


# mmaction2's ActionDataPreprocessor (0-255 RGB): the model was trained on (x - MEAN) / STD.
MMACTION2_MEAN = (123.675, 116.28, 103.53)
MMACTION2_STD = (58.395, 57.12, 57.375)

_INTERPOLATION = {
    PILImageResampling.NEAREST: InterpolationMode.NEAREST,
    PILImageResampling.BILINEAR: InterpolationMode.BILINEAR,
    PILImageResampling.BICUBIC: InterpolationMode.BICUBIC,
}


class TrainAugmentation(NamedTuple):
    """The random choices of one clip's training transform (replayable).

    short_side: the rescaled short side (RandomRescale); crop_top, crop_left: the crop offset in the rescaled frame
    (RandomCrop); flip: horizontal flip (Flip).
    """

    short_side: int
    crop_top: int
    crop_left: int
    flip: bool


class VideoMAEActionDetectionVideosKwargs(VideosKwargs, total=False):
    """Settings of `VideoMAEActionDetectionVideoProcessor` beyond `VideosKwargs`.

    do_train_augmentation: apply the training transform (random rescale, crop, flip) instead of the evaluation resize.
    scale_range: `[low, high]`, the training short side is uniform in it, both ends included.
    flip_ratio: probability of the training horizontal flip.
    """

    do_train_augmentation: bool | None
    scale_range: list[int] | tuple[int, ...] | None
    flip_ratio: float | None


# Longest side (pixels) a clip may have after resizing: AVA frames at short side 256 are <= 464 wide; 4096 leaves room
# for any real aspect ratio but stops a 4000x16 strip from asking the resize for gigabytes (256 x 64000 x 16 frames).
MAX_RESIZED_SIDE = 4096


def rescaled_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(new_height, new_width) for a short side of `short_side`, as mmcv's `rescale_size((w, h), (inf, short_side))`."""
    scale = short_side / min(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def _dtype_message(video: torch.Tensor, what: str) -> str:
    """Why a non-uint8 clip is refused: what it holds (non-finite values, already-normalised floats, wide integers)."""
    message = f"{what} must be uint8 RGB (0-255) as decoded, got {video.dtype}"
    if video.is_floating_point():
        if not bool(torch.isfinite(video).all()):
            return message + " holding NaN / inf values"
        return message + ": the processor rescales and normalises itself; pass the decoded frames, not pixel_values"
    return message + ": convert it with .astype(np.uint8) only if its values are 0-255"


def _checked_resized_size(height: int, width: int, short_side: int, what: str) -> tuple[int, int]:
    """`rescaled_size`, refused with a ValueError naming `what` when a side would exceed MAX_RESIZED_SIDE."""
    new_height, new_width = rescaled_size(height, width, short_side)
    if max(new_height, new_width) > MAX_RESIZED_SIDE:
        raise ValueError(
            f"{what} is {height}x{width} (H x W): at short side {short_side} it would be resized to "
            f"{new_height}x{new_width}, over the {MAX_RESIZED_SIDE}-pixel limit per side (aspect ratio "
            f"{max(height, width) / min(height, width):.0f}:1); crop it to a usual aspect ratio first"
        )
    return new_height, new_width


class VideoMAEActionDetectionVideoProcessor(BaseVideoProcessor):
    r"""Turns clips and person boxes into `VideoMAEForActionDetection` inputs, and its outputs back into detections.

    Call: `processor(videos, boxes=None, gt_boxes=None, augmentations=None, generator=None, return_tensors="pt", **kwargs)`.

    - `videos`: one clip or a list of clips, each `(T, H, W, 3)` (or `(T, 3, H, W)`) uint8 RGB, numpy or torch (see
      `read_clip`); one clip may also be given as a list of its frames (PIL images or `(H, W, 3)` uint8 arrays).
    - `boxes`: per clip an `(N_i, 4)` array of normalised x1 y1 x2 y2 (person proposals; may be empty); for a single
      clip an `(N, 4)` array is accepted. Coordinates must lie in [0, 1] with x2 >= x1, y2 >= y1 (else ValueError).
    - `gt_boxes`: the same for ground-truth boxes (training); transformed exactly like `boxes`.
    - `augmentations`: with `do_train_augmentation=True`, one `TrainAugmentation` per clip to replay known choices;
      otherwise they are drawn from `generator` (numpy Generator / RandomState, torch Generator, or None: unseeded).
      `np.random.RandomState(seed)` shared with `read_clip(train=True)` replays mmaction2's draws for
      `np.random.seed(seed)` exactly (same order: frame offsets, short side, crop y, crop x, flip).

    Returns a `BatchFeature` with
    - `pixel_values`: `(B, T, 3, H, W)` float32, normalised (a list of `(T, 3, H, W)` when `return_tensors=None`);
    - `boxes` (when boxes are given): `(B, N_max, 4)` float32, x1 y1 x2 y2 in pixels of the processed frame,
      zero-padded, with `boxes_mask` `(B, N_max)` bool (a list of `(N_i, 4)` and no mask when
      `return_tensors=None`); likewise `gt_boxes` / `gt_boxes_mask` when ground truth is given. These are the
      model's `boxes` / `boxes_mask` / `gt_boxes` / `gt_boxes_mask` arguments: `model(**inputs)` works.

    Clips that come out at different sizes (evaluation on videos of different aspect ratios) cannot be stacked:
    with `return_tensors` set this is a ValueError; process such clips one by one or with `return_tensors=None`
    (the model has no pixel mask, so zero-padding would change its features).

    `id2label` (optional, saved with the processor; JSON turns its keys into strings, they are converted back) maps
    classifier index -> action name, and `action_ids` (optional, saved too) classifier index -> the data set's action
    id (default `index + 1`, AVA's numbering), for `post_process_action_detection`; `ava_video_processor(config)`
    takes both from a model config.
    """

    valid_kwargs = VideoMAEActionDetectionVideosKwargs
    model_input_names = ["pixel_values"]

    resample = PILImageResampling.BILINEAR
    image_mean = list(MMACTION2_MEAN)
    image_std = list(MMACTION2_STD)
    size = {"shortest_edge": 256}
    crop_size = {"height": 256, "width": 256}
    scale_range = [256, 320]
    flip_ratio = 0.5
    default_to_square = False
    do_resize = True
    do_center_crop = False
    do_rescale = False
    do_normalize = True
    do_convert_rgb = False
    do_sample_frames = False
    do_train_augmentation = False

    # The clip readers travel with the processor (also as remote code).
    read_clip = staticmethod(read_clip)
    read_frames = staticmethod(read_frames)
    ava_clip_frame_numbers = staticmethod(ava_clip_frame_numbers)

    def __init__(self, id2label: dict | None = None, action_ids: list[int] | None = None,
                 **kwargs: Unpack[VideoMAEActionDetectionVideosKwargs]):
        super().__init__(**kwargs)
        self.id2label = {int(index): str(name) for index, name in id2label.items()} if id2label else None
        self.action_ids = [int(action_id) for action_id in action_ids] if action_ids is not None else None
        self._check_settings(self.scale_range, self.flip_ratio)

    @classmethod
    def from_model_config(cls, config, **kwargs) -> "VideoMAEActionDetectionVideoProcessor":
        """A processor (the AVA evaluation settings, or `kwargs`) naming the actions as a model config does: its
        `id2label`, and its `label_action_ids` when they are not AVA's `index + 1` (`config` may be a model)."""
        config = getattr(config, "config", config)
        id2label = {int(index): name for index, name in config.id2label.items()}
        action_ids = getattr(config, "label_action_ids", None)
        if action_ids is not None and list(action_ids) == list(range(1, len(id2label) + 1)):
            action_ids = None
        return cls(id2label=id2label, action_ids=action_ids, **kwargs)

    @staticmethod
    def _check_settings(scale_range, flip_ratio):
        if scale_range is not None:
            if len(scale_range) != 2 or not all(int(v) == v and v > 0 for v in scale_range) or scale_range[0] > scale_range[1]:
                raise ValueError(f"`scale_range` must be [low, high] positive integers with low <= high, got {scale_range}")
        if flip_ratio is not None and not 0.0 <= float(flip_ratio) <= 1.0:
            raise ValueError(f"`flip_ratio` must lie in [0, 1], got {flip_ratio}")

    # ------------------------------------------------------------------------------------------------- training draws
    def sample_train_augmentation(self, height: int, width: int, generator=None, **kwargs) -> TrainAugmentation:
        """Draw one clip's training choices for an `height` x `width` input, in mmaction2's order: short side
        (`randint(low, high + 1)`), crop top (`randint(0, H' - crop_h)` when H' > crop_h), crop left (likewise), flip
        (`rand() < flip_ratio`). `kwargs` may override `scale_range`, `crop_size`, `flip_ratio`."""
        scale_range = kwargs.get("scale_range") or self.scale_range
        flip_ratio = kwargs.get("flip_ratio", None)
        flip_ratio = self.flip_ratio if flip_ratio is None else flip_ratio
        crop = self._standardize_kwargs(crop_size=kwargs.get("crop_size") or self.crop_size)["crop_size"]
        self._check_settings(scale_range, flip_ratio)
        short_side = randint(generator, int(scale_range[0]), int(scale_range[1]) + 1)
        new_height, new_width = rescaled_size(height, width, short_side)
        self._check_crop_fits(new_height, new_width, crop, short_side)
        top = randint(generator, 0, new_height - crop.height) if new_height > crop.height else 0
        left = randint(generator, 0, new_width - crop.width) if new_width > crop.width else 0
        flip = uniform(generator) < float(flip_ratio)
        return TrainAugmentation(int(short_side), int(top), int(left), bool(flip))

    @staticmethod
    def _check_crop_fits(new_height, new_width, crop, short_side):
        if crop.height > new_height or crop.width > new_width:
            raise ValueError(
                f"crop_size {crop.height}x{crop.width} does not fit in the frame rescaled to short side {short_side} "
                f"({new_height}x{new_width}); raise `scale_range` or lower `crop_size`"
            )

    # ----------------------------------------------------------------------------------------------------- preprocess
    def preprocess(
        self,
        videos,
        boxes=None,
        gt_boxes=None,
        augmentations=None,
        generator=None,
        **kwargs: Unpack[VideoMAEActionDetectionVideosKwargs],
    ) -> BatchFeature:
        validate_kwargs(
            captured_kwargs=kwargs.keys(),
            valid_processor_keys=list(self.valid_kwargs.__annotations__.keys()) + ["return_tensors"],
        )
        validate_typed_dict(self.valid_kwargs, kwargs)
        for name in self.valid_kwargs.__annotations__:
            kwargs.setdefault(name, getattr(self, name, None))
        if kwargs.get("do_sample_frames"):
            raise ValueError("`do_sample_frames` is not supported: read the clip's frames with `read_clip`")
        if kwargs.get("do_center_crop"):
            raise ValueError("`do_center_crop` is not part of the AVA pipelines; use the training transform's crop")
        settings = self._standardize_kwargs(**kwargs)
        self._check_settings(settings["scale_range"], settings["flip_ratio"])

        clips = self._as_clips(videos, settings["input_data_format"], settings["device"])
        box_sets = {}
        if boxes is not None:
            box_sets["boxes"] = self._as_box_list(boxes, len(clips), "boxes")
        if gt_boxes is not None:
            box_sets["gt_boxes"] = self._as_box_list(gt_boxes, len(clips), "gt_boxes")
        if augmentations is not None:
            if not settings["do_train_augmentation"]:
                raise ValueError("`augmentations` replay training choices: set `do_train_augmentation=True`")
            if isinstance(augmentations, TrainAugmentation):
                augmentations = [augmentations]
            if len(augmentations) != len(clips):
                raise ValueError(f"`augmentations` needs one TrainAugmentation per clip ({len(clips)}), got {len(augmentations)}")
            augmentations = [TrainAugmentation(*augmentation) for augmentation in augmentations]

        resample = settings["resample"]
        interpolation = resample if isinstance(resample, InterpolationMode) else _INTERPOLATION.get(resample)
        if interpolation is None:
            raise ValueError(f"`resample` must be nearest, bilinear or bicubic, got {resample!r}")
        mean = torch.tensor(settings["image_mean"], dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(settings["image_std"], dtype=torch.float32).view(1, 3, 1, 1)

        pixel_values, out_boxes = [], {name: [] for name in box_sets}
        for index, clip in enumerate(clips):
            height, width = clip.shape[-2:]
            pixel_boxes = {name: _to_pixels(box_list[index], height, width) for name, box_list in box_sets.items()}
            if settings["do_train_augmentation"]:
                augmentation = (
                    augmentations[index]
                    if augmentations is not None
                    else self.sample_train_augmentation(
                        height, width, generator, scale_range=settings["scale_range"],
                        crop_size=settings["crop_size"], flip_ratio=settings["flip_ratio"],
                    )
                )
                _checked_resized_size(height, width, augmentation.short_side, f"`videos[{index}]`")
                frames, pixel_boxes = self._train_transform(clip, pixel_boxes, augmentation, settings["crop_size"], interpolation)
            elif settings["do_resize"]:
                short_side = settings["size"].shortest_edge
                if short_side is None:
                    raise ValueError(f"`size` must be {{'shortest_edge': int}}, got {dict(settings['size'])}")
                new_size = _checked_resized_size(height, width, short_side, f"`videos[{index}]`")
                frames, pixel_boxes = _resize(clip, pixel_boxes, new_size, interpolation)
            else:
                frames = _to_float32(clip)
            frames = frames.as_subclass(torch.Tensor)
            pixel_boxes = {name: value.as_subclass(torch.Tensor) for name, value in pixel_boxes.items()}
            if settings["do_normalize"]:
                # In place on the processor's own float copy (same values as `(frames - mean) / std`).
                frames = frames.contiguous().sub_(mean.to(frames.device)).div_(std.to(frames.device))
            pixel_values.append(frames)
            for name, value in pixel_boxes.items():
                out_boxes[name].append(value)

        return_tensors = settings["return_tensors"]
        if return_tensors is None:
            return BatchFeature(data={"pixel_values": pixel_values, **out_boxes})
        sizes = sorted({tuple(frames.shape) for frames in pixel_values})
        if len(sizes) > 1:
            raise ValueError(
                f"the clips come out at different sizes {sizes} and cannot be stacked (the model has no pixel mask): "
                "process them one by one, or pass return_tensors=None for lists"
            )
        # One clip (a DataLoader worker's case) becomes a batch of one without copying its frames.
        data = {"pixel_values": pixel_values[0].unsqueeze(0) if len(pixel_values) == 1 else torch.stack(pixel_values)}
        for name, box_list in out_boxes.items():
            data[name], data[f"{name}_mask"] = _pad_boxes(box_list)
        return BatchFeature(data=data, tensor_type=return_tensors)

    def _train_transform(self, clip, pixel_boxes, augmentation, crop_size, interpolation):
        """RandomRescale + RandomCrop + Flip on a `(T, 3, H, W)` uint8 clip and its `(N, 4)` float32 pixel boxes."""
        height, width = clip.shape[-2:]
        new_height, new_width = rescaled_size(height, width, augmentation.short_side)
        self._check_crop_fits(new_height, new_width, crop_size, augmentation.short_side)
        top, left = augmentation.crop_top, augmentation.crop_left
        if not (0 <= top <= new_height - crop_size.height and 0 <= left <= new_width - crop_size.width):
            raise ValueError(
                f"crop offset (top {top}, left {left}) of {augmentation} does not fit a {crop_size.height}x{crop_size.width} "
                f"crop in the {new_height}x{new_width} rescaled frame"
            )
        if interpolation == InterpolationMode.BILINEAR:
            # Only the crop's pixels of the rescaled frame are computed, from the source pixels under it.
            frames = _bilinear_resized_crop(clip, (new_height, new_width), top, left, crop_size.height, crop_size.width)
            boxes = {name: tvF.resize(value, [new_height, new_width]) for name, value in pixel_boxes.items()}
        else:
            frames, boxes = _resize(clip, pixel_boxes, (new_height, new_width), interpolation, round_levels=False)
            frames = tvF.crop(frames, top, left, crop_size.height, crop_size.width)
        # Rounded to levels after the crop: the same values as rounding the whole frame, on fewer pixels.
        frames = tv_tensors.Video(frames.contiguous().round_().clamp_(0, 255))
        cropped = {}
        for name, value in boxes.items():
            value = tvF.crop(value, top, left, crop_size.height, crop_size.width)
            # mmaction2 clips to the last pixel (W - 1, H - 1), torchvision would clamp to W, H.
            value[:, 0::2] = value[:, 0::2].clamp(0, crop_size.width - 1)
            value[:, 1::2] = value[:, 1::2].clamp(0, crop_size.height - 1)
            cropped[name] = value
        if augmentation.flip:
            frames = tvF.horizontal_flip(frames)
            cropped = {name: tvF.horizontal_flip(value) for name, value in cropped.items()}
        return frames, cropped

    @staticmethod
    def _as_clips(videos, input_data_format, device):
        """A list of `(T, 3, H, W)` uint8 tensors from one clip or a list of clips."""
        if isinstance(videos, (str, os.PathLike)) or (
            isinstance(videos, (list, tuple)) and videos and isinstance(videos[0], (str, os.PathLike))
        ):
            raise TypeError("`videos` must be decoded clips; read them from a file or frame folder with `read_clip`")
        if isinstance(videos, (list, tuple)) and videos and all(_is_frame(frame) for frame in videos):
            # one clip given as its frames: PIL images or (H, W, 3) arrays
            videos = [np.stack([np.asarray(frame.convert("RGB")) if is_pil_image(frame) else np.asarray(frame)
                                for frame in videos])]
        if isinstance(videos, (np.ndarray, torch.Tensor)) and videos.ndim == 5:
            if len(videos) == 0:
                raise ValueError(f"`videos` holds 0 clips (shape {tuple(videos.shape)}): pass at least one clip")
            videos = list(videos)
        elif isinstance(videos, (np.ndarray, torch.Tensor)):
            videos = [videos]
        if isinstance(videos, (list, tuple)) and not videos:
            raise ValueError("`videos` is an empty list: pass at least one clip (T, H, W, 3)")
        if not isinstance(videos, (list, tuple)):
            raise TypeError(f"`videos` must be a clip (T, H, W, 3) or a non-empty list of clips, got {type(videos).__name__}")
        clips = []
        for index, video in enumerate(videos):
            video = torch.from_numpy(np.ascontiguousarray(video)) if isinstance(video, np.ndarray) else video
            if not isinstance(video, torch.Tensor) or video.ndim != 4:
                shape = tuple(video.shape) if hasattr(video, "shape") else type(video).__name__
                raise ValueError(f"`videos[{index}]` must be a (T, H, W, 3) clip, got {shape}")
            if video.dtype != torch.uint8:
                raise ValueError(_dtype_message(video, f"`videos[{index}]`"))
            layout = str(input_data_format) if input_data_format is not None else None
            channels_last = video.shape[-1] == 3 if layout is None else layout.endswith("last")
            if channels_last:
                video = video.permute(0, 3, 1, 2)
            if video.shape[1] != 3:
                raise ValueError(f"`videos[{index}]` must have 3 (RGB) channels, got shape {tuple(video.shape)}")
            if min(video.shape[0], video.shape[2], video.shape[3]) == 0:
                raise ValueError(
                    f"`videos[{index}]` is empty: {video.shape[0]} frames of {video.shape[2]}x{video.shape[3]} pixels"
                )
            clips.append(video.to(device) if device is not None else video)
        return clips

    @staticmethod
    def _as_box_list(boxes, num_clips, name):
        """Per clip an `(N_i, 4)` float64 array of checked normalised boxes (empty when `boxes` is None)."""
        if boxes is None:
            return [np.zeros((0, 4)) for _ in range(num_clips)]
        if isinstance(boxes, torch.Tensor):
            boxes = boxes.detach().cpu().numpy()
        if num_clips == 1 and not isinstance(boxes, (list, tuple)) and np.ndim(boxes) == 2:
            boxes = [boxes]
        elif num_clips == 1 and isinstance(boxes, (list, tuple)) and boxes and np.ndim(boxes[0]) == 1:
            boxes = [boxes]
        if len(boxes) != num_clips:
            raise ValueError(f"`{name}` needs one (N, 4) array per clip ({num_clips} clips), got {len(boxes)}")
        checked = []
        for index, clip_boxes in enumerate(boxes):
            if isinstance(clip_boxes, torch.Tensor):
                clip_boxes = clip_boxes.detach().cpu().numpy()
            array = np.asarray(clip_boxes, dtype=np.float64)
            if array.size == 0:
                array = array.reshape(0, 4)
            if array.ndim != 2 or array.shape[1] != 4:
                raise ValueError(f"`{name}[{index}]` must be (N, 4) normalised x1 y1 x2 y2, got shape {array.shape}")
            if not np.isfinite(array).all():
                raise ValueError(f"`{name}[{index}]` holds NaN or infinite coordinates")
            outside = np.nonzero((array < 0).any(axis=1) | (array > 1).any(axis=1))[0]
            if len(outside):
                raise ValueError(
                    f"`{name}[{index}]` row {outside[0]} {array[outside[0]].tolist()} is outside [0, 1]: boxes are "
                    "normalised x1 y1 x2 y2 (divide pixel boxes by the frame's width and height)"
                )
            flipped = np.nonzero((array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1]))[0]
            if len(flipped):
                raise ValueError(f"`{name}[{index}]` row {flipped[0]} {array[flipped[0]].tolist()} has x2 < x1 or y2 < y1")
            checked.append(array)
        return checked

    # ------------------------------------------------------------------------------------------------ post-process
    def post_process_action_detection(
        self,
        outputs,
        boxes,
        threshold: float = 0.0,
        top_k: int | None = None,
        target_sizes=None,
        id2label: dict | None = None,
        action_ids: list[int] | None = None,
    ) -> list[dict]:
        """Detections per clip from the model's output.

        Args:
            outputs: the model output (`logits (B, N, 80)` and `boxes_mask (B, N)`), or a dict with those keys.
            boxes: the normalised boxes given to the processor: per clip `(N_i, 4)` x1 y1 x2 y2 in [0, 1], in the
                same order (the logits' rows follow them).
            threshold: keep the actions whose score is > threshold.
            top_k: keep at most this many actions per box (highest scores), after the threshold.
            target_sizes: optional per clip `(height, width)` of the original frames: boxes come back in their
                pixels (`normalised * [w, h, w, h]`); otherwise normalised.
            id2label: classifier index -> name; defaults to the processor's `id2label`.
            action_ids: classifier index -> the data set's action id (a model's `config.label_action_ids`);
                defaults to the processor's `action_ids`, else index + 1 (AVA).

        Returns:
            one dict per clip, in two forms.
            Flat (as transformers' object detectors, e.g. RT-DETR), one entry per kept (box, action), box by box and
            by decreasing score within a box: `scores (K,)` float32, `labels (K,)` int64 classifier indices (name:
            `model.config.id2label[label]`), `boxes (K, 4)` float32 (the person box of each entry), `action_ids (K,)`
            int64 (the data set's action ids, e.g. AVA's 1..80), `box_indices (K,)` int64 (which input box).
            Per box: `person_boxes (N_i, 4)` float32, `box_scores (N_i, num_labels)` float32 (every sigmoid score),
            and lists of N_i lists sorted by decreasing score: `box_action_ids`, `label_scores` and `label_names`
            (None when no id2label is known).
        """
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        mask = outputs.get("boxes_mask") if isinstance(outputs, dict) else getattr(outputs, "boxes_mask", None)
        if logits.ndim != 3:
            raise ValueError(f"`outputs.logits` must be (batch_size, num_boxes, num_labels), got {tuple(logits.shape)}")
        batch_size = logits.shape[0]
        box_list = self._as_box_list(boxes, batch_size, "boxes")
        id2label = {int(k): v for k, v in id2label.items()} if id2label else self.id2label
        action_ids = list(action_ids) if action_ids is not None else self.action_ids
        if action_ids is None:
            action_ids = list(range(1, logits.shape[-1] + 1))
        if len(action_ids) != logits.shape[-1]:
            raise ValueError(f"`action_ids` names {len(action_ids)} actions, the logits have {logits.shape[-1]}")
        action_id_table = torch.tensor(action_ids, dtype=torch.int64)
        if target_sizes is not None:
            target_sizes = torch.as_tensor(target_sizes, dtype=torch.float64).reshape(-1, 2)
            if len(target_sizes) != batch_size:
                raise ValueError(f"`target_sizes` needs one (height, width) per clip ({batch_size}), got {len(target_sizes)}")
        if top_k is not None and (int(top_k) != top_k or top_k < 1):
            raise ValueError(f"`top_k` must be a positive integer or None, got {top_k}")
        results = []
        for index, clip_boxes in enumerate(box_list):
            num_boxes = len(clip_boxes)
            available = int(mask[index].sum()) if mask is not None else logits.shape[1]
            if num_boxes != available:
                raise ValueError(
                    f"clip {index}: {num_boxes} boxes given but the model scored {available}; pass the boxes given to "
                    "the processor, in the same order"
                )
            scores = logits[index, :num_boxes].detach().float().sigmoid().cpu()
            out_boxes = torch.from_numpy(clip_boxes)
            if target_sizes is not None:
                height, width = target_sizes[index].tolist()
                out_boxes = out_boxes * torch.tensor([width, height, width, height], dtype=torch.float64)
            box_action_ids, label_scores, label_names, kept = [], [], [], []
            for box_scores in scores:
                order = torch.from_numpy(top_action_order(box_scores.numpy(), top_k, threshold))
                kept.append(order)
                box_action_ids.append(action_id_table[order].tolist())
                label_scores.append([float(box_scores[i]) for i in order])
                label_names.append([id2label.get(int(i), str(action_ids[int(i)])) for i in order] if id2label else None)
            person_boxes = out_boxes.to(torch.float32)
            flat_labels = torch.cat(kept) if kept else torch.zeros(0, dtype=torch.int64)
            box_indices = torch.cat([torch.full((len(order),), box) for box, order in enumerate(kept)]) if kept else flat_labels
            results.append(
                {
                    "scores": scores[box_indices, flat_labels] if len(flat_labels) else torch.zeros(0),
                    "labels": flat_labels.to(torch.int64),
                    "boxes": person_boxes[box_indices] if len(flat_labels) else torch.zeros((0, 4)),
                    "action_ids": action_id_table[flat_labels],
                    "box_indices": box_indices.to(torch.int64),
                    "person_boxes": person_boxes,
                    "box_scores": scores,
                    "box_action_ids": box_action_ids,
                    "label_scores": label_scores,
                    "label_names": label_names if id2label else None,
                }
            )
        return results


def top_action_order(scores: np.ndarray, top_k: int | None, threshold: float) -> np.ndarray:
    """Indices of the actions of one person scoring > `threshold`, best first (equal scores: lower index first), at
    most `top_k` (None: all); `scores (num_labels,)`. The one selector of post-processing, records and drawings."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    order = order[np.asarray(scores)[order] > threshold]
    return order[: int(top_k)] if top_k is not None else order


def _is_frame(item) -> bool:
    """A single frame: a PIL image, or a (H, W, 3) array / tensor."""
    return is_pil_image(item) or (isinstance(item, (np.ndarray, torch.Tensor)) and item.ndim == 3 and item.shape[-1] == 3)


def _to_pixels(normalised: np.ndarray, height: int, width: int) -> tv_tensors.BoundingBoxes:
    """mmaction2's RawFrameDecode: `float32(normalised * [w, h, w, h])` (the product in float64)."""
    pixels = torch.from_numpy(normalised * np.array([width, height, width, height], dtype=np.float64)).to(torch.float32)
    return tv_tensors.BoundingBoxes(pixels, format="XYXY", canvas_size=(height, width), clamping_mode=None)


def _to_float32(clip: torch.Tensor) -> torch.Tensor:
    """uint8 -> float32; on CPU through numpy, several times faster than torch's conversion for full-HD clips."""
    if clip.device.type != "cpu":
        return clip.to(torch.float32)
    return torch.from_numpy(clip.numpy().astype(np.float32))


def _resize(clip, pixel_boxes, new_size, interpolation, round_levels=True):
    """Resize a `(T, 3, H, W)` uint8 clip to `new_size` (float32, rounded to whole levels as OpenCV's uint8 output,
    unless `round_levels=False` for a caller that rounds later) and scale its boxes by `float32(new / old)` per axis."""
    frames = tv_tensors.Video(_to_float32(clip))
    if tuple(clip.shape[-2:]) != tuple(new_size):
        frames = tvF.resize(frames, list(new_size), interpolation=interpolation, antialias=False)
        if round_levels:
            frames = tv_tensors.wrap(frames.round_().clamp_(0, 255), like=frames)
    boxes = {name: tvF.resize(value, list(new_size)) for name, value in pixel_boxes.items()}
    return frames, boxes


def _bilinear_source_window(start, length, scale, source_length):
    """For output pixels `start .. start + length - 1` of a bilinear resize by `scale` = source / output pixels
    (half-pixel centres, as OpenCV's and torch's `align_corners=False`): their source coordinates `(length,)` float64,
    and the `[first, stop)` source rows (or columns) they read."""
    coords = (torch.arange(start, start + length, dtype=torch.float64) + 0.5) * scale - 0.5
    first = int(coords[0].clamp(min=0).floor())
    stop = min(int(coords[-1].clamp(min=0).floor()) + 2, source_length)
    return coords, first, stop


def _bilinear_resized_crop(clip, new_size, top, left, height, width):
    """The `(T, 3, height, width)` float32 crop at (`top`, `left`) of a `(T, 3, H, W)` uint8 clip bilinearly resized
    to `new_size` (not rounded), computed without resizing the whole frame: only the source window under the crop is
    converted to float and sampled at the resize's source coordinates (edges clamped as the full resize does).
    Equal to resize-then-crop to float32 rounding of the coordinates (after rounding to levels, about 1 pixel in
    1,500 moves by one level)."""
    frames, _, source_height, source_width = clip.shape
    ys, y0, y1 = _bilinear_source_window(top, height, source_height / new_size[0], source_height)
    xs, x0, x1 = _bilinear_source_window(left, width, source_width / new_size[1], source_width)
    # Channels-last float copy of the window: grid_sample then reads a pixel's 3 channels from one place (about 1.6x
    # faster than planar frames on CPU, and decoded frames arrive channels-last anyway).
    window = clip.as_subclass(torch.Tensor)[..., y0:y1, x0:x1].permute(0, 2, 3, 1)
    if window.device.type == "cpu":
        window = torch.from_numpy(np.ascontiguousarray(window.numpy(), dtype=np.float32))
    else:
        window = window.to(torch.float32).contiguous()
    window = window.permute(0, 3, 1, 2)
    # grid_sample's normalised coordinates (align_corners=False): pixel p of n -> (2p + 1) / n - 1.
    grid_y = ((2 * (ys - y0) + 1) / (y1 - y0) - 1).to(torch.float32)
    grid_x = ((2 * (xs - x0) + 1) / (x1 - x0) - 1).to(torch.float32)
    grid = torch.stack(torch.meshgrid(grid_x, grid_y, indexing="xy"), dim=-1).to(window.device)
    return torch.nn.functional.grid_sample(
        window, grid.expand(frames, height, width, 2), mode="bilinear", padding_mode="border", align_corners=False
    )


def _pad_boxes(box_list):
    """Per-clip `(N_i, 4)` float32 boxes (B >= 1 clips) -> `(B, N_max, 4)` zero-padded boxes and the `(B, N_max)`
    mask of real ones."""
    padded = torch.nn.utils.rnn.pad_sequence([boxes.reshape(-1, 4) for boxes in box_list], batch_first=True)
    mask = torch.nn.utils.rnn.pad_sequence([torch.ones(len(boxes), dtype=torch.bool) for boxes in box_list],
                                           batch_first=True)
    return padded.to(torch.float32), mask


__all__ = [
    "MMACTION2_MEAN",
    "MMACTION2_STD",
    "TrainAugmentation",
    "VideoMAEActionDetectionVideoProcessor",
    "rescaled_size",
    "top_action_order",
]
