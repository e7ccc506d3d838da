"""AVA's file formats, read and written in one place for every layer above (data set, metric, inference, converter).

- `ava_files`: annotation and detection CSVs (`read_ava_csv`, `iter_ava_csv`, `write_detections_csv`, ...), label
  maps (`.pbtxt`), keyframe lists, excluded timestamps; every text file opened as UTF-8 with or without a BOM.
- `detections`: model outputs -> detection rows in mmaction2's order (`detections_from_outputs`, `write_detections`),
  keyframe keys ("video_id,timestamp").
- `proposals`: AVA person-proposal pickles: `load_proposals`, `proposal_array` (one entry checked),
  `select_proposals` (mmaction2's score rule).
- `untrusted_pickle`: restricted unpicklers for checkpoints and proposal files (no code runs, bounded allocation).
"""
