"""A bundle.yaml too deep, too large or with aliases is refused at once, by the CLI and the API.

Before the bounds, a bundle.yaml nested 5,000 levels deep ran PyYAML into the recursion
limit after seconds of CPU and came back as a validator crash; an alias bomb loaded in
milliseconds and exploded when walked.
"""

from __future__ import annotations

import io
import shutil
import time
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from engine.bpmn.manifest import parse_manifest
from engine.bpmn.validation.command import run_validate
from engine.bpmn.yaml_bounds import MAX_BYTES, MAX_DEPTH, YamlRefused, load_bounded
from engine.errors import DefinitionError
from engine.storage.settings import Settings, shipped_processes_dir
from tests.api.support import live_server

SHIPPED = shipped_processes_dir()
BUNDLE = SHIPPED / "school-enrollment"
FAST = 0.2  # seconds of CPU a refusal may take
T = TypeVar("T")


def deep_list(levels: int) -> str:
    """A flow sequence nested this many levels."""
    return "[" * levels + "]" * levels


def deep_mapping(levels: int) -> str:
    """A flow mapping nested this many levels."""
    return "{a: " * levels + "1" + "}" * levels


def alias_bomb(rounds: int = 9) -> str:
    """Billion laughs: each anchor lists the previous one nine times (9**rounds strings when walked)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, rounds + 1)]
    return "\n".join(lines) + "\n"


def manifest_with(extra: str) -> str:
    """The shipped school-enrolment manifest with one more top-level key."""
    return (BUNDLE / "bundle.yaml").read_text(encoding="utf-8") + f"\nextra: {extra}\n"


HOSTILE: dict[str, tuple[Callable[[], str], str]] = {
    "5000 deep list": (lambda: manifest_with(deep_list(5000)), "嵌套过深"),
    "5000 deep mapping": (lambda: manifest_with(deep_mapping(5000)), "嵌套过深"),
    "alias bomb": (lambda: alias_bomb() + "key: school-enrollment\n", "别名"),
}


def cpu(call: Callable[[], T]) -> tuple[float, T]:
    """The CPU seconds a call takes, and what it returned."""
    start = time.process_time()
    result = call()
    return time.process_time() - start, result


@pytest.mark.parametrize("name", HOSTILE)
def test_onething_validate_refuses_deep_and_aliased_manifests_at_once(name: str, tmp_path: Path) -> None:
    make, words = HOSTILE[name]
    folder = tmp_path / "bundle"
    shutil.copytree(BUNDLE, folder)
    (folder / "bundle.yaml").write_text(make(), encoding="utf-8")
    out = io.StringIO()
    seconds, code = cpu(lambda: run_validate([str(folder)], out))
    text = out.getvalue()
    assert code != 0
    assert words in text and "校验器内部错误" not in text and "internal" not in text, text
    assert seconds < FAST, f"{name}: {seconds:.2f} s"


def test_the_refusal_names_the_file_the_bound_and_the_line() -> None:
    with pytest.raises(DefinitionError) as refused:
        parse_manifest(manifest_with(deep_list(5000)))
    (problem,) = refused.value.problems
    assert problem.message.startswith(f"bundle.yaml 嵌套过深，超过 {MAX_DEPTH} 层 (第 ")
    assert problem.message_en.startswith(f"bundle.yaml nested deeper than {MAX_DEPTH} levels (line ")
    assert problem.file == "bundle.yaml"


def test_the_depth_bound_is_exact_and_anchors_without_aliases_are_fine() -> None:
    # The document's top mapping is the first level, so a list inside it may be nested 63 deep.
    nested: list[object] = []
    for _ in range(MAX_DEPTH - 2):
        nested = [nested]
    assert load_bounded(f"a: {deep_list(MAX_DEPTH - 1)}") == {"a": nested}
    with pytest.raises(YamlRefused, match="nested deeper than 64 levels"):
        load_bounded(f"a: {deep_list(MAX_DEPTH)}")
    block = "".join(f"{'  ' * n}k{n}:\n" for n in range(MAX_DEPTH)) + f"{'  ' * MAX_DEPTH}leaf\n"
    with pytest.raises(YamlRefused, match="nested deeper than 64 levels"):
        load_bounded(block)  # indentation nests as deep as brackets do
    assert load_bounded("a: &x 1\nb: 2\n") == {"a": 1, "b": 2}
    with pytest.raises(YamlRefused, match=r"line 2: YAML aliases"):
        load_bounded("a: &x 1\nb: *x\n")
    with pytest.raises(YamlRefused, match="aliases"):
        load_bounded("base: &b {x: 1}\nmore:\n  <<: *b\n")


def test_text_over_the_size_bound_is_refused_before_it_is_read() -> None:
    big = "notes: " + "x" * MAX_BYTES + "\n"
    start = time.process_time()
    with pytest.raises(YamlRefused, match="too large"):
        load_bounded(big)
    assert time.process_time() - start < FAST
    with pytest.raises(DefinitionError, match="too large"):
        parse_manifest(big)


def test_every_shipped_manifest_reads_as_before() -> None:
    manifests = sorted(SHIPPED.glob("*/bundle.yaml"))
    assert len(manifests) >= 10
    for path in manifests:
        text = path.read_text(encoding="utf-8")
        assert load_bounded(text) == yaml.safe_load(text), path
        assert parse_manifest(text).key == path.parent.name


def test_onething_validate_still_passes_a_shipped_bundle() -> None:
    out = io.StringIO()
    assert run_validate([str(BUNDLE)], out) == 0, out.getvalue()


def bundle_zip(manifest: str) -> bytes:
    """The school-enrolment folder zipped with this manifest."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(BUNDLE.iterdir()):
            data = manifest.encode("utf-8") if path.name == "bundle.yaml" else path.read_bytes()
            archive.writestr(path.name, data)
    return buffer.getvalue()


def test_the_api_answers_422_for_deep_and_aliased_manifests(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'onething.db'}", data_dir=tmp_path / "var")
    with live_server(settings) as server, server.as_user("analyst") as analyst:
        # The shipped manifest, unchanged, still deploys (same content: the same version);
        # this first upload also warms the server up before the timed ones.
        shipped = bundle_zip((BUNDLE / "bundle.yaml").read_text(encoding="utf-8"))
        upload = {"file": ("bundle.zip", io.BytesIO(shipped), "application/zip")}
        same = analyst.post("/api/bundles", files=upload)
        assert same.status_code == 200, same.text
        for name, (make, words) in HOSTILE.items():
            upload = {"file": ("bundle.zip", io.BytesIO(bundle_zip(make())), "application/zip")}
            # CPU of this process: the server runs in a thread of it
            elapsed, answer = cpu(partial(analyst.post, "/api/bundles", files=upload))
            assert answer.status_code == 422, (name, answer.text)
            assert words in answer.text and "校验器内部错误" not in answer.text, (name, answer.text)
            assert elapsed < FAST, f"{name}: {elapsed:.2f} s"
