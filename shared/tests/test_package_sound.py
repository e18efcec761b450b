"""The sound predictor: WAV decoding rules, numpy features (checked against torch and scipy), windows, clip
statistics, ensembles of models, typed errors, the serving interpreter."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from shared.packages import PackageError, PredictionInputError, load_predictor, write_manifest
from shared.packages.sound import DEFAULT_SPEC, decode_wav, log_mel, mel_filterbank, resample, windows
from shared.packages.sound_features import STATS_SPEC, active_span, clip_statistics, dct_matrix, feature_names
from shared.testing.datagen import wav_bytes
from shared.testing.model_packages import onnx_bytes
from shared.testing.processes import python_output

ROOT = Path(__file__).resolve().parents[2]


def _wav(signal: np.ndarray, rate: int, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    out = io.BytesIO()
    sf.write(out, signal.astype(np.float32), rate, subtype=subtype, format=fmt)
    return out.getvalue()


def _tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    return 0.5 * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)


@pytest.fixture
def package(tmp_path) -> Path:
    """A hand-made ONNX model: mean log-mel of the lower half of the bands vs the upper half."""
    from onnx import TensorProto, helper, numpy_helper

    n_mels = DEFAULT_SPEC["n_mels"]
    weights = np.zeros((n_mels, 2), dtype=np.float32)
    weights[: n_mels // 2, 0] = 1.0
    weights[n_mels // 2 :, 1] = 1.0
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["features"], ["pooled"], axes=[1, 3], keepdims=0),
            helper.make_node("MatMul", ["pooled", "w"], ["logits"]),
        ],
        "toy",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 1, n_mels, "frames"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(weights, "w")],
    )
    (tmp_path / "model.onnx").write_bytes(onnx_bytes(graph, 17))
    write_manifest(
        tmp_path,
        {
            "task_type": "sound_classification",
            "labels": ["low", "high"],
            "artifacts": {"model": "model.onnx"},
            "preprocessing": dict(DEFAULT_SPEC),
        },
    )
    return tmp_path


def test_16bit_wav_of_any_rate_and_channel_count_is_decoded() -> None:
    stereo = np.stack([_tone(440, 44100), 0.5 * _tone(440, 44100)], axis=1)
    signal, rate = decode_wav(_wav(stereo, 44100))
    assert rate == 44100 and signal.ndim == 1 and signal.shape[0] == 44100
    assert np.allclose(signal, 0.75 * _tone(440, 44100), atol=1e-3)  # channels averaged
    for fmt in ("WAV", "WAVEX", "RF64"):
        assert decode_wav(_wav(_tone(440, 8000), 8000, fmt=fmt))[1] == 8000


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        (b"", "audio_empty"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", "audio_decode"),
        (b"not audio at all", "audio_decode"),
        ("8bit", "audio_bit_depth"),
        ("24bit", "audio_bit_depth"),
        ("float", "audio_bit_depth"),
        ("flac", "audio_format"),
    ],
)
def test_bad_audio_raises_a_typed_error(payload, rule) -> None:
    made = {
        "8bit": lambda: wav_bytes(440.0, subtype="PCM_U8"),
        "24bit": lambda: wav_bytes(440.0, subtype="PCM_24"),
        "float": lambda: wav_bytes(440.0, subtype="FLOAT"),
        "flac": lambda: _wav(_tone(440, 16000), 16000, fmt="FLAC"),
    }
    data = made[payload]() if isinstance(payload, str) else payload
    with pytest.raises(PredictionInputError) as caught:
        decode_wav(data)
    assert caught.value.rule == rule and caught.value.field == "audio"


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_keeps_the_pitch(rate) -> None:
    out = resample(_tone(1000, rate).astype(np.float32), rate, 16000)
    assert out.shape[0] == 16000
    peak = np.argmax(np.abs(np.fft.rfft(out))) * 16000 / out.shape[0]
    assert peak == pytest.approx(1000, abs=2)
    assert np.max(np.abs(out[100:-100])) == pytest.approx(0.5, abs=0.02)


def test_log_mel_equals_torch_stft_with_the_same_filterbank() -> None:
    import torch

    spec = DEFAULT_SPEC
    signal = (_tone(700, 16000, 1.3) + 0.01 * np.random.default_rng(0).standard_normal(20800)).astype(
        np.float32
    )
    ours = log_mel(signal, spec)
    window = torch.hann_window(spec["win_length"], periodic=True)
    # torch centres the win_length window inside each n_fft frame: shift the signal so the frames line up
    shift = (spec["n_fft"] - spec["win_length"]) // 2
    shifted = torch.from_numpy(np.concatenate([np.zeros(shift, dtype=np.float32), signal]))
    stft = torch.stft(
        shifted,
        n_fft=spec["n_fft"],
        hop_length=spec["hop_length"],
        win_length=spec["win_length"],
        window=window,
        center=False,
        return_complex=True,
    )
    power = stft.abs() ** 2  # [freq, frames]
    theirs = torch.log(torch.from_numpy(mel_filterbank(spec)) @ power + spec["log_offset"]).numpy()
    assert ours.shape == (spec["n_mels"], 1 + (20800 - 400) // 160)
    common = min(ours.shape[1], theirs.shape[1])
    assert common >= ours.shape[1] - 1
    assert np.max(np.abs(ours[:, :common] - theirs[:, :common])) < 1e-3


def test_filterbank_is_triangles_in_increasing_frequency() -> None:
    fb = mel_filterbank(DEFAULT_SPEC)
    assert fb.shape == (64, 257) and fb.min() >= 0 and fb.max() <= 1
    peaks = fb.argmax(axis=1)
    assert np.all(np.diff(peaks) >= 0) and peaks[-1] > peaks[0]


def test_windows_cover_long_clips_and_short_clips_fill_one() -> None:
    spec = DEFAULT_SPEC
    long = windows(log_mel(_tone(300, 16000, 5.0).astype(np.float32), spec), spec)
    frames = 1 + (80000 - 400) // 160
    assert long.shape[1:] == (1, 64, 96)
    assert long.shape[0] == len(range(0, frames - 96 + 1, 48)) + 1  # the last window aligned to the end
    short = windows(log_mel(_tone(300, 16000, 0.2).astype(np.float32), spec), spec)
    assert short.shape == (1, 1, 64, 96)


def test_predictor_scores_and_response_shape(package) -> None:
    predictor = load_predictor(package)
    low = predictor.predict(_wav(_tone(200, 22050, 2.5), 22050))
    high = predictor.predict(_wav(np.stack([_tone(5000, 44100)] * 2, axis=1), 44100))
    short = predictor.predict(_wav(_tone(200, 8000, 0.3), 8000))
    assert (low["predicted_label"], high["predicted_label"], short["predicted_label"]) == (
        "low",
        "high",
        "low",
    )
    assert set(low) == {"predicted_label", "score", "scores"}
    # Decimal strings with 3 decimals, as the guide writes scores (ADR 0022).
    assert all(re.fullmatch(r"[01]\.\d{3}", s) for s in [low["score"], *(s for _, s in low["scores"])])
    # Both labels' probabilities sum to 1; each printed one is within 0.0005 of its value, so their sum is
    # within 2 x 0.0005 of 1.
    assert low["score"] == low["scores"][0][1]
    assert sum(float(s) for _, s in low["scores"]) == pytest.approx(1.0, abs=2 * 0.0005)
    assert [label for label, _ in low["scores"]] == ["low", "high"]
    with pytest.raises(PredictionInputError) as caught:
        predictor.predict(wav_bytes(440.0, subtype="PCM_U8"))
    assert caught.value.rule == "audio_bit_depth"


def test_a_package_without_feature_spec_is_refused(package) -> None:
    write_manifest(
        package,
        {
            "task_type": "sound_classification",
            "labels": ["low", "high"],
            "artifacts": {"model": "model.onnx"},
        },
    )
    with pytest.raises(PackageError, match="preprocessing"):
        load_predictor(package)


def test_predictor_runs_without_torch_scipy_or_sklearn(package) -> None:
    """What Triton's python backend has: numpy, soundfile, onnxruntime; nothing else is imported."""
    code = (
        "import sys\n"
        "for name in ('torch', 'scipy', 'sklearn', 'librosa', 'pydantic'):\n"
        "    sys.modules[name] = None\n"
        "from shared.packages import load_predictor\n"
        "import io, numpy as np, soundfile as sf\n"
        "out = io.BytesIO()\n"
        "sf.write(out, 0.5 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000), 16000, format='WAV')\n"
        f"print(load_predictor({str(package)!r}).predict(out.getvalue())['predicted_label'])\n"
    )
    assert python_output(code).strip() == "low"


# -- clip statistics and packages of several models ------------------------------------------------------


def _two_tones(first: float, second: float, rate: int = 16000) -> np.ndarray:
    return np.concatenate([_tone(first, rate, 0.5), _tone(second, rate, 0.5)]).astype(np.float32)


def _stats(signal: np.ndarray) -> np.ndarray:
    return clip_statistics(log_mel(signal, DEFAULT_SPEC), STATS_SPEC)


def test_dct_matrix_is_the_orthonormal_dct_ii() -> None:
    from scipy.fft import dct

    matrix = np.random.default_rng(0).standard_normal((64, 30))
    expected = dct(matrix, type=2, axis=0, norm="ortho")[:20]
    assert np.allclose(dct_matrix(64, 20) @ matrix, expected, atol=1e-5)


def test_statistics_ignore_the_gain_and_find_the_word_in_silence() -> None:
    noise = 0.001 * np.random.default_rng(1).standard_normal(48000).astype(np.float32)
    word = _two_tones(400, 1200)
    assert np.allclose(_stats(word), _stats(0.1 * word), atol=0.05)  # log(g²p + offset) vs log(p + offset)
    clip = noise.copy()
    clip[12800 : 12800 + word.shape[0]] += word  # 0.8 s of near-silence, the word, 0.2 s
    first, last = active_span(log_mel(clip, DEFAULT_SPEC))
    assert abs(first - 80) <= 3 and abs(last - 180) <= 3  # frames of 10 ms
    assert _stats(clip).shape == (len(feature_names(STATS_SPEC)),)


def test_statistics_tell_the_order_of_sounds_that_means_and_deviations_cannot() -> None:
    names = feature_names(STATS_SPEC)
    up, down = _stats(_two_tones(400, 1200)), _stats(_two_tones(1200, 400))
    whole = [
        i
        for i, n in enumerate(names)
        if n.startswith("mfcc") and n.endswith(("_mean", "_std")) and "delta" not in n
    ]
    timed = [i for i, n in enumerate(names) if "_seg" in n]
    assert np.max(np.abs(up[whole] - down[whole])) < 0.05 * np.max(np.abs(up[whole]))
    assert np.max(np.abs(up[timed] - down[timed])) > 0.5 * np.max(np.abs(up[timed]))


def test_a_rising_pitch_shifts_the_low_bands_up() -> None:
    t = np.arange(16000) / 16000
    rising = 0.5 * np.sin(2 * np.pi * (150 * t + 350 * t**2))  # 150 → 850 Hz
    shift = {name: value for name, value in zip(feature_names(STATS_SPEC), _stats(rising.astype(np.float32)))}
    falling = _stats(rising[::-1].astype(np.float32))[feature_names(STATS_SPEC).index("shift_mean")]
    assert shift["shift_mean"] > 0.1 and falling < -0.1


@pytest.fixture
def ensemble(package) -> Path:
    """The toy network of ``package`` with a logistic regression and a LightGBM model on clip statistics."""
    import lightgbm as lgb

    rng = np.random.default_rng(2)
    width = len(feature_names(STATS_SPEC))
    np.savez(package / "linear.npz", mean=rng.standard_normal(width), scale=rng.uniform(0.5, 2.0, width),
             coef=0.1 * rng.standard_normal((2, width)), intercept=np.array([0.2, -0.2]))  # fmt: skip
    x = rng.standard_normal((40, width))
    lgb.train({"objective": "binary", "verbosity": -1, "min_data_in_leaf": 2}, lgb.Dataset(x, (x[:, 0] > 0) * 1),
              num_boost_round=5).save_model(str(package / "boosted.lgb.txt"))  # fmt: skip
    write_manifest(package, {
        "task_type": "sound_classification", "labels": ["low", "high"],
        "artifacts": {"model": "model.onnx", "linear": "linear.npz", "boosted": "boosted.lgb.txt"},
        "preprocessing": {**DEFAULT_SPEC, "statistics": STATS_SPEC, "models": ["linear", "boosted", "model"]},
    })  # fmt: skip
    return package


def test_an_ensemble_answers_the_mean_of_its_models(ensemble) -> None:
    predictor = load_predictor(ensemble)
    payload = _wav(_two_tones(300, 2500, 22050), 22050)
    mel = log_mel(resample(decode_wav(payload)[0], 22050, 16000), DEFAULT_SPEC)
    stats = clip_statistics(mel, STATS_SPEC)[None]
    each = [model.probabilities(mel if model.needs == "log_mel" else stats) for model in predictor.models]
    expected = np.mean([p.reshape(-1) for p in each], axis=0)
    assert np.allclose(predictor.probabilities(payload), expected)
    # the models differ
    assert {tuple(np.round(p.reshape(-1), 6)) for p in each} != {tuple(np.round(expected, 6))}
    answer = predictor.predict(payload)
    assert answer["score"] == f"{expected.max():.3f}"  # the mean's best, as the answer writes it


def test_a_statistics_model_without_its_spec_is_refused(ensemble) -> None:
    manifest = json.loads((ensemble / "manifest.json").read_text())
    del manifest["preprocessing"]["statistics"]
    write_manifest(ensemble, manifest)
    with pytest.raises(PackageError, match="statistics"):
        load_predictor(ensemble)


def test_the_ensemble_answers_the_same_in_the_serving_interpreter(ensemble) -> None:
    """``.venv-triton`` (numpy 1.26, onnxruntime, lightgbm; what Triton's python backend runs) gives the
    answer this interpreter gives."""
    python = ROOT / ".venv-triton" / "bin" / "python"
    assert python.is_file(), "no .venv-triton: `make install` creates it"
    payload = _wav(np.stack([_two_tones(300, 2500, 44100)] * 2, axis=1), 44100)
    (ensemble.parent / "probe.wav").write_bytes(payload)
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "for name in ('torch', 'sklearn', 'librosa', 'pydantic'):\n"
        "    sys.modules[name] = None\n"
        "from shared.packages import load_predictor\n"
        f"predictor = load_predictor({str(ensemble)!r})\n"
        f"payload = open({str(ensemble.parent / 'probe.wav')!r}, 'rb').read()\n"
        "print(json.dumps({'answer': predictor.predict(payload),"
        " 'probabilities': predictor.probabilities(payload).reshape(-1).tolist()}))\n"
    )
    out, predictor = json.loads(python_output(code, python=python, timeout=120)), load_predictor(ensemble)
    served, here = out["answer"], predictor.predict(payload)
    assert served["predicted_label"] == here["predicted_label"]
    # The answers print 3 decimals: the probabilities themselves are compared, at the former 1e-5.
    mine = predictor.probabilities(payload).reshape(-1).tolist()
    assert out["probabilities"] == pytest.approx(mine, abs=1e-5)
