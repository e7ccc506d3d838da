"""The `videomae-action-detection` application: action detection on a user's video file, with its files.

- `proposals_file`: person boxes from an AVA proposals pickle or an AVA-format CSV (`ProposalsFile`).
- `model_loading`: the detector and its video processor from a folder or Hub id (`load_action_detector`).
- `video_detection`: `detect_actions`, the shared keyframe loop (`processing.keyframe_actions`) over a video file,
  with a progress bar.
- `writers`: `actions.csv` (official AVA detections), `actions.json` and the annotated video (`write_outputs`).
- `annotated_video`, `timeline`: the pictures (boxes and actions drawn into the video; a strip chart over time).
- `pipeline`: the `"video-action-detection"` pipeline of the installed package (also reads proposals files) and
  `add_pipeline_code`, which makes a model folder carry the pipeline as remote code.
- `command`: the command line (`videomae-action-detection`).

Imports: the flat remote-code modules of `processing` (clip reading, the processor, the keyframe loop, person boxes,
the pipeline), `processing.formats`, `processing.cli` and `modeling`; never `training`.
"""
