"""Serving checks: the TF Serving session loader (`session_loader`, runnable as a plain script
without the project) and the serving latency benchmark (`benchmark`)."""
