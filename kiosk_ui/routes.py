"""The screens people touch and watch: login, staff console, kiosk, hall board and window screen.

Routes (all served by hallq itself, nothing from a CDN):

- ``GET /login`` and ``GET /logout``: the session cookie pages use (``hallq_session``).
- ``GET /staff``: the window console; staff land on their window, managers choose one.
- ``GET /kiosk/{kiosk}``: the touchscreen kiosk (404 page for an unknown kiosk).
- ``GET /board`` and ``GET /board?window=W``: the hall board and one window's screen.
- ``GET /qr.svg?data=TEXT``: a QR code as SVG (the ticket screen shows the progress page's).
- ``GET /ws/kiosk/{kiosk}``: live messages for one kiosk. It starts with
  ``{"type": "snapshot", "kiosk": K, "services": [...]}``, then passes the hall's ``state`` and
  ``heartbeat`` messages and every message whose ``kiosk`` is K. The device layer publishes on
  the hub, for the kiosk page:

  - ``{"type": "card", "kiosk": K, "name_masked": "张*三", "priority": bool}``: a card was read;
    the next ticket taken at K carries it (the page shows the masked name, never the number).
  - ``{"type": "card_removed", "kiosk": K}``: the pending identity expired or was used.
  - ``{"type": "printer", "kiosk": K, "state": "ok|paper_out|paper_low|offline|error",
    "number": "A012" (optional: the ticket whose printing failed)}``: the ticket screen then
    tells the visitor to keep or photograph the on-screen ticket.
  - ``{"type": "print", "kiosk": K, "ticket": ID, "state": ..., "reason": ...}``: the ticket's
    print job (``device_hub.py``); when it failed the ticket screen says why in plain words and
    offers 重新打印 (``POST /api/v1/tickets/{token}/reprint``).
"""

from __future__ import annotations

import io
import re
from typing import Any

import qrcode
import qrcode.image.svg
from aiohttp import web
from pypinyin import Style, lazy_pinyin

from hall_server.auth import COOKIE, Role
from hall_server.config import HallConfig
from hall_server.hall import Hall
from hall_server.http.common import ACCOUNTS, HALL, HUB, token_of
from hall_server.http.feed import state_message
from hall_server.http.pages import page_login, render
from hall_server.i18n import lang_of, register, translator

routes = web.RouteTableDef()

IDLE_DEFAULT_S = 30
QR_MAX_CHARS = 512

# -- the catalogue the kiosk searches ----------------------------------------------------------


def initials(text: str) -> str:
    """Pinyin initials of the Chinese characters in ``text`` ("社会保障卡" -> "shbzk"); Latin
    letters and digits are kept, punctuation dropped, so visitors can type what they see."""
    parts = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default")
    return re.sub(r"[^a-z0-9]", "", "".join(parts).lower())


def full_pinyin(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", "".join(lazy_pinyin(text)).lower())


def catalog(config: HallConfig) -> list[dict[str, Any]]:
    """Every service item with what the kiosk search matches on, computed once per hall: the
    browser then searches 100+ items as the visitor types, without a round trip."""
    out = []
    for s in config.service:
        for entry in [{"code": s.code, "name": s.name, "name_en": s.name_en, "keywords": []}] + [
            i.model_dump() for i in s.items
        ]:
            words = [entry["name"], *entry.get("keywords", [])]
            out.append(
                {
                    "code": entry["code"],
                    "service": s.code,
                    "name": entry["name"],
                    "name_en": entry["name_en"],
                    "keywords": entry.get("keywords", []),
                    "initials": [initials(w) for w in words],
                    "pinyin": [full_pinyin(w) for w in words],
                }
            )
    return out


_catalogs: dict[int, tuple[HallConfig, list[dict[str, Any]]]] = {}


def catalog_of(config: HallConfig) -> list[dict[str, Any]]:
    held = _catalogs.get(id(config))
    if held is None or held[0] is not config:
        held = _catalogs[id(config)] = (config, catalog(config))
    return held[1]


# -- texts ------------------------------------------------------------------------------------


def js_texts(lang: str, prefix: str) -> dict[str, str]:
    """The texts a page's script needs, already in the page's language."""
    t = translator(lang)
    return {k: t(k) for k in TEXTS_ZH if k.startswith(prefix) or k.startswith("common.")}


def public_base(request: web.Request, hall: Hall) -> str:
    """Where visitors' phones reach the hall: ``public_url`` from the config, else this host."""
    return (hall.config.hall.public_url or str(request.url.origin())).rstrip("/")


def minutes_range(range_s: list[int]) -> tuple[int, int]:
    """An estimate as whole minutes a visitor can read: never "0–0", never a one-point range
    (the kiosk script formats live updates the same way)."""
    low = max(1, round(range_s[0] / 60))
    return low, max(low + 1, round(range_s[1] / 60))


def not_found(request: web.Request, what: str) -> web.Response:
    return render(request, "not_found.html", {"what": what}, status=404)


def _safe_next(raw: str | None) -> str | None:
    """Only local paths: a login link must not send the user to another site."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return None


def _services_public(hall: Hall) -> list[dict[str, Any]]:
    return [
        {"code": s.code, "name": s.name, "name_en": s.name_en, "prefix": s.prefix}
        for s in hall.config.service
    ]


# -- pages ------------------------------------------------------------------------------------


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    windows = [{"id": w.id, "name": w.label, "name_en": w.name_en} for w in hall.config.window]
    return render(
        request,
        "login.html",
        {"next": _safe_next(request.query.get("next")) or "", "windows": windows},
    )


@routes.get("/logout")
async def logout_page(request: web.Request) -> web.Response:
    token = token_of(request)
    if token:
        request.app[ACCOUNTS].close_session(token)
    resp = web.HTTPFound("/login")
    resp.del_cookie(COOKIE)
    raise resp


@routes.get("/staff")
async def staff_page(request: web.Request) -> web.Response:
    who = page_login(request, Role.STAFF)
    hall = request.app[HALL]
    wanted = request.query.get("window") or who.window
    if wanted is not None and wanted not in hall.windows_cfg:
        return not_found(request, f"window {wanted}")
    window = hall.windows_cfg[wanted] if wanted else None
    lang = lang_of(request)
    return render(
        request,
        "staff.html",
        {
            "window": window,
            "windows": hall.config.window,
            "may_act": window is not None and who.may_act_on(window.id),
            "console": {
                "window": window.id if window else None,
                "window_services": list(window.services) if window else [],
                "services": _services_public(hall),
                "kiosks": {k.id: k.name or k.id for k in hall.config.kiosk},
                "user": who.username,
                "texts": js_texts(lang, "staff."),
            },
        },
    )


@routes.get("/kiosk/{kiosk}")
async def kiosk_page(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    kiosk = request.match_info["kiosk"]
    if kiosk not in hall.kiosks:
        return not_found(request, f"kiosk {kiosk}")
    try:
        idle = int(request.query.get("idle", IDLE_DEFAULT_S))
    except ValueError:
        idle = IDLE_DEFAULT_S
    lang = lang_of(request)
    services = [{**s, "eta_min": minutes_range(s["eta_range_s"])} for s in hall.services_view()]
    return render(
        request,
        "kiosk.html",
        {
            "kiosk": kiosk,
            "services": services,
            "setup": {
                "kiosk": kiosk,
                "idle_s": min(max(idle, 5), 600),
                "base": public_base(request, hall),
                "catalog": catalog_of(hall.config),
                "services": hall.services_view(),
                "texts": js_texts(lang, "kiosk."),
                "lang": lang,
            },
        },
    )


@routes.get("/board")
async def board_page(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    window = request.query.get("window")
    if window is not None and window not in hall.windows_cfg:
        return not_found(request, f"window {window}")
    lang = lang_of(request)
    wcfg = hall.windows_cfg[window] if window else None
    return render(
        request,
        "board.html",
        {
            "window": wcfg,
            "setup": {
                "window": window,
                "services": _services_public(hall),
                "texts": js_texts(lang, "board."),
                "lang": lang,
                "voice": request.query.get("voice", lang),
            },
        },
    )


@routes.get("/qr.svg")
async def qr_svg(request: web.Request) -> web.Response:
    data = request.query.get("data", "")
    if not data or len(data) > QR_MAX_CHARS:
        raise web.HTTPBadRequest(text=f"data must be 1 to {QR_MAX_CHARS} characters")
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2, box_size=10)
    buf = io.BytesIO()
    img.save(buf)
    return web.Response(
        body=buf.getvalue(),
        content_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@routes.get("/ws/kiosk/{kiosk}")
async def kiosk_ws(request: web.Request) -> web.WebSocketResponse:
    hall = request.app[HALL]
    kiosk = request.match_info["kiosk"]
    if kiosk not in hall.kiosks:
        raise web.HTTPNotFound(text=f"no kiosk {kiosk!r}")
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    snapshot = {**state_message(hall), "type": "snapshot", "kiosk": kiosk}
    await request.app[HUB].serve(ws, snapshot, kiosk_filter(kiosk))
    return ws


def kiosk_filter(kiosk: str) -> Any:
    """A kiosk hears the hall's queue lengths and heartbeats, and its own device messages."""
    return lambda m: m.get("type") in ("state", "heartbeat") or m.get("kiosk") == kiosk


TEXTS_ZH = {
    "common.error": "出错了",
    "common.network": "网络连接中断，请稍后再试",
    "not_found.title": "找不到此页面",
    "not_found.body": "没有 {what}。请检查地址，或联系大厅工作人员。",
    "login.title": "工作人员登录",
    "login.window": "窗口",
    "login.window_default": "按账号默认窗口",
    "login.failed": "用户名或密码错误",
    "staff.title": "窗口工作台",
    "staff.choose_window": "请选择窗口",
    "staff.not_your_window": "您的账号不能操作此窗口（您在 {window} 号窗口）。"
    "请重新登录并选择窗口。",
    "staff.current": "当前号码",
    "staff.none": "暂无",
    "staff.call": "呼叫下一位",
    "staff.recall": "重呼",
    "staff.start": "开始办理",
    "staff.finish": "办结",
    "staff.no_show": "未到",
    "staff.transfer": "转移",
    "staff.call_number": "指定呼叫",
    "staff.pause": "暂停",
    "staff.resume": "恢复",
    "staff.waiting": "等候队列",
    "staff.waiting_n": "{n} 人等候",
    "staff.shortcuts": "键盘快捷键",
    "staff.nobody": "暂无等候的号码",
    "staff.called": "已呼叫 {number}",
    "staff.done": "已完成",
    "staff.paused": "窗口已暂停",
    "staff.open": "窗口开放",
    "staff.closed": "窗口关闭",
    "staff.status.called": "已呼叫",
    "staff.status.serving": "办理中",
    "staff.transfer_to": "转移到哪个业务？",
    "staff.number_prompt": "要呼叫的号码（如 A012）",
    "staff.cancel": "取消",
    "staff.ok": "呼叫",
    "staff.elapsed": "已用时",
    "staff.recalls": "已重呼 {n} 次",
    "staff.jobs": "打印失败的号票",
    "staff.jobs_open": "查看并补打",
    "staff.jobs_n": "今天 {n} 张没有打印出来",
    "staff.jobs_none": "今天的号票都已打印",
    "staff.jobs_number": "号码",
    "staff.jobs_kiosk": "自助机",
    "staff.jobs_reason": "原因",
    "staff.jobs_time": "时间",
    "staff.jobs_attempts": "次数",
    "staff.jobs_reprint": "补打",
    "staff.jobs_printing": "正在打印…",
    "staff.jobs_done": "已打印，请到 {kiosk} 取票",
    "staff.jobs_failed": "仍未打印：{reason}",
    "staff.close": "关闭",
    "kiosk.title": "自助取号",
    "kiosk.choose": "请选择要办理的业务",
    "kiosk.search": "搜索事项",
    "kiosk.search_hint": "输入事项名称或拼音首字母，如 sbk",
    "kiosk.search_none": "没有找到相关事项，请直接选择业务或咨询工作人员",
    "kiosk.clear": "清除",
    "kiosk.backspace": "退格",
    "kiosk.close": "关闭",
    "kiosk.elder": "长者模式",
    "kiosk.elder_on": "长者模式（已开启）",
    "kiosk.card": "刷身份证",
    "kiosk.card_hint": "请把身份证放在感应区",
    "kiosk.card_read": "已识别：{name}，请选择业务",
    "kiosk.card_priority": "您可优先办理",
    "kiosk.appointment": "预约取号",
    "kiosk.appointment_hint": "请输入预约码",
    "kiosk.appointment_go": "取号",
    "kiosk.closed": "暂停取号",
    "kiosk.waiting": "等候 {n} 人",
    "kiosk.your_number": "您的号码",
    "kiosk.ahead": "前面还有 {n} 人",
    "kiosk.ahead_none": "前面没有人，请留意叫号",
    "kiosk.scan": "扫码查看排队进度",
    "kiosk.keep": "打印失败时，请拍照保存此页面作为凭证",
    "kiosk.print_printing": "正在打印号票…",
    "kiosk.print_done": "号票已打印，请从出票口取走",
    "kiosk.print_failed": "号票没有打印出来：{reason}。请点“重新打印”，"
    "或拍照保存此页面、扫描二维码，凭此办理",
    "kiosk.print_failed_again": "重新打印仍未成功：{reason}。"
    "请拍照保存此页面或扫描二维码，凭此办理，也可以请工作人员帮忙",
    "kiosk.reprint": "重新打印",
    "kiosk.reprinting": "正在重新打印…",
    "kiosk.reprint_gone": "此号码已不在队列中，无需重新打印",
    "kiosk.qr_fallback": "此二维码就是您的号票：扫码保存，凭此办理",
    "common.print.paper_out": "打印机缺纸",
    "common.print.paper_low": "打印纸快用完了",
    "common.print.offline": "打印机离线",
    "common.print.error": "打印机故障",
    "common.print.io_error": "打印机连接故障",
    "common.print.lost": "打印机重启过，号票可能没有打印",
    "common.print.no_printer": "本机没有打印机",
    "kiosk.done": "完成",
    "kiosk.back": "返回",
    "kiosk.back_in": "{n} 秒后返回首页",
    "kiosk.taking": "正在取号…",
    "kiosk.wait_watch": "请留意屏幕和语音叫号",
    "kiosk.about_minutes": "约 {low}–{high} 分钟",
    "board.title": "叫号屏",
    "board.latest": "最新叫号",
    "board.recent": "叫号记录",
    "board.number": "号码",
    "board.window": "窗口",
    "board.windows": "窗口状态",
    "board.waiting": "等候人数",
    "board.idle": "空闲",
    "board.paused": "暂停服务",
    "board.closed": "已关闭",
    "board.please": "请 {number} 号到 {window} 办理",
    "board.recall": "重呼",
    "board.sound": "点击开启语音播报",
    "board.current": "正在办理",
    "board.no_calls": "暂无叫号",
}

TEXTS_EN = {
    "common.error": "Something went wrong",
    "common.network": "The network is down; please try again shortly",
    "not_found.title": "Page not found",
    "not_found.body": "There is no {what}. Check the address or ask the hall staff.",
    "login.title": "Staff log in",
    "login.window": "Window",
    "login.window_default": "My account's window",
    "login.failed": "Wrong user name or password",
    "staff.title": "Window console",
    "staff.choose_window": "Choose a window",
    "staff.not_your_window": "Your account may not work this window (yours is window {window}). "
    "Log in again and choose the window.",
    "staff.current": "Current number",
    "staff.none": "None",
    "staff.call": "Call next",
    "staff.recall": "Recall",
    "staff.start": "Start",
    "staff.finish": "Finish",
    "staff.no_show": "No-show",
    "staff.transfer": "Transfer",
    "staff.call_number": "Call number",
    "staff.pause": "Pause",
    "staff.resume": "Resume",
    "staff.waiting": "Waiting",
    "staff.waiting_n": "{n} waiting",
    "staff.shortcuts": "Keyboard shortcuts",
    "staff.nobody": "Nobody is waiting",
    "staff.called": "Called {number}",
    "staff.done": "Done",
    "staff.paused": "Window paused",
    "staff.open": "Window open",
    "staff.closed": "Window closed",
    "staff.status.called": "Called",
    "staff.status.serving": "Serving",
    "staff.transfer_to": "Transfer to which service?",
    "staff.number_prompt": "Number to call (e.g. A012)",
    "staff.cancel": "Cancel",
    "staff.ok": "Call",
    "staff.elapsed": "Elapsed",
    "staff.recalls": "Recalled {n} times",
    "staff.jobs": "Tickets that did not print",
    "staff.jobs_open": "Show and reprint",
    "staff.jobs_n": "{n} today did not print",
    "staff.jobs_none": "Every ticket today printed",
    "staff.jobs_number": "Number",
    "staff.jobs_kiosk": "Kiosk",
    "staff.jobs_reason": "Reason",
    "staff.jobs_time": "Time",
    "staff.jobs_attempts": "Attempts",
    "staff.jobs_reprint": "Reprint",
    "staff.jobs_printing": "Printing…",
    "staff.jobs_done": "Printed: collect it at {kiosk}",
    "staff.jobs_failed": "Still not printed: {reason}",
    "staff.close": "Close",
    "kiosk.title": "Take a number",
    "kiosk.choose": "Please choose a service",
    "kiosk.search": "Search",
    "kiosk.search_hint": "Type a name or pinyin initials, e.g. sbk",
    "kiosk.search_none": "Nothing found; choose a service or ask the staff",
    "kiosk.clear": "Clear",
    "kiosk.backspace": "Delete",
    "kiosk.close": "Close",
    "kiosk.elder": "Large text",
    "kiosk.elder_on": "Large text (on)",
    "kiosk.card": "ID card",
    "kiosk.card_hint": "Place your ID card on the reader",
    "kiosk.card_read": "Recognised: {name}. Please choose a service",
    "kiosk.card_priority": "You will be served with priority",
    "kiosk.appointment": "Appointment",
    "kiosk.appointment_hint": "Enter your appointment code",
    "kiosk.appointment_go": "Get number",
    "kiosk.closed": "Not taking numbers",
    "kiosk.waiting": "{n} waiting",
    "kiosk.your_number": "Your number",
    "kiosk.ahead": "{n} people ahead of you",
    "kiosk.ahead_none": "Nobody ahead of you; watch for your call",
    "kiosk.scan": "Scan to follow your place in the queue",
    "kiosk.keep": "If the ticket did not print, take a photo of this screen",
    "kiosk.print_printing": "Printing your ticket…",
    "kiosk.print_done": "Your ticket has printed: please take it from the slot",
    "kiosk.print_failed": "Your ticket did not print: {reason}. Tap Reprint, or take a photo of "
    "this screen or scan the QR code: it is your ticket",
    "kiosk.print_failed_again": "Reprinting failed again: {reason}. Take a photo of this screen "
    "or scan the QR code: it is your ticket. The staff can help too",
    "kiosk.reprint": "Reprint",
    "kiosk.reprinting": "Printing again…",
    "kiosk.reprint_gone": "This number is no longer in the queue; no need to reprint it",
    "kiosk.qr_fallback": "This QR code is your ticket: scan it to keep it",
    "common.print.paper_out": "the printer is out of paper",
    "common.print.paper_low": "the printer is nearly out of paper",
    "common.print.offline": "the printer is offline",
    "common.print.error": "the printer has a fault",
    "common.print.io_error": "the printer's connection failed",
    "common.print.lost": "the printer restarted and may not have printed it",
    "common.print.no_printer": "this kiosk has no printer",
    "kiosk.done": "Done",
    "kiosk.back": "Back",
    "kiosk.back_in": "Back to start in {n} s",
    "kiosk.taking": "Taking a number…",
    "kiosk.wait_watch": "Please watch the screen and listen for your number",
    "kiosk.about_minutes": "about {low}–{high} min",
    "board.title": "Calling board",
    "board.latest": "Now calling",
    "board.recent": "Recent calls",
    "board.number": "Number",
    "board.window": "Window",
    "board.windows": "Windows",
    "board.waiting": "Waiting",
    "board.idle": "Free",
    "board.paused": "Paused",
    "board.closed": "Closed",
    "board.please": "Number {number}, please go to {window}",
    "board.recall": "Recall",
    "board.sound": "Tap to turn on voice announcements",
    "board.current": "Now serving",
    "board.no_calls": "No calls yet",
}

register(zh=TEXTS_ZH, en=TEXTS_EN)
