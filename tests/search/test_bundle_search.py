"""智能导办 in the engine: reasons, 情形, nonsense, the index rebuilt on deployment, jieba kept quiet."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.bpmn.definitions import read_bundle_dir
from engine.cases.bundle_search import SEGMENTER, Segmenter
from engine.service import Engine
from tests.search.shipped_index import ROOT, shipped_index
from tests.support.engines import TEST_BUNDLES, bundle_engine


def test_the_answer_says_which_words_matched_and_where() -> None:
    answer = shipped_index().search("我想开一家小饭馆")
    first = answer.found[0]
    assert first.key == "restaurant-opening"
    assert ("小饭馆", "keyword") in {(m.word, m.field) for m in first.why}
    assert first.score > 0
    # A word inside a longer matched word is not repeated as a reason (营业 in 营业执照).
    licence = shipped_index().search("办营业执照").found[0]
    words = [m.word for m in licence.why]
    assert "营业执照" in words and "营业" not in words and "执照" not in words


def test_a_question_about_one_situation_ranks_that_situation_first() -> None:
    found = shipped_index().search("孩子的社保卡弄丢了").found[0]
    assert found.key == "social-security-card"
    assert found.situations[0].index == 1
    assert found.situations[0].name.zh.startswith("儿童社保卡遗失补换")
    assert {m.word for m in found.situations[0].why} >= {"孩子"}


@pytest.mark.parametrize("question", ["", "   ", "？！", "的了吗", "zzqx 哈哈哈"])
def test_an_empty_or_nonsense_question_finds_nothing(question: str) -> None:
    answer = shipped_index().search(question)
    assert not answer.understood and answer.found == ()


def test_keywords_stay_whole_words_when_a_question_is_cut() -> None:
    shipped_index()
    assert "小饭馆" in SEGMENTER.words("我想开一家小饭馆")
    assert "公积金贷款" in SEGMENTER.words("想用公积金贷款")


def _with_keywords(words: str) -> dict[str, bytes]:
    files = read_bundle_dir(TEST_BUNDLES / "mini-startup")
    files["bundle.yaml"] += f"\nkeywords: [{words}]\n".encode()
    return files


def test_the_index_is_rebuilt_when_a_new_version_is_deployed_and_kept_otherwise(
    db_url: str, tmp_path: Path
) -> None:
    engine: Engine = bundle_engine(db_url, tmp_path, "mini-startup")
    assert engine.search_bundles("开个烧烤摊").found == ()
    held = engine._search_index
    engine.search_bundles("迷你企业")
    assert engine._search_index is held  # nothing deployed: the same index answers
    engine.deploy_files(_with_keywords("烧烤摊, 夜宵"), "analyst")
    found = engine.search_bundles("开个烧烤摊").found
    assert [f.key for f in found] == ["mini-startup"]
    assert found[0].why[0].word == "烧烤摊" and found[0].why[0].field == "keyword"


def test_a_draft_is_not_searched_until_it_is_published(db_url: str, tmp_path: Path) -> None:
    engine: Engine = bundle_engine(db_url, tmp_path, "mini-startup")
    engine.deploy_files(_with_keywords("烧烤摊"), "analyst", draft=True)
    assert engine.search_bundles("烧烤摊").found == ()


def test_jieba_says_nothing_on_stderr_and_logs_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    code = "from engine.cases.bundle_search import SEGMENTER; print(SEGMENTER.words('我想开一家小饭馆'))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert "饭馆" in done.stdout
    assert done.stderr == ""
    with caplog.at_level(logging.DEBUG):  # shown where the application logs at debug
        Segmenter().words("孩子要上小学了")
    built = [r for r in caplog.records if r.name == "jieba" and "prefix dict" in r.getMessage()]
    assert built and all(r.levelno == logging.DEBUG for r in built)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=250))
def test_any_text_is_answered_and_every_reason_is_a_word_of_the_question(question: str) -> None:
    answer = shipped_index().search(question)
    for found in answer.found:
        assert found.score > 0
        assert all(m.word in answer.words and m.word in question.lower() for m in found.why)
