"""Publishing models on the Hub: mmaction2 checkpoint conversion (`mmaction2_keys`: key renames and state dicts,
`conversion`: convert, self-check, stage and move into place, `push`: upload), model cards (`model_card`) and the
published configs (`hub_configs`).

May import: `modeling`, `processing`, `training.recipe` and this sub-package.
"""
