"""The visitor's journey outside the queue itself: booking online (``/book``), following a
ticket from a phone (``/t/{token}``), rating the service (``/rate/{window}`` and the progress
page), and the managers' follow-up of bad ratings. Pages and API routes; the rules live in
``appointments.py`` and ``ratings.py``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import date
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hall_server import ratings as ratings_mod
from hall_server.appointments import APPOINTMENTS, Appointments
from hall_server.auth import Role
from hall_server.http.common import HALL, ApiError, body, require, row_id
from hall_server.http.pages import render
from hall_server.i18n import TEXTS, lang_of, register, translator
from hall_server.ratings import LEVELS, RATINGS, REASONS, Ratings
from kiosk_ui.routes import not_found

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class BookRequest(_Body):
    service: str = Field(min_length=1, max_length=64)
    date: date
    slot: str = Field(pattern=r"^\d\d:\d\d$")
    name: str = Field(min_length=1, max_length=40)
    id_number: str | None = Field(default=None, max_length=32)
    phone: str | None = Field(default=None, max_length=20)


class RatingRequest(_Body):
    token: str | None = Field(default=None, max_length=64)
    ticket: str | None = Field(default=None, max_length=64)
    level: int = Field(ge=1, le=5, strict=True)
    options: list[str] = Field(default=[], max_length=len(REASONS))
    comment: str | None = Field(default=None, max_length=500)


class FollowUpRequest(_Body):
    followup: Literal["contacted", "resolved"]
    note: str | None = Field(default=None, max_length=1000)


def _day(request: web.Request, name: str = "date", default: date | None = None) -> date | None:
    raw = request.query.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, "invalid_date", f"{name} must be YYYY-MM-DD") from None


def _service(request: web.Request) -> str:
    service = request.query.get("service", "")
    if service not in request.app[HALL].services:
        raise ApiError(404, "unknown_service", f"no service {service!r}")
    return service


# -- appointments -------------------------------------------------------------------------------


@routes.get("/api/v1/appointments/days")
async def appointment_days(request: web.Request) -> web.Response:
    days = request.app[APPOINTMENTS].bookable_days()
    return web.json_response([{"date": d.isoformat(), "weekday": d.isoweekday()} for d in days])


@routes.get("/api/v1/appointments/slots")
async def appointment_slots(request: web.Request) -> web.Response:
    service = _service(request)
    day = _day(request)
    if day is None:
        raise ApiError(422, "invalid_date", "date=YYYY-MM-DD is required")
    return web.json_response(request.app[APPOINTMENTS].slots(service, day))


@routes.post("/api/v1/appointments")
async def book(request: web.Request) -> web.Response:
    req = await body(request, BookRequest)
    out = await request.app[APPOINTMENTS].book(
        req.service, req.date, req.slot, req.name, id_number=req.id_number, phone=req.phone
    )
    return web.json_response(out, status=201)


@routes.get("/api/v1/appointments")
async def appointment_list(request: web.Request) -> web.Response:
    require(request, Role.STAFF)
    day = _day(request, default=request.app[HALL].today())
    assert day is not None
    return web.json_response(request.app[APPOINTMENTS].listing(day))


@routes.get("/api/v1/appointments/{code}")
async def appointment(request: web.Request) -> web.Response:
    return web.json_response(request.app[APPOINTMENTS].lookup(request.match_info["code"]))


@routes.get("/api/v1/appointments/{code}/qr.svg")
async def appointment_qr(request: web.Request) -> web.Response:
    svg = request.app[APPOINTMENTS].qr_svg(request.match_info["code"])
    return web.Response(text=svg, content_type="image/svg+xml")


@routes.delete("/api/v1/appointments/{code}")
async def cancel_appointment(request: web.Request) -> web.Response:
    return web.json_response(await request.app[APPOINTMENTS].cancel(request.match_info["code"]))


# -- ratings ----------------------------------------------------------------------------------


@routes.post("/api/v1/ratings")
async def rate(request: web.Request) -> web.Response:
    req = await body(request, RatingRequest)
    out = await request.app[RATINGS].rate(
        req.level, token=req.token, ticket_id=req.ticket, options=req.options, comment=req.comment
    )
    return web.json_response(out, status=201)


@routes.get("/api/v1/ratings")
async def rating_list(request: web.Request) -> web.Response:
    """One day's ratings (``date``, default today), or a range (``from``, ``to``); with
    ``followup=open`` and no dates, every bad rating still waiting for an answer."""
    require(request, Role.MANAGER)
    try:
        max_level = int(request.query.get("max_level", "5"))
    except ValueError:
        max_level = 0
    if not 1 <= max_level <= 5:  # a huge number would overflow SQLite's integers: a 500
        raise ApiError(422, "invalid_max_level", "max_level must be 1..5")
    followup = request.query.get("followup")
    if followup is not None and followup not in ratings_mod.FOLLOWUP:
        raise ApiError(422, "invalid_followup", "followup must be open, contacted or resolved")
    day = _day(request)
    day_from, day_to = _day(request, "from"), _day(request, "to")
    if day is not None:
        day_from = day_to = day
    elif day_from is None and day_to is None and followup is None:
        day_from = day_to = request.app[HALL].today()
    out = request.app[RATINGS].listing(
        day_from, day_to, max_level, followup, request.query.get("window")
    )
    return web.json_response(out)


@routes.get("/api/v1/ratings/satisfaction")
async def rating_satisfaction(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    hall = request.app[HALL]
    by = request.query.get("by", "window")
    if by not in ("window", "staff", "service"):
        raise ApiError(422, "invalid_by", "by must be window, staff or service")
    today = hall.today()
    day_from, day_to = _day(request, "from", today), _day(request, "to", today)
    out = await asyncio.to_thread(ratings_mod.satisfaction, hall.store.path, day_from, day_to, by)
    return web.json_response(out)


@routes.get("/api/v1/ratings/pad/{window}")
async def rating_pad(request: web.Request) -> web.Response:
    return web.json_response(request.app[RATINGS].pad(request.match_info["window"]))


@routes.patch("/api/v1/ratings/{id}")
async def follow_up(request: web.Request) -> web.Response:
    who = require(request, Role.MANAGER)
    rating_id = row_id(request, "unknown_rating", "rating")
    req = await body(request, FollowUpRequest)
    out = await request.app[RATINGS].follow_up(rating_id, req.followup, req.note, who.username)
    return web.json_response(out)


@routes.get("/api/v1/tickets/{token}/rating")
async def ticket_rating(request: web.Request) -> web.Response:
    return web.json_response(request.app[RATINGS].for_token(request.match_info["token"]))


# -- pages ------------------------------------------------------------------------------------


def _page_data(request: web.Request, **extra: Any) -> dict[str, Any]:
    """What the page's script needs: its texts in the page's language, the rating choices."""
    lang = lang_of(request)
    i = 1 if lang == "en" else 0
    t = translator(lang)
    keys = [k for k in TEXTS["zh"] if k.startswith(_PAGE_TEXTS)]
    return {
        "lang": lang,
        "T": {k: t(k) for k in keys},
        "choices": {
            "levels": [{"level": lv, "name": names[i]} for lv, names in LEVELS.items()],
            "reasons": [{"code": c, "name": names[i]} for c, names in REASONS.items()],
        },
        **extra,
    }


_PAGE_TEXTS = ("book.", "weekday.", "progress.", "rate.", "err.", "about_minutes", "minutes")


@routes.get("/book")
async def book_page(request: web.Request) -> web.Response:
    return render(request, "book.html", {"data": _page_data(request)})


@routes.get("/t/{token}")
async def progress_page(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    token = request.match_info["token"]
    known = hall.engine.by_token_latest(token) or hall.store.ticket_by_token(token)
    ctx = {"known": known is not None, "data": _page_data(request, token=token)}
    return render(request, "progress.html", ctx, status=200 if known else 404)


@routes.get("/rate/{window}")
async def rate_page(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    window = request.match_info["window"]
    if window not in hall.windows_cfg:
        return not_found(
            request, f"window {window}" if lang_of(request) == "en" else f"{window} 号窗口"
        )
    ctx = {"window": window, "data": _page_data(request, window=window)}
    return render(request, "rate.html", ctx)


# -- wiring -----------------------------------------------------------------------------------


def setup(app: web.Application, sweep_every: float = 60.0) -> None:
    """Add the routes, and once the hall is up, the booking desk, the ratings and the sweep
    that records missed appointments."""
    app.add_routes(routes)

    async def desk(app: web.Application) -> AsyncIterator[None]:
        hall = app[HALL]
        app[APPOINTMENTS] = Appointments(hall)
        app[RATINGS] = Ratings(hall)
        task = asyncio.create_task(_sweep(app[APPOINTMENTS], sweep_every))
        yield
        task.cancel()

    app.cleanup_ctx.append(desk)


async def _sweep(desk: Appointments, every: float) -> None:
    while True:
        with contextlib.suppress(Exception):
            n = await desk.sweep()
            if n:
                log.info("%d appointment(s) missed", n)
        await asyncio.sleep(every)


register(
    zh={
        "book.title": "网上预约",
        "book.service": "选择事项",
        "book.day": "选择日期",
        "book.slot": "选择时段",
        "book.who": "预约人信息",
        "book.name": "姓名",
        "book.id_number": "身份证号码",
        "book.phone": "或手机号码",
        "book.id_or_phone": "身份证号码和手机号码填写其一即可；号码只用于核对本人，不会保存明文。",
        "book.submit": "确认预约",
        "book.left": "剩 {n} 个",
        "book.full": "已约满",
        "book.no_slots": "这一天没有可预约的时段",
        "book.done": "预约成功",
        "book.code": "预约码",
        "book.arrive": "请于 {start}–{end} 到大厅，在取号机输入预约码或刷身份证签到，"
        "即可优先办理。",
        "book.cancel_until": "如需取消，请在 {until} 前操作。",
        "book.cancel": "取消预约",
        "book.cancel_confirm": "确定取消这个预约吗？",
        "book.cancelled": "预约已取消",
        "book.find": "查询或取消预约",
        "book.find_code": "输入预约码",
        "book.find_go": "查询",
        "book.again": "再约一个",
        "book.status.booked": "已预约",
        "book.status.cancelled": "已取消",
        "book.status.checked_in": "已签到",
        "book.status.arrived": "已到场",
        "book.status.missed": "已爽约",
        "weekday.1": "周一",
        "weekday.2": "周二",
        "weekday.3": "周三",
        "weekday.4": "周四",
        "weekday.5": "周五",
        "weekday.6": "周六",
        "weekday.7": "周日",
        "progress.title": "我的排队进度",
        "progress.unknown": "没有找到这张号票，请核对二维码。",
        "progress.ahead": "前面还有",
        "progress.people": "人",
        "progress.wait": "预计等候",
        "progress.next": "马上就到您了，请留意叫号",
        "progress.called": "请到 {window} 办理",
        "progress.serving": "正在 {window} 办理",
        "progress.done": "办理完毕，谢谢光临",
        "progress.no_show": "叫号时您未到场，如需办理请重新取号",
        "progress.cancelled": "您已放弃排队",
        "progress.expired": "号票已过期",
        "progress.transferred": "已转到其他业务排队",
        "progress.sound": "开启叫号提醒（声音和振动）",
        "progress.sound_on": "叫号提醒已开启",
        "progress.give_up": "放弃排队",
        "progress.give_up_confirm": "确定放弃排队吗？放弃后需重新取号。",
        "progress.appointment": "预约",
        "progress.priority": "优先",
        "rate.title": "服务评价",
        "rate.ask": "请您对本次服务进行评价",
        "rate.reason": "请告诉我们哪里做得不好（可多选）",
        "rate.comment": "其他意见（选填）",
        "rate.send": "提交评价",
        "rate.thanks": "感谢您的评价！",
        "rate.idle": "欢迎办理业务",
        "rate.idle_sub": "办理结束后可在此评价",
        "rate.need_reason": "请至少选择一个原因",
        "rate.your_rating": "您的评价：{level}",
        "rate.number": "号票 {number}",
        "err.slot_full": "这个时段已经约满，请换一个时段",
        "err.already_booked": "您当天已经预约过这项业务",
        "err.booking_suspended": "您近期多次预约未到，暂停预约至 {until}",
        "err.invalid_id_number": "身份证号码不正确，请核对",
        "err.invalid_phone": "手机号码不正确，应为 11 位数字",
        "err.missing_contact": "请填写身份证号码或手机号码",
        "err.date_not_bookable": "这一天不能预约，请重新选择日期",
        "err.too_late_to_cancel": "距预约时段不足两小时，已不能取消",
        "err.unknown_appointment": "没有找到这个预约码，请核对",
        "err.invalid_field": "请把信息填写完整",
        "err.network": "网络连接失败，请稍后再试",
        "err.other": "操作没有成功：{message}",
    },
    en={
        "book.title": "Book an appointment",
        "book.service": "Service",
        "book.day": "Day",
        "book.slot": "Time",
        "book.who": "Who is coming",
        "book.name": "Name",
        "book.id_number": "ID card number",
        "book.phone": "or mobile number",
        "book.id_or_phone": "Give either the ID number or a mobile number; it only identifies "
        "you and is not stored in clear.",
        "book.submit": "Book",
        "book.left": "{n} left",
        "book.full": "Full",
        "book.no_slots": "No times can be booked that day",
        "book.done": "Booked",
        "book.code": "Appointment code",
        "book.arrive": "Come to the hall between {start} and {end} and enter the code or swipe "
        "your ID card at a kiosk to be served first.",
        "book.cancel_until": "You can cancel until {until}.",
        "book.cancel": "Cancel the appointment",
        "book.cancel_confirm": "Cancel this appointment?",
        "book.cancelled": "The appointment is cancelled",
        "book.find": "Find or cancel an appointment",
        "book.find_code": "Appointment code",
        "book.find_go": "Find",
        "book.again": "Book another",
        "book.status.booked": "Booked",
        "book.status.cancelled": "Cancelled",
        "book.status.checked_in": "Checked in",
        "book.status.arrived": "Arrived",
        "book.status.missed": "Missed",
        "weekday.1": "Mon",
        "weekday.2": "Tue",
        "weekday.3": "Wed",
        "weekday.4": "Thu",
        "weekday.5": "Fri",
        "weekday.6": "Sat",
        "weekday.7": "Sun",
        "progress.title": "My place in the queue",
        "progress.unknown": "This ticket was not found; please check the QR code.",
        "progress.ahead": "Ahead of you",
        "progress.people": "people",
        "progress.wait": "Expected wait",
        "progress.next": "You are next: listen for your number",
        "progress.called": "Please go to {window}",
        "progress.serving": "Being served at {window}",
        "progress.done": "Done. Thank you for coming",
        "progress.no_show": "You were called but not there; take a new ticket if needed",
        "progress.cancelled": "You left the queue",
        "progress.expired": "The ticket has expired",
        "progress.transferred": "Moved to another queue",
        "progress.sound": "Alert me when called (sound and vibration)",
        "progress.sound_on": "Call alerts are on",
        "progress.give_up": "Leave the queue",
        "progress.give_up_confirm": "Leave the queue? You would need a new ticket.",
        "progress.appointment": "Appointment",
        "progress.priority": "Priority",
        "rate.title": "Rate our service",
        "rate.ask": "How was the service you just had?",
        "rate.reason": "What went wrong? (choose any)",
        "rate.comment": "Anything else (optional)",
        "rate.send": "Send",
        "rate.thanks": "Thank you for your rating!",
        "rate.idle": "Welcome",
        "rate.idle_sub": "You can rate the service here when you are done",
        "rate.need_reason": "Please choose at least one reason",
        "rate.your_rating": "Your rating: {level}",
        "rate.number": "Ticket {number}",
        "err.slot_full": "That time is fully booked; please choose another",
        "err.already_booked": "You already have an appointment for this service that day",
        "err.booking_suspended": "After repeated missed appointments, booking is suspended until "
        "{until}",
        "err.invalid_id_number": "The ID number is not valid; please check it",
        "err.invalid_phone": "A mobile number has 11 digits",
        "err.missing_contact": "Please give your ID number or a mobile number",
        "err.date_not_bookable": "That day cannot be booked; please choose another",
        "err.too_late_to_cancel": "Less than two hours before the slot: it can no longer be "
        "cancelled",
        "err.unknown_appointment": "No appointment has this code; please check it",
        "err.invalid_field": "Please fill in every field",
        "err.network": "No connection; please try again",
        "err.other": "That did not work: {message}",
    },
)
