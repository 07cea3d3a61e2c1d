"""Materials (一套材料): uploads stored once by content, certificates issued by cases.

Bytes live in a content-addressed ``BlobStore`` (sha256; on disk by default, replaceable by
an object store behind the same small interface); the ``materials`` table keeps metadata.
An upload is streamed to a temporary file with a size limit, its type is read from the
bytes (never from the name), and only a complete, checked, fsynced file is renamed into
place, so a crash or a refusal never leaves a half-written material behind. No name given
by a client ever reaches the file system. A certificate a case issues is a small document
kept in its ``materials`` row instead (``Material.content``): it commits with the action.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import filetype
from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from engine.cases.review_queue import queue_review
from engine.errors import DefinitionError, InvalidInput, MaterialNotFound, Problem, TooLarge
from engine.storage.db import Database, upsert_insert
from engine.storage.models import Material, table_of
from engine.storage.prepared import Prepared
from engine.time.clock import Clock, SystemClock
from forms.catalog import Catalog, MaterialKind
from forms.checks import Format
from forms.prefill import PrefillSource

CHUNK_BYTES = 1024 * 1024
HEAD_BYTES = 8192
CERTIFICATE_MIME = "application/json"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MIME_NAMES = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/tiff": "TIFF",
    "application/ofd": "OFD",
    "application/json": "JSON",
    "text/html": "HTML 网页",
}

# Element formats that name exactly one company or person.
IDENTIFYING_FORMATS = frozenset({Format.USCC, Format.RESIDENT_ID})

_MATERIALS = table_of(Material)
# An applicant's certificates in force (issued by a case, not revoked), newest first: all of
# them, or of the kinds a form takes.
_CERTIFICATES_QUERY = (
    select(_MATERIALS)
    .where(
        _MATERIALS.c.owner == bindparam("owner"),
        _MATERIALS.c.issued_by_case.is_not(None),
        _MATERIALS.c.revoked_at.is_(None),
    )
    .order_by(_MATERIALS.c.created_at.desc(), _MATERIALS.c.id.desc())
)
_CERTIFICATES = Prepared(_CERTIFICATES_QUERY)
_CERTIFICATES_OF_KINDS = Prepared(
    _CERTIFICATES_QUERY.where(_MATERIALS.c.kind.in_(bindparam("kinds", expanding=True)))
)
# The certificates of a kind a case has issued to its applicant, newest first (a step issues one).
_ISSUED_BY_CASE = Prepared(
    select(_MATERIALS)
    .where(
        _MATERIALS.c.issued_by_case == bindparam("case"),
        _MATERIALS.c.kind == bindparam("kind"),
        _MATERIALS.c.owner == bindparam("owner"),
    )
    .order_by(_MATERIALS.c.created_at.desc(), _MATERIALS.c.id.desc())
)


@dataclass(frozen=True)
class StoredBlob:
    """Bytes now safely in the store: their digest, size and first bytes (for type sniffing)."""

    sha256: str
    size: int
    head: bytes


class BlobStore(Protocol):
    """Where material bytes live, addressed by their sha256."""

    def put(
        self, stream: BinaryIO, max_bytes: int, verify: Callable[[bytes], None] | None = None
    ) -> StoredBlob:
        """Store a stream (at most ``max_bytes``); ``verify(head)`` may refuse it before it is kept."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes for reading."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether bytes with this digest are stored."""
        ...

    def sweep_temp(self, older_than_seconds: float = 3600.0) -> int:
        """Remove what uploads cut short by a crash left behind; returns how many."""
        ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents, syncing each parent that gained an entry.

    A new directory's name lives in its parent; until that parent is synced, a power cut
    may drop the directory, and with it a file the database already points to.
    """
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        _fsync_dir(directory.parent)


class FileBlobStore:
    """Content-addressed files: ``root/ab/cd/<sha256>``, written by temp file, fsync and atomic rename."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        # Temporary files live under the root, so the final rename never crosses file systems.
        self.temp_dir = self.root / ".tmp"

    def path(self, sha256: str) -> Path:
        """Where a digest's bytes are (only a well-formed digest ever becomes a path)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(
        self, stream: BinaryIO, max_bytes: int, verify: Callable[[bytes], None] | None = None
    ) -> StoredBlob:
        """Stream to a temp file, refused past ``max_bytes`` or when ``verify`` raises; then rename it."""
        _make_dirs(self.temp_dir)  # the first upload creates the store: its root must stay too
        fd, temp_name = tempfile.mkstemp(dir=self.temp_dir, prefix="upload-", suffix=".part")
        temp = Path(temp_name)
        try:
            digest = hashlib.sha256()
            size = 0
            head = b""
            verified = verify is None
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_BYTES):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(
                            f"文件超过 {_size_words(max_bytes)} 上限 (file over the {max_bytes}-byte limit)"
                        )
                    if len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                    if verify is not None and not verified and len(head) >= HEAD_BYTES:
                        verify(head)
                        verified = True
                    digest.update(chunk)
                    out.write(chunk)
                if verify is not None and not verified:
                    verify(head)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            final = self.path(sha256)
            if final.exists():
                temp.unlink()  # the same bytes are stored already: keep one copy
            else:
                _make_dirs(final.parent)
                os.replace(temp, final)
                _fsync_dir(final.parent)
            return StoredBlob(sha256, size, head)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes for reading (``MaterialNotFound`` when absent)."""
        try:
            return self.path(sha256).open("rb")
        except (FileNotFoundError, ValueError) as exc:
            raise MaterialNotFound(f"材料内容不存在 (no stored bytes for {sha256[:12]})") from exc

    def exists(self, sha256: str) -> bool:
        """Whether bytes with this digest are stored."""
        try:
            return self.path(sha256).is_file()
        except ValueError:
            return False

    def sweep_temp(self, older_than_seconds: float = 3600.0) -> int:
        """Remove temporary files left by a crash mid-upload; returns how many were removed."""
        if not self.temp_dir.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in self.temp_dir.iterdir():
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed


_MARKUP = re.compile(rb"<[!?/A-Za-z]")


def sniff_mime(head: bytes) -> str:
    """The type of a file from its first bytes (never from its name); ``application/octet-stream`` if unknown.

    PDF (a ``%PDF-`` header within the first 1024 bytes, as readers allow), the images of
    ``filetype`` (JPEG, PNG, GIF, WEBP, TIFF ...), and OFD, China's fixed-layout format for
    electronic documents (a zip whose first entry is ``OFD.xml``).
    """
    start = head.find(b"%PDF-", 0, 1024)
    if start >= 0:
        # Readers skip bytes before the header; a browser renders markup there as a page (an
        # HTML/PDF polyglot), so such a file is a web page, not a document.
        return "text/html" if _MARKUP.search(head[:start]) else "application/pdf"
    if head[:4] == b"PK\x03\x04" and len(head) >= 30:
        name_length = int.from_bytes(head[26:28], "little")
        if head[30 : 30 + name_length] == b"OFD.xml":
            return "application/ofd"
    guess = filetype.guess(head)
    return str(guess.mime) if guess is not None else "application/octet-stream"


def _size_words(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    if size >= 1024:
        return f"{size / 1024:g} KB"
    return f"{size} B"


def _mime_words(mimes: tuple[str, ...], separator: str = "、") -> str:
    return separator.join(_MIME_NAMES.get(m, m) for m in mimes)


def safe_filename(name: str) -> str:
    """A display name only: no directories, no control characters, at most 200 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C")
    cleaned = cleaned.strip().lstrip(".")
    return cleaned[:200]


def material_id(owner: str, kind: str, sha256: str) -> str:
    """The id of a material: the same bytes from the same person for the same kind get the same id."""
    return "mat_" + hashlib.sha256(f"{owner}\x00{kind}\x00{sha256}".encode()).hexdigest()[:40]


@dataclass(frozen=True)
class MaterialInfo:
    """Metadata of one material, as the engine and the API hand it on."""

    id: str
    sha256: str
    kind: str
    size: int
    mime: str
    filename: str
    owner: str
    created_at: datetime
    issued_by_case: int | None

    @classmethod
    def of(cls, row: Material | Row[Any]) -> MaterialInfo:
        """The info of a table row (an object or a row of its columns)."""
        return cls(
            id=row.id,
            sha256=row.sha256,
            kind=row.kind,
            size=row.size,
            mime=row.mime,
            filename=row.filename,
            owner=row.owner,
            created_at=row.created_at,
            issued_by_case=row.issued_by_case,
        )


class MaterialService:
    """Uploads, reads, and issued certificates (电子证照) of applicants."""

    def __init__(
        self,
        db: Database,
        store: BlobStore,
        catalog: Catalog,
        *,
        max_bytes: int = 20 * 1024 * 1024,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.catalog = catalog
        self.max_bytes = max_bytes
        self.clock = clock or SystemClock()

    def _kind(self, kind: str) -> MaterialKind:
        spec = self.catalog.materials.get(kind)
        if spec is None:
            raise InvalidInput(
                f"未知的材料类型 {kind!r} (unknown material kind)",
                [
                    Problem(
                        f"未知的材料类型：{kind}",
                        where=kind,
                        rule="unknown_kind",
                        message_en=f"unknown material kind: {kind}",
                        extra={"kind": "material"},
                    )
                ],
            )
        return spec

    def limit(self, kind: str) -> int:
        """The size limit of an upload of this kind: the kind's own, capped by the server's."""
        return min(self._kind(kind).max_bytes, self.max_bytes)

    def upload(self, owner: str, kind: str, filename: str, stream: BinaryIO) -> MaterialInfo:
        """Store an applicant's upload once; the same bytes again give the same material."""
        spec = self._kind(kind)
        limit = min(spec.max_bytes, self.max_bytes)

        def verify(head: bytes) -> None:
            refusal = _type_refusal(spec, head)
            if refusal is not None:
                raise refusal

        try:
            blob = self.store.put(stream, limit, verify)
        except TooLarge as exc:
            raise TooLarge(
                f"{spec.zh}：文件超过 {_size_words(limit)} 上限 ({spec.en}: the file is over the "
                f"{_size_words(limit)} limit)"
            ) from exc
        row_id = material_id(owner, kind, blob.sha256)
        now = self.clock.now()
        values = {
            "id": row_id,
            "sha256": blob.sha256,
            "kind": kind,
            "size": blob.size,
            "mime": sniff_mime(blob.head),
            "owner": owner,
            "filename": safe_filename(filename),
            "issued_by_case": None,
            "created_at": now,
        }
        with self.db.write() as session:
            statement = upsert_insert(session, Material).values(**values)
            session.execute(statement.on_conflict_do_nothing(index_elements=["id"]))
            queue_review(session, row_id, spec, now)
            row = session.get(Material, row_id)
            assert row is not None  # inserted now, or by an earlier upload of the same bytes
            return MaterialInfo.of(row)

    def get(self, material_id: str, owner: str | None = None) -> MaterialInfo:
        """A material's metadata (``MaterialNotFound`` when absent, or not ``owner``'s when given)."""
        return MaterialInfo.of(self._row(material_id, owner))

    def open(self, material_id: str, owner: str | None = None) -> tuple[MaterialInfo, BinaryIO]:
        """A material's metadata and its bytes for reading (the caller closes the stream)."""
        row = self._row(material_id, owner)
        return MaterialInfo.of(row), self.bytes_of(row)

    def _row(self, material_id: str, owner: str | None = None) -> Material:
        """A material's row, detached (``MaterialNotFound`` when absent, or not ``owner``'s when given)."""
        with self.db.read() as session:
            row = session.get(Material, material_id)
        if row is None or (owner is not None and row.owner != owner):
            raise MaterialNotFound(f"材料不存在 (no material {material_id})")
        return row

    def bytes_of(self, row: Material | Row[Any]) -> BinaryIO:
        """A material's bytes for reading: an issued certificate's from its row, others' from the store."""
        if row.content is not None:
            return io.BytesIO(row.content)
        return self.store.open(row.sha256)

    def issue_certificate(
        self,
        session: Session,
        case_id: int,
        owner: str,
        kind: str,
        content: dict[str, Any],
        *,
        replacing: bool = False,
    ) -> MaterialInfo:
        """Issue an electronic certificate from a case, inside the caller's transaction.

        The certificate carries the catalog's fields for its kind, taken from ``content``
        (the case data and the clerk's decision); a missing field refuses the issue with
        every missing field named. Issuing the same kind again for the same case returns
        the newest certificate already issued, unless ``replacing``: a step decided again
        after a send-back issues a new one (its number ends ``-2``, ``-3`` ... the case's
        n-th issue of the kind), which the caller then marks as superseding the earlier.
        """
        spec = self.catalog.materials.get(kind)
        if spec is None or spec.certificate is None:
            raise DefinitionError(
                f"{kind} 不是电子证照类材料 ({kind} is not a certificate kind)",
                [Problem(f"{kind} 不是电子证照类材料", where=kind, rule="not_certificate")],
            )
        # Certificates are flushed as they are issued, so the statement sees this action's too.
        earlier = _ISSUED_BY_CASE.rows(session, {"case": case_id, "kind": kind, "owner": owner})
        if earlier and not replacing:
            return MaterialInfo.of(earlier[0])
        missing = [name for name in spec.certificate.fields if content.get(name) in (None, "")]
        if missing:
            labels = [self.catalog.elements[name] for name in missing]
            raise InvalidInput(
                f"签发{spec.zh}缺少数据 (cannot issue {spec.en}: data missing)",
                [
                    Problem(
                        f"签发{spec.zh}需要：{element.zh}",
                        where=element.key,
                        rule="certificate_field",
                        message_en=f"issuing the {spec.en} needs: {element.en}",
                    )
                    for element in labels
                ],
            )
        now = self.clock.now()
        document = {
            "type": "electronic-certificate",
            "kind": kind,
            "name": {"zh": spec.zh, "en": spec.en},
            "number": certificate_number(case_id, kind, now, issue=len(earlier) + 1),
            "issuer": spec.certificate.issuer,
            "holder": owner,
            "case_id": case_id,
            "issued_at": now.isoformat(),
            "fields": {name: content[name] for name in spec.certificate.fields},
        }
        data = json.dumps(document, ensure_ascii=False, sort_keys=True, indent=2).encode("utf-8")
        sha256 = hashlib.sha256(data).hexdigest()
        row = Material(
            id=material_id(owner, kind, sha256),
            sha256=sha256,
            kind=kind,
            size=len(data),
            mime=CERTIFICATE_MIME,
            owner=owner,
            filename=f"{spec.zh}-{document['number']}.json",
            issued_by_case=case_id,
            created_at=now,
            number=document["number"],
            # Kept in the row, not the store: it commits with the caller's action (see the model).
            content=data,
        )
        session.add(row)
        session.flush()
        return MaterialInfo.of(row)

    def certificates_of(self, owner: str) -> list[MaterialInfo]:
        """The electronic certificates in force issued to an applicant by their cases, newest first.

        A revoked certificate (吊销/注销) is no longer reused nor offered as a prefill source.
        """
        return [MaterialInfo.of(row) for row in self._certificate_rows(owner)]

    def _certificate_rows(self, owner: str, kinds: Collection[str] | None = None) -> list[Row[Any]]:
        """The rows of ``certificates_of`` (of ``kinds`` only, if given), newest first, with their documents.

        Plain rows (``Prepared``): every application looks for its applicant's certificates.
        Filtering the kinds in the query keeps an application's cost from growing with the
        certificates its applicant holds of kinds its form does not take.
        """
        with self.db.read() as session:
            if kinds is None:
                return _CERTIFICATES.rows(session, {"owner": owner})
            return _CERTIFICATES_OF_KINDS.rows(session, {"owner": owner, "kinds": sorted(kinds)})

    def certificates_for(
        self, owner: str, data: Mapping[str, Any], kinds: Collection[str] | None = None
    ) -> dict[str, str]:
        """Kind -> id of the newest certificate of each kind that fits an application's answers.

        A certificate fits when the identifiers it carries (credit code, ID number) that the
        application also answers are the same: an applicant with two companies reuses the
        licence of the company they apply for, never the other one's, while a change of
        address still reuses the licence that shows the old one. A certificate without an
        identifier (a birth certificate naming the child) must agree on every field it carries.
        ``kinds`` limits the answer to the kinds a form takes (the others' documents are not read).
        """
        chosen: dict[str, str] = {}
        for row in self._certificate_rows(owner, kinds):
            if row.kind in chosen:
                continue
            carried: dict[str, Any] = self._document(row)["fields"]
            keys = [name for name in carried if self._identifies(name)] or list(carried)
            if all(data[name] == carried[name] for name in keys if name in data):
                chosen[row.kind] = row.id
        return chosen

    def _identifies(self, element: str) -> bool:
        """Whether a data element identifies its holder (a company or a person)."""
        found = self.catalog.elements.get(element)
        return found is not None and found.format in IDENTIFYING_FORMATS

    def certificate_data(self, material_id: str) -> dict[str, Any]:
        """The document of an issued certificate: number, issuer, holder, issued_at and its ``fields``."""
        row = self._row(material_id)
        if row.issued_by_case is None:
            raise MaterialNotFound(f"不是系统签发的电子证照 ({material_id} is not an issued certificate)")
        return self._document(row)

    def _document(self, row: Material | Row[Any]) -> dict[str, Any]:
        """The stored document of an issued certificate whose row is already at hand."""
        with self.bytes_of(row) as stream:
            document: dict[str, Any] = json.loads(stream.read().decode("utf-8"))
        return document

    def certificate_sources(self, owner: str) -> list[PrefillSource]:
        """An applicant's certificates as prefill sources, oldest first (so the newest wins)."""
        sources: list[PrefillSource] = []
        for row in reversed(self._certificate_rows(owner)):
            document = self._document(row)
            name = document["name"]
            sources.append(
                PrefillSource(
                    label_zh=f"{name['zh']}(证照编号 {document['number']})",
                    label_en=f"{name['en']} (no. {document['number']})",
                    data=dict(document["fields"]),
                    kind="certificate",
                )
            )
        return sources


def kind_code(kind: str) -> str:
    """The four hex digits of a certificate kind that end its numbers."""
    return hashlib.sha256(kind.encode()).hexdigest()[:4].upper()


def certificate_number(case_id: int, kind: str, issued_at: datetime, issue: int = 1) -> str:
    """A readable, unique certificate number: date, case, and a short code of the kind.

    A case's second and later issue of a kind (a step decided again) ends ``-<issue>``: unique
    even on the same day, and still within the 40 characters a number may have.
    """
    base = f"DZZZ{issued_at:%Y%m%d}{case_id:08d}{kind_code(kind)}"
    return base if issue == 1 else f"{base}-{issue}"


def _type_refusal(spec: MaterialKind, head: bytes) -> InvalidInput | None:
    """Why bytes cannot be a material of this kind (their sniffed type is not accepted), if they cannot."""
    if not head:
        problem = Problem(
            f"{spec.zh}：文件为空",
            where=spec.key,
            rule="empty",
            message_en=f"{spec.en}: the file is empty",
            extra={"kind": "material"},
        )
        return InvalidInput("文件为空 (empty file)", [problem])
    mime = sniff_mime(head)
    if mime in spec.accept:
        return None
    detected = _MIME_NAMES.get(mime, "无法识别的格式" if mime == "application/octet-stream" else mime)
    detected_en = _MIME_NAMES.get(
        mime, "an unrecognised format" if mime == "application/octet-stream" else mime
    )
    problem = Problem(
        f"{spec.zh}：文件内容为{detected}，本材料只接受 {_mime_words(spec.accept)}",
        where=spec.key,
        rule="mime",
        message_en=f"{spec.en}: the file is {detected_en}; accepted: {_mime_words(spec.accept, ', ')}",
        extra={"kind": "material", "detected": mime, "accept": list(spec.accept)},
    )
    return InvalidInput(f"文件类型不符 (file type {mime} not accepted)", [problem])
