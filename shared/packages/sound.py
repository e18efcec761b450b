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

A package holds one model or an ensemble: ``preprocessing["models"]`` lists the artifact roles whose class
probabilities are averaged — ``"linear"`` (logistic regression on clip statistics, numpy weights in an
``.npz``), ``"boosted"`` (LightGBM on the same statistics) and ``"model"`` (the ONNX network above). The
statistics are :func:`shared.packages.sound_features.clip_statistics` of the same log-mel, with the spec
``preprocessing["statistics"]``. Without ``models`` the package is a network alone (older packages).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from shared.packages import PackageError, PredictionInputError, Predictor
from shared.packages.common import classification_answer, onnx_session, softmax
from shared.packages.sound_features import clip_statistics, dct_matrix

__all__ = [
    "DEFAULT_SPEC",
    "MODEL_ROLES",
    "BoostedModel",
    "LinearModel",
    "NetworkModel",
    "SoundPredictor",
    "decode_wav",
    "features_of_wav",
    "load_model",
    "log_mel",
    "mel_filterbank",
    "resample",
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


def _smooth_size(n: int) -> int:
    """The smallest 2^a·3^b·5^c ≥ ``n``: an FFT length pocketfft computes fast."""
    best, a = 2 * n, 1
    while a < 2 * n:
        b = a
        while b < 2 * n:
            c = b
            while c < n:
                c *= 5
            best, b = min(best, c), b * 3
        a *= 2
    return best


def resample(signal: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``signal`` at ``target`` Hz by the FFT method (ideal low-pass: no aliasing), numpy only.

    The signal is zero-padded so that both FFT lengths have small factors (a 1.5 s clip of a prime number
    of samples took 20 ms instead of 1 ms) and so that the resampled length is exact; the result is then cut
    to ``round(n * target / rate)`` samples.
    """
    if rate == target:
        return np.asarray(signal, dtype=np.float32)
    n = signal.shape[0]
    m = max(1, round(n * target / rate))
    step = math.gcd(rate, target)
    up, down = target // step, rate // step
    padded_n = down * _smooth_size(-(-n // down))
    padded_m = up * (padded_n // down)
    spectrum = np.fft.rfft(signal.astype(np.float64), n=padded_n)
    keep = min(spectrum.shape[0], padded_m // 2 + 1)
    out = np.zeros(padded_m // 2 + 1, dtype=np.complex128)
    out[:keep] = spectrum[:keep]
    if padded_m < padded_n and padded_m % 2 == 0:
        out[padded_m // 2] = out[padded_m // 2].real  # the new Nyquist bin of a real signal is real
    return (np.fft.irfft(out, n=padded_m)[:m] * (padded_m / padded_n)).astype(np.float32)


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
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
    filters: np.ndarray = np.maximum(0.0, np.minimum(rising, falling))
    return filters.astype(np.float32)


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
    logs: np.ndarray = np.log(mel + np.float32(spec["log_offset"]))
    return logs.T.astype(np.float32)


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


class LinearModel:
    """Logistic regression on clip statistics: ``softmax(((x - mean) / scale) @ coef.T + intercept)``."""

    needs = "statistics"

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.mean, self.scale = arrays["mean"], arrays["scale"]
        self.coef, self.intercept = arrays["coef"], arrays["intercept"]

    def probabilities(self, stats: np.ndarray) -> np.ndarray:
        """``[n, classes]`` of ``[n, features]`` statistics."""
        z = (np.asarray(stats, dtype=np.float64) - self.mean) / self.scale
        return softmax(z @ self.coef.T + self.intercept)


class BoostedModel:
    """A LightGBM multiclass (or binary) booster on clip statistics."""

    needs = "statistics"

    def __init__(self, path: Path) -> None:
        import lightgbm as lgb

        self.booster = lgb.Booster(model_file=str(path))

    def probabilities(self, stats: np.ndarray) -> np.ndarray:
        raw = np.asarray(self.booster.predict(np.asarray(stats, dtype=np.float64), num_threads=1))
        return np.stack([1.0 - raw, raw], axis=1) if raw.ndim == 1 else raw


class NetworkModel:
    """The ONNX network over log-mel windows; a clip's probabilities are the mean of its windows'."""

    needs = "log_mel"

    def __init__(self, path: Path, spec: dict[str, Any]) -> None:
        self.path, self.spec = path, spec
        self._session: Any = None

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = onnx_session(self.path)
        return self._session

    def probabilities(self, log_mel_matrix: np.ndarray) -> np.ndarray:
        """``[classes]`` of one clip's ``[n_mels, frames]`` log-mel."""
        clip: np.ndarray = self.probabilities_batch([log_mel_matrix])[0]
        return clip

    def probabilities_batch(self, log_mel_matrices: list[np.ndarray]) -> np.ndarray:
        """``[clips, classes]`` of several clips: the windows of all clips go through one model run."""
        parts = [windows(m, self.spec) for m in log_mel_matrices]
        logits = self.session.run(None, {self.spec["input_name"]: np.concatenate(parts)})[0]
        probabilities = softmax(np.asarray(logits, dtype=np.float64))
        ends = np.cumsum([len(p) for p in parts])
        return np.stack([probabilities[end - len(p) : end].mean(axis=0) for p, end in zip(parts, ends)])


MODEL_ROLES = ("linear", "boosted", "model")  # artifact role of each kind: statistics models, the network


def load_model(role: str, path: Path, spec: dict[str, Any]) -> LinearModel | BoostedModel | NetworkModel:
    """The model of artifact ``role`` (one of :data:`MODEL_ROLES`)."""
    if role == "linear":
        with np.load(path) as arrays:
            return LinearModel(dict(arrays))
    if role == "boosted":
        return BoostedModel(path)
    if role == "model":
        return NetworkModel(path, spec)
    raise PackageError(f"unknown sound model role {role!r}; expected one of {MODEL_ROLES}")


class SoundPredictor(Predictor):
    """Classifies WAV file bytes with the mean probabilities of the package's models.

    ``preprocessing["models"]`` lists their artifact roles (:data:`MODEL_ROLES`); a package without the list
    (written before statistics models existed) holds only the network, ``model``. The statistics models read
    :func:`shared.packages.sound_features.clip_statistics` of ``preprocessing["statistics"]``.
    """

    def __init__(self, package_dir: Path, manifest: dict[str, Any]) -> None:
        super().__init__(package_dir, manifest)
        self.spec: dict[str, Any] = {**DEFAULT_SPEC, **(manifest.get("preprocessing") or {})}
        if not manifest.get("preprocessing"):
            raise PackageError("manifest has no 'preprocessing' feature spec")
        if not self.labels:
            raise PackageError("manifest has no labels")
        roles = list(self.spec.get("models") or ["model"])
        self.models = [load_model(role, self.artifact(role), self.spec) for role in roles]
        if any(m.needs == "statistics" for m in self.models) and not self.spec.get("statistics"):
            raise PackageError("manifest has statistics models but no 'statistics' spec in 'preprocessing'")
        self.filterbank = mel_filterbank(self.spec)
        statistics = self.spec.get("statistics")
        self.dct = dct_matrix(int(self.spec["n_mels"]), int(statistics["n_mfcc"])) if statistics else None

    def probabilities_of(self, log_mel_matrix: np.ndarray) -> np.ndarray:
        """Class probabilities of one clip's log-mel: the mean over the package's models."""
        clip: np.ndarray = self.probabilities_batch([log_mel_matrix])[0]
        return clip

    def probabilities_batch(self, log_mel_matrices: list[np.ndarray]) -> np.ndarray:
        """``[clips, classes]`` of several clips' log-mels: one run of each of the package's models."""
        stats = None
        found = []
        for model in self.models:
            if isinstance(model, NetworkModel):
                found.append(model.probabilities_batch(log_mel_matrices))
                continue
            if stats is None:
                spec = self.spec["statistics"]
                stats = np.stack([clip_statistics(m, spec, self.dct) for m in log_mel_matrices])
            found.append(model.probabilities(stats))
        mean: np.ndarray = np.mean(found, axis=0)
        return mean

    def probabilities(self, payload: bytes) -> np.ndarray:
        """Class probabilities of one WAV file."""
        return self.probabilities_of(self.prepare(payload))

    def prepare(self, payload: bytes) -> np.ndarray:
        """The log-mel matrix of one WAV file."""
        return features_of_wav(payload, self.spec, self.filterbank)

    def predict_prepared(self, prepared: list[np.ndarray]) -> list[dict[str, Any]]:
        """Classify several clips with one run of each model."""
        return [classification_answer(self.labels, p) for p in self.probabilities_batch(prepared)]
