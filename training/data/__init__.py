"""The AVA / AVA-Kinetics data: annotation files -> keyframe records (`ava_annotations`), where each clip's video or
frames are (`ava_media`), the `datasets` builder, its export / Hub upload and its command (`ava_dataset`,
`dataset_export`, `dataset_command`), the toy AVA-format set (`toy_dataset`) and the transcoded video store
(`transcode`).

May import: `modeling`, `processing` and this sub-package.
"""
