"""A small client for TF Serving's REST API (`/v1/models/NAME[/versions/N]:predict`).

    >>> client = ServingClient("http://localhost:8501", "vae_mnist")
    >>> images = client.sample(16, seed=(1, 2))["x"]            # numpy arrays in and out
    >>> recon = client.predict("serving_default", x=x_test[:8])["reconstruction"]

Uses only the standard library (urllib), so serving needs no extra dependency. For gRPC, see
the README (`tensorflow-serving-api`, optional).
"""

import json
import urllib.error
import urllib.request

import numpy as np


class ServingError(RuntimeError):
    """TF Serving answered with an error (status and its message) or could not be reached."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class ServingClient:
    """REST client of one served model.

    Args:
        url: server address, e.g. "http://localhost:8501".
        model: the served model name (from models.config or MODEL_NAME).
        version: a specific version, or None for the latest.
        timeout: seconds to wait for each answer.
    """

    def __init__(self, url, model, version=None, timeout=30.0):
        self.url = url.rstrip("/")
        self.model = model
        self.version = version
        self.timeout = timeout

    @property
    def model_url(self):
        path = f"{self.url}/v1/models/{self.model}"
        return f"{path}/versions/{int(self.version)}" if self.version is not None else path

    def _request(self, url, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                text = json.loads(text).get("error", text)
            except ValueError:
                pass
            raise ServingError(f"TF Serving answered {e.code} for {url}: {text}",
                               status=e.code) from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise ServingError(f"Could not reach TF Serving at {url}: {e}") from None

    def status(self):
        """The model's version status (GET /v1/models/NAME)."""
        return self._request(self.model_url)

    def metadata(self):
        """The signatures with their inputs and outputs (GET .../metadata)."""
        return self._request(f"{self.model_url}/metadata")

    def predict(self, signature_name="serving_default", **inputs):
        """Runs a signature on named numpy inputs (columnar "inputs" format); returns arrays."""
        body = {"signature_name": signature_name,
                "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}}
        answer = self._request(f"{self.model_url}:predict", body)
        outputs = answer.get("outputs")
        if outputs is None:
            raise ServingError(f"Unexpected answer without 'outputs': {str(answer)[:200]}")
        if not isinstance(outputs, dict):  # TF Serving leaves a signature's only output unnamed
            outputs = {"output": outputs}
        return {k: np.asarray(v) for k, v in outputs.items()}

    def _single(self, signature_name, name, **inputs):
        outputs = self.predict(signature_name, **inputs)
        return outputs[name] if name in outputs else outputs["output"]

    def reconstruct(self, x):
        return self._single("serving_default", "reconstruction", x=x)

    def encode(self, x):
        return self.predict("encode", x=x)

    def decode(self, z):
        return self.predict("decode", z=z)

    def sample(self, num_samples, seed=(0, 0)):
        return self.predict("sample", num_samples=int(num_samples), seed=list(seed))

    def log_prob(self, x, num_samples=1000, seed=(0, 0)):
        return self._single("log_prob", "log_prob", x=x, num_samples=int(num_samples),
                            seed=list(seed))

    def score(self, x, num_samples=100, seed=(0, 0)):
        """Anomaly scores (higher = more unusual), the model's `anomaly_score`."""
        return self._single("score", "score", x=x, num_samples=int(num_samples),
                            seed=list(seed))
