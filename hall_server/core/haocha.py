"""好差评 reported upward: a rating as the record a provincial 好差评 platform takes.

The national scheme (国办发〔2019〕51号, GB/T 39735) asks, for every rating, where it was given
(the channel: the window's evaluator pad, the QR code on the ticket), which item (事项) was
handled and by which department, the region, when it was handled and rated, the level 1-5 and
the reasons chosen, and which staff member was rated. Provinces name these fields differently,
so the hall's ``[haocha]`` table maps our field names to theirs, our reasons and channels to
their codes, services to item codes and accounts to staff codes. Nothing about the applicant
goes out unless the platform needs it and the hall allows it (``include_applicant``), and even
then only the masked name: the hall never holds the clear identity. The free-text comment goes
only with ``include_comment``, and then scrubbed (``scrub.py``): a phone or ID number the visitor
typed into it goes out masked.

Pure: the caller brings the rating row, its ticket row and the hall's configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hall_server.core.scrub import scrub_comment

if TYPE_CHECKING:
    from hall_server.config import HallConfig

#: Our field name → what it is in the national scheme (the default key, renamed by
#: ``[haocha.fields]``).
RECORD_FIELDS: dict[str, str] = {
    "record_id": "评价编号",
    "case_number": "办件编号 (none: the hall keeps no case files)",
    "item_code": "事项编码",
    "item_name": "事项名称",
    "department_code": "实施部门编码",
    "department_name": "实施部门名称",
    "region_code": "行政区划代码",
    "hall_id": "服务大厅编码",
    "hall_name": "服务大厅名称",
    "channel": "评价渠道",
    "device": "评价设备",
    "window": "窗口编号",
    "window_name": "窗口名称",
    "staff": "被评价工作人员",
    "service_code": "业务类别编码",
    "service_name": "业务类别名称",
    "ticket_number": "排队号",
    "handle_start": "办理开始时间",
    "handle_end": "办理结束时间",
    "handle_s": "办理用时（秒）",
    "rated_at": "评价时间",
    "level": "评价等级 (1 非常不满意 … 5 非常满意)",
    "level_name": "评价等级名称",
    "reasons": "评价标签（差评原因）编码",
    "reason_names": "评价标签（差评原因）名称",
    "comment": "文字评价 (only with include_comment; phone and ID numbers masked)",
    "applicant": "申请人 (only with include_applicant: the masked name)",
}

#: Where a rating comes from → the channel named in the record, unless ``[haocha.channels]``
#: gives the platform's own code.
CHANNELS: dict[str, str] = {"pad": "窗口评价器", "progress": "二维码"}


def record(
    rating: dict[str, Any],
    ticket: dict[str, Any] | None,
    config: HallConfig,
    iso: Callable[[float | None], str | None],
    text: Callable[[str], str],
) -> dict[str, Any]:
    """The platform's record of one rating (a row of ``ratings``), keys renamed as configured;
    ``text`` gives the Chinese names of levels and reasons (the message catalog's)."""
    h = config.haocha
    ticket = ticket or {}
    service = config.services_by_code().get(rating["service"])
    mapped = h.services.get(rating["service"])
    items = service.items if service else []
    only = items[0] if len(items) == 1 else None
    window = next((w for w in config.window if w.id == rating["window"]), None)
    start = ticket.get("started_at") or ticket.get("called_at")
    end = ticket.get("finished_at")
    options = json.loads(rating["options"] or "[]")
    staff = rating["staff"]
    out: dict[str, Any] = {
        "record_id": f"{config.hall.id}-{rating['id']}",
        "case_number": None,
        "item_code": (mapped and mapped.item_code) or (only.code if only else None),
        "item_name": (mapped and mapped.item_name) or (only.name if only else None),
        "department_code": (mapped and mapped.department_code) or h.department_code or None,
        "department_name": (mapped and mapped.department_name) or h.department_name or None,
        "region_code": h.region_code or None,
        "hall_id": config.hall.id,
        "hall_name": config.hall.name,
        "channel": h.channels.get(rating["source"], CHANNELS.get(rating["source"])),
        "device": f"window-{rating['window']}-pad" if rating["source"] == "pad" else "ticket-qr",
        "window": rating["window"],
        "window_name": window.label if window else None,
        "staff": h.staff.get(staff, staff) if staff else None,
        "service_code": rating["service"],
        "service_name": service.name if service else rating["service"],
        "ticket_number": rating["number"],
        "handle_start": iso(start),
        "handle_end": iso(end),
        "handle_s": round(end - start) if start is not None and end is not None else None,
        "rated_at": iso(rating["at"]),
        "level": rating["level"],
        "level_name": text(f"rating.level.{rating['level']}"),
        "reasons": [h.reasons.get(o, o) for o in options],
        "reason_names": [text(f"rating.reason.{o}") for o in options],
    }
    if h.include_comment:
        out["comment"] = scrub_comment(rating["comment"])
    if h.include_applicant:
        out["applicant"] = {"name_masked": ticket.get("name_masked")}
    return {h.fields.get(k, k): v for k, v in out.items()}
