"""The manager's screens and API: the live dashboard (``/manager``), reports for any range
(``/manager/reports``, ``/api/v1/metrics/report`` with CSV and Excel exports, satisfaction per
window and clerk beside them), the 差评 follow-up (``/manager/ratings``, over the ratings API of
``journey.py``), the alarm log (``/api/v1/alarms``) and the dashboard's websocket
(``/ws/manager``).

Charts are drawn here as inline SVG: no chart library, nothing from a CDN.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import date
from html import escape
from typing import Any

from aiohttp import web

from hall_server import metrics, reports
from hall_server import ratings as ratings_mod
from hall_server.alarms import Alarms
from hall_server.auth import Role
from hall_server.core.engine import Event
from hall_server.hall import Hall
from hall_server.http.common import HALL, HUB, ApiError, require, row_id
from hall_server.http.pages import page_login, render
from hall_server.i18n import lang_of, register

routes = web.RouteTableDef()
ALARMS = web.AppKey("alarms", Alarms)
LIVE_TYPES = frozenset({"alarm", "state", "call", "heartbeat"})


def setup(app: web.Application) -> None:
    """Routes, and once the hall runs: alarms, the estimator's lessons, warm report caches."""
    app.add_routes(routes)

    async def running(app: web.Application) -> AsyncIterator[None]:
        hall = app[HALL]
        alarms = Alarms(hall, app[HUB])
        app[ALARMS] = alarms
        hall.listeners.append(alarms.on_events)
        hall.listeners.append(_teach_estimator)
        tasks = [
            asyncio.create_task(alarms.run()),
            asyncio.create_task(
                asyncio.to_thread(reports.warm, hall.store.path, hall.config, hall.today(), 1)
            ),
        ]
        yield
        for t in tasks:
            t.cancel()

    app.cleanup_ctx.append(running)


def _teach_estimator(events: Sequence[Event], hall: Hall) -> None:
    """Every issue, call, no-show and finish teaches the estimator (it ignores repeats)."""
    for e in events:
        t = hall.engine.tickets.get(getattr(e, "ticket_id", ""))
        if t is not None:
            hall.estimator.observe(t)


# -- API ------------------------------------------------------------------------------------


def _report_args(request: web.Request) -> tuple[date, date, str]:
    hall = request.app[HALL]
    q = request.query
    try:
        start, end = reports.parse_range(q.get("from"), q.get("to"), hall.today())
    except reports.ReportError as e:
        raise ApiError(422, e.code, str(e)) from None
    by = q.get("by", "window")
    if by not in reports.DIMENSIONS:
        raise ApiError(
            422, "invalid_dimension", f"by must be one of {', '.join(reports.DIMENSIONS)}"
        )
    return start, end, by


async def _report(request: web.Request) -> dict[str, Any]:
    start, end, by = _report_args(request)
    hall = request.app[HALL]
    return await asyncio.to_thread(
        reports.report, hall.store.path, hall.config, start, end, hall.today(), by
    )


@routes.get("/api/v1/metrics/report")
async def report_json(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    return web.json_response(await _report(request))


@routes.get("/api/v1/metrics/report.{fmt:csv|xlsx}")
async def report_file(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    rep = await _report(request)
    lang = "en" if request.query.get("lang") == "en" else "zh"
    fmt = request.match_info["fmt"]
    name = f"hallq-{rep['by']}-{rep['from']}-{rep['to']}.{fmt}"
    if fmt == "csv":
        body, ctype = reports.to_csv(rep, lang), "text/csv; charset=utf-8"
    else:
        body = await asyncio.to_thread(reports.to_xlsx, rep, lang)
        ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return web.Response(
        body=body,
        headers={"Content-Type": ctype, "Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.get("/api/v1/alarms")
async def alarms_list(request: web.Request) -> web.Response:
    """``?open=1``: alarms not yet cleared; otherwise the log of ``date`` (default today)."""
    require(request, Role.MANAGER)
    hall = request.app[HALL]
    day = request.query.get("date") or hall.today().isoformat()
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ApiError(422, "invalid_date", "date must be YYYY-MM-DD") from None
    open_only = request.query.get("open") in ("1", "true")
    return web.json_response(request.app[ALARMS].list(day, open_only))


@routes.post("/api/v1/alarms/{id}/ack")
async def alarms_ack(request: web.Request) -> web.Response:
    who = require(request, Role.MANAGER)
    alarm_id = row_id(request, "unknown_alarm", "alarm")
    return web.json_response(request.app[ALARMS].acknowledge(alarm_id, who.username))


@routes.get("/ws/manager")
async def manager_ws(request: web.Request) -> web.WebSocketResponse:
    """Live alarms, calls and queue states for the dashboard (managers only)."""
    require(request, Role.MANAGER)
    hall = request.app[HALL]
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    snapshot = {
        "type": "snapshot",
        "live": metrics.live(hall),
        "alarms": request.app[ALARMS].list(open_only=True),
    }
    await request.app[HUB].serve(ws, snapshot, lambda m: m.get("type") in LIVE_TYPES)
    return ws


# -- pages ----------------------------------------------------------------------------------


@routes.get("/manager")
async def dashboard(request: web.Request) -> web.Response:
    page_login(request, Role.MANAGER)
    return render(request, "manager.html", {"page": "live"})


@routes.get("/manager/reports")
async def reports_page(request: web.Request) -> web.Response:
    page_login(request, Role.MANAGER)
    hall = request.app[HALL]
    q = request.query
    ctx: dict[str, Any] = {
        "page": "reports",
        "from": q.get("from", hall.today().isoformat()),
        "to": q.get("to", q.get("from", hall.today().isoformat())),
        "by": q.get("by", "window"),
        "dimensions": reports.DIMENSIONS,
        "columns": [
            (c[0], c[2] if lang_of(request) == "en" else c[1])
            for c in reports.COLUMNS
            if c[0] != "key"
        ],
        "error": None,
        "rep": None,
    }
    try:
        rep = await _report(request)
    except ApiError as e:
        ctx["error"] = json.loads(e.text or "{}")["error"]["message"]
        return render(request, "manager_reports.html", ctx, status=422)
    lang = lang_of(request)
    sat = await asyncio.gather(
        *(
            asyncio.to_thread(ratings_mod.satisfaction, hall.store.path, rep["from"], rep["to"], by)
            for by in ("window", "staff")
        )
    )
    ctx.update(
        satisfaction={"window": sat[0], "staff": sat[1]},
        window_names={w.id: _window_name(w, lang) for w in hall.config.window},
        rep=rep,
        hours_svg=hours_svg(rep["hours"], lang),
        waits_svg=waits_svg(rep["wait_hist"], lang),
        query=request.query_string,
    )
    return render(request, "manager_reports.html", ctx)


def _window_name(w: Any, lang: str) -> str:
    return w.name_en if lang == "en" and w.name_en else w.label


@routes.get("/manager/ratings")
async def ratings_page(request: web.Request) -> web.Response:
    """差评 follow-up; the page's script lists and moves them through the ratings API."""
    page_login(request, Role.MANAGER)
    hall = request.app[HALL]
    lang = lang_of(request)
    i = 1 if lang == "en" else 0
    setup = {
        "today": hall.today().isoformat(),
        "lang": lang,
        "windows": {w.id: _window_name(w, lang) for w in hall.config.window},
        "services": {s.code: s.name_en if i and s.name_en else s.name for s in hall.config.service},
        "levels": {lv: names[i] for lv, names in ratings_mod.LEVELS.items()},
        "reasons": {code: names[i] for code, names in ratings_mod.REASONS.items()},
    }
    return render(request, "manager_ratings.html", {"page": "ratings", "setup": setup})


# -- charts ---------------------------------------------------------------------------------


def _frame(w: int, h: int, label: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="{escape(label)}" class="chart"><title>{escape(label)}</title>{body}</svg>'
    )


def _bars(
    labels: list[str], series: list[tuple[str, str, list[int]]], label: str, w: int = 720
) -> str:
    """Grouped bars with a y-axis of round steps; series are (name, css class, values)."""
    h, left, bottom, top = 300, 48, 40, 36
    peak = max([1, *(v for _, _, vs in series for v in vs)])
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10**4, 10**5,
                            10**6, 10**7) if peak / s <= 6)  # fmt: skip
    top_v = step * -(-peak // step)
    plot_w, plot_h = w - left - 10, h - bottom - top
    y = lambda v: top + plot_h - plot_h * v / top_v  # noqa: E731
    out = []
    for i in range(0, top_v + 1, step):
        out.append(
            f'<line x1="{left}" x2="{w - 10}" y1="{y(i):.1f}" y2="{y(i):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y(i) + 5:.1f}" text-anchor="end">{i}</text>'
        )
    group = plot_w / max(1, len(labels))
    bar = group * 0.8 / len(series)
    for gi, name in enumerate(labels):
        x0 = left + gi * group + group * 0.1
        for si, (sname, css, values) in enumerate(series):
            v = values[gi]
            out.append(
                f'<rect x="{x0 + si * bar:.1f}" y="{y(v):.1f}" width="{bar:.1f}" '
                f'height="{y(0) - y(v):.1f}" class="{css}"><title>{escape(name)} '
                f"{escape(sname)}: {v}</title></rect>"
            )
        out.append(
            f'<text x="{x0 + group * 0.4:.1f}" y="{h - bottom + 22}" '
            f'text-anchor="middle">{escape(name)}</text>'
        )
    for si, (sname, css, _) in enumerate(series):
        out.append(
            f'<rect x="{left + si * 160}" y="8" width="18" height="18" class="{css}"/>'
            f'<text x="{left + si * 160 + 24}" y="23">{escape(sname)}</text>'
        )
    return _frame(w, h, label, "".join(out))


def hours_svg(hours: list[dict[str, int]], lang: str = "zh") -> str:
    """Arrivals (by hour of issue) and served (by hour of finish), over the hours with any."""
    used = [h for h in hours if h["arrived"] or h["served"]] or hours[8:18]
    first, last = used[0]["hour"], used[-1]["hour"]
    span = [h for h in hours if first <= h["hour"] <= last]
    zh = lang != "en"
    return _bars(
        [f"{h['hour']}" for h in span],
        [
            ("到达" if zh else "Arrived", "s1", [h["arrived"] for h in span]),
            ("办结" if zh else "Served", "s2", [h["served"] for h in span]),
        ],
        "每小时到达与办结人数" if zh else "Arrivals and served per hour",
    )


def waits_svg(hist: list[dict[str, Any]], lang: str = "zh") -> str:
    zh = lang != "en"
    labels = [
        f"{b['from_min']}–{b['to_min']}" if b["to_min"] is not None else f"{b['from_min']}+"
        for b in hist
    ]
    return _bars(
        labels,
        [("人数（按等候分钟）" if zh else "Visitors by minutes waited", "s1",
          [b["n"] for b in hist])],
        "等候时间分布" if zh else "Distribution of waiting times",
    )  # fmt: skip


register(
    zh={
        "mgr.title": "管理看板",
        "mgr.live": "实时",
        "mgr.reports": "报表",
        "mgr.alarms": "告警",
        "mgr.no_alarms": "当前没有告警",
        "mgr.ack": "确认",
        "mgr.acked_by": "{who} 已确认",
        "mgr.alarm.waiting": "{service}：等候 {value} 人（阈值 {threshold}）",
        "mgr.alarm.wait": "{service}：最长等候 {value} 分钟（阈值 {threshold}）",
        "mgr.services": "业务队列",
        "mgr.service": "业务",
        "mgr.waiting": "等候人数",
        "mgr.longest": "最长等候",
        "mgr.estimate": "预计等候",
        "mgr.open_windows": "开放窗口",
        "mgr.target": "目标",
        "mgr.windows": "窗口",
        "mgr.window": "窗口",
        "mgr.status": "状态",
        "mgr.current": "当前号",
        "mgr.timer": "办理计时",
        "mgr.devices": "设备",
        "mgr.status.open": "开放",
        "mgr.status.paused": "暂停",
        "mgr.status.closed": "关闭",
        "mgr.from": "开始日期",
        "mgr.to": "结束日期",
        "mgr.by": "分组",
        "mgr.by.window": "按窗口",
        "mgr.by.service": "按业务",
        "mgr.by.staff": "按工作人员",
        "mgr.by.hour": "按小时",
        "mgr.show": "查询",
        "mgr.export_csv": "导出 CSV",
        "mgr.export_xlsx": "导出 Excel",
        "mgr.total": "合计",
        "mgr.no_data": "所选期间没有数据",
        "mgr.updated": "更新于",
        "mgr.alarm_log": "今日告警记录",
        "mgr.raised": "发生时间",
        "mgr.peak": "峰值",
        "mgr.cleared": "解除时间",
        "mgr.acknowledged": "确认人",
        "mgr.printer": "打印机",
        "mgr.reader": "读卡器",
        "mgr.last_seen": "最后在线",
        "mgr.ratings": "差评跟进",
        "mgr.r.show": "显示",
        "mgr.r.todo": "待跟进（未办结）",
        "mgr.r.resolved": "已办结（近 30 天）",
        "mgr.r.all": "全部差评（近 30 天）",
        "mgr.r.none": "没有需要显示的差评",
        "mgr.r.count": "共 {n} 条，其中 {overdue} 条已超期",
        "mgr.r.number": "号码",
        "mgr.r.window": "窗口",
        "mgr.r.staff": "工作人员",
        "mgr.r.at": "评价时间",
        "mgr.r.reason": "原因",
        "mgr.r.comment": "留言",
        "mgr.r.due": "跟进期限",
        "mgr.r.overdue": "已超期",
        "mgr.r.state": "跟进状态",
        "mgr.r.open": "待联系",
        "mgr.r.contacted": "已联系",
        "mgr.r.state_resolved": "已办结",
        "mgr.r.mark_contacted": "标记已联系",
        "mgr.r.resolve": "办结…",
        "mgr.r.note": "处理结果（必填）",
        "mgr.r.resolve_h": "办结差评 {number}",
        "mgr.r.confirm": "确认办结",
        "mgr.r.cancel": "取消",
        "mgr.r.by": "{who} 于 {at}",
        "mgr.r.note_required": "请填写处理结果",
        "mgr.satisfaction": "满意度",
        "mgr.sat.by_window": "按窗口",
        "mgr.sat.by_staff": "按工作人员",
        "mgr.sat.count": "评价数",
        "mgr.sat.rate": "满意率",
        "mgr.sat.mean": "平均分",
        "mgr.sat.bad": "差评",
        "mgr.sat.none": "所选期间没有评价",
    },
    en={
        "mgr.title": "Manager dashboard",
        "mgr.live": "Live",
        "mgr.reports": "Reports",
        "mgr.alarms": "Alarms",
        "mgr.no_alarms": "No alarms now",
        "mgr.ack": "Acknowledge",
        "mgr.acked_by": "acknowledged by {who}",
        "mgr.alarm.waiting": "{service}: {value} waiting (threshold {threshold})",
        "mgr.alarm.wait": "{service}: longest wait {value} min (threshold {threshold})",
        "mgr.services": "Queues",
        "mgr.service": "Service",
        "mgr.waiting": "Waiting",
        "mgr.longest": "Longest wait",
        "mgr.estimate": "Estimate",
        "mgr.open_windows": "Open windows",
        "mgr.target": "Target",
        "mgr.windows": "Windows",
        "mgr.window": "Window",
        "mgr.status": "Status",
        "mgr.current": "Ticket",
        "mgr.timer": "Service timer",
        "mgr.devices": "Devices",
        "mgr.status.open": "open",
        "mgr.status.paused": "paused",
        "mgr.status.closed": "closed",
        "mgr.from": "From",
        "mgr.to": "To",
        "mgr.by": "Group by",
        "mgr.by.window": "by window",
        "mgr.by.service": "by service",
        "mgr.by.staff": "by staff member",
        "mgr.by.hour": "by hour",
        "mgr.show": "Show",
        "mgr.export_csv": "Export CSV",
        "mgr.export_xlsx": "Export Excel",
        "mgr.total": "Total",
        "mgr.no_data": "No data in this period",
        "mgr.updated": "Updated",
        "mgr.alarm_log": "Today's alarm log",
        "mgr.raised": "Raised",
        "mgr.peak": "Peak",
        "mgr.cleared": "Cleared",
        "mgr.acknowledged": "Acknowledged by",
        "mgr.printer": "printer",
        "mgr.reader": "reader",
        "mgr.last_seen": "last seen",
        "mgr.ratings": "Bad ratings",
        "mgr.r.show": "Show",
        "mgr.r.todo": "To follow up (not resolved)",
        "mgr.r.resolved": "Resolved (last 30 days)",
        "mgr.r.all": "All bad ratings (last 30 days)",
        "mgr.r.none": "No bad ratings to show",
        "mgr.r.count": "{n} in all, {overdue} overdue",
        "mgr.r.number": "Number",
        "mgr.r.window": "Window",
        "mgr.r.staff": "Clerk",
        "mgr.r.at": "Rated",
        "mgr.r.reason": "Reasons",
        "mgr.r.comment": "Comment",
        "mgr.r.due": "Follow up by",
        "mgr.r.overdue": "Overdue",
        "mgr.r.state": "Follow-up",
        "mgr.r.open": "Not contacted",
        "mgr.r.contacted": "Contacted",
        "mgr.r.state_resolved": "Resolved",
        "mgr.r.mark_contacted": "Mark contacted",
        "mgr.r.resolve": "Resolve…",
        "mgr.r.note": "How it was resolved (required)",
        "mgr.r.resolve_h": "Resolve bad rating {number}",
        "mgr.r.confirm": "Resolve",
        "mgr.r.cancel": "Cancel",
        "mgr.r.by": "{who} at {at}",
        "mgr.r.note_required": "Say how it was resolved",
        "mgr.satisfaction": "Satisfaction",
        "mgr.sat.by_window": "By window",
        "mgr.sat.by_staff": "By clerk",
        "mgr.sat.count": "Ratings",
        "mgr.sat.rate": "Satisfied",
        "mgr.sat.mean": "Mean level",
        "mgr.sat.bad": "Bad",
        "mgr.sat.none": "No ratings in this period",
    },
)
