"""Sound classification quality: the engine against simple baselines, same data, same budget, same run.

Data (generated, seeded; :mod:`shared.testing.sound_words`): synthetic spoken words said by several voices
(base pitch, vocal-tract length, tilt, breathiness, speaking rate, vibrato) in white/pink/brown noise at
10–30 dB SNR, 16/22.05/44.1 kHz, some stereo. Training clips come from 8 voices, test clips from 4 *other*
voices (held-out sources). Two vocabularies:

* ``vowel-order``: six words made of the same three vowels: four orders, and a fifth order said with a rising
  or a falling pitch: the same average spectrum and the same average pitch, only the spectral-temporal pattern
  differs;
* ``commands``: four words with different vowels and onsets (what MFCC statistics already separate well).

A single-pitch feature (the clip's dominant frequency below 1 kHz + logistic regression) is scored too: it
must stay near chance, else the data would prove nothing.

Systems: the engine (``load_engine("sound_classification").train``, its package predicting the test clips,
wall time of the job's training part), MFCC mean/std + logistic regression (scikit-learn defaults), the same
statistics + LightGBM defaults, majority class. The baselines train on *all* training clips; the engine holds
out its own validation split from the same clips. Prints one ``QUALITY`` line per (dataset, budget, system)
and a table with each system's ratio to the best baseline; exits non-zero when the engine is below the best
baseline or its wall time exceeds the budget by more than 5 %.

    python bench/bench_quality_sound.py [--budgets 60,360] [--seeds 1,2] [--data vowel-order,commands] [--quick]

The shortest budget runs on every seed, longer ones on the first seed only; ``--quick`` is one seed at 20 s
with fewer clips.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

# Every system single-threaded (see bench_quality_table.py): the comparison is of methods, not thread counts.
os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from quality_report import (
    ENGINE,
    PACKAGING_MARGIN,
    bench_options,
    engine_failure,
    planned_runs,
    quality_line,
    report,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from trainer.engines import load_engine
from trainer.engines.base import Sample, TrainContext, TrainingParams, VersionData

from shared.packages import load_predictor
from shared.packages.sound import DEFAULT_SPEC, decode_wav, log_mel, mel_filterbank, resample
from shared.packages.sound_features import dct_matrix
from shared.testing.sound_words import COMMAND_WORDS, ORDER_WORDS, make_sources, word_clips

TYPE = "sound_classification"
VOCABULARIES = {"vowel-order": ORDER_WORDS, "commands": COMMAND_WORDS}
# classes that differ in spectral-temporal pattern: one pitch must not tell them apart
PATTERN_DATA = {"vowel-order"}


def _mel(payload: bytes) -> np.ndarray:
    signal, rate = decode_wav(payload)
    return log_mel(
        resample(signal, rate, DEFAULT_SPEC["sample_rate"]), DEFAULT_SPEC, mel_filterbank(DEFAULT_SPEC)
    )


def mfcc_stats(payload: bytes) -> np.ndarray:
    """MFCC (20, DCT-II of the log-mel) mean and standard deviation over the clip: the classic baseline."""
    mfcc = dct_matrix(DEFAULT_SPEC["n_mels"], 20) @ _mel(payload)
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)])


def dominant_pitch(payload: bytes) -> np.ndarray:
    """log of the strongest frequency between 60 Hz and 1 kHz: one pitch per clip."""
    signal, rate = decode_wav(payload)
    spectrum = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(signal.shape[0], 1 / rate)
    band = (freqs >= 60) & (freqs <= 1000)
    return np.log([freqs[band][np.argmax(spectrum[band])]])


def _baselines(train: list, test: list) -> dict[str, tuple[float, float]]:
    import lightgbm as lgb

    y = [w for _, w, _ in train]
    truth = np.array([w for _, w, _ in test])
    out = {}
    systems = {
        "mfcc-stats+logreg": (
            mfcc_stats,
            lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)),
        ),
        "mfcc-stats+lightgbm": (mfcc_stats, lambda: lgb.LGBMClassifier(verbose=-1)),
        "dominant-pitch+logreg": (
            dominant_pitch,
            lambda: make_pipeline(StandardScaler(), LogisticRegression()),
        ),
    }
    for name, (features, model) in systems.items():
        started = time.monotonic()
        fitted = model().fit(np.stack([features(p) for p, _, _ in train]), y)
        predicted = fitted.predict(np.stack([features(p) for p, _, _ in test]))
        out[name] = (float(np.mean(predicted == truth)), time.monotonic() - started)
    values, counts = np.unique(y, return_counts=True)
    out["majority-class"] = (float(np.mean(truth == values[counts.argmax()])), 0.0)
    return out


def _engine(
    train: list, test: list, words: list[str], budget: float, seed: int, preference: str, work: Path
) -> tuple[float, float, str]:
    folder = work / "clips"
    folder.mkdir(parents=True)
    samples = []
    for i, (payload, word, _) in enumerate(train):
        (folder / f"{i:04d}.wav").write_bytes(payload)
        samples.append(Sample(sample_id=str(i), labels=[word], path=folder / f"{i:04d}.wav"))
    engine = load_engine("sound_classification")
    started = time.monotonic()
    ctx = TrainContext(
        params=TrainingParams(preference=preference, seed=seed),
        data=VersionData("sound_classification", words, train=samples),
        work_dir=work,
        package_dir=work / "package",
        deadline=started + budget,
        packaging_margin_seconds=PACKAGING_MARGIN,
        log=lambda line: print(f"    | {line}"),
    )
    result = engine.train(ctx)
    wall = time.monotonic() - started
    predictor = load_predictor(ctx.package_dir)
    predicted = np.array([predictor.predict(p)["predicted_label"] for p, _, _ in test])
    accuracy = float(np.mean(predicted == np.array([w for _, w, _ in test])))
    return accuracy, wall, f"{result.candidate}; validation {result.metrics['accuracy']:.3f}"


def run_row(
    data: str, seed: int, budget: float, per_source: int, preference: str
) -> tuple[list[tuple[str, float, float]], list[str]]:
    """(system, accuracy, wall seconds) of the engine and each baseline, and their QUALITY lines."""
    words = list(VOCABULARIES[data])
    train = word_clips(make_sources(8, 1000 + seed), per_source, 2000 + seed, words)
    test = word_clips(make_sources(4, 3000 + seed), max(1, per_source // 2), 4000 + seed, words)
    print(
        f"== {data} seed {seed}: {len(words)} words, {len(train)} training clips (8 voices), {len(test)} test "
        f"clips (4 held-out voices), budget {budget:.0f} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        accuracy, wall, detail = _engine(train, test, words, budget, seed, preference, Path(tmp))
    print(f"   engine: {detail}")
    rows = [(ENGINE, accuracy, wall)]
    rows += [(name, score, seconds) for name, (score, seconds) in _baselines(train, test).items()]
    lines = [
        quality_line(TYPE, f"{data}-s{seed}", budget, system, "accuracy", score, seconds)
        for system, score, seconds in rows
    ]
    return rows, lines


def _failures(data: str, seed: int, budget: float, rows: list[tuple[str, float, float]]) -> list[str]:
    """The engine below the best baseline or over budget + 5 %; a single pitch separating pattern classes."""
    scores = {system: score for system, score, _ in rows}
    best = max(score for system, score in scores.items() if system not in (ENGINE, "dominant-pitch+logreg"))
    failure = engine_failure(f"{data}-s{seed}", budget, (scores[ENGINE], rows[0][2]), best)
    found = [failure] if failure else []
    chance = 1 / len(VOCABULARIES[data])
    if data in PATTERN_DATA and scores["dominant-pitch+logreg"] > chance + 0.15:
        found.append(
            f"{data}-s{seed}: a single pitch separates the classes "
            f"({scores['dominant-pitch+logreg']:.3f}, chance {chance:.3f})"
        )
    return found


def main() -> int:
    args, budgets, seeds = bench_options(__doc__, list(VOCABULARIES))
    per_source = 3 if args.quick else 5
    table, failures, lines = [], [], []
    for data, seed, budget in planned_runs(args.data.split(","), budgets, seeds):
        rows, printed = run_row(data, seed, budget, per_source, args.preference)
        lines += printed
        best = max(score for system, score, _ in rows if system not in (ENGINE, "dominant-pitch+logreg"))
        table += [
            (f"{data}-s{seed}", budget, system, score, score / max(best, 1e-9), wall)
            for system, score, wall in rows
        ]
        failures += _failures(data, seed, budget, rows)
    print(f"\n{'data':<16}{'budget':>7}  {'system':<24}{'accuracy':>9}{'/best baseline':>15}{'wall s':>8}")
    for data, budget, system, score, ratio, wall in table:
        print(f"{data:<16}{budget:>7.0f}  {system:<24}{score:>9.3f}{ratio:>15.2f}{wall:>8.1f}")
    return report(lines, failures)


if __name__ == "__main__":
    sys.exit(main())
