"""Generic Triton python-backend model: serves one ExeML model package, whatever its task type.

Triton copies nothing of ours into its venv, so the inference service writes this file into the model's
version folder next to two folders: ``package/`` (the model package: manifest.json + artifacts) and
``exeml_lib/`` (a copy of ``shared/packages``, which imports only numpy, the standard library and the
runtime its predictor needs). See docs/adr/0003-serving-on-triton.md.

Input ``PAYLOAD`` (BYTES, one element): the raw payload of a predict call (image/WAV bytes, UTF-8 text, JSON
rows). Output ``RESPONSE`` (BYTES, one element): JSON, either ``{"ok": <response body>}`` or ``{"error":
{"rule", "msg", "field"}}`` for a payload that breaks a rule of the predictor (the service answers 400).
"""

import json
import os
import sys

import numpy as np
import triton_python_backend_utils as pb_utils

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "exeml_lib"))

from shared.packages import PredictionInputError, Predictor, load_predictor


class TritonPythonModel:
    def initialize(self, args):
        self.predictor: Predictor = load_predictor(os.path.join(HERE, "package"))

    def execute(self, requests):
        payloads = [self._payload(request) for request in requests]
        return [pb_utils.InferenceResponse(output_tensors=[self._tensor(self._answer(p))]) for p in payloads]

    @staticmethod
    def _payload(request):
        array = pb_utils.get_input_tensor_by_name(request, "PAYLOAD").as_numpy()
        value = array.reshape(-1)[0]
        return value if isinstance(value, bytes) else bytes(value)

    def _answer(self, payload):
        # One payload at a time so that one bad payload fails only its own request.
        try:
            return {"ok": self.predictor.predict(payload)}
        except PredictionInputError as exc:
            return {"error": {"rule": exc.rule, "msg": exc.msg, "field": exc.field}}

    @staticmethod
    def _tensor(body):
        data = json.dumps(body, ensure_ascii=False, default=_plain).encode("utf-8")
        return pb_utils.Tensor("RESPONSE", np.array([data], dtype=np.object_))

    def finalize(self):
        del self.predictor


def _plain(value):
    """numpy scalars and arrays in a predictor's answer become plain JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
