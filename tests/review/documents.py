"""A business licence rendered for the pre-review tests (Noto CJK, like a scan of the real one).

Drawn from field values with Pillow; nothing binary is committed. The ocr helper's corpus
(tests/reading) measures accuracy over many degraded documents; these tests need one clean
licence naming the right company and one naming another.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SERIF = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"


def licence_png(values: Mapping[str, str]) -> bytes:
    """A PNG of a business licence carrying ``name``, ``uscc``, ``legal_rep``, ``address``."""
    image = Image.new("RGB", (1400, 1000), "white")
    draw = ImageDraw.Draw(image)
    title = ImageFont.truetype(SERIF, 72)
    body = ImageFont.truetype(FONT, 34)
    draw.text((530, 60), "营业执照", font=title, fill="black")
    draw.text((120, 200), f"统一社会信用代码  {values['uscc']}", font=body, fill="black")
    rows = [
        ("名称", values["name"]),
        ("类型", "有限责任公司(自然人投资或控股)"),
        ("法定代表人", values["legal_rep"]),
        ("注册资本", "壹佰万元整"),
        ("成立日期", "2021年03月05日"),
        ("住所", values["address"]),
    ]
    for index, (label, value) in enumerate(rows):
        y = 300 + index * 80
        draw.text((120, y), label, font=body, fill="black")
        draw.text((400, y), value, font=body, fill="black")
    draw.text((900, 860), "登记机关  上海市市场监督管理局", font=body, fill="black")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
