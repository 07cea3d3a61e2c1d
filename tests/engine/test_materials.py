"""The materials store: content-addressed uploads, type checks from bytes, issued certificates."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.cases import materials as materials_module
from engine.cases.materials import FileBlobStore, MaterialService, safe_filename, sniff_mime
from engine.demo import demo_pdf
from engine.errors import DefinitionError, InvalidInput, MaterialNotFound, TooLarge
from engine.storage.db import Database
from engine.storage.models import Material
from engine.time.clock import ManualClock
from forms.catalog import load_catalog
from forms.merge import merge_form
from forms.prefill import prefill
from forms.spec import FormItem, FormRequest

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    """A real PNG image (grey pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def pdf_bytes(text: str = "onething") -> bytes:
    """A small real PDF document."""
    return demo_pdf(text)


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501


def zip_bytes(first_entry: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(first_entry, "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")
        archive.writestr("Doc_0/Document.xml", "<ofd:Document/>")
    return buffer.getvalue()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def service(db: Database, store: FileBlobStore, clock: ManualClock) -> MaterialService:
    return MaterialService(db, store, load_catalog(), max_bytes=20 * 1024 * 1024, clock=clock)


def blob_files(store: FileBlobStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file() and store.temp_dir not in p.parents]


def temp_files(store: FileBlobStore) -> list[Path]:
    return list(store.temp_dir.iterdir()) if store.temp_dir.exists() else []


def count_rows(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Material)) or 0)


def test_the_same_file_uploaded_twice_is_stored_once(service: MaterialService, store: FileBlobStore) -> None:
    first = service.upload("applicant1", "articles_of_association", "章程.pdf", io.BytesIO(pdf_bytes()))
    again = service.upload("applicant1", "articles_of_association", "章程(1).pdf", io.BytesIO(pdf_bytes()))
    assert again == first
    assert count_rows(service.db) == 1
    assert blob_files(store) == [store.path(first.sha256)]
    assert first.mime == "application/pdf"
    assert first.size == len(pdf_bytes())
    assert first.filename == "章程.pdf"
    assert first.created_at == START


def test_every_directory_a_new_file_needs_is_synced_into_its_parent(
    store: FileBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A power cut may drop a directory entry its parent never synced, and with it a file the
    # database already names; so each new fan-out directory is synced into its parent.
    synced: list[Path] = []
    real = materials_module._fsync_dir

    def spy(path: Path) -> None:
        synced.append(path)
        real(path)

    monkeypatch.setattr(materials_module, "_fsync_dir", spy)
    blob = store.put(io.BytesIO(pdf_bytes()), 10_000)
    final = store.path(blob.sha256)
    assert final.read_bytes() == pdf_bytes()
    # The store itself (root and .tmp, on its first upload), then the fan-out directories.
    root = store.root
    assert synced == [root.parent, root, root, final.parent.parent, final.parent]
    synced.clear()
    # A file landing in fan-out directories that exist syncs only the directory that holds it.
    final.unlink()
    store.put(io.BytesIO(pdf_bytes()), 10_000)
    assert final.is_file() and synced == [final.parent]


def test_the_same_bytes_for_another_person_or_kind_is_another_material_on_one_blob(
    service: MaterialService, store: FileBlobStore
) -> None:
    mine = service.upload("applicant1", "premises_proof", "lease.png", io.BytesIO(png_bytes()))
    theirs = service.upload("applicant2", "premises_proof", "lease.png", io.BytesIO(png_bytes()))
    other_kind = service.upload("applicant1", "legal_rep_id_card", "id.png", io.BytesIO(png_bytes()))
    assert len({mine.id, theirs.id, other_kind.id}) == 3
    assert mine.sha256 == theirs.sha256 == other_kind.sha256
    assert len(blob_files(store)) == 1


def test_concurrent_uploads_of_the_same_file_give_one_row(service: MaterialService) -> None:
    data = pdf_bytes("race")
    results: list[str] = []
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            results.append(service.upload("applicant1", "premises_proof", "p.pdf", io.BytesIO(data)).id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 4
    assert count_rows(service.db) == 1


def test_a_file_whose_bytes_do_not_match_the_accepted_types_is_refused_and_nothing_remains(
    service: MaterialService, store: FileBlobStore
) -> None:
    # Named .pdf, but a GIF inside: the name is never believed.
    with pytest.raises(InvalidInput) as caught:
        service.upload("applicant1", "articles_of_association", "章程.pdf", io.BytesIO(GIF))
    [problem] = caught.value.problems
    assert problem.rule == "mime" and problem.where == "articles_of_association"
    assert "GIF" in problem.message and "PDF" in problem.message
    assert "accepted" in problem.message_en
    with pytest.raises(InvalidInput):
        service.upload("applicant1", "premises_proof", "lease.pdf", io.BytesIO(b"plain text, not a document"))
    with pytest.raises(InvalidInput) as empty:
        service.upload("applicant1", "premises_proof", "empty.pdf", io.BytesIO(b""))
    assert empty.value.problems[0].rule == "empty"
    assert blob_files(store) == [] and temp_files(store) == []
    assert count_rows(service.db) == 0


def test_a_file_over_the_limit_is_refused_and_nothing_half_written_remains(
    db: Database, store: FileBlobStore, clock: ManualClock
) -> None:
    service = MaterialService(db, store, load_catalog(), max_bytes=64 * 1024, clock=clock)
    assert service.limit("premises_proof") == 64 * 1024
    big = pdf_bytes() + b"%" + b"0" * (200 * 1024)
    with pytest.raises(TooLarge) as caught:
        service.upload("applicant1", "premises_proof", "big.pdf", io.BytesIO(big))
    assert "64 KB" in caught.value.message
    assert blob_files(store) == [] and temp_files(store) == []
    assert count_rows(db) == 0


def test_the_kinds_own_limit_applies_below_the_servers(
    service: MaterialService, store: FileBlobStore
) -> None:
    limit = service.limit("legal_rep_id_card")
    assert limit == 5 * 1024 * 1024
    with pytest.raises(TooLarge):
        service.upload("applicant1", "legal_rep_id_card", "id.png", io.BytesIO(png_bytes() + b"\0" * limit))
    assert temp_files(store) == [] and blob_files(store) == []


def test_a_stream_that_fails_midway_leaves_nothing_behind(
    service: MaterialService, store: FileBlobStore
) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = False

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            if not self.sent:
                self.sent = True
                return pdf_bytes() * 100
            raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        service.upload("applicant1", "premises_proof", "p.pdf", Broken())  # type: ignore[arg-type]
    assert temp_files(store) == [] and blob_files(store) == []


def test_client_file_names_never_reach_the_file_system(
    service: MaterialService, store: FileBlobStore
) -> None:
    info = service.upload("applicant1", "premises_proof", "../../etc/passwd\x00.png", io.BytesIO(png_bytes()))
    assert info.filename == "passwd.png"
    [path] = blob_files(store)
    assert path == store.root / info.sha256[:2] / info.sha256[2:4] / info.sha256
    assert safe_filename("C:\\Users\\me\\..\\证件.jpg") == "证件.jpg"
    assert safe_filename("..") == ""
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def test_unknown_kinds_and_materials_are_refused(service: MaterialService) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.upload("applicant1", "no_such_kind", "x.pdf", io.BytesIO(pdf_bytes()))
    assert caught.value.problems[0].rule == "unknown_kind"
    with pytest.raises(MaterialNotFound):
        service.get("mat_missing")
    info = service.upload("applicant1", "premises_proof", "p.pdf", io.BytesIO(pdf_bytes()))
    with pytest.raises(MaterialNotFound):
        service.get(info.id, owner="applicant2")  # another applicant's material is not found


def test_a_stored_material_reads_back_its_bytes(service: MaterialService) -> None:
    info = service.upload("applicant1", "premises_proof", "p.png", io.BytesIO(png_bytes(3, 2)))
    same, stream = service.open(info.id, owner="applicant1")
    with stream:
        assert stream.read() == png_bytes(3, 2)
    assert same == info and info.mime == "image/png"


def test_bytes_tell_their_type() -> None:
    assert sniff_mime(pdf_bytes()) == "application/pdf"
    assert sniff_mime(png_bytes()) == "image/png"
    assert sniff_mime(GIF) == "image/gif"
    assert sniff_mime(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00") == "image/jpeg"
    assert sniff_mime(b"RIFF\x24\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_mime(zip_bytes("OFD.xml")) == "application/ofd"
    assert sniff_mime(zip_bytes("other.xml")) == "application/zip"
    assert sniff_mime(b"hello") == "application/octet-stream"
    assert sniff_mime(b"") == "application/octet-stream"


def test_stale_temporary_files_of_a_crashed_upload_are_swept(store: FileBlobStore) -> None:
    store.temp_dir.mkdir(parents=True)
    old = store.temp_dir / "upload-crashed.part"
    old.write_bytes(b"partial")
    an_hour_ago = time.time() - 7200
    os.utime(old, (an_hour_ago, an_hour_ago))
    fresh = store.temp_dir / "upload-running.part"
    fresh.write_bytes(b"in progress")
    assert store.sweep_temp(older_than_seconds=3600) == 1
    assert not old.exists() and fresh.exists()


LICENCE_CONTENT = {
    "company_name": "北京一件事科技有限公司",
    "uscc": "91350100M000100Y43",
    "legal_rep_name": "王小明",
    "address": "北京市朝阳区建国路88号",
    "registered_capital": 100,
    "legal_rep_id": "11010519491231002X",  # not a field of the licence: not copied onto it
}


def test_a_case_issues_a_certificate_inside_its_own_transaction(
    service: MaterialService, db: Database
) -> None:
    with db.write() as session:
        info = service.issue_certificate(session, 42, "applicant1", "business_licence", dict(LICENCE_CONTENT))
        again = service.issue_certificate(
            session, 42, "applicant1", "business_licence", dict(LICENCE_CONTENT)
        )
    assert again == info
    assert info.issued_by_case == 42 and info.mime == "application/json" and info.kind == "business_licence"
    document = service.certificate_data(info.id)
    assert document["issuer"] == "market-regulation"
    assert document["holder"] == "applicant1"
    assert document["issued_at"] == START.isoformat()
    assert document["number"].startswith("DZZZ20260302")
    assert document["fields"] == {k: v for k, v in LICENCE_CONTENT.items() if k != "legal_rep_id"}


def test_a_certificate_is_not_kept_when_the_callers_transaction_fails(
    service: MaterialService, db: Database, store: FileBlobStore
) -> None:
    with pytest.raises(RuntimeError), db.write() as session:
        service.issue_certificate(session, 7, "applicant1", "business_licence", dict(LICENCE_CONTENT))
        raise RuntimeError("the task completion failed")
    assert service.certificates_of("applicant1") == []
    assert count_rows(db) == 0
    assert blob_files(store) == [] and temp_files(store) == []  # nothing left on disk either


def test_an_issued_certificate_is_kept_in_its_row_and_writes_no_file(
    service: MaterialService, db: Database, store: FileBlobStore
) -> None:
    with db.write() as session:
        info = service.issue_certificate(session, 42, "applicant1", "business_licence", dict(LICENCE_CONTENT))
    assert blob_files(store) == [] and temp_files(store) == []
    with db.read() as s:
        row = s.get(Material, info.id)
        assert row is not None and row.content is not None
        content = row.content
    assert hashlib.sha256(content).hexdigest() == info.sha256 and len(content) == info.size
    opened, stream = service.open(info.id, "applicant1")
    with stream:
        assert stream.read() == content
    assert opened == info
    assert json.loads(content.decode("utf-8")) == service.certificate_data(info.id)


def test_a_certificate_issued_as_a_file_before_0015_still_reads(
    service: MaterialService, db: Database, store: FileBlobStore
) -> None:
    """A certificate issued before documents moved into their rows: its bytes are a file."""
    with db.write() as session:
        info = service.issue_certificate(session, 42, "applicant1", "business_licence", dict(LICENCE_CONTENT))
        row = session.get(Material, info.id)
        assert row is not None and row.content is not None
        blob = store.put(io.BytesIO(row.content), len(row.content))
        row.content = None  # as 0015 left the rows issued before it
    assert blob.sha256 == info.sha256
    document = service.certificate_data(info.id)
    assert document["fields"]["company_name"] == LICENCE_CONTENT["company_name"]
    _, stream = service.open(info.id)
    with stream:
        assert json.loads(stream.read().decode("utf-8")) == document
    form = {"company_name": LICENCE_CONTENT["company_name"], "uscc": LICENCE_CONTENT["uscc"]}
    assert service.certificates_for("applicant1", form) == {"business_licence": info.id}
    assert [source.data for source in service.certificate_sources("applicant1")] == [document["fields"]]


def test_a_certificate_needs_every_field_it_carries(service: MaterialService, db: Database) -> None:
    content = {k: v for k, v in LICENCE_CONTENT.items() if k not in ("uscc", "address")}
    with pytest.raises(InvalidInput) as caught, db.write() as session:
        service.issue_certificate(session, 1, "applicant1", "business_licence", content)
    assert {p.where for p in caught.value.problems} == {"uscc", "address"}
    assert (
        "统一社会信用代码" in caught.value.problems[0].message or "住所" in caught.value.problems[0].message
    )
    with pytest.raises(DefinitionError), db.write() as session:
        service.issue_certificate(session, 1, "applicant1", "premises_proof", content)


def test_certificates_of_an_applicant_are_listed_newest_first_and_prefill_later_forms(
    service: MaterialService, db: Database, clock: ManualClock
) -> None:
    with db.write() as session:
        older = service.issue_certificate(session, 1, "applicant1", "business_licence", dict(LICENCE_CONTENT))
    clock.advance(timedelta(days=30))
    renamed = {**LICENCE_CONTENT, "company_name": "北京一件事数字科技有限公司"}
    with db.write() as session:
        newer = service.issue_certificate(session, 2, "applicant1", "business_licence", renamed)
        service.issue_certificate(session, 3, "applicant2", "business_licence", dict(LICENCE_CONTENT))
    uploaded = service.upload("applicant1", "premises_proof", "p.pdf", io.BytesIO(pdf_bytes()))
    listed = service.certificates_of("applicant1")
    assert [c.id for c in listed] == [newer.id, older.id]
    assert uploaded.id not in {c.id for c in listed}
    with pytest.raises(MaterialNotFound):
        service.certificate_data(uploaded.id)

    # A later bundle (enterprise information change) is prefilled from the newest licence.
    item = FormItem(
        "change", "变更登记", "Change", "market-regulation", ("company_name", "uscc", "address"), ()
    )
    form = merge_form(load_catalog(), FormRequest(items=(item,)))
    filled = prefill(form, service.certificate_sources("applicant1"))
    assert filled["company_name"].value == "北京一件事数字科技有限公司"
    assert filled["uscc"].kind == "certificate"
    assert filled["uscc"].source_label_zh.startswith("营业执照(证照编号 DZZZ")


UPLOAD_IN_CHILD = """
import sys
from pathlib import Path
from engine.storage.db import Database
from engine.demo import demo_pdf
from engine.cases import materials as materials_module
from engine.cases.materials import FileBlobStore, MaterialService
from forms.catalog import load_catalog

db = Database(sys.argv[1])
service = MaterialService(db, FileBlobStore(Path(sys.argv[2])), load_catalog(), max_bytes=20 * 1024 * 1024)
service.upload("applicant1", "premises_proof", "lease.pdf", sys.stdin.buffer)
"""


def test_a_process_killed_mid_upload_leaves_no_material_and_loses_nothing_stored(
    db: Database, db_url: str, store: FileBlobStore, service: MaterialService
) -> None:
    kept = service.upload("applicant1", "articles_of_association", "章程.pdf", io.BytesIO(pdf_bytes("kept")))
    body = pdf_bytes("big") + b"%" + os.urandom(3 * 1024 * 1024)
    sent = 2 * 1024 * 1024 + 4096  # more than two chunks; the child then waits for the rest
    child = subprocess.Popen(
        [sys.executable, "-c", UPLOAD_IN_CHILD, db_url, str(store.root)],
        stdin=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert child.stdin is not None
        child.stdin.write(body[:sent])
        child.stdin.flush()
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size >= 2 * 1024 * 1024 for p in temp_files(store)):
            assert child.poll() is None, "the upload ended before it was killed"
            assert time.monotonic() < deadline, "the child never started writing"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        if child.stdin is not None:
            child.stdin.close()
    assert child.returncode == -signal.SIGKILL
    # No object and no row for the killed upload; the earlier material is intact.
    assert blob_files(store) == [store.path(kept.sha256)]
    assert count_rows(db) == 1
    with service.open(kept.id)[1] as stream:
        assert stream.read() == pdf_bytes("kept")
    # The remnant is only a temporary file, never served under any digest, and swept later.
    [remnant] = temp_files(store)
    assert remnant.name.endswith(".part")
    full_digest = hashlib.sha256(body).hexdigest()
    assert not store.exists(full_digest)
    # The applicant simply uploads again: the whole file is stored, complete.
    again = service.upload("applicant1", "premises_proof", "lease.pdf", io.BytesIO(body))
    assert again.sha256 == full_digest and again.size == len(body)
    assert store.path(full_digest).read_bytes() == body
    assert store.sweep_temp(older_than_seconds=0) == 1
    assert temp_files(store) == []


def test_the_certificate_reused_is_the_one_of_the_company_applied_for(
    service: MaterialService, db: Database, clock: ManualClock
) -> None:
    other_company = {
        **LICENCE_CONTENT,
        "company_name": "北京另一家科技有限公司",
        "uscc": "91110000MA0000000X",
    }
    with db.write() as session:
        first = service.issue_certificate(session, 1, "applicant1", "business_licence", dict(LICENCE_CONTENT))
    clock.advance(timedelta(days=1))
    with db.write() as session:
        newest = service.issue_certificate(session, 2, "applicant1", "business_licence", other_company)
    application = {"company_name": LICENCE_CONTENT["company_name"], "uscc": LICENCE_CONTENT["uscc"]}
    assert service.certificates_for("applicant1", application) == {"business_licence": first.id}
    assert service.certificates_for("applicant1", {"uscc": other_company["uscc"]}) == {
        "business_licence": newest.id
    }
    # Answers the certificates do not carry decide nothing: the newest one serves.
    assert service.certificates_for("applicant1", {"legal_rep_phone": "13800138000"}) == {
        "business_licence": newest.id
    }
    assert service.certificates_for("applicant1", {"uscc": "91350100M000100Y43X"}) == {}
    assert service.certificates_for("applicant2", application) == {}
