"""A generated corpus of documents to read: licences, ID cards and birth certificates, clean and degraded.

Every document is drawn here from generated field values (credit codes and ID numbers with valid
check digits) with the Noto CJK fonts Debian ships, then degraded the ways real uploads are: a few
degrees askew, blurred, JPEG-compressed at low quality, scanned (grey paper, noise, low contrast),
wrapped in a PDF, or photographed from afar (half the resolution). Nothing binary is committed:
the tests and the benchmark make what they read.
The layouts follow the printed documents' labels and their order, simplified (no seals, no emblems).
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from forms.checks import USCC_ALPHABET, resident_id_check_char, uscc_check_char

SANS = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SERIF = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
_SC = 2  # the Simplified Chinese face inside the .ttc collections

KINDS = ("business-licence", "resident-id-card", "birth-certificate")
CONDITIONS = ("clean", "rotated", "blurred", "jpeg", "scanned", "pdf", "low-res")

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文玉兰梅晨宇浩然欣怡子涵雨轩思远佳琪博文嘉豪"
CITIES = (("上海", "310115", "上海市浦东新区"), ("杭州", "330106", "浙江省杭州市西湖区"),
          ("成都", "510104", "四川省成都市锦江区"), ("广州", "440106", "广东省广州市天河区"),
          ("南京", "320102", "江苏省南京市玄武区"), ("武汉", "420106", "湖北省武汉市武昌区"))  # fmt: skip
BRANDS = "华盛恒达鑫源宏图锦程晨光远航嘉禾瑞丰明德信诚和泰星辰博雅启航"
TRADES = ("科技", "餐饮管理", "贸易", "文化传媒", "信息技术", "建筑工程", "咨询服务", "食品")
ROADS = ("张江路", "世纪大道", "文三路", "人民南路", "天河北路", "中山路", "解放大道", "学院路", "长江路")
HOSPITALS = ("市第一人民医院", "妇幼保健院", "中心医院", "人民医院")
CAPITALS = (10, 30, 50, 100, 200, 300, 500, 1000)
_CN_DIGITS = "零壹贰叁肆伍陆柒捌玖"


@dataclass(frozen=True)
class Document:
    """One generated document: its kind, the true field values (normal forms) and its page image."""

    kind: str
    truth: dict[str, str]
    image: Image.Image
    number: int


@dataclass(frozen=True)
class Upload:
    """A document as uploaded: bytes and media type, with the truth it was drawn from."""

    kind: str
    condition: str
    truth: dict[str, str]
    content: bytes
    media_type: str


def _font(size: int, serif: bool = False) -> ImageFont.FreeTypeFont:
    return _cached_font(size, serif)


@lru_cache(maxsize=64)
def _cached_font(size: int, serif: bool) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(SERIF if serif else SANS, size, index=_SC)


def person_name(rng: random.Random) -> str:
    """A Chinese name of two or three characters."""
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def credit_code(rng: random.Random, division: str) -> str:
    """A unified social credit code with a valid GB 32100 check character."""
    body = "91" + division + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + uscc_check_char(body)


def resident_id(rng: random.Random, division: str, born: date, male: bool) -> str:
    """A resident ID number with a valid GB 11643 check digit."""
    sequence = rng.randrange(0, 100) * 10 + (
        rng.choice((1, 3, 5, 7, 9)) if male else rng.choice((0, 2, 4, 6, 8))
    )
    body = f"{division}{born:%Y%m%d}{sequence:03d}"
    return body + resident_id_check_char(body)


def some_date(rng: random.Random, start: date, end: date) -> date:
    """A day between two days."""
    return start + timedelta(days=rng.randrange((end - start).days))


def street_address(rng: random.Random, prefix: str) -> str:
    """An address in a district: road, number, and sometimes a room."""
    tail = f"{rng.randrange(1, 40)}楼{rng.randrange(101, 999)}室" if rng.random() < 0.5 else ""
    return f"{prefix}{rng.choice(ROADS)}{rng.randrange(1, 999)}号{tail}"


def capital_in_words(amount: int) -> str:
    """万元 in financial numerals: 100 -> 壹佰万元整."""
    text = ""
    for value, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
        digit = amount // value % 10
        if digit:
            text += _CN_DIGITS[digit] + unit
        elif text and amount % value:
            text += "" if text.endswith("零") else "零"
    return f"人民币{text}万元整"


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


# --- the three layouts ---


def business_licence(rng: random.Random) -> tuple[dict[str, str], Image.Image]:
    """A business licence (营业执照, 副本-like landscape page) and its true fields."""
    city, division, district = rng.choice(CITIES)
    established = some_date(rng, date(2012, 1, 1), date(2025, 6, 1))
    issued = some_date(rng, established, date(2025, 12, 1))
    capital = rng.choice(CAPITALS)
    truth = {
        "name": f"{city}{rng.choice(BRANDS)}{rng.choice(BRANDS)}{rng.choice(TRADES)}有限公司",
        "uscc": credit_code(rng, division),
        "legal_representative": person_name(rng),
        "address": street_address(rng, district),
        "registered_capital": str(capital),
        "established": established.isoformat(),
        "issued": issued.isoformat(),
    }
    page = Image.new("RGB", (1600, 1130), "white")
    draw = ImageDraw.Draw(page)
    draw.rectangle((30, 30, 1570, 1100), outline=(150, 40, 40), width=6)
    draw.text((800, 120), "营 业 执 照", font=_font(76, serif=True), fill=(150, 20, 20), anchor="mm")
    label, value = _font(30), _font(30, serif=True)
    draw.text((90, 220), "统一社会信用代码", font=label, fill="black")
    draw.text((90, 262), truth["uscc"], font=_font(32), fill="black")
    in_words = rng.random() < 0.5
    rows_left = (
        ("名        称", truth["name"]),
        ("类        型", "有限责任公司(自然人投资或控股)"),
        ("法定代表人", truth["legal_representative"]),
        ("经 营 范 围", "一般项目:技术服务、技术开发;"),
    )
    rows_right = (
        ("注 册 资 本", capital_in_words(capital) if in_words else f"人民币{capital}万元"),
        ("成 立 日 期", _cn_date(established)),
        ("营 业 期 限", f"{_cn_date(established)}至长期"),
    )
    for index, (name, text) in enumerate(rows_left):
        y = 380 + index * 90
        draw.text((90, y), name, font=label, fill="black")
        draw.text((280, y), text, font=value, fill="black")
    for index, (name, text) in enumerate(rows_right):
        y = 380 + index * 90
        draw.text((900, y), name, font=label, fill="black")
        draw.text((1090, y), text, font=value, fill="black")
    address = truth["address"]
    y = 380 + 3 * 90
    draw.text((900, y), "住        所", font=label, fill="black")
    first, rest = (address[:14], address[14:]) if len(address) > 14 else (address, "")
    draw.text((1090, y), first, font=value, fill="black")
    if rest:
        draw.text((1090, y + 44), rest, font=value, fill="black")
    draw.text((1000, 900), "登记机关", font=label, fill="black")
    draw.text((1150, 990), _cn_date(issued), font=label, fill="black")
    return truth, page


def id_card(rng: random.Random) -> tuple[dict[str, str], Image.Image]:
    """The face of a resident ID card (居民身份证, 300 dpi) and its true fields."""
    _city, division, district = rng.choice(CITIES)
    born = some_date(rng, date(1950, 1, 1), date(2005, 12, 31))
    male = rng.random() < 0.5
    truth = {
        "name": person_name(rng),
        "sex": "male" if male else "female",
        "birth_date": born.isoformat(),
        "address": street_address(rng, district),
        "id_number": resident_id(rng, division, born, male),
    }
    page = Image.new("RGB", (1012, 638), (236, 242, 246))
    draw = ImageDraw.Draw(page)
    draw.rounded_rectangle((4, 4, 1007, 633), radius=30, outline=(180, 190, 200), width=3)
    draw.rectangle((700, 110, 950, 420), fill=(205, 212, 220))
    label, value = _font(28), _font(34)
    blue = (60, 100, 150)
    draw.text((70, 80), "姓 名", font=label, fill=blue)
    draw.text((190, 74), truth["name"], font=value, fill="black")
    draw.text((70, 160), "性 别", font=label, fill=blue)
    draw.text((190, 154), "男" if male else "女", font=value, fill="black")
    draw.text((320, 160), "民 族", font=label, fill=blue)
    draw.text((430, 154), "汉", font=value, fill="black")
    draw.text((70, 240), "出 生", font=label, fill=blue)
    draw.text((190, 234), f"{born.year}  年  {born.month}  月  {born.day}  日", font=value, fill="black")
    draw.text((70, 320), "住 址", font=label, fill=blue)
    address = truth["address"]
    for index in range(0, len(address), 11):
        draw.text((190, 314 + index // 11 * 50), address[index : index + 11], font=value, fill="black")
    draw.text((70, 520), "公民身份号码", font=label, fill=blue)
    draw.text((330, 512), truth["id_number"], font=_font(38), fill="black")
    return truth, page


def birth_certificate(rng: random.Random) -> tuple[dict[str, str], Image.Image]:
    """A medical birth certificate (出生医学证明, simplified A4 page at 150 dpi) and its true fields."""
    _city, division, district = rng.choice(CITIES)
    born = some_date(rng, date(2016, 1, 1), date(2025, 10, 1))
    mother_born = some_date(rng, date(1980, 1, 1), date(1998, 1, 1))
    father_born = some_date(rng, date(1978, 1, 1), date(1996, 1, 1))
    surname = rng.choice(SURNAMES)
    truth = {
        "child_name": surname + "".join(rng.choice(GIVEN) for _ in range(2)),
        "sex": rng.choice(("male", "female")),
        "birth_date": born.isoformat(),
        "mother_name": person_name(rng),
        "mother_id": resident_id(rng, division, mother_born, False),
        "certificate_number": rng.choice("KLMNOPQR") + f"{rng.randrange(10**8, 10**9)}",
    }
    father_id = resident_id(rng, division, father_born, True)
    page = Image.new("RGB", (1240, 1754), (252, 250, 245))
    draw = ImageDraw.Draw(page)
    draw.rectangle((40, 40, 1200, 1714), outline=(120, 80, 140), width=5)
    draw.text((620, 170), "出生医学证明", font=_font(72, serif=True), fill=(100, 40, 120), anchor="mm")
    label, value = _font(32), _font(34, serif=True)
    draw.text((760, 270), "编号", font=label, fill="black")
    draw.text((860, 266), truth["certificate_number"], font=_font(34), fill=(160, 20, 20))
    rows = (
        ("新生儿姓名", truth["child_name"]),
        ("性        别", "男" if truth["sex"] == "male" else "女"),
        ("出生时间", f"{_cn_date(born)}{rng.randrange(24):02d}时{rng.randrange(60):02d}分"),
        ("出生地点", f"{district}{rng.choice(HOSPITALS)}"),
        ("母亲姓名", truth["mother_name"]),
        ("母亲身份证件号码", truth["mother_id"]),
        ("父亲姓名", person_name(rng)),
        ("父亲身份证件号码", father_id),
        ("签发日期", _cn_date(born + timedelta(days=rng.randrange(1, 30)))),
    )
    for index, (name, text) in enumerate(rows):
        y = 380 + index * 120
        draw.text((120, y), name, font=label, fill="black")
        draw.text((460, y - 2), text, font=value, fill="black")
    return truth, page


_MAKERS: dict[str, Callable[[random.Random], tuple[dict[str, str], Image.Image]]] = {
    "business-licence": business_licence,
    "resident-id-card": id_card,
    "birth-certificate": birth_certificate,
}


def documents(kind: str, count: int, seed: int = 20) -> list[Document]:
    """``count`` documents of one kind, the same for the same seed."""
    rng = random.Random(f"{kind}:{seed}")
    made = []
    for number in range(count):
        truth, image = _MAKERS[kind](rng)
        made.append(Document(kind, truth, image, number))
    return made


# --- degradations ---


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _rotate(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))


def _scanned(image: Image.Image, rng: random.Random) -> Image.Image:
    """Grey paper, low contrast, sensor noise, a slight tilt and softness."""
    pixels = np.asarray(image.convert("L"), dtype=np.float32)
    pixels = 70 + pixels * 0.62  # black prints dark grey, white paper is light grey
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 14, pixels.shape)
    grey = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8), "L").convert("RGB")
    return _rotate(grey, rng.uniform(-1.2, 1.2)).filter(ImageFilter.GaussianBlur(0.7))


def _pdf(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PDF", resolution=150.0)
    return out.getvalue()


def degrade(document: Document, condition: str) -> Upload:
    """The document as uploaded under one condition (see ``CONDITIONS``)."""
    rng = random.Random(f"{document.kind}:{document.number}:{condition}")
    image = document.image
    if condition == "clean":
        content, media_type = _png(image), "image/png"
    elif condition == "rotated":
        angle = rng.choice((-1, 1)) * rng.uniform(2.0, 4.0)
        content, media_type = _jpeg(_rotate(image, angle), 85), "image/jpeg"
    elif condition == "blurred":
        content, media_type = _png(image.filter(ImageFilter.GaussianBlur(1.6))), "image/png"
    elif condition == "jpeg":
        content, media_type = _jpeg(image, 12), "image/jpeg"
    elif condition == "scanned":
        content, media_type = _jpeg(_scanned(image, rng), 70), "image/jpeg"
    elif condition == "pdf":
        content, media_type = _pdf(image), "application/pdf"
    elif condition == "low-res":  # a photo taken from afar: half the pixels each way, then JPEG
        half = image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)
        content, media_type = _jpeg(half, 60), "image/jpeg"
    else:
        raise ValueError(f"unknown condition {condition}")
    return Upload(document.kind, condition, dict(document.truth), content, media_type)


def uploads(
    kinds: tuple[str, ...], conditions: tuple[str, ...], per_kind: int, seed: int = 20
) -> Iterator[Upload]:
    """Every document of every kind under every condition."""
    for kind in kinds:
        for document in documents(kind, per_kind, seed):
            for condition in conditions:
                yield degrade(document, condition)


# --- mismatches: a form filled with one field changed to another plausible value ---


def plausible_other(kind: str, field: str, truth: dict[str, str], rng: random.Random) -> str:
    """Another value an applicant could have typed for a field (a different, valid one)."""
    while True:
        if field in ("name", "legal_representative", "child_name", "mother_name"):
            if kind == "business-licence" and field == "name":
                other = truth["name"][:2] + rng.choice(BRANDS) + rng.choice(BRANDS) + truth["name"][4:]
            else:
                other = person_name(rng)
        elif field == "uscc":
            other = credit_code(rng, truth["uscc"][2:8])
        elif field in ("id_number", "mother_id"):
            value = truth[field]
            born = date.fromisoformat(f"{value[6:10]}-{value[10:12]}-{value[12:14]}")
            other = resident_id(rng, value[:6], born, int(value[16]) % 2 == 1)
        elif field == "address":
            other = street_address(rng, truth["address"][: truth["address"].index("区") + 1])
        elif field == "registered_capital":
            other = str(rng.choice(CAPITALS))
        elif field in ("established", "issued", "birth_date"):
            other = (
                date.fromisoformat(truth[field]) + timedelta(days=rng.choice((-1, 1)) * rng.randrange(1, 400))
            ).isoformat()
        elif field == "sex":
            other = "female" if truth["sex"] == "male" else "male"
        elif field == "certificate_number":
            other = truth[field][0] + f"{rng.randrange(10**8, 10**9)}"
        else:
            raise ValueError(field)
        if other != truth[field]:
            return other
