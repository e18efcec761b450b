"""The text engine against TF-IDF char 1-3 + logistic regression, same budget, same run, on generated Chinese.

Corpora (seeded, written as ``corpus.txt`` + ``corpus_result.txt`` pairs and read back as a user's import):

* ``reviews`` — 5,000 product reviews, positive / negative. Sentences are built from aspects (物流, 质量,
  客服...) shared by both classes, sentiment words with degree adverbs, negation that flips a phrase
  (不/没有/并不 + a positive word reads negative), contrast where the clause after 但是/不过 decides
  (虽然包装很好，但是质量太差), neutral filler, typos (random characters), and 4 % label noise: no single
  word separates the classes;
* ``topics`` — 3,000 short news items in 5 topics sharing a common vocabulary, with distractor words from
  other topics and 5 % label noise.

Splits: 20 % test texts (held out from everyone); of the rest 20 % validation (the version's EVAL split:
the engine picks and reports on it). Both systems train on the same training texts. The engine is asked
through its package's predictor, as serving would.

    python bench/bench_quality_text.py [--budgets 60,360] [--seeds 1,2] [--quick]
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # see bench_quality_table.py

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_report import ENGINE, bench_options, quality_line, report
from trainer.engines.base import Sample, TrainContext, TrainingParams, VersionData
from trainer.engines.text_classification.engine import TextClassificationEngine

from shared.packages import load_predictor

TYPE = "text_classification"
ASPECTS = [
    "物流",
    "质量",
    "客服",
    "包装",
    "价格",
    "做工",
    "味道",
    "尺码",
    "颜色",
    "屏幕",
    "电池",
    "售后",
    "发货速度",
    "材质",
    "性价比",
    "手感",
    "声音",
    "安装",
    "说明书",
    "服务态度",
]
POSITIVE = [
    "很好",
    "不错",
    "满意",
    "喜欢",
    "给力",
    "完美",
    "超值",
    "舒服",
    "清晰",
    "耐用",
    "实惠",
    "贴心",
    "漂亮",
    "结实",
    "好用",
    "精致",
    "靠谱",
    "惊喜",
]
NEGATIVE = [
    "很差",
    "失望",
    "糟糕",
    "垃圾",
    "难用",
    "粗糙",
    "太慢",
    "破损",
    "掉色",
    "卡顿",
    "偏小",
    "异味",
    "敷衍",
    "坑人",
    "后悔",
    "劣质",
    "麻烦",
    "发热",
]
DEGREE = ["", "", "非常", "特别", "有点", "真的", "太", "挺", "比较", "十分"]
NEGATION = ["不", "没有", "并不", "一点也不"]
FILLER = [
    "昨天收到",
    "买给家里人用",
    "第二次购买了",
    "用了一个星期",
    "朋友推荐的",
    "双十一买的",
    "整体来说",
    "说实话",
    "刚开始用",
    "总的来说",
    "客观评价一下",
    "和图片一样",
    "给个评价吧",
    "先用用看",
]
ENDINGS = ["。", "！", "", "~", "。。", "！！", "，就这样。"]
TOPICS = {
    "体育": ["比赛", "球队", "冠军", "进球", "教练", "球员", "联赛", "训练", "决赛", "主场", "对手", "得分"],
    "财经": ["股市", "投资", "银行", "利率", "基金", "上涨", "下跌", "市场", "经济", "企业", "利润", "债券"],
    "科技": ["手机", "芯片", "软件", "网络", "数据", "智能", "电脑", "系统", "算法", "研发", "屏幕", "电池"],
    "美食": ["餐厅", "味道", "米饭", "面条", "厨师", "火锅", "甜点", "新鲜", "口感", "菜单", "饺子", "市场"],
    "旅游": ["景点", "酒店", "机票", "导游", "海边", "门票", "签证", "行程", "风景", "游客", "假期", "餐厅"],
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
    "数据",
]
NOISE_CHARS = "的了是在有和就都而及与着或之乎者也啊吧呢吗哦嗯"


def _phrase(rng: random.Random, positive: bool) -> str:
    """A clause about an aspect whose polarity is ``positive``: a plain opinion, or a negated opposite."""
    aspect = rng.choice(ASPECTS)
    if rng.random() < 0.25:  # 不满意 (negative) / 不差 (positive)
        word = rng.choice(NEGATIVE if positive else POSITIVE)
        return f"{aspect}{rng.choice(NEGATION)}{word}"
    return f"{aspect}{rng.choice(DEGREE)}{rng.choice(POSITIVE if positive else NEGATIVE)}"


def _review(rng: random.Random, positive: bool) -> str:
    parts = [rng.choice(FILLER)] if rng.random() < 0.6 else []
    if rng.random() < 0.3:  # contrast: the clause after 但是 decides
        parts.append(
            f"虽然{_phrase(rng, not positive)}，{rng.choice(['但是', '不过', '可是'])}{_phrase(rng, positive)}"
        )
    else:
        parts += [_phrase(rng, positive) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.3:  # a minor complaint in a good review, a minor praise in a bad one
            parts.insert(rng.randint(0, len(parts)), _phrase(rng, not positive))
            parts.append(_phrase(rng, positive))
    text = "，".join(parts) + rng.choice(ENDINGS)
    if rng.random() < 0.2:  # typos
        i = rng.randrange(len(text))
        text = text[:i] + rng.choice(NOISE_CHARS) + text[i:]
    return text


def reviews(seed: int, n: int = 5000) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        label = "正面" if positive else "负面"
        if rng.random() < 0.04:
            label = "负面" if positive else "正面"
        rows.append((_review(rng, positive), label))
    rng.shuffle(rows)
    return rows


def topics(seed: int, n: int = 3000) -> list[tuple[str, str]]:
    rng = random.Random(seed + 10)
    names = list(TOPICS)
    rows = []
    for i in range(n):
        label = names[i % len(names)]
        tokens = rng.sample(TOPICS[label], rng.randint(1, 3)) + rng.sample(COMMON, rng.randint(4, 8))
        other = rng.choice([t for t in names if t != label])
        tokens += rng.sample(TOPICS[other], rng.randint(0, 2))
        rng.shuffle(tokens)
        shown = rng.choice(names) if rng.random() < 0.05 else label
        rows.append(("".join(tokens) + rng.choice(ENDINGS), shown))
    rng.shuffle(rows)
    return rows


DATASETS = {"reviews": reviews, "topics": topics}


def _as_import(rows: list[tuple[str, str]], folder: Path) -> list[tuple[str, str]]:
    """Written as a ``_result.txt`` pair and read back line by line, as the dataset import reads it."""
    (folder / "corpus.txt").write_text("\n".join(t for t, _ in rows) + "\n", encoding="utf-8")
    (folder / "corpus_result.txt").write_text("\n".join(lab for _, lab in rows) + "\n", encoding="utf-8")
    texts = (folder / "corpus.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / "corpus_result.txt").read_text(encoding="utf-8").splitlines()
    return list(zip(texts, labels, strict=True))


def _split(rows: list, seed: int) -> tuple[list, list, list]:
    rng = random.Random(seed)
    rows = rows[:]
    rng.shuffle(rows)
    n_test = len(rows) // 5
    test, rest = rows[:n_test], rows[n_test:]
    n_valid = len(rest) // 5
    return rest[n_valid:], rest[:n_valid], test


def run_engine(train, valid, test, budget: float, work: Path, preference: str) -> tuple[float, float]:
    labels = sorted({lab for _, lab in train})

    def samples(part: list) -> list[Sample]:
        return [Sample(sample_id=str(i), labels=[lab], text=text) for i, (text, lab) in enumerate(part)]

    started = time.monotonic()
    ctx = TrainContext(
        params=TrainingParams(preference=preference, max_training_seconds=budget),
        data=VersionData(TYPE, labels, train=samples(train), eval=samples(valid)),
        work_dir=work,
        package_dir=work / "package",
        deadline=started + budget,
        packaging_margin_seconds=min(10.0, budget * 0.25),
        log=lambda _line: None,
    )
    TextClassificationEngine().train(ctx)
    wall = time.monotonic() - started
    answers = load_predictor(work / "package").predict_batch([t.encode() for t, _ in test])
    return sum(a["predicted_label"] == lab for a, (_, lab) in zip(answers, test)) / len(test), wall


def run_baseline(train, test) -> tuple[float, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    started = time.monotonic()
    model = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3)), LogisticRegression(max_iter=2000)
    )
    model.fit([t for t, _ in train], [lab for _, lab in train])
    predicted = model.predict([t for t, _ in test])
    return sum(p == lab for p, (_, lab) in zip(predicted, test)) / len(test), time.monotonic() - started


def main() -> None:
    args, budgets, seeds = bench_options(__doc__, list(DATASETS))
    lines = []
    for budget in budgets:
        for seed in seeds:
            for name in args.data.split(","):
                with tempfile.TemporaryDirectory() as tmp:
                    rows = _as_import(DATASETS[name](seed), Path(tmp))
                    train, valid, test = _split(rows, seed)
                    engine = run_engine(train, valid, test, budget, Path(tmp), args.preference)
                baseline = run_baseline(train, test)
                data = f"{name}-s{seed}"
                lines.append(quality_line(TYPE, data, budget, ENGINE, "accuracy", *engine))
                lines.append(quality_line(TYPE, data, budget, "tfidf-char1-3+lr", "accuracy", *baseline))
    report(lines, [])


if __name__ == "__main__":
    main()
