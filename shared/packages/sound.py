"""Sound classification predictor: WAV bytes → ``{"predicted_label", "score", "scores"}``.

Runs in the Triton python backend (numpy 1.26, no torch, no scipy), so decoding uses soundfile, the
features are computed here in numpy and the network runs in onnxruntime. The trainer computes its training
and validation features with these same functions, so serving reproduces them exactly.

The package's ``manifest["preprocessing"]`` is the feature spec (:data:`DEFAULT_SPEC` shows every key)::

    {"sample_rate": 16000,          # every file is mixed down to mono and resampled (FFT method) to this rate
     "n_fft": 512, "win_length": 400, "hop_length": 160, "window": "hann",   # STFT, no centring/padding
     "n_mels": 64, "fmin": 20.0, "fmax": 8000.0, "mel_scale": "htk",         # triangular mel filterbank
     "power": 2.0, "log_offset": 1e-6,                                       # log(mel power + offset)
     "window_frames": 96, "window_hop_frames": 48,  # the network sees [n_mels, window_frames] windows
     "short_clip": "repeat",
     "input_name": "features", "output": "logits"}

A clip shorter than one window is repeated to fill one window; a longer one is cut into windows (hop
``window_hop_frames``, the last one aligned to the end) whose softmax scores are averaged.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from shared.packages import PackageError, PredictionInputError, Predictor

__all__ = [
    "DEFAULT_SPEC",
    "SoundPredictor",
    "decode_wav",
    "features_of_wav",
    "log_mel",
    "mel_filterbank",
    "resample",
    "softmax",
    "windows",
]

DEFAULT_SPEC: dict[str, Any] = {
    "sample_rate": 16000,
    "n_fft": 512,
    "win_length": 400,
    "hop_length": 160,
    "window": "hann",
    "n_mels": 64,
    "fmin": 20.0,
    "fmax": 8000.0,
    "mel_scale": "htk",
    "power": 2.0,
    "log_offset": 1e-6,
    "window_frames": 96,
    "window_hop_frames": 48,
    "short_clip": "repeat",
    "mixdown": "mean",
    "resample": "fft",
    "input_name": "features",
    "output": "logits",
}
# soundfile container formats that are WAV files ("all sub-formats of WAV"), and the one sample format the
# seed accepts: "Only 16-bit WAV files are supported".
WAV_FORMATS = ("WAV", "WAVEX", "RF64")
WAV_SUBTYPES = ("PCM_16",)
TOP_K = 5
THREADS_ENV = "EXEML_ORT_THREADS"


def decode_wav(payload: bytes) -> tuple[np.ndarray, int]:
    """Mono ``float32`` samples in [-1, 1] and the sample rate of 16-bit WAV bytes, else a typed error."""
    import soundfile as sf

    if not payload:
        raise PredictionInputError("audio_empty", "the audio file is empty", field="audio")
    try:
        info = sf.info(io.BytesIO(payload))
    except (RuntimeError, sf.LibsndfileError, TypeError, ValueError) as exc:
        raise PredictionInputError(
            "audio_decode", f"the file is not a readable WAV file: {exc}", field="audio"
        ) from exc
    if info.format not in WAV_FORMATS:
        raise PredictionInputError(
            "audio_format", f"audio format {info.format} is not supported; use 16-bit WAV", field="audio"
        )
    if info.subtype not in WAV_SUBTYPES:
        raise PredictionInputError(
            "audio_bit_depth",
            f"WAV sample format {info.subtype} is not supported; only 16-bit WAV files are supported",
            field="audio",
        )
    try:
        data, rate = sf.read(io.BytesIO(payload), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError) as exc:
        raise PredictionInputError("audio_decode", f"the WAV file is corrupt: {exc}", field="audio") from exc
    if data.shape[0] == 0:
        raise PredictionInputError("audio_empty", "the WAV file holds no samples", field="audio")
    return data.mean(axis=1).astype(np.float32), int(rate)


def resample(signal: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``signal`` at ``target`` Hz by the FFT method (ideal low-pass: no aliasing), numpy only."""
    if rate == target:
        return np.asarray(signal, dtype=np.float32)
    n = signal.shape[0]
    m = max(1, round(n * target / rate))
    spectrum = np.fft.rfft(signal.astype(np.float64))
    keep = min(spectrum.shape[0], m // 2 + 1)
    out = np.zeros(m // 2 + 1, dtype=np.complex128)
    out[:keep] = spectrum[:keep]
    if m < n and m % 2 == 0:
        out[m // 2] = out[m // 2].real  # the new Nyquist bin of a real signal is real
    return (np.fft.irfft(out, n=m) * (m / n)).astype(np.float32)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(spec: dict[str, Any]) -> np.ndarray:
    """``[n_mels, n_fft // 2 + 1]`` triangular filters on the HTK mel scale between fmin and fmax."""
    rate, n_fft, n_mels = int(spec["sample_rate"]), int(spec["n_fft"]), int(spec["n_mels"])
    fmax = float(spec.get("fmax") or rate / 2)
    freqs = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(float(spec["fmin"])), _hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def _min_samples(spec: dict[str, Any]) -> int:
    return int(spec["win_length"]) + (int(spec["window_frames"]) - 1) * int(spec["hop_length"])


def log_mel(signal: np.ndarray, spec: dict[str, Any], filterbank: np.ndarray | None = None) -> np.ndarray:
    """``float32 [n_mels, frames]`` log-mel power of a mono signal already at ``spec["sample_rate"]``.

    A signal shorter than one network window is repeated to fill exactly one window (silence would put
    the features far outside what the network saw in training, as the seed's clips last over a second).
    """
    win, hop, n_fft = int(spec["win_length"]), int(spec["hop_length"]), int(spec["n_fft"])
    signal = np.asarray(signal, dtype=np.float32)
    need = _min_samples(spec)
    if signal.shape[0] < need:
        signal = np.tile(signal, -(-need // signal.shape[0]))[:need]
    frames = np.lib.stride_tricks.sliding_window_view(signal, win)[::hop]
    if spec.get("window", "hann") != "hann":
        raise PackageError(f"unsupported STFT window {spec.get('window')!r}")
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)).astype(np.float32)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, n=n_fft, axis=1)) ** float(spec.get("power", 2.0))
    fb = mel_filterbank(spec) if filterbank is None else filterbank
    mel = power.astype(np.float32) @ fb.T
    return np.log(mel + np.float32(spec["log_offset"])).T.astype(np.float32)


def features_of_wav(payload: bytes, spec: dict[str, Any], filterbank: np.ndarray | None = None) -> np.ndarray:
    """The log-mel matrix of WAV bytes as the package's spec describes (decode, mix down, resample)."""
    signal, rate = decode_wav(payload)
    return log_mel(resample(signal, rate, int(spec["sample_rate"])), spec, filterbank)


def windows(features: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """``[n, 1, n_mels, window_frames]`` windows covering every frame (the last one aligned to the end)."""
    size, hop = int(spec["window_frames"]), int(spec["window_hop_frames"])
    total = features.shape[1]
    if total < size:
        features = np.pad(features, ((0, 0), (0, size - total)), constant_values=float(features.min()))
        total = size
    starts = list(range(0, total - size + 1, hop))
    if starts[-1] != total - size:
        starts.append(total - size)
    return np.stack([features[:, s : s + size] for s in starts])[:, None].astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def response(labels: list[str], probabilities: np.ndarray) -> dict[str, Any]:
    """``{"predicted_label", "score", "scores": [[label, score], ...]}`` with the top 5 scores."""
    order = np.argsort(-probabilities, kind="stable")
    best = int(order[0])
    return {
        "predicted_label": labels[best],
        "score": float(probabilities[best]),
        "scores": [[labels[int(i)], float(probabilities[int(i)])] for i in order[:TOP_K]],
    }


class SoundPredictor(Predictor):
    """Loads ``model.onnx`` of a sound classification package and classifies WAV file bytes."""

    providers: tuple[str, ...] | list[str] = ("CPUExecutionProvider",)

    def __init__(self, package_dir: Path, manifest: dict[str, Any]) -> None:
        super().__init__(package_dir, manifest)
        self.spec: dict[str, Any] = {**DEFAULT_SPEC, **(manifest.get("preprocessing") or {})}
        if not manifest.get("preprocessing"):
            raise PackageError("manifest has no 'preprocessing' feature spec")
        if not self.labels:
            raise PackageError("manifest has no labels")
        self.model_path = self.artifact("model")
        self.filterbank = mel_filterbank(self.spec)
        self._session: Any = None

    @property
    def session(self) -> Any:
        if self._session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = int(os.environ.get(THREADS_ENV) or 1)
            self._session = ort.InferenceSession(
                str(self.model_path), options, providers=list(self.providers)
            )
        return self._session

    def probabilities(self, payload: bytes) -> np.ndarray:
        """Class probabilities of one WAV file: the mean of its windows' softmax scores."""
        batch = windows(features_of_wav(payload, self.spec, self.filterbank), self.spec)
        logits = self.session.run(None, {self.spec["input_name"]: batch})[0]
        return softmax(np.asarray(logits, dtype=np.float64)).mean(axis=0)

    def predict(self, payload: bytes) -> dict[str, Any]:
        return response(self.labels, self.probabilities(payload))
