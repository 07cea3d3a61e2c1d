"""智能导办: which bundle (and which of its 情形) a question in plain Chinese is about, and why.

A question such as 我想开一家小饭馆 is cut into words by jieba (its shipped dictionary, plus
every manifest's keywords and synonyms so that 小饭馆 stays one word), and each bundle is
ranked by BM25 (rank-bm25) over its fields: keywords and synonyms, name, items, 情形 (the
manifest's examples), description and departments, each with a weight. The answer carries
the reason: the words of the question that matched, and in which field.

The index is built once per set of deployed bundles (the facade rebuilds it when the set
changes) and answers in about a millisecond; nothing is fetched from the network. jieba's
prefix dictionary is built once per process (a second or two) and its progress lines go to
the ``jieba`` logger at debug level instead of straight to stderr.

May import: ``engine.bpmn.manifest``, ``engine.cases.views``, jieba, rank_bm25.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import jieba
from rank_bm25 import BM25Okapi

from engine.bpmn.manifest import Manifest
from engine.cases.views import Label

# Field -> weight: a keyword is what people say for the thing, so it counts most; a department
# name is shared by many bundles, so it counts least.
FIELD_WEIGHTS: dict[str, float] = {
    "keyword": 3.0,
    "name": 2.0,
    "item": 1.2,
    "situation": 1.0,
    "description": 0.6,
    "department": 0.5,
}
SITUATION_WEIGHTS: dict[str, float] = {"keyword": 2.0, "name": 1.0}
# A bundle far below the best answer is noise from a common word (公司, 登记): left out.
RELATIVE_FLOOR = 0.15
MAX_FOUND = 10
MAX_QUERY_CHARS = 200

# Words that say how one asks, not what about: they would match every bundle or none.
_STOP_TEXT = """
    我 你 他 她 它 我们 你们 他们 咱 咱们 自己 想 想要 要 需要 需 得 该 应该 可以 能 能不能 会 了 的 地 得
    是 在 有 和 与 及 或 跟 同 把 被 给 让 也 都 就 还 又 再 吗 呢 啊 吧 呀 么 嘛 哦 一 一下 一个 一家
    一些 这 那 这个 那个 这种 那种 哪 哪些 哪个 什么 啥 怎么 怎么办 怎样 如何 为什么 多少 几 个 上 下 来
    去 到 说 办 办理 办个 手续 事 事情 事项 一件事 业务 申请 问 请问 咨询 现在 刚 刚刚 马上 快 已经 准备
    打算 之后 以后 后 前 没有 没 不 不是 好 请 帮 帮忙 谢谢 您好 你好 所有 全部 相关 时候 时 去哪 哪里
    哪儿 流程 要求 需要 a an the to of for in on and or i my we our you your want need how do does can get
    what which is are
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class Match:
    """One word of the question and the field of the bundle (or 情形) it was found in."""

    word: str
    field: str  # keyword | name | item | situation | description | department


@dataclass(frozen=True)
class SituationFound:
    """One 情形 of a bundle (its example at ``index``) that the question fits, best first."""

    index: int
    name: Label
    score: float
    why: tuple[Match, ...]


@dataclass(frozen=True)
class BundleFound:
    """A bundle the question is about: its score, why, and the 情形 that fit."""

    key: str
    score: float
    why: tuple[Match, ...]
    situations: tuple[SituationFound, ...]


@dataclass(frozen=True)
class SearchAnswer:
    """The bundles that fit a question, best first (empty: nothing the question says matched)."""

    query: str
    words: tuple[str, ...]
    found: tuple[BundleFound, ...]

    @property
    def understood(self) -> bool:
        """Whether any bundle matched: an empty or nonsense question matches none."""
        return bool(self.found)


@dataclass(frozen=True)
class BundleSource:
    """What the index reads of one deployed bundle: its manifest and its departments' names."""

    manifest: Manifest
    departments: Mapping[str, Label]


class Segmenter:
    """A jieba tokenizer of our own (the global one stays untouched), built once per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokenizer: jieba.Tokenizer | None = None
        self._added: set[str] = set()

    def _ready(self) -> jieba.Tokenizer:
        if self._tokenizer is None:
            # jieba prints its progress to stderr through its own handler; let it reach logging instead.
            jieba.default_logger.removeHandler(jieba.log_console)
            jieba.default_logger.setLevel(logging.NOTSET)  # debug lines, shown where logging is set to debug
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            self._tokenizer = tokenizer
        return self._tokenizer

    def add_words(self, words: Iterable[str]) -> None:
        """Keep these words whole from now on (the manifests' keywords)."""
        with self._lock:
            tokenizer = self._ready()
            for word in words:
                word = word.strip().lower()
                if word and word not in self._added:
                    tokenizer.add_word(word)
                    self._added.add(word)

    def words(self, text: str) -> list[str]:
        """The searchable words of a text, lower case, in order (a word may come twice)."""
        with self._lock:
            cut = self._ready().lcut_for_search(text.lower())
        return [w for w in (c.strip() for c in cut) if w and _WORD.search(w) and w not in STOP_WORDS]


SEGMENTER = Segmenter()


class _BM25(BM25Okapi):  # type: ignore[misc]  # rank_bm25 ships no types
    """BM25 with an idf that stays positive (Lucene's), so a word all bundles share still counts a little.

    Okapi's own idf goes negative for a word in more than half of the documents, and with one
    or two bundles deployed (a new platform, a test) every word is: nothing would ever match.
    """

    def _calc_idf(self, nd: Mapping[str, int]) -> None:
        for word, freq in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))


class _Fields:
    """One BM25 per field over the same documents, weighted and summed."""

    def __init__(self, documents: Sequence[Mapping[str, list[str]]], weights: Mapping[str, float]) -> None:
        self.size = len(documents)
        self.weights = weights
        self.bm25 = {field: _BM25([list(d.get(field, ())) or [""] for d in documents]) for field in weights}
        self.vocabulary = {field: {w for d in documents for w in d.get(field, ())} for field in weights}

    def contributions(self, words: Sequence[str]) -> list[dict[str, list[float]]]:
        """For each word of the question: field -> the weighted BM25 score of every document."""
        found: list[dict[str, list[float]]] = []
        for word in words:
            per_field: dict[str, list[float]] = {}
            for field, weight in self.weights.items():
                if word in self.vocabulary[field]:
                    scores = self.bm25[field].get_scores([word])
                    per_field[field] = [max(float(s), 0.0) * weight for s in scores]
            found.append(per_field)
        return found

    def rank(self, words: Sequence[str]) -> list[tuple[float, tuple[Match, ...]]]:
        """Each document's score for the question and the words that matched (by field)."""
        totals = [0.0] * self.size
        best: list[dict[str, tuple[float, str]]] = [{} for _ in range(self.size)]
        for word, per_field in zip(words, self.contributions(words), strict=True):
            for field, scores in per_field.items():
                for doc, score in enumerate(scores):
                    if score <= 0:
                        continue
                    totals[doc] += score
                    if score > best[doc].get(word, (0.0, ""))[0]:
                        best[doc][word] = (score, field)
        return [(totals[doc], _reasons(best[doc])) for doc in range(self.size)]


def _reasons(best: Mapping[str, tuple[float, str]]) -> tuple[Match, ...]:
    """The matched words, strongest first, without a word inside a longer matched one (营业 in 营业执照)."""
    ordered = sorted(best.items(), key=lambda kv: -kv[1][0])
    words = [w for w, _ in ordered]
    return tuple(
        Match(word, field)
        for word, (_score, field) in ordered
        if not any(word != other and word in other for other in words)
    )


def _label_words(label: Label) -> list[str]:
    return SEGMENTER.words(f"{label.zh} {label.en}")


class BundleIndex:
    """The deployed bundles and their 情形, ready to rank questions."""

    def __init__(self, sources: Sequence[BundleSource]) -> None:
        self.keys = tuple(s.manifest.key for s in sources)
        SEGMENTER.add_words(
            word
            for s in sources
            for word in (
                *s.manifest.keywords,
                *s.manifest.synonyms,
                *(w for others in s.manifest.synonyms.values() for w in others),
                *(w for e in s.manifest.examples for w in e.keywords),
            )
        )
        self.bundles = _Fields([_bundle_document(s) for s in sources], FIELD_WEIGHTS)
        self.situations: list[tuple[int, int, Label]] = []  # (bundle, example index, name)
        documents: list[dict[str, list[str]]] = []
        for b, source in enumerate(sources):
            for i, example in enumerate(source.manifest.examples):
                name = Label(example.name.zh, example.name.en)
                self.situations.append((b, i, name))
                keywords = [w for k in example.keywords for w in SEGMENTER.words(k)]
                documents.append({"name": _label_words(name), "keyword": keywords})
        self.situation_fields = _Fields(documents, SITUATION_WEIGHTS)

    def search(self, query: str) -> SearchAnswer:
        """The bundles that fit the question, best first, each with its reasons and fitting 情形."""
        query = query.strip()[:MAX_QUERY_CHARS]
        words = tuple(SEGMENTER.words(query))
        if not words or not self.keys:
            return SearchAnswer(query, words, ())
        ranked = self.bundles.rank(words)
        top = max(score for score, _ in ranked)
        if top <= 0:
            return SearchAnswer(query, words, ())
        situations: dict[int, list[SituationFound]] = {}
        for (score, why), (b, i, name) in zip(
            self.situation_fields.rank(words), self.situations, strict=True
        ):
            if score > 0:
                situations.setdefault(b, []).append(SituationFound(i, name, round(score, 3), why))
        order = sorted(range(len(self.keys)), key=lambda b: (-ranked[b][0], self.keys[b]))
        found = tuple(
            BundleFound(
                self.keys[b],
                round(ranked[b][0], 3),
                ranked[b][1],
                tuple(sorted(situations.get(b, ()), key=lambda s: (-s.score, s.index))),
            )
            for b in order
            if ranked[b][0] > 0 and ranked[b][0] >= RELATIVE_FLOOR * top
        )
        return SearchAnswer(query, words, found[:MAX_FOUND])


def _bundle_document(source: BundleSource) -> dict[str, list[str]]:
    """A bundle's words by field (synonyms count as keywords: both are how people name it)."""
    m = source.manifest
    keywords = [*m.keywords, *m.synonyms, *(w for others in m.synonyms.values() for w in others)]
    return {
        "keyword": [w for k in keywords for w in SEGMENTER.words(k)],
        "name": _label_words(Label(m.name.zh, m.name.en)),
        "item": [w for item in m.items for w in _label_words(Label(item.name.zh, item.name.en))],
        "situation": [
            w
            for e in m.examples
            for w in (*_label_words(Label(e.name.zh, e.name.en)), *(SEGMENTER.words(" ".join(e.keywords))))
        ],
        "description": _label_words(Label(m.description.zh, m.description.en)) if m.description else [],
        "department": [
            w for d in m.departments for w in _label_words(source.departments.get(d, Label(d, d)))
        ],
    }
