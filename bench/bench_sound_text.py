"""The sound and text engines against simple baselines, under the same time budget, in the same run.

* Sound: six synthetic sound classes that need time structure (rising vs falling chirps, beeps vs steady
  tones, clicks, modulated noise) at random pitch, length (1–3 s), sample rate (8–44.1 kHz), channel count
  and background-noise level (0–20 dB SNR). Baseline: MFCC (20 coefficients of the same log-mel) mean and
  standard deviation per clip + logistic regression.
* Text: a generated Chinese news-topic corpus (four topics sharing most of their words, distractor words
  from other topics, 5 % label noise). Baseline: TF-IDF (character 1–2-grams, scikit-learn defaults
  otherwise) + logistic regression.

The platform trains on 80 % of the training files and selects on the other 20 % (its validation split); the
baseline is run twice, on the same 80 % and on all training files. All are scored on the same held-out test
files, the platform through its package predictor (what serving
answers). Prints accuracy, macro F1 and wall time of each, and the platform/baseline ratio.

    python bench/bench_sound_text.py [--budget 90] [--preference balance] [--only sound|text]
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from trainer.engines.base import Sample, TrainContext, TrainingParams, VersionData
from trainer.engines.sound_classification import SoundClassificationEngine
from trainer.engines.text_classification import TextClassificationEngine

from shared.packages import load_predictor
from shared.packages.sound import DEFAULT_SPEC, decode_wav, log_mel, mel_filterbank, resample

SEED = 0
SOUND_CLASSES = ("chirp_up", "chirp_down", "steady_tone", "beeps", "clicks", "modulated_noise")


# -- sound data -----------------------------------------------------------------------------------------
def _sound(label: str, rng: np.random.Generator) -> tuple[bytes, str]:
    rate = int(rng.choice([8000, 16000, 22050, 44100]))
    seconds = float(rng.uniform(1.0, 3.0))
    t = np.arange(int(rate * seconds)) / rate
    top = min(3500.0, rate / 2 - 200)
    if label in ("chirp_up", "chirp_down"):
        f0, f1 = rng.uniform(250, 600), rng.uniform(1500, top)
        if label == "chirp_down":
            f0, f1 = f1, f0
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))
        signal = np.sin(phase)
    elif label in ("steady_tone", "beeps"):
        f = rng.uniform(300, 1800)
        signal = sum(np.sin(2 * np.pi * f * k * t) / k for k in (1, 2, 3) if f * k < rate / 2)
        signal = signal * (1 + 0.003 * np.sin(2 * np.pi * 5 * t))
        if label == "beeps":
            gate = (np.sin(2 * np.pi * rng.uniform(2.5, 6.0) * t + rng.uniform(0, 6.28)) > 0).astype(float)
            signal = signal * gate
    elif label == "clicks":
        signal = np.zeros_like(t)
        period = int(rate / rng.uniform(4, 15))
        burst = np.sin(2 * np.pi * rng.uniform(800, 2500) * t[: int(0.01 * rate)]) * np.exp(
            -np.arange(int(0.01 * rate)) / (0.002 * rate)
        )
        for start in range(int(rng.integers(0, period)), t.size - burst.size, period):
            signal[start : start + burst.size] += burst
    else:  # modulated band noise
        spectrum = np.fft.rfft(rng.standard_normal(t.size))
        freqs = np.fft.rfftfreq(t.size, 1 / rate)
        low = rng.uniform(300, 1200)
        spectrum[(freqs < low) | (freqs > low + rng.uniform(400, 1500))] = 0
        signal = np.fft.irfft(spectrum, n=t.size)
        signal = signal / (np.std(signal) + 1e-9) * (1 + 0.9 * np.sin(2 * np.pi * rng.uniform(3, 10) * t))
    signal = signal / (np.max(np.abs(signal)) + 1e-9)
    snr_db = rng.uniform(0, 20)
    noise = np.cumsum(rng.standard_normal(t.size)) * 0.02 + rng.standard_normal(t.size)  # reddish + white
    noise = noise - noise.mean()
    signal = signal + noise * np.sqrt(np.mean(signal**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    signal = 0.9 * signal / np.max(np.abs(signal)) * rng.uniform(0.2, 1.0)
    if rng.random() < 0.3:
        signal = np.stack([signal, signal * rng.uniform(0.5, 1.0)], axis=1)
    out = io.BytesIO()
    sf.write(out, signal.astype(np.float32), rate, subtype="PCM_16", format="WAV")
    return out.getvalue(), label


def sound_dataset(per_class: int, seed: int) -> list[tuple[bytes, str]]:
    rng = np.random.default_rng(seed)
    return [_sound(label, rng) for label in SOUND_CLASSES for _ in range(per_class)]


def mfcc_stats(payload: bytes, n_mfcc: int = 20) -> np.ndarray:
    from scipy.fft import dct

    spec = DEFAULT_SPEC
    signal, rate = decode_wav(payload)
    mel = log_mel(resample(signal, rate, spec["sample_rate"]), spec, mel_filterbank(spec))
    mfcc = dct(mel, type=2, axis=0, norm="ortho")[:n_mfcc]
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)])


# -- text data ------------------------------------------------------------------------------------------
TOPICS = {
    "体育": ["比赛", "球队", "冠军", "进球", "教练", "球员", "联赛", "训练", "决赛", "主场", "对手", "得分"],
    "财经": ["股市", "投资", "银行", "利率", "基金", "上涨", "下跌", "市场", "经济", "企业", "利润", "债券"],
    "科技": ["手机", "芯片", "软件", "网络", "数据", "智能", "电脑", "系统", "算法", "研发", "屏幕", "电池"],
    "美食": ["餐厅", "味道", "米饭", "面条", "厨师", "火锅", "甜点", "新鲜", "口感", "菜单", "饺子", "汤"],
}
COMMON = [
    "今天",
    "我们",
    "他们",
    "这个",
    "非常",
    "已经",
    "表示",
    "记者",
    "消息",
    "发布",
    "认为",
    "一个",
    "新的",
    "可能",
    "今年",
    "时候",
    "情况",
    "问题",
    "发展",
    "进行",
    "公司",
    "城市",
    "很多",
    "最近",
    "报道",
]


def text_dataset(per_class: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    topics = list(TOPICS)
    rows = []
    for label in topics:
        for _ in range(per_class):
            tokens = rng.sample(TOPICS[label], rng.randint(1, 3)) + rng.sample(COMMON, rng.randint(4, 8))
            other = rng.choice([t for t in topics if t != label])
            tokens += rng.sample(TOPICS[other], rng.randint(0, 2))  # distractors from another topic
            rng.shuffle(tokens)
            text = "".join(tokens) + rng.choice(["。", "！", "", "，据悉。"])
            shown = rng.choice(topics) if rng.random() < 0.05 else label  # label noise
            rows.append((text, shown))
    rng.shuffle(rows)
    return rows


# -- contestants ----------------------------------------------------------------------------------------
def _context(
    work: Path,
    task: str,
    labels: list[str],
    train: list[Sample],
    valid: list[Sample],
    budget: float,
    preference: str,
) -> TrainContext:
    data = VersionData(task_type=task, labels=labels, train=train, eval=valid)
    return TrainContext(
        params=TrainingParams(preference=preference, seed=SEED),
        data=data,
        work_dir=work,
        package_dir=work / "package",
        deadline=time.monotonic() + budget,
        packaging_margin_seconds=min(10.0, budget / 6),
        log=lambda line: None,
    )


def _split(rows: list, share: float = 0.2) -> tuple[list, list]:
    cut = int(len(rows) * (1 - share))
    return rows[:cut], rows[cut:]


def _line(name: str, truth: list[str], predicted: list[str], seconds: float, extra: str = "") -> float:
    accuracy = accuracy_score(truth, predicted)
    f1 = f1_score(truth, predicted, average="macro")
    print(f"  {name:<36} accuracy {accuracy:.3f}  macro-F1 {f1:.3f}  wall {seconds:7.1f} s  {extra}")
    return accuracy


def bench_sound(budget: float, preference: str, work: Path) -> None:
    data = sound_dataset(40, SEED)
    random.Random(SEED).shuffle(data)
    train_rows, test_rows = _split(data, 0.25)
    fit_rows, valid_rows = _split(train_rows, 0.2)
    print(
        f"sound: {len(SOUND_CLASSES)} classes, {len(train_rows)} training clips, {len(test_rows)} test clips,"
        " "
        f"budget {budget:.0f} s"
    )
    files = work / "wav"
    files.mkdir()

    def samples(rows: list, tag: str) -> list[Sample]:
        out = []
        for i, (payload, label) in enumerate(rows):
            path = files / f"{tag}_{i:04d}.wav"
            path.write_bytes(payload)
            out.append(Sample(sample_id=f"{tag}{i}", labels=[label], path=path))
        return out

    truth = [label for _, label in test_rows]
    started = time.monotonic()
    ctx = _context(
        work,
        "sound_classification",
        list(SOUND_CLASSES),
        samples(fit_rows, "t"),
        samples(valid_rows, "v"),
        budget,
        preference,
    )
    result = SoundClassificationEngine().train(ctx)
    predictor = load_predictor(ctx.package_dir)
    predicted = [predictor.predict(payload)["predicted_label"] for payload, _ in test_rows]
    platform = _line(
        f"platform ({result.candidate})",
        truth,
        predicted,
        time.monotonic() - started,
        f"latency {result.metrics['latency_ms']:.1f} ms/clip",
    )

    baselines = []
    for rows_used, tag in ((fit_rows, "train"), (train_rows, "train+valid")):
        started = time.monotonic()
        x = np.stack([mfcc_stats(p) for p, _ in rows_used])
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(x, [lab for _, lab in rows_used])
        predicted = list(model.predict(np.stack([mfcc_stats(p) for p, _ in test_rows])))
        baselines.append(_line(f"baseline MFCC + LR ({tag})", truth, predicted, time.monotonic() - started))
    print(
        f"  platform / baseline accuracy: {platform / max(baselines[0], 1e-9):.2f} (same training clips), "
        f"{platform / max(baselines[1], 1e-9):.2f} (baseline also trained on the validation clips)"
    )


def bench_text(budget: float, preference: str, work: Path) -> None:
    rows = text_dataset(150, SEED)
    train_rows, test_rows = _split(rows, 0.25)
    fit_rows, valid_rows = _split(train_rows, 0.2)
    labels = list(TOPICS)
    print(
        f"text: {len(labels)} topics, {len(train_rows)} training texts, {len(test_rows)} test texts, "
        f"budget {budget:.0f} s"
    )

    def samples(part: list) -> list[Sample]:
        return [Sample(sample_id=str(i), labels=[label], text=text) for i, (text, label) in enumerate(part)]

    truth = [label for _, label in test_rows]
    started = time.monotonic()
    ctx = _context(
        work, "text_classification", labels, samples(fit_rows), samples(valid_rows), budget, preference
    )
    result = TextClassificationEngine().train(ctx)
    predictor = load_predictor(ctx.package_dir)
    predicted = [predictor.predict(text.encode())["predicted_label"] for text, _ in test_rows]
    platform = _line(
        f"platform ({result.candidate})",
        truth,
        predicted,
        time.monotonic() - started,
        f"latency {result.metrics['latency_ms']:.2f} ms/text",
    )
    tried = ", ".join(f"{c['name']}={c.get('score', c.get('skipped'))}" for c in result.candidates)
    print(f"    candidates (validation accuracy): {tried}")

    from sklearn.feature_extraction.text import TfidfVectorizer

    baselines = []
    for rows_used, tag in ((fit_rows, "train"), (train_rows, "train+valid")):
        started = time.monotonic()
        model = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 2)), LogisticRegression(max_iter=2000)
        )
        model.fit([t for t, _ in rows_used], [lab for _, lab in rows_used])
        predicted = list(model.predict([t for t, _ in test_rows]))
        baselines.append(_line(f"baseline TF-IDF + LR ({tag})", truth, predicted, time.monotonic() - started))
    print(
        f"  platform / baseline accuracy: {platform / max(baselines[0], 1e-9):.2f} (same training texts), "
        f"{platform / max(baselines[1], 1e-9):.2f} (baseline also trained on the validation texts)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", type=float, default=90.0, help="seconds per platform training run")
    parser.add_argument(
        "--preference", default="balance", choices=["performance_first", "balance", "accuracy_first"]
    )
    parser.add_argument("--only", choices=["sound", "text"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "sound"):
            (Path(tmp) / "sound").mkdir()
            bench_sound(args.budget, args.preference, Path(tmp) / "sound")
        if args.only in (None, "text"):
            (Path(tmp) / "text").mkdir()
            bench_text(args.budget, args.preference, Path(tmp) / "text")


if __name__ == "__main__":
    main()
