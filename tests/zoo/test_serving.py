"""The REST client against a loopback stand-in for TF Serving that runs the export through the
same session loader and answers in TF Serving's JSON format (including its error format)."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from tests.conftest import inputs_for, make_model
from training.serving.session_loader import LoadedModel
from zoo.export import export_model
from zoo.serving import ServingClient, ServingError


def fake_tf_serving(export_dir, name):
    loaded = LoadedModel(export_dir)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == f"/v1/models/{name}":
                self.answer(200, {"model_version_status": [{"version": "1", "state": "AVAILABLE"}]})
            else:
                self.answer(404, {"error": f"Servable not found for request: {self.path}"})

        def do_POST(self):
            if self.path != f"/v1/models/{name}:predict":
                return self.answer(404, {"error": f"Servable not found for request: {self.path}"})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            signature = loaded.signatures.get(body.get("signature_name", "serving_default"))
            if signature is None:
                return self.answer(400, {"error": "Serving signature name not found"})
            feeds = {}
            for key, value in body["inputs"].items():
                dtype = np.int32 if signature.inputs[key].dtype == 3 else np.float32
                feeds[key] = np.asarray(value, dtype)
            try:
                with lock:
                    out = loaded.run(body.get("signature_name", "serving_default"), **feeds)
            except Exception as e:  # noqa: BLE001 - TF Serving reports any failure as 400
                return self.answer(400, {"error": getattr(e, "message", str(e))})
            outputs = {k: v.tolist() for k, v in out.items()}
            if len(outputs) == 1:
                outputs = next(iter(outputs.values()))
            self.answer(200, {"outputs": outputs})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    model = make_model("vae", {})
    export_dir = export_model(model, str(tmp_path_factory.mktemp("export") / "vae_tiny"))
    server = fake_tf_serving(export_dir, "vae_tiny")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    yield model, ServingClient(url, "vae_tiny", timeout=30)
    server.shutdown()


def test_round_trip_through_rest(served):
    model, client = served
    x = inputs_for(model, n=4)
    assert client.status()["model_version_status"][0]["state"] == "AVAILABLE"
    np.testing.assert_allclose(client.reconstruct(x), model.reconstruct(x), atol=1e-5)
    encoded = client.encode(x)
    assert set(encoded) == {"mean", "stddev"}
    np.testing.assert_allclose(encoded["mean"], model.encode(x), atol=1e-5)
    assert client.decode(encoded["mean"])["mean"].shape == (4, 8, 8, 1)
    drawn = client.sample(5, seed=(1, 2))
    assert drawn["x"].shape == (5, 8, 8, 1) and drawn["z"].shape == (5, 4)
    np.testing.assert_allclose(client.log_prob(x, 16, seed=(1, 2)),
                               model.log_prob(x, num_samples=16, seed=(1, 2)), atol=1e-3)
    np.testing.assert_allclose(client.score(x, 16, seed=(1, 2)),
                               model.anomaly_score(x, num_samples=16, seed=(1, 2)), atol=1e-3)


def test_errors_carry_the_servers_message(served):
    model, client = served
    with pytest.raises(ServingError, match="num_samples must be between 1 and") as info:
        client.sample(0)
    assert info.value.status == 400
    with pytest.raises(ServingError, match="answered 404"):
        ServingClient(client.url, "no_such_model").status()


def test_unreachable_server_and_timeout():
    with pytest.raises(ServingError, match="Could not reach TF Serving"):
        ServingClient("http://127.0.0.1:9", "m", timeout=2).status()


def test_the_client_imports_without_tensorflow(tmp_path):
    """A client needs numpy and the standard library: `import zoo.serving` in a fresh process
    loads neither TensorFlow, TFP nor Keras (it took 7.7 s when `zoo` imported every model)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = ("import sys, time; start = time.perf_counter(); import zoo.serving; "
            "print(time.perf_counter() - start); "
            "print(sorted(m for m in ('tensorflow', 'tensorflow_probability', 'keras') "
            "if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != "ZOO_PLUGINS"}
    env["PYTHONPATH"] = root
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    seconds, loaded = done.stdout.split("\n")[:2]
    assert loaded == "[]"
    assert float(seconds) < 2.0
