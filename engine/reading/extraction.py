"""Reading a layout's fields from the lines of a page: labels found by their text, values beside them.

Each layout lists its printed labels (with the document field each one introduces, or ``None`` for a
label that only ends the value before it, such as 民族 after 性别). A label counts where a piece of
text starts with it; its value is the rest of that piece and the pieces after it on the line, up to
the next label. A value missing from the label's line is taken from the line below (the credit code
printed under its label); an address goes on over the lines below that start no label. Fields with a
check digit that no label gave are looked for in every piece of the page.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine.reading.lines import Line, Piece
from engine.reading.values import ValueKind, read_value

MAX_CONTINUATION_LINES = 2  # an address wraps over at most three printed lines


@dataclass(frozen=True)
class Layout:
    """How one kind of document prints its fields."""

    kinds: Mapping[str, ValueKind]  # document field -> the kind of its value
    labels: tuple[tuple[str, str | None], ...]  # printed label -> document field (None: a stop)
    multiline: frozenset[str] = frozenset()
    anywhere: frozenset[str] = frozenset()  # the page's only number of its kind: looked for everywhere
    unlabelled_date: str | None = None  # a date printed alone on its line (the licence's issue date)


@dataclass(frozen=True)
class FieldReading:
    """A field read from a page: its normal value and the mean OCR confidence of its text."""

    value: str
    confidence: float


def _layout(
    kinds: dict[str, ValueKind],
    labels: dict[str, str | None],
    multiline: frozenset[str] = frozenset(),
    anywhere: frozenset[str] = frozenset(),
    unlabelled_date: str | None = None,
) -> Layout:
    ordered = tuple(sorted(labels.items(), key=lambda item: -len(item[0])))  # longest label first
    return Layout(MappingProxyType(kinds), ordered, multiline, anywhere, unlabelled_date)


# The fields of each layout, in the order of forms.layouts.DOCUMENT_LAYOUTS (the catalog's table).
LAYOUT_SPECS: Mapping[str, Layout] = MappingProxyType(
    {
        "business-licence": _layout(
            {
                "name": ValueKind.NAME,
                "uscc": ValueKind.CREDIT_CODE,
                "legal_representative": ValueKind.NAME,
                "address": ValueKind.ADDRESS,
                "registered_capital": ValueKind.CAPITAL,
                "established": ValueKind.DATE,
                "issued": ValueKind.DATE,
            },
            {
                "名称": "name",
                "统一社会信用代码": "uscc",
                "法定代表人": "legal_representative",
                "经营者": "legal_representative",
                "负责人": "legal_representative",
                "住所": "address",
                "经营场所": "address",
                "主要经营场所": "address",
                "注册资本": "registered_capital",
                "成立日期": "established",
                "注册日期": "established",
                "类型": None,
                "营业期限": None,
                "经营范围": None,
                "登记机关": None,
                "营业执照": None,
            },
            multiline=frozenset({"address"}),
            anywhere=frozenset({"uscc"}),
            unlabelled_date="issued",
        ),
        "resident-id-card": _layout(
            {
                "name": ValueKind.NAME,
                "sex": ValueKind.SEX,
                "birth_date": ValueKind.DATE,
                "address": ValueKind.ADDRESS,
                "id_number": ValueKind.ID_NUMBER,
            },
            {
                "姓名": "name",
                "性别": "sex",
                "民族": None,
                "出生": "birth_date",
                "住址": "address",
                "公民身份号码": "id_number",
                "签发机关": None,
                "有效期限": None,
            },
            multiline=frozenset({"address"}),
            anywhere=frozenset({"id_number"}),
        ),
        "birth-certificate": _layout(
            {
                "child_name": ValueKind.NAME,
                "sex": ValueKind.SEX,
                "birth_date": ValueKind.DATE,
                "mother_name": ValueKind.NAME,
                "mother_id": ValueKind.ID_NUMBER,
                "certificate_number": ValueKind.SERIAL,
            },
            {
                "新生儿姓名": "child_name",
                "姓名": "child_name",
                "性别": "sex",
                "出生时间": "birth_date",
                "出生日期": "birth_date",
                "出生地点": None,
                "母亲姓名": "mother_name",
                "母亲身份证件号码": "mother_id",
                "父亲姓名": None,
                "父亲身份证件号码": None,
                "编号": "certificate_number",
                "出生证编号": "certificate_number",
                "签发日期": None,
                "签发机构": None,
            },
        ),
    }
)


@dataclass
class _Raw:
    text: str
    scores: list[float]
    left: float  # where the value's label starts, for an address going on below


def _label_at(layout: Layout, piece: Piece) -> tuple[str, str | None] | None:
    for label, field in layout.labels:
        if piece.text.startswith(label):
            return label, field
    return None


def _is_label_start(layout: Layout, text: str) -> bool:
    return any(label.startswith(text) for label, _field in layout.labels)


def _join_spaced_labels(layout: Layout, line: Line) -> Line:
    """A letter-spaced label (名　　称) that OCR read as one box per character, as one piece."""
    pieces: list[Piece] = []
    for piece in line.pieces:
        previous = pieces[-1] if pieces else None
        if (
            previous is not None
            and _label_at(layout, previous) is None
            and _is_label_start(layout, previous.text)
            and _is_label_start(layout, previous.text + piece.text)
        ):
            pieces[-1] = Piece(
                previous.left,
                piece.right,
                min(previous.top, piece.top),
                max(previous.bottom, piece.bottom),
                previous.text + piece.text,
                (previous.score + piece.score) / 2,
            )
        else:
            pieces.append(piece)
    return Line(tuple(pieces))


def _labelled_values(layout: Layout, lines: list[Line]) -> dict[str, _Raw]:
    raws: dict[str, _Raw] = {}
    for index, line in enumerate(lines):
        current: _Raw | None = None
        opened: list[str] = []
        for piece in line.pieces:
            found = _label_at(layout, piece)
            if found is not None:
                label, field = found
                current = None
                if field is not None and field not in raws:
                    current = raws[field] = _Raw(piece.text[len(label) :], [piece.score], piece.left)
                    opened.append(field)
            elif current is not None:
                current.text += piece.text
                current.scores.append(piece.score)
        below = lines[index + 1] if index + 1 < len(lines) else None
        for field in opened:
            raw = raws[field]
            if not raw.text and below is not None and _label_at(layout, below.pieces[0]) is None:
                raw.text = "".join(p.text for p in below.pieces)  # the value printed under its label
                raw.scores.extend(p.score for p in below.pieces)
            elif field in layout.multiline:
                _continue_below(layout, lines, index, raw)
    return raws


def _continue_below(layout: Layout, lines: list[Line], index: int, raw: _Raw) -> None:
    """Append to a multi-line value the lines below that start no label and sit right of it."""
    line = lines[index]
    height = statistics.median(p.bottom - p.top for p in line.pieces)
    previous_bottom = max(p.bottom for p in line.pieces)
    for below in lines[index + 1 : index + 1 + MAX_CONTINUATION_LINES]:
        first = below.pieces[0]
        if _label_at(layout, first) is not None or first.left <= raw.left + height:
            return
        if first.top - previous_bottom > 1.5 * height:
            return
        raw.text += "".join(p.text for p in below.pieces)
        raw.scores.extend(p.score for p in below.pieces)
        previous_bottom = max(p.bottom for p in below.pieces)


def _unlabelled_date(layout: Layout, lines: list[Line]) -> _Raw | None:
    """The last line that is a date and nothing else (the licence's issue date under the seal)."""
    found = None
    for line in lines:
        text = "".join(p.text for p in line.pieces)
        unlabelled = _label_at(layout, line.pieces[0]) is None
        if unlabelled and len(text) <= 12 and read_value(ValueKind.DATE, text) is not None:
            found = _Raw(text, [p.score for p in line.pieces], line.left)
    return found


def _anywhere(kind: ValueKind, lines: list[Line]) -> FieldReading | None:
    """A number with a check digit found in any single piece or line of the page."""
    for line in lines:
        candidates = [*((p.text, p.score) for p in line.pieces)]
        candidates.append(("".join(p.text for p in line.pieces), min(p.score for p in line.pieces)))
        for text, score in candidates:
            for start in range(max(1, len(text) - 17)):
                value = read_value(kind, text[start : start + 18])
                if value is not None:
                    return FieldReading(value, score)
    return None


def extract(layout_key: str, lines: list[Line]) -> dict[str, FieldReading]:
    """The fields of a layout that one page shows, with their confidence (absent: not found or unreadable)."""
    layout = LAYOUT_SPECS[layout_key]
    lines = [_join_spaced_labels(layout, line) for line in lines]
    raws = _labelled_values(layout, lines)
    if layout.unlabelled_date is not None and layout.unlabelled_date not in raws:
        raw = _unlabelled_date(layout, lines)
        if raw is not None:
            raws[layout.unlabelled_date] = raw
    readings: dict[str, FieldReading] = {}
    for field, kind in layout.kinds.items():
        raw = raws.get(field)
        value = read_value(kind, raw.text) if raw is not None else None
        if value is not None and raw is not None:
            readings[field] = FieldReading(value, statistics.fmean(raw.scores))
        elif field in layout.anywhere and raw is None:
            anywhere = _anywhere(kind, lines)
            if anywhere is not None:
                readings[field] = anywhere
    return readings
