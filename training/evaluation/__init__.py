"""AVA frame-mAP: the three protocols as data (`ava_protocols`), the scoring engine (`ava_frame_map_engine`), the
library API and `videomae-ava-eval` command (`ava_evaluation`), the per-class AP chart (`ap_chart`), the `evaluate`
module (`ava_frame_map/`) and its Hub-ready folder (`metric_folder`).

May import: `modeling`, `processing` and this sub-package. The files `metric_folder` copies into the metric folder
import only each other, numpy and (lazily) the command conventions.
"""
