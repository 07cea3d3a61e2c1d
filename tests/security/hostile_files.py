"""The hostile files of the upload probes, as builders: each makes the bytes one attack sends.

``MATERIALS`` are sent as an applicant's document (a PDF by name and declared type),
``BUNDLES`` as an analyst's bundle zip, ``DIAGRAMS`` as the XML of a bundle's diagram saved
from the studio's modeler. The bundle attacks wrap a real bundle (school enrolment with a
new name, so it would deploy as a new version if the attack were let through), so "nothing
stored" is a claim that can fail. Every file is refused with a clear 4xx.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.demo import demo_pdf

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_DIR = ROOT / "processes" / "school-enrollment"
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The server's limits the oversized files must pass."""

    material_bytes: int
    bundle_bytes: int


@dataclass(frozen=True)
class Hostile:
    """One hostile file: its name on the wire, declared type, and a builder of its bytes."""

    label: str
    filename: str
    content_type: str
    build: Callable[[Limits], bytes]


# -- XML attacks: the diagram of a bundle with something hostile in its prologue -------------------
def _diagram() -> str:
    return (BUNDLE_DIR / "process.bpmn").read_text(encoding="utf-8")


def _with_prologue(prologue: str, body_entity: str = "") -> str:
    """The real diagram with a DOCTYPE (and an entity reference in its first documentation or name)."""
    xml = _diagram()
    declaration_end = xml.index("?>") + 2 if xml.startswith("<?xml") else 0
    xml = xml[:declaration_end] + "\n" + prologue + "\n" + xml[declaration_end:]
    if body_entity:
        xml = xml.replace('name="', f'name="{body_entity}', 1)
    return xml


XML_ATTACKS: dict[str, str] = {
    "internal entity": _with_prologue('<!DOCTYPE d [<!ENTITY e "entity text">]>', "&e;"),
    "external entity (file)": _with_prologue(
        '<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"
    ),
    "external entity (http)": _with_prologue(
        '<!DOCTYPE d [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>', "&xxe;"
    ),
    "external DTD": _with_prologue('<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">'),
    "parameter entity": _with_prologue('<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'),
    "billion laughs": _with_prologue(
        "<!DOCTYPE d ["
        + '<!ENTITY l0 "lol">'
        + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
        + "]>",
        "&l9;",
    ),
    "DOCTYPE after a long comment": _with_prologue(
        "<!--" + "x" * 4096 + '--><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"
    ),
}


def _utf16_xxe(_limits: Limits) -> bytes:
    xml = XML_ATTACKS["external entity (file)"].replace("encoding='UTF-8'", "encoding='UTF-16'")
    xml = xml.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    return xml.encode("utf-16")


# -- bundle zips ---------------------------------------------------------------------------------
def bundle_files() -> dict[str, bytes]:
    """School enrolment's files under a new name: a bundle that would deploy if let through."""
    manifest = (BUNDLE_DIR / "bundle.yaml").read_text(encoding="utf-8")
    manifest = manifest.replace("教育入学一件事", "教育入学一件事（安全测试）", 1)
    return {"bundle.yaml": manifest.encode("utf-8"), "process.bpmn": _diagram().encode("utf-8")}


def zipped(entries: list[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of the entries in order (duplicate names allowed: zipfile only warns)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
        with zipfile.ZipFile(buffer, "w", method) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return buffer.getvalue()


def _bundle_with(**replace: bytes) -> bytes:
    return zipped(list({**bundle_files(), **replace}.items()))


def _slip(prefix: str) -> Callable[[Limits], bytes]:
    return lambda _l: zipped([(prefix + name, data) for name, data in bundle_files().items()])


def _bad_crc(_limits: Limits) -> bytes:
    data = bytearray(zipped(list(bundle_files().items()), zipfile.ZIP_STORED))
    at = data.index(b"key: school-enrollment")
    data[at] ^= 0x20  # "Key:" - the stored CRC no longer matches
    return bytes(data)


def _lying_size(_limits: Limits) -> bytes:
    """A bomb that declares 100 bytes and inflates to 64 MB: the declared size must not be trusted."""
    data = bytearray(zipped([*bundle_files().items(), ("notes.yaml", b"\n" * (64 * MB))]))
    entry = data.rindex(b"PK\x01\x02")  # the last central-directory entry: notes.yaml
    struct.pack_into("<I", data, entry + 24, 100)  # its uncompressed size
    local = struct.unpack_from("<I", data, entry + 42)[0]
    struct.pack_into("<I", data, local + 22, 100)
    return bytes(data)


def _method(method: int) -> Callable[[Limits], bytes]:
    """The bundle with every entry marked as compressed by ``method`` (unknown to zipfile)."""

    def build(_limits: Limits) -> bytes:
        data = bytearray(zipped(list(bundle_files().items()), zipfile.ZIP_STORED))
        for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
            at = data.find(signature)
            while at != -1:
                struct.pack_into("<H", data, at + offset, method)
                at = data.find(signature, at + 4)
        return bytes(data)

    return build


def _encrypted(_limits: Limits) -> bytes:
    data = bytearray(zipped(list(bundle_files().items()), zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at != -1:
            flags = struct.unpack_from("<H", data, at + offset)[0]
            struct.pack_into("<H", data, at + offset, flags | 0x1)
            at = data.find(signature, at + 4)
    return bytes(data)


def _symlink(_limits: Limits) -> bytes:
    link = zipfile.ZipInfo("process.bpmn")
    link.external_attr = (0o120777 << 16) | 0
    files = bundle_files()
    return zipped([("bundle.yaml", files["bundle.yaml"]), (link, b"/etc/passwd")])


def _oversized_zip(limits: Limits) -> bytes:
    return zipped(
        [*bundle_files().items(), ("padding.bin", b"\x00" * (limits.bundle_bytes + 1))], zipfile.ZIP_STORED
    )


@functools.cache
def _bomb(_limits: Limits) -> bytes:
    """64 MB of zeros in a 64 KB zip (built once: several routes get it)."""
    return zipped([*bundle_files().items(), ("bomb.yaml", b"0" * (64 * MB))])


def _too_many(_limits: Limits) -> bytes:
    return zipped([*bundle_files().items(), *((f"extra/{i}.yaml", b"x: 1\n") for i in range(80))])


def _duplicate(_limits: Limits) -> bytes:
    files = bundle_files()
    return zipped(
        [*files.items(), ("copy/bundle.yaml", files["bundle.yaml"].replace(b"version: 1", b"version: 7"))]
    )


def _version(version: str) -> Callable[[Limits], bytes]:
    """A new bundle (its own key) whose bundle.yaml declares ``version``."""

    def build(_limits: Limits) -> bytes:
        files = bundle_files()
        manifest = files["bundle.yaml"].replace(b"key: school-enrollment", b"key: school-enrollment-v")
        diagram = files["process.bpmn"].replace(b'id="school-enrollment"', b'id="school-enrollment-v"')
        manifest = manifest.replace(b"version: 1", b"version: " + version.encode())
        return zipped([("bundle.yaml", manifest), ("process.bpmn", diagram)])

    return build


def _xml(attack: str) -> Callable[[Limits], bytes]:
    return lambda _l: XML_ATTACKS[attack].encode("utf-8")


def _xml_bundle(attack: str) -> Callable[[Limits], bytes]:
    return lambda _l: _bundle_with(**{"process.bpmn": XML_ATTACKS[attack].encode("utf-8")})


ZIP = "application/zip"
BUNDLES: list[Hostile] = [
    Hostile("empty", "bundle.zip", ZIP, lambda _l: b""),
    Hostile("not a zip (a PDF named .zip)", "bundle.zip", ZIP, lambda _l: demo_pdf("not a zip")),
    Hostile("truncated zip", "bundle.zip", ZIP, lambda _l: _bundle_with()[: len(_bundle_with()) // 2]),
    Hostile("bad CRC", "bundle.zip", ZIP, _bad_crc),
    Hostile("zip bomb (64 MB of zeros)", "bundle.zip", ZIP, _bomb),
    Hostile("zip bomb with a lying size", "bundle.zip", ZIP, _lying_size),
    Hostile("oversized zip", "bundle.zip", ZIP, _oversized_zip),
    Hostile("too many entries", "bundle.zip", ZIP, _too_many),
    Hostile("zip slip ../", "bundle.zip", ZIP, _slip("../../")),
    Hostile("zip slip absolute", "bundle.zip", ZIP, _slip("/tmp/")),
    Hostile("zip slip backslash", "bundle.zip", ZIP, _slip("..\\..\\")),
    Hostile("zip slip drive", "bundle.zip", ZIP, _slip("C:/")),
    Hostile("symlink entry", "bundle.zip", ZIP, _symlink),
    Hostile("duplicate names", "bundle.zip", ZIP, _duplicate),
    Hostile("encrypted entries", "bundle.zip", ZIP, _encrypted),
    Hostile("unknown compression", "bundle.zip", ZIP, _method(99)),
    Hostile("a version past INTEGER", "bundle.zip", ZIP, _version("2147483648")),
    Hostile("a version past BIGINT", "bundle.zip", ZIP, _version("99999999999999999999")),
    Hostile(
        "XML UTF-16 external entity",
        "bundle.zip",
        ZIP,
        lambda limits: _bundle_with(**{"process.bpmn": _utf16_xxe(limits)}),
    ),
    *(Hostile(f"XML {attack}", "bundle.zip", ZIP, _xml_bundle(attack)) for attack in XML_ATTACKS),
]

# -- materials -----------------------------------------------------------------------------------
PDF = "application/pdf"
SVG_SCRIPT = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>alert(document.cookie)</script></svg>"
)
POLYGLOT = b"<html><body><script>alert(document.cookie)</script></body></html>\n" + demo_pdf("polyglot")
MATERIALS: list[Hostile] = [
    Hostile("empty", "birth.pdf", PDF, lambda _l: b""),
    Hostile(
        "oversized", "birth.pdf", PDF, lambda limits: demo_pdf("big") + b"\x00" * (limits.material_bytes + 1)
    ),
    Hostile("an executable named .pdf", "birth.pdf", PDF, lambda _l: b"MZ\x90\x00" + b"\x00" * 2000),
    Hostile("a zip named .pdf", "birth.pdf", PDF, lambda _l: _bundle_with()),
    Hostile("HTML named .pdf", "birth.pdf", PDF, lambda _l: b"<html><script>alert(1)</script></html>"),
    Hostile("polyglot HTML/PDF", "birth.pdf", PDF, lambda _l: POLYGLOT),
    Hostile("SVG with script", "birth.svg", "image/svg+xml", lambda _l: SVG_SCRIPT),
    Hostile("SVG with script named .png", "birth.png", "image/png", lambda _l: SVG_SCRIPT),
    Hostile(
        "XML external entity named .pdf",
        "birth.pdf",
        PDF,
        lambda _l: XML_ATTACKS["external entity (file)"].encode(),
    ),
    Hostile("billion laughs named .pdf", "birth.pdf", PDF, lambda _l: XML_ATTACKS["billion laughs"].encode()),
    Hostile("zip bomb named .pdf", "birth.pdf", PDF, _bomb),
]

# -- diagrams saved from the modeler (a form field, not a file) -------------------------------------
DIAGRAMS: list[Hostile] = [
    *(Hostile(attack, "", "", _xml(attack)) for attack in XML_ATTACKS),
    Hostile("not XML", "", "", lambda _l: b"<<<not xml"),
    Hostile("SVG with script", "", "", lambda _l: SVG_SCRIPT),
]
