"""Hostile XML in a diagram is refused at once: nothing expanded, no file read, no connection made.

Every case goes through the public validation entry points (a lone ``.bpmn``, a bundle's
files, the CLI body) and must be refused with a clear message in well under a second. File
reads are caught by a named pipe: opening it for reading would wake the writer thread, so
"nothing read" is observed, not assumed. Network access is caught by a listening socket on
loopback that must see no connection.
"""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn.checks.schema import BPMN_XSD, _schema, schema_problems
from engine.bpmn.validation.bpmn_file import validate_bpmn_file
from engine.bpmn.validation.bundle import validate_bundle_files
from engine.bpmn.validation.command import run_validate
from engine.bpmn.validation.report import Report

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = FIXTURES / "hostile"
VALID = FIXTURES / "valid-minimal"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
LIMIT_SECONDS = 1.0


def diagram(name_attr: str = "start", head: str = "") -> str:
    """A small BPMN document with a DOCTYPE (or anything else) in front of its root."""
    return (
        f'<?xml version="1.0"?>\n{head}'
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" id="d" targetNamespace="x">'
        f'<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s" name="{name_attr}"/>'
        "</bpmn:process></bpmn:definitions>"
    )


def utf16(text: str) -> bytes:
    """The same document in UTF-16 (the byte check for DOCTYPE does not see it)."""
    return text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")


def timed(call: Callable[[], Report]) -> tuple[Report, float]:
    started = time.perf_counter()
    report = call()
    return report, time.perf_counter() - started


def assert_refused(report: Report, elapsed: float, rule: str = "xml-dtd") -> None:
    rules = {p.rule for p in report.problems}
    assert rule in rules, report.problems
    refusal = next(p for p in report.problems if p.rule == rule)
    assert refusal.message and refusal.message_en, "a refusal says why, in Chinese and English"
    assert not report.runnable
    assert elapsed < LIMIT_SECONDS, f"refusal took {elapsed:.3f} s"


def as_bundle(process: bytes) -> dict[str, bytes]:
    """The valid fixture bundle with a hostile diagram in place of its own."""
    return {"bundle.yaml": (VALID / "bundle.yaml").read_bytes(), "process.bpmn": process}


@dataclass
class Listener:
    """A loopback server that records whether anybody connected."""

    port: int
    server: socket.socket

    def connections(self, wait: float = 0.2) -> int:
        deadline = time.monotonic() + wait
        count = 0
        while time.monotonic() < deadline:
            try:
                conn, _ = self.server.accept()
            except BlockingIOError:
                time.sleep(0.01)
                continue
            conn.close()
            count += 1
        return count


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield Listener(server.getsockname()[1], server)
    server.close()


@dataclass
class Trap:
    """A named pipe holding a secret: any reader that opens it is seen (the writer wakes up)."""

    path: Path
    secret: str
    opened: threading.Event


@pytest.fixture
def trap(tmp_path: Path) -> Iterator[Trap]:
    path = tmp_path / "secret.fifo"
    os.mkfifo(path)
    secret = f"ONETHING-SECRET-{os.getpid()}-{time.time_ns()}"
    opened = threading.Event()

    def writer() -> None:
        try:
            with path.open("w") as pipe:  # blocks until somebody opens the pipe for reading
                opened.set()
                pipe.write(secret)
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    trap = Trap(path, secret, opened)
    yield trap
    was_opened = opened.is_set()
    release = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # let the writer finish
    thread.join(timeout=2)
    os.close(release)
    assert not was_opened, "the named pipe was opened: something read a file it was pointed at"


@pytest.mark.parametrize("name", ["billion_laughs.bpmn", "parameter_entities.bpmn", "xxe_etc_passwd.bpmn"])
def test_hostile_fixture_is_refused_quickly_as_a_lone_file(name: str) -> None:
    report, elapsed = timed(lambda: validate_bpmn_file(HOSTILE / name))
    assert_refused(report, elapsed)
    assert report.problems[0].file == str(HOSTILE / name)
    assert "root:" not in json.dumps(report.as_dict()), "nothing of /etc/passwd comes back"


@pytest.mark.parametrize("name", ["billion_laughs.bpmn", "parameter_entities.bpmn", "xxe_etc_passwd.bpmn"])
def test_hostile_fixture_is_refused_quickly_inside_a_bundle(name: str) -> None:
    files = as_bundle((HOSTILE / name).read_bytes())
    report, elapsed = timed(lambda: validate_bundle_files(files, "upload"))
    assert_refused(report, elapsed)
    assert any(p.file == "process.bpmn" and p.rule == "xml-dtd" for p in report.problems)


def test_billion_laughs_in_utf16_is_refused_quickly() -> None:
    text = (HOSTILE / "billion_laughs.bpmn").read_text()
    report, elapsed = timed(lambda: validate_bundle_files(as_bundle(utf16(text)), "upload"))
    assert report.problems and not report.runnable
    assert {p.rule for p in report.problems} & {"xml-dtd", "xml-syntax"}
    assert elapsed < LIMIT_SECONDS


def test_quadratic_blowup_is_refused_quickly(tmp_path: Path) -> None:
    big = "a" * 100_000
    path = tmp_path / "quadratic.bpmn"
    path.write_text(diagram("&a;" * 20_000, f'<!DOCTYPE bpmn:definitions [<!ENTITY a "{big}">]>\n'))
    report, elapsed = timed(lambda: validate_bpmn_file(path))
    assert_refused(report, elapsed)


def hostile_file_reads(target: Path) -> dict[str, bytes]:
    """Every way a diagram could make a parser open a local file, each pointed at ``target``."""
    url = target.as_uri()
    entity = diagram("&xxe;", f'<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "{url}">]>\n')
    external_dtd = diagram(head=f'<!DOCTYPE bpmn:definitions SYSTEM "{url}">\n')
    parameter = diagram(head=f'<!DOCTYPE bpmn:definitions [<!ENTITY % p SYSTEM "{url}"> %p;]>\n')
    xinclude = (
        f'<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="{BPMN_NS}" '
        f'xmlns:xi="http://www.w3.org/2001/XInclude" id="d" targetNamespace="x">'
        f'<xi:include href="{url}" parse="text"/></bpmn:definitions>'
    )
    late = diagram(head=f'<!-- {"x" * 5000} -->\n<!DOCTYPE bpmn:definitions SYSTEM "{url}">\n')
    return {
        "entity": entity.encode(),
        "external-dtd": external_dtd.encode(),
        "parameter-entity": parameter.encode(),
        "doctype-after-5kb": late.encode(),
        "entity-utf16": utf16(entity),
        "xinclude": xinclude.encode(),
    }


@pytest.mark.parametrize("variant", sorted(hostile_file_reads(Path("/x"))))
def test_xxe_file_read_reads_nothing(variant: str, trap: Trap, tmp_path: Path) -> None:
    data = hostile_file_reads(trap.path)[variant]
    path = tmp_path / f"{variant}.bpmn"
    path.write_bytes(data)
    for call in (lambda: validate_bpmn_file(path), lambda: validate_bundle_files(as_bundle(data), "upload")):
        report, elapsed = timed(call)
        assert report.problems and not report.runnable, variant
        assert elapsed < LIMIT_SECONDS
        assert trap.secret not in json.dumps(report.as_dict(), ensure_ascii=False)
    assert not trap.opened.is_set(), f"{variant}: the file was opened"


def test_xxe_of_etc_passwd_returns_nothing_of_it() -> None:
    out = io.StringIO()
    code = run_validate([str(HOSTILE / "xxe_etc_passwd.bpmn")], out, as_json=True)
    assert code == 1
    document = json.loads(out.getvalue())
    assert document["ok"] is False
    passwd = Path("/etc/passwd").read_text().splitlines()[0]
    assert passwd not in out.getvalue()


def hostile_network(port: int) -> dict[str, bytes]:
    """Every way a diagram could make a parser connect somewhere."""
    url = f"http://127.0.0.1:{port}/evil.dtd"
    entity = diagram("&xxe;", f'<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "{url}">]>\n')
    return {
        "entity": entity.encode(),
        "external-dtd": diagram(head=f'<!DOCTYPE bpmn:definitions SYSTEM "{url}">\n').encode(),
        "parameter-entity": diagram(
            head=f'<!DOCTYPE bpmn:definitions [<!ENTITY % p SYSTEM "{url}"> %p;]>\n'
        ).encode(),
        "doctype-after-5kb": diagram(
            head=f'<!-- {"x" * 5000} -->\n<!DOCTYPE bpmn:definitions SYSTEM "{url}">\n'
        ).encode(),
        "entity-utf16": utf16(entity),
        "schema-location": (
            f'<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="{BPMN_NS}" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{BPMN_NS} {url}" id="d" targetNamespace="x">'
            '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>'
            "</bpmn:definitions>"
        ).encode(),
    }


@pytest.mark.parametrize("variant", sorted(hostile_network(1)))
def test_xxe_over_the_network_connects_nowhere(variant: str, listener: Listener, tmp_path: Path) -> None:
    data = hostile_network(listener.port)[variant]
    path = tmp_path / f"{variant}.bpmn"
    path.write_bytes(data)
    for call in (lambda: validate_bpmn_file(path), lambda: validate_bundle_files(as_bundle(data), "upload")):
        _report, elapsed = timed(call)
        assert elapsed < LIMIT_SECONDS
    assert listener.connections() == 0, f"{variant}: the validator connected to the network"


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    padding = "<!-- " + "x" * (5 * 1024 * 1024) + " -->"
    path = tmp_path / "huge.bpmn"
    path.write_text(diagram(head=padding))
    report, elapsed = timed(lambda: validate_bpmn_file(path))
    assert_refused(report, elapsed, rule="xml-size")
    bundle_report, elapsed = timed(lambda: validate_bundle_files(as_bundle(path.read_bytes()), "upload"))
    assert_refused(bundle_report, elapsed, rule="xml-size")


def test_schema_loading_never_leaves_its_own_folder(tmp_path: Path, listener: Listener) -> None:
    xsd = tmp_path / "remote.xsd"
    xsd.write_text(
        '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">'
        f'<xsd:import namespace="urn:r" schemaLocation="http://127.0.0.1:{listener.port}/r.xsd"/>'
        '<xsd:import namespace="urn:f" schemaLocation="/etc/hosts"/>'
        "</xsd:schema>"
    )
    with pytest.raises(etree.XMLSchemaParseError):
        _schema(xsd)
    assert listener.connections() == 0
    assert schema_problems(etree.fromstring(diagram().encode()), "ok.bpmn", BPMN_XSD) == []


def test_cli_refuses_hostile_files_with_a_message_and_no_traceback() -> None:
    out = io.StringIO()
    paths = [str(HOSTILE / name) for name in ("billion_laughs.bpmn", "parameter_entities.bpmn")]
    started = time.perf_counter()
    code = run_validate(paths, out)
    assert time.perf_counter() - started < 2 * LIMIT_SECONDS
    assert code == 1
    text = out.getvalue()
    assert "Traceback" not in text
    for path in paths:
        assert f"{path}: 不允许 DOCTYPE 或 ENTITY 声明" in text
        assert f"{path}: 1 个问题" in text
