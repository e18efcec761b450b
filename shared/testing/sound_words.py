"""Generated "spoken words" whose classes differ in spectral-temporal pattern, not in one pitch.

A *word* is a sequence of vowels (formant patterns) or a pitch contour, rendered by a *source* (a voice:
base pitch, vocal-tract length, spectral tilt, breathiness, speaking rate, vibrato) with the source-filter
model: harmonics of the glottal pitch weighted by formant resonances that glide from vowel to vowel, after an
optional consonant (a hiss or a burst). In :data:`ORDER_WORDS` four words use the same three vowels in
different orders (the same average spectrum: only the order tells them apart) and two more say the same
vowels in a fifth order with a rising or a falling pitch (the same average pitch); :data:`COMMAND_WORDS` differ in their sounds, as most
spoken commands do. Each clip gets
background noise (white, pink or brown) at 10–30 dB SNR, random silence around the word, a random gain, a
sample rate drawn from 16/22.05/44.1 kHz and sometimes two channels.

Sources are drawn per split: :func:`make_sources` with another seed gives voices the model never heard, so
a test split of held-out sources measures generalisation to new speakers.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

__all__ = [
    "COMMAND_WORDS",
    "ORDER_WORDS",
    "RATES",
    "WORDS",
    "Source",
    "make_sources",
    "render_word",
    "word_clips",
]

FORMANTS = {
    "a": (730.0, 1090.0, 2440.0),
    "i": (270.0, 2290.0, 3010.0),
    "u": (300.0, 870.0, 2240.0),
    "o": (570.0, 840.0, 2410.0),
}
# word -> (onset consonant, vowel sequence, pitch glide factor from start to end)
ORDER_WORDS: dict[str, tuple[str, str, float]] = {
    "aiu": ("", "aiu", 1.0),
    "uia": ("", "uia", 1.0),
    "iua": ("", "iua", 1.0),
    "aui": ("", "aui", 1.0),
    "iau_rise": ("", "iau", 1.7),
    "iau_fall": ("", "iau", 1 / 1.7),
}
COMMAND_WORDS: dict[str, tuple[str, str, float]] = {
    "sa": ("s", "a", 1.0),
    "ti": ("t", "i", 1.0),
    "uo": ("", "uo", 1.0),
    "sia": ("s", "ia", 1.0),
}
WORDS = {**ORDER_WORDS, **COMMAND_WORDS}
RATES = (16000, 22050, 44100)
VOICE_RATE = 16000


@dataclass(frozen=True)
class Source:
    """One voice."""

    f0: float  # base pitch, Hz
    tract: float  # formant scale (shorter vocal tract: higher formants)
    tilt: float  # harmonic roll-off exponent: amplitude ~ k ** -tilt
    breath: float  # share of aspiration noise
    rate: float  # speaking-rate factor on segment durations
    vibrato: float  # relative pitch modulation depth


def make_sources(count: int, seed: int) -> list[Source]:
    rng = np.random.default_rng(seed)
    return [
        Source(
            f0=float(rng.uniform(85, 260)),
            tract=float(rng.uniform(0.85, 1.2)),
            tilt=float(rng.uniform(0.6, 1.4)),
            breath=float(rng.uniform(0.02, 0.25)),
            rate=float(rng.uniform(0.8, 1.25)),
            vibrato=float(rng.uniform(0.0, 0.03)),
        )
        for _ in range(count)
    ]


def _formant_tracks(vowels: str, n: int, rate: int, tract: float) -> np.ndarray:
    """``[3, n]`` formant frequencies: each vowel held, with 60 ms glides between neighbours."""
    targets = np.array([FORMANTS[v] for v in vowels]).T * tract  # [3, vowels]
    if len(vowels) == 1:
        return np.repeat(targets, n, axis=1)
    centres = (np.arange(len(vowels)) + 0.5) / len(vowels) * n
    position = np.arange(n)
    glide = 0.06 * rate
    tracks = np.empty((3, n))
    for j in range(3):
        # a piecewise-linear path through each segment's plateau
        knots_x = np.concatenate(
            [[c - n / len(vowels) / 2 + glide / 2, c + n / len(vowels) / 2 - glide / 2] for c in centres]
        )
        tracks[j] = np.interp(position, knots_x, np.repeat(targets[j], 2))
    return tracks


def _onset(kind: str, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A consonant before the vowels: "s" a 150 ms hiss above 4 kHz, "t" a 30 ms broadband burst."""
    if not kind:
        return np.zeros(0)
    n = int((0.15 if kind == "s" else 0.03) * float(rng.uniform(0.8, 1.2)) * rate)
    noise = rng.standard_normal(n)
    if kind == "s":
        spectrum = np.fft.rfft(noise)
        spectrum[np.fft.rfftfreq(n, 1 / rate) < min(4000.0, rate / 2 - 2000)] = 0
        noise = np.fft.irfft(spectrum, n=n)
        return 0.5 * noise / (np.std(noise) + 1e-9) * np.hanning(n)
    return 1.5 * noise * np.exp(-np.arange(n) / (0.008 * rate))


def _voice(word: str, source: Source, rate: int, rng: np.random.Generator) -> np.ndarray:
    onset, vowels, glide = WORDS[word]
    seconds = source.rate * float(rng.uniform(0.75, 1.0)) * max(0.6, 0.3 * len(vowels))
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = source.f0 * float(rng.uniform(0.93, 1.07)) * glide ** (t / seconds - 0.5)
    f0 = f0 * (1 + source.vibrato * np.sin(2 * np.pi * float(rng.uniform(4, 7)) * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    formants = _formant_tracks(vowels, n, rate, source.tract)
    top = min(5000.0, rate / 2 - 500)
    signal = np.zeros(n)
    for k in range(1, int(top / f0.min()) + 1):
        freq = k * f0
        gain = sum(
            w / (1 + ((freq - formants[j]) / (50 + 0.08 * formants[j])) ** 2)
            for j, w in enumerate((1.0, 0.5, 0.25))
        )
        signal += np.where(freq < top, gain * k**-source.tilt, 0.0) * np.sin(k * phase)
    signal /= np.std(signal) + 1e-9
    signal += source.breath * rng.standard_normal(n)
    ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.03 * rate))
    return np.concatenate([_onset(onset, rate, rng), signal * ramp])


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    colour = rng.choice(["white", "pink", "brown"])
    if colour == "white":
        return white
    spectrum = np.fft.rfft(white)
    f = np.maximum(np.arange(spectrum.size), 1.0)
    spectrum /= np.sqrt(f) if colour == "pink" else f
    out = np.fft.irfft(spectrum, n=n)
    return out / (np.std(out) + 1e-12)


def render_word(word: str, source: Source, rng: np.random.Generator) -> bytes:
    """One 16-bit WAV clip of ``word`` said by ``source`` in noise (10–30 dB SNR), at a random rate.

    The voice (nothing above 5 kHz but the hiss) is synthesised at 16 kHz and resampled to the clip's rate;
    the background noise is made at that rate, over its whole band.
    """
    import soundfile as sf

    from shared.packages.sound import resample

    rate = int(rng.choice(RATES))
    voice = resample(_voice(word, source, VOICE_RATE, rng).astype(np.float32), VOICE_RATE, rate).astype(
        np.float64
    )
    before, after = (int(float(rng.uniform(0.05, 0.4)) * rate) for _ in range(2))
    signal = np.concatenate([np.zeros(before), voice, np.zeros(after)])
    noise = _noise(signal.size, rng)
    snr_db = float(rng.uniform(10, 30))
    signal = signal + noise * np.sqrt(np.mean(voice**2) / 10 ** (snr_db / 10))
    signal = signal / np.max(np.abs(signal)) * float(rng.uniform(0.15, 0.9))
    if rng.random() < 0.2:
        signal = np.stack([signal, signal * float(rng.uniform(0.6, 1.0))], axis=1)
    out = io.BytesIO()
    sf.write(out, signal.astype(np.float32), rate, subtype="PCM_16", format="WAV")
    return out.getvalue()


def word_clips(
    sources: list[Source], per_source: int, seed: int, words: list[str] | tuple[str, ...] = tuple(ORDER_WORDS)
) -> list[tuple[bytes, str, int]]:
    """``(wav, word, source index)`` for every word, source and repetition, in a seeded shuffled order."""
    rng = np.random.default_rng(seed)
    clips = [
        (render_word(w, s, rng), w, i)
        for w in words
        for i, s in enumerate(sources)
        for _ in range(per_source)
    ]
    order = rng.permutation(len(clips))
    return [clips[i] for i in order]
