"""AVA person-proposal pickles (`{"video_id,%04d": (N, 5) [x1, y1, x2, y2, score]}`, normalised boxes), read in one
place for every user (the data set, the inference application): `load_proposals` (the file, through the restricted
unpickler), `proposal_array` (one entry, checked) and `select_proposals` (mmaction2's rule: score >=
min(0.9, best score), in file order, at most 1000; the whole frame where there is no entry)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from .untrusted_pickle import load_pickled_data

PERSON_DET_SCORE_THR = 0.9
NUM_MAX_PROPOSALS = 1000
WHOLE_FRAME = (0.0, 0.0, 1.0, 1.0)


def load_proposals(path: str | os.PathLike) -> dict:
    """A proposal pickle -> {"video_id,%04d": array}, loaded without running code (`untrusted_pickle`).

    Raises:
        UntrustedPickleError: the pickle names anything but plain data (e.g. a function that would run code).
        ValueError: the pickle is not a dict with string keys.
    """
    proposals = load_pickled_data(path)
    if not isinstance(proposals, Mapping):
        raise ValueError(f"{path}: a proposal pickle must hold a dict 'video_id,%04d' -> (N, 5) array, got {type(proposals).__name__}")
    for key in proposals:
        if not isinstance(key, str):
            raise ValueError(f"{path}: proposal keys must be strings 'video_id,%04d', got {key!r}")
        break
    return dict(proposals)


def proposal_array(entry, key: str, source: str = "proposals") -> np.ndarray:
    """One proposal entry -> an (N, 4) or (N, 5) float64 array of finite numbers (x1, y1, x2, y2[, score]).

    Raises:
        ValueError naming `source` and `key` for anything else.
    """
    try:
        array = np.asarray(entry, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: proposals of {key!r} are not an array of numbers ({type(entry).__name__})") from None
    if array.ndim != 2 or array.shape[1] not in (4, 5):
        raise ValueError(f"{source}: proposals of {key!r} must be an (N, 4) or (N, 5) array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{source}: proposals of {key!r} hold a non-finite number")
    return array


def select_proposals(
    proposals: Mapping | None,
    key: str,
    *,
    source: str = "proposals",
    person_det_score_thr: float = PERSON_DET_SCORE_THR,
    num_max_proposals: int = NUM_MAX_PROPOSALS,
) -> tuple[np.ndarray, np.ndarray]:
    """The proposals mmaction2 uses for keyframe `key` -> ((P, 4) float64 boxes, (P,) float64 scores).

    `score >= min(person_det_score_thr, best score)` in file order, at most `num_max_proposals`; a 4-column entry:
    its first `num_max_proposals` rows with score 1.0; no entry (or no pickle): the whole frame with score 1.

    Raises:
        ValueError naming `source` and the key for an entry that is not an (N, 4) / (N, 5) array of finite numbers
        with boxes inside [0, 1].
    """
    if proposals is None or key not in proposals:
        return np.array([WHOLE_FRAME], dtype=np.float64), np.ones(1, dtype=np.float64)
    array = proposal_array(proposals[key], key, source)
    if len(array) == 0:
        return np.array([WHOLE_FRAME], dtype=np.float64), np.ones(1, dtype=np.float64)
    if array.shape[1] == 5:
        threshold = min(person_det_score_thr, float(array[:, 4].max()))
        array = array[array[:, 4] >= threshold][:num_max_proposals]
        boxes, scores = array[:, :4], array[:, 4]
    else:
        boxes = array[:num_max_proposals]
        scores = np.ones(len(boxes), dtype=np.float64)
    if boxes.min() < 0 or boxes.max() > 1:
        raise ValueError(f"{source}: proposals of {key!r} must be normalised to [0, 1], got {boxes.tolist()}")
    return np.ascontiguousarray(boxes), np.ascontiguousarray(scores)
