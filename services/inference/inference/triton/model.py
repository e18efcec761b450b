"""Generic Triton python-backend model: serves one ExeML model package, whatever its task type.

Triton copies nothing of ours into its venv, so the inference service writes this file into the model's
version folder next to two folders: ``package/`` (the model package: manifest.json + artifacts) and
``exeml_lib/`` (a copy of ``shared/packages``, which imports only numpy, the standard library and the
runtime its predictor needs). See docs/adr/0003-serving-on-triton.md.

Input ``PAYLOAD`` (BYTES, ``[batch, 1]``): raw payloads of predict calls (image/WAV bytes, UTF-8 text, JSON
rows). Output ``RESPONSE`` (BYTES, ``[batch, 1]``): JSON per payload, either ``{"ok": <response body>}`` or
``{"error": {"rule", "msg", "field"}}`` for a payload that breaks a rule of the predictor (the service answers
400). Triton's dynamic batcher hands ``execute`` several requests at once: all their payloads are answered by
ONE ``predict_each`` call (one model run), and a bad payload's error stays that payload's.
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
        batches = [self._payloads(request) for request in requests]
        try:
            answers = self.predictor.predict_each([p for batch in batches for p in batch])
        except Exception as exc:  # noqa: BLE001 - a fault of the run, not of a payload: each request gets it
            error = pb_utils.TritonError(f"{type(exc).__name__}: {exc}")
            return [pb_utils.InferenceResponse(output_tensors=[], error=error) for _ in requests]
        responses, start = [], 0
        for batch in batches:
            bodies = [_body(a) for a in answers[start : start + len(batch)]]
            start += len(batch)
            responses.append(pb_utils.InferenceResponse(output_tensors=[self._tensor(bodies)]))
        return responses

    @staticmethod
    def _payloads(request):
        array = pb_utils.get_input_tensor_by_name(request, "PAYLOAD").as_numpy()
        return [value if isinstance(value, bytes) else bytes(value) for value in array.reshape(-1)]

    @staticmethod
    def _tensor(bodies):
        data = [json.dumps(body, ensure_ascii=False, default=_plain).encode("utf-8") for body in bodies]
        return pb_utils.Tensor("RESPONSE", np.array(data, dtype=np.object_).reshape(-1, 1))

    def finalize(self):
        del self.predictor


def _body(answer):
    if isinstance(answer, PredictionInputError):
        return {"error": {"rule": answer.rule, "msg": answer.msg, "field": answer.field}}
    return {"ok": answer}


def _plain(value):
    """numpy scalars and arrays in a predictor's answer become plain JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
