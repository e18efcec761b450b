r"""Text classification predictor: UTF-8 text → ``{"predicted_label", "score", "scores"}``.

Runs in the Triton python backend (numpy 1.26; no scikit-learn, no tokenizers, no torch), so both model
kinds are evaluated here with numpy and, for the transformer, onnxruntime. ``manifest["preprocessing"]``
names the kind:

* ``{"kind": "char_tfidf", "ngram_range": [1, 3], "lowercase": true, "sublinear_tf": true, "norm": "l2"}``
  — scikit-learn's ``TfidfVectorizer(analyzer="char")`` reproduced exactly; artifacts ``vocabulary``
  (JSON list: n-gram of each column) and ``model`` (NPZ: ``idf``, ``coef`` ``[classes, columns]``,
  ``intercept``); scores are ``softmax(x @ coef.T + intercept)``.
* ``{"kind": "tfidf_linear", "blocks": [{"analyzer": "char" | "word", "ngram_range": [1, 3],
  "lowercase": true, "sublinear_tf": true, "norm": "l2", "vocabulary": "<artifact role>"}, ...]}`` — several
  scikit-learn TF-IDF blocks side by side (characters, words: ``(?u)\\b\\w\\w+\\b`` tokens), one linear model
  or an ensemble over their concatenation; artifact ``model`` (NPZ: ``idf_<i>`` per block, ``coef``
  ``[members, classes, columns]``, ``intercept`` ``[members, classes]``, ``weights`` ``[members]``); the
  scores are the weighted mean of the members' ``softmax(x @ coef.T + intercept)``.
* ``{"kind": "transformer", "max_length": 128, "lowercase": true, "unk_token": "[UNK]", ...}`` — a BERT
  WordPiece tokenizer (vocabulary trained on the data with ``tokenizers``, re-implemented in
  :class:`WordPiece`) and ``model.onnx`` (``input_ids``, ``attention_mask`` int64 → ``logits``).

Text of characters never seen in training still gets a valid distribution (the intercept for TF-IDF,
``[UNK]`` tokens for the transformer). Empty or blank text and bytes that are not UTF-8 raise
:class:`PredictionInputError`.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shared.packages import PackageError, PredictionInputError, Predictor
from shared.packages.common import classification_answer, onnx_session, softmax

__all__ = ["TextPredictor", "WordPiece", "char_ngrams", "decode_text", "word_ngrams"]

_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's _white_spaces
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern


def decode_text(payload: bytes | str) -> str:
    """The text of a UTF-8 payload; blank text or other encodings raise :class:`PredictionInputError`."""
    if isinstance(payload, bytes):
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PredictionInputError(
                "text_encoding", f"the text is not valid UTF-8: {exc}", field="text"
            ) from exc
    else:
        text = payload
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise PredictionInputError("text_empty", "the text is empty", field="text")
    return text


def char_ngrams(text: str, ngram_range: Sequence[int], lowercase: bool = True) -> list[str]:
    """The character n-grams scikit-learn's ``analyzer="char"`` yields for ``text``."""
    if lowercase:
        text = text.lower()
    text = _WHITE_SPACES.sub(" ", text)
    low, high = ngram_range
    grams: list[str] = []
    for n in range(low, min(high, len(text)) + 1):
        grams.extend(text[i : i + n] for i in range(len(text) - n + 1))
    return grams


def word_ngrams(text: str, ngram_range: Sequence[int], lowercase: bool = True) -> list[str]:
    """The word n-grams scikit-learn's ``analyzer="word"`` (default token pattern) yields for ``text``."""
    tokens = _TOKEN.findall(text.lower() if lowercase else text)
    low, high = ngram_range
    grams: list[str] = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _tfidf(
    grams: list[str], columns: dict[str, int], idf: np.ndarray, spec: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and TF-IDF values of one text's n-grams (scikit-learn's transform, sparse)."""
    counts = Counter(columns[g] for g in grams if g in columns)
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    if spec.get("sublinear_tf", False):
        tf = 1.0 + np.log(tf)
    values = tf * idf[cols]
    if spec.get("norm", "l2") == "l2":
        norm = math.sqrt(float(values @ values))
        if norm > 0:
            values = values / norm
    return cols, values


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


class WordPiece:
    """The BERT WordPiece tokenizer of HuggingFace ``tokenizers`` (BertNormalizer, BertPreTokenizer,
    greedy longest-match WordPiece, ``[CLS] … [SEP]``), in plain Python."""

    def __init__(self, vocab: list[str], spec: dict[str, Any]) -> None:
        self.ids = {token: i for i, token in enumerate(vocab)}
        self.lowercase = bool(spec.get("lowercase", True))
        self.max_length = int(spec.get("max_length", 128))
        self.prefix = spec.get("continuing_subword_prefix", "##")
        self.max_word = int(spec.get("max_input_chars_per_word", 100))
        self.unk, self.cls, self.sep = (
            self.ids[spec.get(k, d)]
            for k, d in (("unk_token", "[UNK]"), ("cls_token", "[CLS]"), ("sep_token", "[SEP]"))
        )
        self.pad = self.ids[spec.get("pad_token", "[PAD]")]

    def normalize(self, text: str) -> str:
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD:
                continue
            category = unicodedata.category(ch)
            if ch in "\t\n\r" or category == "Zs":
                out.append(" ")
            elif category in ("Cc", "Cf"):
                continue
            elif _is_cjk(cp):
                out.append(f" {ch} ")
            else:
                out.append(ch)
        text = "".join(out)
        if self.lowercase:  # strip_accents follows lowercase in BertNormalizer
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
            text = text.lower()
        return text

    def pre_tokenize(self, text: str) -> list[str]:
        words: list[str] = []
        for chunk in text.split():
            current = ""
            for ch in chunk:
                if _is_punctuation(ch):
                    if current:
                        words.append(current)
                    words.append(ch)
                    current = ""
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    def word_ids(self, word: str) -> list[int]:
        if len(word) > self.max_word:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.ids:
                    found = self.ids[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk]
            pieces.append(found)
            start = end
        return pieces

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in self.pre_tokenize(self.normalize(text)):
            ids.extend(self.word_ids(word))
        return [self.cls, *ids[: self.max_length - 2], self.sep]

    def batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encoded = [self.encode(t) for t in texts]
        width = max(len(e) for e in encoded)
        ids = np.full((len(encoded), width), self.pad, dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, : len(e)] = e
            mask[row, : len(e)] = 1
        return ids, mask


class TextPredictor(Predictor):
    """Loads a text classification package (character TF-IDF linear model or ONNX transformer)."""

    providers: tuple[str, ...] | list[str] = ("CPUExecutionProvider",)

    def __init__(self, package_dir: Path, manifest: dict[str, Any]) -> None:
        super().__init__(package_dir, manifest)
        self.spec: dict[str, Any] = dict(manifest.get("preprocessing") or {})
        self.kind = self.spec.get("kind")
        if not self.labels:
            raise PackageError("manifest has no labels")
        if self.kind == "char_tfidf":
            vocab = json.loads(self.artifact("vocabulary").read_text(encoding="utf-8"))
            self.columns = {gram: i for i, gram in enumerate(vocab)}
            with np.load(self.artifact("model")) as arrays:
                self.idf = arrays["idf"].astype(np.float64)
                self.coef = arrays["coef"].astype(np.float64)
                self.intercept = arrays["intercept"].astype(np.float64)
            self.ngram_range = tuple(int(v) for v in self.spec["ngram_range"])
        elif self.kind == "tfidf_linear":
            self.blocks = []
            with np.load(self.artifact("model")) as arrays:
                offset = 0
                for i, block in enumerate(self.spec["blocks"]):
                    vocab = json.loads(self.artifact(block["vocabulary"]).read_text(encoding="utf-8"))
                    idf = arrays[f"idf_{i}"].astype(np.float64)
                    self.blocks.append((block, {g: j for j, g in enumerate(vocab)}, idf, offset))
                    offset += len(vocab)
                self.coef = arrays["coef"].astype(np.float64)  # members x classes x columns
                self.intercept = arrays["intercept"].astype(np.float64)
                self.weights = arrays["weights"].astype(np.float64)
        elif self.kind == "transformer":
            vocab = self.artifact("vocabulary").read_text(encoding="utf-8").splitlines()
            self.tokenizer = WordPiece(vocab, self.spec)
            self.model_path = self.artifact("model")
            self._session: Any = None
        else:
            raise PackageError(f"unknown text model kind {self.kind!r}")

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = onnx_session(self.model_path, self.providers)
        return self._session

    def tfidf_row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and TF-IDF values of one text (scikit-learn's transform, sparse)."""
        grams = char_ngrams(text, self.ngram_range, self.spec.get("lowercase", True))
        return _tfidf(grams, self.columns, self.idf, self.spec)

    def blocks_row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Columns and values of one text in the concatenated TF-IDF blocks."""
        cols, values = [], []
        for block, columns, idf, offset in self.blocks:
            ngrams = word_ngrams if block.get("analyzer") == "word" else char_ngrams
            grams = ngrams(text, tuple(block["ngram_range"]), block.get("lowercase", True))
            c, v = _tfidf(grams, columns, idf, block)
            cols.append(c + offset)
            values.append(v)
        return np.concatenate(cols), np.concatenate(values)

    def probabilities_batch(self, texts: list[str]) -> np.ndarray:
        if self.kind == "tfidf_linear":
            total = np.zeros((len(texts), self.coef.shape[1]))
            for row, text in enumerate(texts):
                cols, values = self.blocks_row(text)
                logits = self.intercept + self.coef[:, :, cols] @ values  # members x classes
                total[row] = self.weights @ softmax(logits)
            mean: np.ndarray = total / self.weights.sum()
            return mean
        if self.kind == "char_tfidf":
            logits = np.tile(self.intercept, (len(texts), 1))
            for row, text in enumerate(texts):
                cols, values = self.tfidf_row(text)
                logits[row] += self.coef[:, cols] @ values
        else:
            ids, mask = self.tokenizer.batch(texts)
            logits = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return softmax(np.asarray(logits, dtype=np.float64))

    def prepare(self, payload: bytes) -> str:
        return decode_text(payload)

    def predict_prepared(self, prepared: list[str]) -> list[dict[str, Any]]:
        """Classify several texts in one model run."""
        return [classification_answer(self.labels, p) for p in self.probabilities_batch(prepared)]
