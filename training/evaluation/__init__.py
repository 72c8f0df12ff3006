"""Evaluation: the protocols of DESIGN.md (`protocols`), their run on a model folder (`suite`),
the FD feature classifier (`classifier`) and the leaderboard of the presets (`leaderboard`)."""
