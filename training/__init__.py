"""Training, evaluating and publishing `VideoMAEForActionDetection` on AVA / AVA-Kinetics.

- `data/`: the AVA data set (annotation readers, media index, `datasets` builder, toy set, transcoded store).
- `evaluation/`: AVA frame-mAP (protocols, engine, command, `evaluate` module, AP chart).
- `publishing/`: mmaction2 checkpoint conversion, model cards, Hub configs.
- the training command `run_action_detection.py` (`main` only) and its library modules: `arguments`, `toy_preset`,
  `model_setup`, `clip_dataset`, `trainer`, `frame_map_evaluation`, `report`; with `recipe` (mmaction2's published
  recipes) and `optimization` (layer-wise lr decay, warm-up + cosine).

May import: `modeling`, `processing` and itself; nothing in `modeling` or `processing` imports it.
"""
