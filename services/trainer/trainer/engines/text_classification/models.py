"""The text engine's candidates: character n-gram TF-IDF + logistic regression, and a small BERT.

Each ``fit_*`` function trains one candidate and writes it as a package folder that
:class:`shared.packages.text.TextPredictor` loads (numpy-only TF-IDF export; WordPiece vocabulary + ONNX for
the transformer), so candidates are scored on validation through the serving code itself.
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainer.engines.common.torch_setup import torch_threads

__all__ = ["TRANSFORMERS", "Fitted", "fit_tfidf", "fit_transformer"]

ONNX_OPSET = 17
# name -> hidden size, layers, heads
TRANSFORMERS: dict[str, tuple[int, int, int]] = {
    "bert-tiny": (64, 2, 2),
    "bert-mini": (128, 4, 4),
}


@dataclass
class Fitted:
    """A trained candidate written as a package folder (the manifest's ``artifacts``, ``preprocessing``)."""

    name: str
    folder: Path
    artifacts: dict[str, str]
    preprocessing: dict[str, Any]
    parameters: dict[str, Any]
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


def fit_tfidf(
    texts: list[str],
    y: np.ndarray,
    n_classes: int,
    folder: Path,
    *,
    ngram_range: tuple[int, int],
    c: float,
    seed: int,
) -> Fitted:
    """``TfidfVectorizer(analyzer="char")`` + multinomial ``LogisticRegression``, exported to JSON + NPZ."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.monotonic()
    vectorizer = TfidfVectorizer(
        analyzer="char",
        ngram_range=ngram_range,
        lowercase=True,
        sublinear_tf=True,
        max_features=300_000,
        dtype=np.float64,
    )
    x = vectorizer.fit_transform(texts)
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model.fit(x, y)
    coef = np.zeros((n_classes, x.shape[1]))
    intercept = np.zeros(n_classes)
    if len(model.classes_) == 2:  # binary: one weight row; softmax([-z/2, z/2]) == sigmoid(z)
        rows = model.classes_
        coef[rows[0]], coef[rows[1]] = -model.coef_[0] / 2, model.coef_[0] / 2
        intercept[rows[0]], intercept[rows[1]] = -model.intercept_[0] / 2, model.intercept_[0] / 2
    else:
        coef[model.classes_] = model.coef_
        intercept[model.classes_] = model.intercept_
    absent = np.setdiff1d(np.arange(n_classes), model.classes_)
    intercept[absent] = -30.0  # a class without training texts is never predicted
    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = [""] * len(vectorizer.vocabulary_)
    for gram, column in vectorizer.vocabulary_.items():
        vocabulary[column] = gram
    (folder / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
    np.savez_compressed(folder / "model.npz", idf=vectorizer.idf_, coef=coef, intercept=intercept)
    name = f"char-tfidf{ngram_range[0]}{ngram_range[1]}-lr-c{c:g}"
    return Fitted(
        name,
        folder,
        {"model": "model.npz", "vocabulary": "vocabulary.json"},
        {
            "kind": "char_tfidf",
            "analyzer": "char",
            "ngram_range": list(ngram_range),
            "lowercase": True,
            "sublinear_tf": True,
            "norm": "l2",
        },
        {
            "model": "logistic_regression",
            "C": c,
            "ngram_range": list(ngram_range),
            "features": len(vocabulary),
        },
        time.monotonic() - started,
    )


def train_wordpiece(
    texts: list[str], vocab_size: int, max_length: int
) -> tuple[list[str], dict[str, Any], Any]:
    """A BERT WordPiece vocabulary trained on ``texts`` (CJK characters are single tokens)."""
    from tokenizers import BertWordPieceTokenizer
    from tokenizers.processors import BertProcessing

    tokenizer = BertWordPieceTokenizer(lowercase=True, clean_text=True, handle_chinese_chars=True)
    tokenizer.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=1, show_progress=False)
    vocab = [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
    tokenizer.post_processor = BertProcessing(
        ("[SEP]", vocab.index("[SEP]")), ("[CLS]", vocab.index("[CLS]"))
    )
    tokenizer.enable_truncation(max_length)
    spec = {
        "kind": "transformer",
        "tokenizer": "bert-wordpiece",
        "lowercase": True,
        "max_length": max_length,
        "unk_token": "[UNK]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "continuing_subword_prefix": "##",
        "max_input_chars_per_word": 100,
        "input_names": ["input_ids", "attention_mask"],
        "output": "logits",
    }
    return vocab, spec, tokenizer


def fit_transformer(
    texts: list[str],
    y: np.ndarray,
    valid_texts: list[str],
    valid_y: np.ndarray,
    n_classes: int,
    folder: Path,
    *,
    name: str,
    seconds: float,
    should_stop: Callable[[], bool],
    seed: int,
    max_length: int = 128,
    max_epochs: int = 60,
    patience: int = 8,
    on_epoch: Callable[[dict[str, Any]], None] = lambda p: None,
) -> Fitted:
    """A small BERT (random init) trained within ``seconds``, best validation epoch kept, exported to ONNX."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from shared.packages.text import WordPiece

    started = time.monotonic()
    torch.manual_seed(seed)
    # half the cores unless EXEML_TORCH_THREADS says otherwise: spinning threads collapse on a shared CPU
    torch.set_num_threads(torch_threads())
    rng = np.random.default_rng(seed)
    vocab, spec, _ = train_wordpiece(texts, vocab_size=8000, max_length=max_length)
    tokenizer = WordPiece(vocab, spec)
    hidden, layers, heads = TRANSFORMERS[name]
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        max_position_embeddings=max_length,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    config.num_labels = n_classes  # a property (it writes id2label and label2id), not in the signature
    config._attn_implementation = "eager"  # plain ops: exported to ONNX exactly
    model = _logits_module(BertForSequenceClassification(config))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    encoded = [tokenizer.encode(t) for t in texts]
    batch_size = 32

    def batches(items: list[list[int]], order: np.ndarray) -> Any:
        for i in range(0, len(order), batch_size):
            chosen = [items[j] for j in order[i : i + batch_size]]
            width = max(len(e) for e in chosen)
            ids = np.full((len(chosen), width), tokenizer.pad, dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, e in enumerate(chosen):
                ids[row, : len(e)], mask[row, : len(e)] = e, 1
            yield (
                torch.from_numpy(ids).to(device),
                torch.from_numpy(mask).to(device),
                order[i : i + batch_size],
            )

    valid_encoded = [tokenizer.encode(t) for t in valid_texts]

    @torch.no_grad()
    def validate() -> tuple[float, float]:
        model.eval()
        probabilities = np.zeros((len(valid_encoded), n_classes))
        for ids, mask, rows in batches(valid_encoded, np.arange(len(valid_encoded))):
            probabilities[rows] = torch.softmax(model(ids, mask).double(), dim=1).cpu().numpy()
        accuracy = float((probabilities.argmax(axis=1) == valid_y).mean())
        loss = float(-np.log(np.maximum(probabilities[np.arange(len(valid_y)), valid_y], 1e-12)).mean())
        return accuracy, loss

    best_key, best_state, best_epoch, epoch, epoch_seconds = (-1.0, -math.inf), None, 0, 0, 0.0
    stopped = False
    while epoch < max_epochs:
        if should_stop() or time.monotonic() - started + epoch_seconds > seconds:
            stopped = should_stop()
            break
        t0 = time.monotonic()
        model.train()
        total = 0.0
        for ids, mask, rows in batches(encoded, rng.permutation(len(encoded))):
            if total and (should_stop() or time.monotonic() - started > seconds):
                break  # a long epoch on a large corpus ends early: the budget and a stop come first
            loss = loss_fn(model(ids, mask), torch.from_numpy(y[rows]).to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(rows)
        epoch += 1
        accuracy, val_loss = validate()
        epoch_seconds = time.monotonic() - t0
        on_epoch(
            {
                "epoch": epoch,
                "train_loss": round(total / len(encoded), 5),
                "val_loss": round(val_loss, 5),
                "val_accuracy": round(accuracy, 5),
                "seconds": round(epoch_seconds, 3),
            }
        )
        if (accuracy, -val_loss) > best_key:
            best_key, best_state, best_epoch = (accuracy, -val_loss), copy.deepcopy(model.state_dict()), epoch
        elif epoch - best_epoch >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to("cpu").eval()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    check = _export(model, folder / "model.onnx", tokenizer, valid_texts[:16] or texts[:16])
    return Fitted(
        name,
        folder,
        {"model": "model.onnx", "vocabulary": "vocab.txt"},
        spec,
        {
            "model": name,
            "hidden_size": hidden,
            "layers": layers,
            "heads": heads,
            "vocab_size": len(vocab),
            "epochs": epoch,
            "best_epoch": best_epoch,
        },
        time.monotonic() - started,
        {"onnx_check": check, "stopped": stopped},
    )


def _logits_module(inner: Any) -> Any:
    """A HF sequence classifier as a torch module ``(input_ids, attention_mask) -> logits``."""
    import torch

    class Logits(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    return Logits(inner)


def _export(
    model: Any, path: Path, tokenizer: Any, sample_texts: list[str], tolerance: float = 1e-3
) -> dict[str, Any]:
    """ONNX export (dynamic batch and length), checked against torch on ``sample_texts``."""
    import onnxruntime as ort
    import torch

    model.eval()
    ids, mask = tokenizer.batch(sample_texts)
    inputs = (torch.from_numpy(ids), torch.from_numpy(mask))
    axes = {
        "input_ids": {0: "batch", 1: "length"},
        "attention_mask": {0: "batch", 1: "length"},
        "logits": {0: "batch"},
    }
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            inputs,
            str(path),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=ONNX_OPSET,
        )
        model.eval()  # the exporter restores the mode it found; make sure dropout stays off
        expected = model(*inputs).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    diff = float(np.max(np.abs(expected - got)))
    if not diff <= tolerance:
        raise ValueError(f"ONNX export differs from the torch model by {diff} (> {tolerance})")
    return {"max_abs_diff": diff, "texts": len(sample_texts)}
