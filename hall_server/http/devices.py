"""Kiosk devices and print jobs over HTTP: their states (managers), today's print jobs and
reprints (staff, and the ticket's holder), and the demo hall's simulators."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from devices.agent import DeviceLoop
from hall_server.core.access import Role
from hall_server.core.errors import DomainError
from hall_server.core.print_jobs import JOB_STATES
from hall_server.http.common import DEVICES, HALL, body, require

routes = web.RouteTableDef()


@routes.get("/api/v1/devices")
async def devices_view(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    return web.json_response(request.app[DEVICES].view())


@routes.get("/api/v1/print-jobs")
async def print_jobs(request: web.Request) -> web.Response:
    """Today's print jobs, newest first; ``?kiosk=K`` and ``?state=failed`` narrow them."""
    require(request, Role.STAFF)
    devices = request.app[DEVICES]
    kiosk, state = request.query.get("kiosk"), request.query.get("state")
    if state is not None and state not in JOB_STATES:
        raise DomainError(
            "invalid", "invalid_state", f"state must be one of {', '.join(JOB_STATES)}"
        )
    jobs = [
        devices.job_view(j)
        for j in reversed(devices.jobs.values())
        if (kiosk is None or j.kiosk == kiosk) and (state is None or j.state == state)
    ]
    return web.json_response(jobs)


@routes.post("/api/v1/print-jobs/{job}/reprint")
async def reprint_job(request: web.Request) -> web.Response:
    """Staff print a ticket again (failed, or torn): the next attempt of the same job."""
    require(request, Role.STAFF)
    devices = request.app[DEVICES]
    job = devices.jobs.get(request.match_info["job"])
    if job is None:
        raise DomainError("not_found", "unknown_job", "no print job of today has this id")
    return web.json_response(devices.job_view(await devices.reprint(job, failed_only=False)))


def _job_of_token(request: web.Request) -> Any:
    devices = request.app[DEVICES]
    ticket = request.app[HALL].engine.by_token_latest(request.match_info["token"])
    job = devices.job_of_ticket(ticket.id) if ticket is not None else None
    if job is None:
        raise DomainError(
            "not_found", "no_print_job", "this ticket was not printed at a kiosk today"
        )
    return job


@routes.get("/api/v1/tickets/{token}/print")
async def ticket_print(request: web.Request) -> web.Response:
    """The holder of a ticket sees whether it printed."""
    job = _job_of_token(request)
    return web.json_response(
        {"number": job.number, "kiosk": job.kiosk, "state": job.state, "reason": job.reason}
    )


@routes.post("/api/v1/tickets/{token}/reprint")
async def ticket_reprint(request: web.Request) -> web.Response:
    """The holder of a ticket whose printing failed asks for it again (kiosk screen)."""
    devices = request.app[DEVICES]
    job = await devices.reprint(_job_of_token(request), failed_only=True)
    return web.json_response(
        {"number": job.number, "kiosk": job.kiosk, "state": job.state, "reason": job.reason},
        status=202,
    )


class SimulateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(
        pattern="^(place_card|remove_card|paper_ok|paper_low|paper_out|printer_off)$"
    )
    card: str = Field(default="resident", pattern="^(resident|hmt_residence|foreign_permanent)$")


@routes.post("/api/v1/devices/{kiosk}/simulate")
async def simulate(request: web.Request) -> web.Response:
    """Demo halls: act on a kiosk's built-in simulators (``sim:`` addresses) as a visitor or
    a printer would: place a sample card, run out of paper, switch the printer off."""
    require(request, Role.MANAGER)
    req = await body(request, SimulateRequest)
    loop = _local_loop(request)
    from devices.sim import cards

    reader_sim = loop.reader.simulator if loop.reader is not None else None
    printer_sim = loop.printer.simulator if loop.printer is not None else None
    if req.action in ("place_card", "remove_card"):
        if reader_sim is None:
            raise DomainError("conflict", "no_simulator", "this kiosk's reader is not a simulator")
        if req.action == "place_card":
            reader_sim.place(next(c for c in cards.SAMPLES if c.card_type.value == req.card))
        else:
            reader_sim.remove()
    else:
        if printer_sim is None:
            raise DomainError("conflict", "no_simulator", "this kiosk's printer is not a simulator")
        printer_sim.set_state(
            {"paper_ok": "ok", "paper_low": "near_end", "paper_out": "out"}.get(
                req.action, "offline"
            )
        )
        loop.check_now()
    return web.json_response({"ok": True, "action": req.action})


@routes.get("/api/v1/devices/{kiosk}/printed")
async def printed(request: web.Request) -> web.Response:
    """Demo halls: what a ``sim:`` printer printed (the last 20 tickets)."""
    require(request, Role.MANAGER)
    loop = _local_loop(request)
    sim = loop.printer.simulator if loop.printer is not None else None
    if sim is None:
        raise DomainError("conflict", "no_simulator", "this kiosk's printer is not a simulator")
    return web.json_response(
        [
            {"lines": [line.text for line in t.lines], "qr_codes": t.qr_codes, "cut": t.cut}
            for t in sim.tickets[-20:]
        ]
    )


def _local_loop(request: web.Request) -> DeviceLoop:
    kd = request.app[DEVICES].kiosks.get(request.match_info["kiosk"])
    if kd is None:
        raise DomainError(
            "not_found",
            "unknown_kiosk",
            f"no kiosk {request.match_info['kiosk']!r}",
            params={"kiosk": request.match_info["kiosk"]},
        )
    if kd.loop is None:
        raise DomainError(
            "conflict", "no_simulator", "this kiosk's devices are not run by the server"
        )
    return kd.loop
