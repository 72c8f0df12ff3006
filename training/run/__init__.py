"""A training run: its options (`options`), the run itself (`train`), where it runs
(`distribute`: strategy, precision, the multi-worker loop), its callbacks and its speed
(`benchmark`)."""
