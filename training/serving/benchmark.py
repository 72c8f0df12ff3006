"""Latency of an export's signatures through the TF Serving loader (the TF1 session loader).

`python -m training benchmark --mode serving EXPORT_DIR` prints, for serving_default at batch 1
and 256 and for sample with 64 images, the median and 90th percentile of repeated calls after
warm-up, measured in this process with the same C++ session TF Serving runs (no HTTP).
"""

import os
import platform
import time

import numpy as np

from training.serving.session_loader import LoadedModel


def _timings(fn, args, repeats, warmup=5):
    for _ in range(warmup):
        fn(*args)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        seconds.append(time.perf_counter() - start)
    return np.array(seconds) * 1000.0


def benchmark_serving(export_dir, repeats=50):
    """Returns a list of rows: (what, median ms, p90 ms, items per second)."""
    model = LoadedModel(export_dir)
    sig = model.signatures["serving_default"].inputs["x"]
    shape = [d.size for d in sig.tensor_shape.dim][1:]
    dtype = np.int32 if sig.dtype == 3 else np.float32  # DT_INT32 = 3
    rows = []
    reconstruct = model.callable("serving_default", ["x"])
    rng = np.random.default_rng(0)
    for batch in (1, 256):
        x = (rng.random((batch, *shape)) < 0.5).astype(dtype)
        ms = _timings(reconstruct, [x], repeats)
        rows.append((f"serving_default, batch {batch}", np.median(ms), np.percentile(ms, 90),
                     batch / np.median(ms) * 1000))
    sample = model.callable("sample", ["num_samples", "seed"])
    ms = _timings(sample, [np.int32(64), np.array([1, 2], np.int32)], repeats)
    rows.append(("sample, 64 images", np.median(ms), np.percentile(ms, 90),
                 64 / np.median(ms) * 1000))
    return rows


def report(export_dir, repeats=50, rows=None):
    rows = benchmark_serving(export_dir, repeats) if rows is None else rows
    lines = [f"Session-loader latency of {export_dir} ({repeats} timed calls after 5 warm-up; "
             f"{platform.machine()}, {os.cpu_count()} CPUs, TF's default threads)",
             f"{'signature':<30} {'median ms':>10} {'p90 ms':>10} {'items/s':>10}"]
    lines += [f"{what:<30} {med:>10.2f} {p90:>10.2f} {rate:>10.0f}" for what, med, p90, rate in rows]
    return "\n".join(lines)
