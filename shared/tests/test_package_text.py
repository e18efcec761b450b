"""The text package predictor: scikit-learn's char n-grams and HF WordPiece reproduced, typed input errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from shared.packages import PackageError, PredictionInputError, load_predictor, write_manifest
from shared.packages.text import WordPiece, char_ngrams, decode_text
from shared.testing.packages_by_type import write_text_package
from shared.testing.processes import python_output

TEXTS = [
    "这个产品很好，我非常喜欢！",
    "服务很差  退货\t\t东西破损。",
    "Hello World, naïve Café's TEST-case 123",
    "混合 mixed 文本 with UPPER 和 标点!?",
    "😀 emoji テスト 한국어 tab\there\nnew line",
    "a",
]


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 3), (2, 4)])
def test_char_ngrams_equal_scikit_learns_analyzer(ngram_range) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyzer = TfidfVectorizer(analyzer="char", ngram_range=ngram_range, lowercase=True).build_analyzer()
    for text in TEXTS:
        assert char_ngrams(text, ngram_range) == analyzer(text)


def test_wordpiece_equals_hugging_face_tokenizers() -> None:
    from tokenizers import BertWordPieceTokenizer
    from tokenizers.processors import BertProcessing

    tokenizer = BertWordPieceTokenizer(lowercase=True)
    tokenizer.train_from_iterator(TEXTS[:4] * 3, vocab_size=120, min_frequency=1, show_progress=False)
    vocab = [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
    tokenizer.post_processor = BertProcessing(
        ("[SEP]", vocab.index("[SEP]")), ("[CLS]", vocab.index("[CLS]"))
    )
    tokenizer.enable_truncation(16)
    ours = WordPiece(vocab, {"max_length": 16})
    for text in [*TEXTS, "未见过的字符龘靐", "unseenword xyz", "Ünïcödé ÀÉÎ", "\u200bzero\u200dwidth\x00"]:
        assert ours.encode(text) == tokenizer.encode(text).ids, text


def _tfidf_package(folder: Path, labels: list[str]) -> Path:
    """A tiny hand-made TF-IDF package: "好" points to the first label, "差" to the second."""
    coef = np.zeros((len(labels), 3))
    coef[0, 0], coef[1, 1] = 4.0, 4.0
    return write_text_package(folder, labels, ["好", "差", "很"], np.array([1.5, 1.5, 1.0]), coef)


def test_tfidf_predictor_response_and_unseen_characters(tmp_path) -> None:
    labels = ["positive", "negative", "a", "b", "c", "d"]
    predictor = load_predictor(_tfidf_package(tmp_path, labels))
    good = predictor.predict("很好".encode())
    assert good["predicted_label"] == "positive" and set(good) == {"predicted_label", "score", "scores"}
    assert good["score"] == good["scores"][0][1]
    assert len(good["scores"]) == 5  # the top 5 of 6 labels
    # Decimal strings with 3 decimals, as the guide writes scores (ADR 0022).
    assert all(re.fullmatch(r"[01]\.\d{3}", s) for s in [good["score"], *(s for _, s in good["scores"])])
    assert predictor.predict("\ufeff很差".encode())["predicted_label"] == "negative"  # a BOM is not text
    unseen = predictor.predict("龘靐 xyz".encode())
    assert unseen["score"] == f"{1 / 6:.3f}"  # no known n-gram: the prior (intercepts) only
    batch = predictor.predict_batch(["很好".encode(), "差".encode()])
    assert [b["predicted_label"] for b in batch] == ["positive", "negative"]


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        (b"", "text_empty"),
        (b"   \n\t  ", "text_empty"),
        ("\u3000".encode(), "text_empty"),
        ("很好".encode("gbk"), "text_encoding"),
        (b"\xff\xfe\x00", "text_encoding"),
    ],
)
def test_bad_text_raises_a_typed_error(tmp_path, payload, rule) -> None:
    predictor = load_predictor(_tfidf_package(tmp_path, ["positive", "negative"]))
    with pytest.raises(PredictionInputError) as caught:
        predictor.predict(payload)
    assert caught.value.rule == rule and caught.value.field == "text"


def test_decode_text_keeps_the_text() -> None:
    assert decode_text("  你好 ".encode()) == "  你好 "


def test_unknown_model_kind_is_refused(tmp_path) -> None:
    write_manifest(
        tmp_path,
        {
            "task_type": "text_classification",
            "labels": ["a", "b"],
            "artifacts": {},
            "preprocessing": {"kind": "magic"},
        },
    )
    with pytest.raises(PackageError, match="magic"):
        load_predictor(tmp_path)


def test_predictor_runs_without_sklearn_tokenizers_or_torch(tmp_path) -> None:
    """What Triton's python backend has: numpy and onnxruntime; scikit-learn and friends are not imported."""
    _tfidf_package(tmp_path, ["positive", "negative"])
    code = (
        "import sys\n"
        "for name in ('torch', 'scipy', 'sklearn', 'tokenizers', 'transformers', 'pydantic'):\n"
        "    sys.modules[name] = None\n"
        "from shared.packages import load_predictor\n"
        f"print(load_predictor({str(tmp_path)!r}).predict('很差'.encode())['predicted_label'])\n"
    )
    assert python_output(code).strip() == "negative"
