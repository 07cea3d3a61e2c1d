"""Documents on the pages: uploads, what was uploaded, and viewing them with checks.

Every byte a page sends back comes through ``send``: the caller must be allowed to see the
material (its owner, or a route that checked the case or task first), and the answer is
marked so the browser never runs it as a page of this site (``nosniff``, a sandboxing CSP,
inline only for types a browser shows safely).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response, StreamingResponse
from starlette.datastructures import UploadFile

from engine.errors import MaterialNotFound, Problem
from engine.people.actors import Actor
from engine.service import Engine

INLINE_TYPES = frozenset(
    {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"}
)
CHUNK = 64 * 1024


def upload(engine: Engine, actor: Actor, kind: str, file: UploadFile) -> dict[str, Any]:
    """Store an applicant's upload (streamed from its spooled file) and describe it for the page."""
    info = engine.materials.upload(actor.username, kind, file.filename or "", file.file)
    return {
        "id": info.id,
        "sha256": info.sha256,
        "kind": info.kind,
        "size": info.size,
        "mime": info.mime,
        "filename": info.filename,
    }


def describe(engine: Engine, actor: Actor, materials: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """File name and size of each material the applicant has attached so far (theirs only)."""
    out: dict[str, dict[str, Any]] = {}
    for kind, material_id in materials.items():
        try:
            info = engine.materials.get(material_id, owner=actor.username)
        except MaterialNotFound:
            continue
        out[kind] = {"filename": info.filename or kind, "size": info.size}
    return out


def check_owned(engine: Engine, actor: Actor, materials: Mapping[str, str]) -> list[Problem]:
    """Material ids that are not this applicant's uploads of that kind (a forged or stale form)."""
    problems: list[Problem] = []
    for kind, material_id in materials.items():
        try:
            info = engine.materials.get(material_id, owner=actor.username)
        except MaterialNotFound:
            info = None
        if info is None or info.kind != kind:
            problems.append(
                Problem(
                    "材料未找到，请重新上传",
                    where=kind,
                    rule="material-unknown",
                    message_en="material not found; please upload it again",
                    extra={"kind": "material"},
                )
            )
    return problems


def send(engine: Engine, material_id: str, *, attachment: bool) -> Response:
    """The bytes of a material the caller was already found allowed to see."""
    info, stream = engine.materials.open(material_id)

    def chunks() -> Iterator[bytes]:
        with stream:
            while True:
                block = stream.read(CHUNK)
                if not block:
                    return
                yield block

    inline = not attachment and info.mime in INLINE_TYPES
    name = info.filename or f"{info.kind}"
    disposition = "inline" if inline else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
        "Content-Length": str(info.size),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        "Cache-Control": "private, no-store",
    }
    media = info.mime if inline else (info.mime or "application/octet-stream")
    return StreamingResponse(chunks(), media_type=media, headers=headers)
