"""``hall-hub demo``: a live city of the work plan's shape in one command.

The network is "1+21+N" as the plan draws it: one city administrative service center (100
windows), 18 town centers (10-30 windows) and 225 village service points (1-3 windows), placed
around one city. Every hall is a real ``hall-server`` (``hall_server.app.make_app``: its own
SQLite file, engine, pages and port), run in this one process to keep a laptop cool, with
simulated visitors and clerks (``hall_server.simulate``) and its real pusher feeding this hub
over HTTP with the push token ``hall-hub hall add`` would give it. The hub publishes the city's
catalog (the town catalog shipped with the demo hall, with the levels that may handle each
item), and every hall fetches and applies it as a real hall does.

Loads differ on purpose: a few halls are overloaded (their queues and alarms grow), a few
village points keep office hours (closed at night), some town centers lack services (and so
miss the work plan's pilot target of 100 items), so that the dashboard has something to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import socket
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from hall_server.app import make_app as make_hall_app
from hall_server.config import HallConfig
from hall_server.core.engine import Ticket
from hall_server.hall import Hall as HallEngine
from hall_server.http.common import HALL, RATINGS
from hall_server.simulate import simulate

from .api import STORE
from .app import make_app as make_hub_app
from .auth import add_user, new_token, token_hash
from .store import Hall, open_store

log = logging.getLogger(__name__)

DEMO_HALL = Path(__file__).resolve().parent.parent / "hall_server" / "data" / "demo-hall.toml"
PASSWORD = "demo"
CITY_AT = (23.0210, 113.7520)  # a city of the Pearl River delta, schematic

TOWNS = [
    ("东湖", "Donghu"), ("西岭", "Xiling"), ("南港", "Nangang"), ("北山", "Beishan"),
    ("青溪", "Qingxi"), ("石桥", "Shiqiao"), ("龙泉", "Longquan"), ("凤岗", "Fenggang"),
    ("白沙", "Baisha"), ("金田", "Jintian"), ("莲塘", "Liantang"), ("松岗", "Songgang"),
    ("梅林", "Meilin"), ("桂园", "Guiyuan"), ("横沥", "Hengli"), ("沙头", "Shatou"),
    ("麻涌", "Mayong"), ("樟村", "Zhangcun"),
]  # fmt: skip
VILLAGES = [
    ("新村", "Xincun"), ("上围", "Shangwei"), ("下围", "Xiawei"), ("塘尾", "Tangwei"),
    ("岭头", "Lingtou"), ("水口", "Shuikou"), ("大围", "Dawei"), ("田心", "Tianxin"),
    ("沙岗", "Shagang"), ("横坑", "Hengkeng"), ("罗屋", "Luowu"), ("黄屋", "Huangwu"),
    ("陈屋", "Chenwu"), ("井头", "Jingtou"), ("围仔", "Weizai"),
]  # fmt: skip
#: Services a village point takes (the plan: the simple items, and 帮办代办 for the rest).
VILLAGE_SERVICES = ["social-insurance", "medical-insurance", "civil-affairs", "help-desk"]
#: Town centers without these services handle fewer items (below the pilot target).
THIN_TOWNS = {14: ["real-estate", "business"], 16: ["real-estate", "business", "tax"]}
#: Village points whose link is cut a little after the start (their push token is replaced, as
#: when a hall is re-registered): the dashboard shows them stale after a minute, then offline.
CUT = ("v-05-03", "v-09-07", "v-13-11")
#: Short names people type (the catalog's keywords), for the kiosk and 就近办 search.
KEYWORDS = {
    "A-011": ["社保卡"], "A-012": ["社保卡", "补卡"], "A-009": ["社保证明"],
    "A-015": ["失业金"], "B-001": ["医保"], "B-004": ["医保缴费"], "B-007": ["异地就医"],
    "C-001": ["身份证"], "C-002": ["身份证"], "C-003": ["身份证", "补办"], "C-005": ["上户口"],
    "C-010": ["户口本"], "C-013": ["居住证"],
}  # fmt: skip


@dataclass
class Point:
    """One hall of the simulated network and how busy it is."""

    id: str
    name: str
    name_en: str
    level: str
    parent: str | None
    lat: float
    lon: float
    windows: int
    staffed: int
    services: list[str]
    load: float  # arrivals over what the staffed windows can serve
    hours: list[str] = field(default_factory=lambda: ["00:00-24:00"])


def _offset(at: tuple[float, float], km: float, bearing: float) -> tuple[float, float]:
    lat = at[0] + km / 111.32 * math.cos(bearing)
    lon = at[1] + km / (111.32 * math.cos(math.radians(at[0]))) * math.sin(bearing)
    return round(lat, 5), round(lon, 5)


def network(
    services: list[str], towns: int = 18, villages: int = 225, seed: int = 7
) -> list[Point]:
    """The city center, 18 town centers on a ring around it, villages around their town."""
    rng = random.Random(seed)
    out = [
        Point("city", "示范市政务服务中心", "Demo City Administrative Service Center", "city",
              None, *CITY_AT, 100, 72, services, 0.97)
    ]  # fmt: skip
    for i, (zh, en) in enumerate(TOWNS[:towns]):
        bearing = 2 * math.pi * i / towns + rng.uniform(-0.12, 0.12)
        lat, lon = _offset(CITY_AT, rng.uniform(9, 26), bearing)
        windows = rng.randint(10, 30)
        have = [s for s in services if s not in THIN_TOWNS.get(i, [])]
        load = 1.25 if i in (3, 11) else rng.uniform(0.6, 0.95)
        tid = f"town-{i + 1:02d}"
        out.append(Point(tid, f"{zh}镇公共服务中心", f"{en} Town Public Service Center",
                         "town", "city", lat, lon, windows, max(4, round(windows * 0.6)),
                         have, load))  # fmt: skip
    for n in range(villages):
        t = n % towns
        town = out[1 + t]
        zh, en = VILLAGES[(n // towns) % len(VILLAGES)]
        lat, lon = _offset((town.lat, town.lon), rng.uniform(1.5, 5.5), rng.uniform(0, 2 * math.pi))
        windows = rng.choice((1, 1, 2, 2, 3))
        office = rng.random() < 0.1
        out.append(
            Point(f"v-{t + 1:02d}-{n // towns + 1:02d}",
                  f"{TOWNS[t][0]}镇{zh}村党群服务中心", f"{en} Village, {TOWNS[t][1]}",
                  "village", town.id, lat, lon, windows, 1 if windows < 3 else 2,
                  VILLAGE_SERVICES, rng.uniform(0.3, 0.8),
                  ["08:30-12:00", "14:00-17:30"] if office else ["00:00-24:00"])
        )  # fmt: skip
    return out


def _levels(service: str, item: dict[str, Any]) -> list[str]:
    """Who may handle an item in the demo city: long real-estate and business procedures stay at
    the city; quick, online-able items of the services villages take are devolved to them."""
    minutes = float(item.get("mean_service_min", 8))
    if service in ("real-estate", "business") and minutes >= 20:
        return ["city"]
    if service in VILLAGE_SERVICES and item.get("online") and minutes <= 6:
        return ["city", "town", "village"]
    return ["city", "town"]


def catalog() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The demo hall's services (with targets, shares, alarm thresholds) and the city catalog
    built from its items, with levels and short names."""
    data = tomllib.loads(DEMO_HALL.read_text(encoding="utf-8"))
    services, items = [], []
    for s in data["service"]:
        services.append({k: v for k, v in s.items() if k != "items"})
        for it in s["items"]:
            items.append(
                {
                    "code": it["code"],
                    "name": it["name"],
                    "name_en": it.get("name_en", ""),
                    "service": s["code"],
                    "levels": _levels(s["code"], it),
                    "online": bool(it.get("online")),
                    "keywords": KEYWORDS.get(it["code"], []),
                }
            )
    published = {
        "services": [{k: s[k] for k in ("code", "prefix", "name", "name_en")} for s in services],
        "items": items,
    }
    return services, published


def hall_config(
    p: Point,
    services: list[dict[str, Any]],
    hub: str,
    token: str,
    public_url: str,
    push_every_s: float | None = None,
) -> HallConfig:
    mine = [s for s in services if s["code"] in p.services]
    windows = []
    for i in range(p.windows):
        first = p.services[i % len(p.services)]
        rest = [s for s in p.services if s != first]
        windows.append({"id": str(i + 1), "services": [first, *rest[: 2 if p.windows > 3 else 9]]})
    quiet = p.level == "village"
    return HallConfig.model_validate(
        {
            "hall": {
                "id": p.id,
                "name": p.name,
                "name_en": p.name_en,
                "level": p.level,
                "timezone": "Asia/Shanghai",
                "hours": p.hours,
                "public_url": public_url,
            },
            "appointments": {"hours": ["08:30-12:00", "14:00-17:30"]},
            "service": [{**s, "items": []} for s in mine],
            "window": windows,
            "network": {
                "hub": hub,
                "token": token,
                "push_every_s": push_every_s or (2.0 if quiet else 1.0),
                "state_every_s": 15.0 if quiet else 5.0,
            },
        }
    )


async def _rate(app: web.Application, ticket: Ticket, rng: random.Random) -> None:
    """A third of the visitors rate at the window's pad; a few are unhappy (差评)."""
    if rng.random() > 0.35:
        return
    level = rng.choices((5, 4, 3, 2, 1), (70, 18, 6, 4, 2))[0]
    reasons = [rng.choice(("slow", "attitude", "not_done"))] if level <= 2 else None
    with contextlib.suppress(Exception):  # a rating refused (too late, rated) is no demo error
        await app[RATINGS].rate(level, ticket_id=ticket.id, options=reasons)


def _bound(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def _prepare(db: str, points: list[Point], published: dict[str, Any]) -> dict[str, str]:
    """Register the halls (fresh tokens each run), the accounts and the catalog."""
    store = await open_store(db)
    try:
        tokens = {}
        now = time.time()
        for p in points:
            tokens[p.id] = new_token()
            await store.add_hall(
                Hall(p.id, p.name, p.level, p.parent, p.lat, p.lon), token_hash(tokens[p.id]), now
            )
        if await store.user("city") is None:
            await add_user(store, "city", PASSWORD, "city", None)
        for i, town in enumerate([p for p in points if p.level == "town"][:2], 1):
            if await store.user(f"town{i}") is None:
                await add_user(store, f"town{i}", PASSWORD, "manager", town.id)
        current = await store.catalog()
        if current is None or current[1] != published:
            await store.publish_catalog(published, "demo", now)
        return tokens
    finally:
        await store.close()


async def run(
    host: str = "127.0.0.1",
    port: int = 8090,
    db: str = "./hallq-hub-demo.db",
    speed: float = 8.0,
    towns: int = 18,
    villages: int = 225,
    idle: bool = False,
    ready: asyncio.Event | None = None,
) -> None:
    """Run the hub and its city until cancelled; ``idle`` halls get no simulated visitors
    (every window open, nobody arriving: what tests want)."""
    services, published = catalog()
    points = network([s["code"] for s in services], towns, villages)
    tokens = await _prepare(db, points, published)
    public_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # what a browser can open
    hub_url = f"http://{public_host}:{port}"
    hub_app = make_hub_app(db)
    hub = web.AppRunner(hub_app, handle_signals=False)
    await hub.setup()
    await web.TCPSite(hub, host, port).start()

    halls_dir = Path(db).with_suffix(".halls")
    halls_dir.mkdir(parents=True, exist_ok=True)
    runners: list[web.AppRunner] = []
    sims: list[asyncio.Task[None]] = []
    public = {}

    async def start(p: Point, seed: int) -> None:
        sock = _bound(host)
        url = f"http://{public_host}:{sock.getsockname()[1]}"
        public[p.id] = url
        config = hall_config(p, services, hub_url, tokens[p.id], url)
        app = make_hall_app(config, halls_dir / f"{p.id}.db", base_url=url)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        runners.append(runner)
        hall: HallEngine = app[HALL]
        capacity = p.staffed * 60 / 8.5  # visitors an hour the clerks serve
        staffed = [str(i + 1) for i in range(p.staffed)]

        if idle:
            return

        async def finished(t: Ticket, rng: random.Random) -> None:
            await _rate(app, t, rng)

        sims.append(
            asyncio.create_task(
                simulate(hall, speed, seed, capacity * p.load, staffed, finished),
                name=f"sim-{p.id}",
            )
        )

    try:
        for i in range(0, len(points), 16):
            await asyncio.gather(*(start(p, n) for n, p in enumerate(points[i : i + 16], i)))
        print(_banner(hub_url, points, public), flush=True)
        if ready is not None:
            ready.set()
        await asyncio.sleep(20)
        for p in points:
            if p.id in CUT:
                hall = Hall(p.id, p.name, p.level, p.parent, p.lat, p.lon)
                await hub_app[STORE].add_hall(hall, token_hash(new_token()), time.time())
        await asyncio.Event().wait()
    finally:
        for t in sims:
            t.cancel()
        for r in runners:
            with contextlib.suppress(Exception):
                await r.cleanup()
        await hub.cleanup()


def _banner(hub: str, points: list[Point], public: dict[str, str]) -> str:
    towns = [p for p in points if p.level == "town"]
    villages = sum(p.level == "village" for p in points)
    return "\n".join(
        [
            f"hallq city hub demo: 1 city center, {len(towns)} town centers, "
            f"{villages} village points, each a real hall with simulated visitors",
            f"  city dashboard  {hub}/city",
            f"  就近办 (public)  {hub}/near",
            f"  API             {hub}/api/v1/halls",
            f"Accounts (password '{PASSWORD}'):",
            "  city   the whole city",
            f"  town1  {towns[0].name} and its villages",
            f"  town2  {towns[1].name} and its villages",
            "Halls (each with its own pages: /board, /manager, /book):",
            f"  {points[0].name}  {public.get(points[0].id, '')}",
            *(f"  {t.name}  {public.get(t.id, '')}" for t in towns[:3]),
            "  ... (all in GET /api/v1/halls)",
            "Ctrl-C stops it.",
        ]
    )
