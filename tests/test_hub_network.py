"""A hub and three real halls over real sockets, through crashes, a cut link and replayed
batches: afterwards the hub's figures for each hall equal the hall's own, and nothing personal
the halls held is anywhere in the hub's database. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hall_server.config import load_config, parse_config
from hall_server.core.idnumber import check_digit, mask_id
from hall_server.core.scrub import scrub_comment
from hall_server.hall import Hall as HallServer
from hall_server.network import OUTBOX_FIELDS, RATING_FIELDS, Pusher, hall_profile, outbox_event
from hall_server.store.db import Store
from hall_server.store.devices import add_token
from tests.hub_support import HubProcess, Link, http, hub_cli
from tests.support import ServerProcess, add_demo_accounts, hall_toml, wait_until

HALLS = [  # id, name, level, parent, lat, lon
    ("c0", "市政务服务中心", "city", None, 23.129, 113.264),
    ("t1", "石滩镇公共服务中心", "town", "c0", 23.300, 113.800),
    ("v1", "沙岗村便民服务站", "village", "t1", 23.310, 113.820),
]
SERVICES = [
    {"code": "a", "prefix": "A", "name": "社会保障", "target_wait_min": 1},
    {"code": "b", "prefix": "B", "name": "户籍", "target_wait_min": 2},
]  # fmt: skip
NAMES = ["张三丰", "李四光", "王小明", "赵六娘"]
PHONE = "13912345678"


def id_number(k: int) -> str:
    first = f"1101051949123{k:04d}"
    return first + check_digit(first)


#: What visitors type into a rating's comment: a name, a spaced phone number, an ID number.
#: Comments never go to the hub (``RATING_FIELDS``), not even scrubbed.
COMMENT_ID = id_number(9999)
COMMENT = f"找{NAMES[0]}，电话 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}，身份证{COMMENT_ID}"


class Hall:
    """One real hall-server process and what the test did there."""

    def __init__(self, tmp: Path, spec: tuple, hub_url: str, token: str) -> None:
        self.id = spec[0]
        d = tmp / self.id
        d.mkdir()
        (d / "hub.token").write_text(token + "\n")
        toml = hall_toml(spec[1], SERVICES, [["a", "b"], ["b", "a"]], hall_id=self.id,
                         kiosks=["k1"], level=spec[2])  # fmt: skip
        item = 'items = [{ code = "A-001", name = "社会保障卡申领", online = true }]'
        toml = toml.replace('\ncode = "a"\n', f'\ncode = "a"\n{item}\n')
        toml += (
            f'\n[network]\nhub = "{hub_url}"\ntoken_file = "{d / "hub.token"}"\n'
            "push_every_s = 0.1\nstate_every_s = 0.5\nbatch = 25\n"
        )
        (d / "hall.toml").write_text(toml)
        config = load_config(d / "hall.toml")
        add_demo_accounts(d / "hall.db", config)
        store = Store(d / "hall.db")
        self.kiosk_token = add_token(store, "k1")
        store.close()
        self.server = ServerProcess(d / "hall.db", d / "hall.toml").start()
        self.token = self.server.login("manager")
        self.rng = random.Random(self.id)
        self.cards = 0
        self.issued: list[str] = []  # ticket tokens

    def restart(self) -> None:
        self.server.start()
        self.token = self.server.login("manager")

    def traffic(self, n: int) -> None:
        """``n`` visitors (some with an ID card) and the windows working through the queue."""
        for i in range(n):
            body: dict[str, Any] = {"service": self.rng.choice("aab"), "kiosk": "k1"}
            if i % 3 == 0:
                self.cards += 1
                body["id_card"] = {"id_number": id_number(self.cards + 100 * len(self.id)),
                                   "name": NAMES[self.cards % len(NAMES)]}  # fmt: skip
            status, out = self.server.request("POST", "/api/v1/tickets", body, self.kiosk_token)
            assert status == 201, out
            self.issued.append(out["ticket"]["token"])
        for _ in range(n):
            w = self.rng.choice("12")
            status, _ = self.act(w, "call")
            if status != 200:
                continue
            roll = self.rng.random()
            if roll < 0.15:
                for _ in range(3):
                    self.act(w, "recall")  # the third marks the visitor as not come
            elif roll < 0.3:  # to a service (its own is refused) or first at the other window
                other = "2" if w == "1" else "1"
                target = self.rng.choice([{"service": "a"}, {"service": "b"}, {"to_window": other}])
                self.act(w, "transfer", target)
            else:
                if roll < 0.6:
                    self.act(w, "start")
                self.act(w, "finish")

    def act(self, window: str, action: str, body: dict | None = None) -> tuple[int, Any]:
        return self.server.request(
            "POST", f"/api/v1/windows/{window}/{action}", body or {}, self.token
        )

    def rate_some(self) -> None:
        for token in self.issued[::4]:
            level = self.rng.choice([1, 2, 5])
            body = {"token": token, "level": level, "comment": COMMENT}
            if level <= 2:
                body["options"] = ["wait_long"]
                body["phone"] = f"+86 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}"  # for the follow-up
            self.server.request("POST", "/api/v1/ratings", body)

    def book(self) -> None:
        _, days = self.server.request("GET", "/api/v1/appointments/days")
        _, slots = self.server.request(
            "GET", f"/api/v1/appointments/slots?service=a&date={days[0]['date']}"
        )
        slot = next(s for s in slots["slots"] if s["available"])
        status, out = self.server.request(
            "POST", "/api/v1/appointments",
            {"service": "a", "date": days[0]["date"], "slot": slot["slot"], "name": NAMES[1],
             "phone": PHONE},
        )  # fmt: skip
        assert status == 201, out

    def own(self, day: str) -> tuple[list, dict]:
        _, windows = self.server.request(
            "GET", f"/api/v1/metrics/windows?date={day}", token=self.token
        )
        _, rep = self.server.request(
            "GET", f"/api/v1/metrics/report?from={day}&to={day}&by=service", token=self.token
        )
        return windows, rep["total"]


def _hub_figures(hub: HubProcess, token: str, hall: str, day: str) -> list:
    status, out = http(
        hub.url, "GET", f"/api/v1/halls/{hall}/metrics/windows?date={day}", token=token
    )
    assert status == 200, out
    return out


def _matches(hub: HubProcess, token: str, halls: list[Hall], day: str) -> bool:
    try:
        return all(_hub_figures(hub, token, h.id, day) == h.own(day)[0] for h in halls)
    except OSError:
        return False


def _cursor(db: Path) -> int:
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT value FROM meta WHERE key = 'hub_cursor'").fetchone()
    conn.close()
    return int(row[0]) if row else 0


def _last_seq(db: Path) -> int:
    conn = sqlite3.connect(db)
    (seq,) = conn.execute("SELECT max(seq) FROM events").fetchone()
    conn.close()
    return int(seq)


def _batches(db: Path, size: int) -> list[list[dict[str, Any]]]:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT seq, day, data FROM events ORDER BY seq").fetchall()
    conn.close()
    events = [{"seq": s, "day": d, **outbox_event(json.loads(x))} for s, d, x in rows]
    return [events[i : i + size] for i in range(0, len(events), size)]


def _personal_values(db: Path) -> set[str]:
    """Everything personal a hall holds: tokens, identity hashes, masked names, appointment
    codes and their people, rating comments, bad ratings' phone numbers (masked, and sealed as
    hex); plus the clear values the test typed."""
    conn = sqlite3.connect(db)
    out = {PHONE, *NAMES, *(id_number(k) for k in range(1, 400))}
    out |= {COMMENT, COMMENT_ID, mask_id(COMMENT_ID), scrub_comment(COMMENT)}
    queries = [
        "SELECT token, identity, name_masked, appointment FROM tickets",
        "SELECT code, person, name_masked, contact_masked FROM appointments",
        "SELECT comment FROM ratings",
        "SELECT masked, hex(sealed) FROM rating_phones",
    ]
    for q in queries:
        for row in conn.execute(q):
            out |= {str(v) for v in row if v}
    conn.close()
    return out


def _hub_dump(db: str) -> tuple[str, list[dict[str, Any]]]:
    """The whole hub database as text, and the payloads of the events it keeps."""
    if not db.startswith("postgresql://"):
        conn = sqlite3.connect(db)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        text = "\n".join(repr(row) for t in tables for row in conn.execute(f"SELECT * FROM [{t}]"))
        payloads = [json.loads(d) for (d,) in conn.execute("SELECT data FROM events")]
        conn.close()
        return text, payloads
    import asyncpg

    async def dump() -> tuple[str, list[dict[str, Any]]]:
        conn = await asyncpg.connect(db)
        try:
            tables = [r[0] for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]  # fmt: skip
            rows = [r[0] for t in tables for r in await conn.fetch(f"SELECT t::text FROM {t} t")]
            payloads = [json.loads(r[0]) for r in await conn.fetch("SELECT data FROM events")]
            return "\n".join(rows), payloads
        finally:
            await conn.close()

    return asyncio.run(dump())


def test_hub_figures_equal_the_halls_own_through_crashes_and_cuts(
    hub_db: str, tmp_path: Path
) -> None:
    tokens = {h[0]: hub_cli("hall", "add", h[0], "--name", h[1], "--level", h[2],
                            *(["--parent", h[3]] if h[3] else []), "--lat", str(h[4]),
                            "--lon", str(h[5]), "--db", hub_db).strip()
              for h in HALLS}  # fmt: skip
    hub_cli("user", "add", "city", "--role", "city", "--db", hub_db, stdin="city-pass\n")
    hub_cli("user", "add", "town", "--role", "manager", "--scope", "t1", "--db", hub_db,
            stdin="town-pass\n")  # fmt: skip
    hub = HubProcess(hub_db, tmp_path / "hub.log").start()
    link = Link(hub.port)
    halls: list[Hall] = []
    try:
        for spec in HALLS:
            url = link.url if spec[0] == "v1" else hub.url
            halls.append(Hall(tmp_path, spec, url, tokens[spec[0]]))
        c0, t1, v1 = halls
        for h in halls:
            h.traffic(6)
            h.book()
        day = c0.server.request("GET", "/api/v1/health")[1]["day"]

        # The hub dies mid-ingest (SIGKILL) while the halls keep working, and comes back.
        busy = threading.Thread(target=c0.traffic, args=(12,))
        busy.start()
        time.sleep(0.3)
        hub.kill()
        busy.join()
        t1.traffic(5)
        hub.start()

        # A hall dies (SIGKILL) and comes back.
        t1.server.kill()
        t1.restart()
        t1.traffic(5)

        # The village's link is cut for a while.
        link.cut()
        v1.traffic(6)
        time.sleep(2.0)
        link.restore()
        for h in halls:
            h.traffic(3)
            h.rate_some()

        status, login = http(hub.url, "POST", "/api/v1/auth/login",
                             {"username": "city", "password": "city-pass"})  # fmt: skip
        assert status == 200, login
        city = login["token"]
        wait_until(lambda: _matches(hub, city, halls, day), 60, "the hub to catch up")
        for h in halls:  # each hall keeps its cursor at its last event, in its own database
            wait_until(lambda h=h: _cursor(h.server.db) == _last_seq(h.server.db), 10, "cursor")

        # Batches repeated and reordered on the way: c0's own again, and c0's whole log as a
        # new hall "d" (registered while the hub runs), shuffled and sent twice.
        d_token = hub_cli("hall", "add", "d", "--name", "副本", "--level", "village",
                          "--db", hub_db).strip()  # fmt: skip
        batches = _batches(c0.server.db, 7)
        for b in batches[::-1]:
            status, out = http(
                hub.url, "POST", "/api/v1/ingest", {"hall": "c0", "events": b}, token=tokens["c0"]
            )
            assert status == 200, out
        mixed = batches + batches[::2]
        random.Random(3).shuffle(mixed)
        acks = []
        config = load_config(c0.server.config)
        profile = hall_profile(config, config.services_by_code())
        for b in mixed:
            body = {"hall": "d", "events": b, "profile": profile}
            status, out = http(hub.url, "POST", "/api/v1/ingest", body, token=d_token)
            assert status == 200, out
            acks.append(out["acked"])
        assert acks[-1] == batches[-1][-1]["seq"]
        own_windows, _ = c0.own(day)
        assert _hub_figures(hub, city, "d", day) == own_windows
        assert _hub_figures(hub, city, "c0", day) == own_windows

        # The report by hall carries the halls' own totals and ratings.
        _, rep = http(hub.url, "GET", f"/api/v1/report?from={day}&to={day}&by=hall", token=city)
        rows = {r["hall"]: r for r in rep["rows"]}
        for h in halls:
            _, total = h.own(day)
            row = rows[h.id]
            for hub_key, own_key in [("issued", "arrived"), ("served", "served"),
                                     ("no_show", "no_show"), ("wait_p50_s", "wait_p50_s"),
                                     ("wait_p90_s", "wait_p90_s"),
                                     ("service_level", "service_level")]:  # fmt: skip
                assert row[hub_key] == total[own_key], (h.id, hub_key)
            conn = sqlite3.connect(h.server.db)
            n, bad = conn.execute(
                "SELECT count(*), sum(level <= 2) FROM ratings WHERE day = ?", (day,)
            ).fetchone()
            conn.close()
            wait_until(lambda h=h, n=n: _ratings(hub, city, h.id, day)[0] == n, 10, "ratings")
            assert _ratings(hub, city, h.id, day) == (n, bad or 0)

        # A hall's drill-down on the hub is the hall's own report, charts included.
        for h in halls:
            for by in ("window", "service", "hour"):
                q = f"from={day}&to={day}&by={by}"
                own_rep = h.server.request("GET", f"/api/v1/metrics/report?{q}", token=h.token)[1]
                hub_rep = http(hub.url, "GET", f"/api/v1/halls/{h.id}/report?{q}", token=city)[1]
                assert hub_rep == own_rep, (h.id, by)

        # The dashboard's 差评 follow-ups are the halls' own.
        def followups() -> dict[str, int]:
            listing = http(hub.url, "GET", "/api/v1/halls")[1]["halls"]
            return {h["id"]: h["followups"]["open"] for h in listing if h["id"] != "d"}

        own = {}
        for h in halls:
            conn = sqlite3.connect(h.server.db)
            sql = "SELECT count(*) FROM ratings WHERE followup = 'open'"
            (own[h.id],) = conn.execute(sql).fetchone()
            conn.close()
        assert sum(own.values()) > 0
        wait_until(lambda: followups() == own, 10, "the follow-ups")

        # A town manager sees their town and its village, not the city center.
        _, tl = http(
            hub.url, "POST", "/api/v1/auth/login", {"username": "town", "password": "town-pass"}
        )
        town = tl["token"]
        for hall, expected in (("c0", 403), ("t1", 200), ("v1", 200), ("nowhere", 404)):
            path = f"/api/v1/halls/{hall}/metrics/windows?date={day}"
            assert http(hub.url, "GET", path, token=town)[0] == expected, hall
        _, rep = http(hub.url, "GET", f"/api/v1/report?from={day}&to={day}", token=town)
        assert sorted(r["hall"] for r in rep["rows"]) == ["t1", "v1"]

        _, listing = http(hub.url, "GET", "/api/v1/halls")
        status_of = {h["id"]: h["status"] for h in listing["halls"]}
        assert status_of == {"c0": "online", "t1": "online", "v1": "online", "d": "online"}
    finally:
        for h in halls:
            h.server.stop()
        link.close()
        hub.stop()

    # Nothing personal the halls held is anywhere in the hub's database, and every event it
    # keeps has only the fields a hall may share.
    text, payloads = _hub_dump(hub_db)
    held = set().union(*(_personal_values(h.server.db) for h in halls))
    assert len(held) > 40
    assert f"{PHONE[:3]}****{PHONE[-4:]}" in held  # bad ratings left their number
    assert COMMENT in held and "comment" not in RATING_FIELDS  # and typed it in the comment
    assert sorted(v for v in held if v in text) == []
    for p in payloads:
        assert set(p) <= {"type", *OUTBOX_FIELDS[p["type"]]}, p


def _ratings(hub: HubProcess, token: str, hall: str, day: str) -> tuple[int, int]:
    _, rep = http(hub.url, "GET", f"/api/v1/report?from={day}&to={day}", token=token)
    row = next(r for r in rep["rows"] if r["hall"] == hall)
    return row["ratings"], row["bad_ratings"]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_a_hub_restored_from_an_older_backup_gets_the_lost_events_again(tmp_path: Path) -> None:
    """The halls keep the truth: a hub that comes back with less than it acknowledged says so,
    and the hall's cursor goes back. (A file copy is the backup here, hence SQLite.)"""
    db = str(tmp_path / "hub.db")
    token = hub_cli("hall", "add", "t1", "--name", "镇", "--level", "town", "--db", db).strip()
    hub_cli("user", "add", "city", "--role", "city", "--db", db, stdin="city-pass\n")
    hub = HubProcess(db, tmp_path / "hub.log").start()
    hall = None
    try:
        hall = Hall(tmp_path, ("t1", "镇", "town", None, 23.3, 113.8), hub.url, token)
        _, login = http(hub.url, "POST", "/api/v1/auth/login",
                        {"username": "city", "password": "city-pass"})  # fmt: skip
        city = login["token"]
        hall.traffic(6)
        day = hall.server.request("GET", "/api/v1/health")[1]["day"]
        wait_until(lambda: _matches(hub, city, [hall], day), 30, "the first sync")
        hub.stop()
        backup = tmp_path / "backup"
        backup.mkdir()
        for f in tmp_path.glob("hub.db*"):
            shutil.copy(f, backup / f.name)
        hub.start()
        hall.traffic(8)
        wait_until(lambda: _matches(hub, city, [hall], day), 30, "the second sync")
        hub.kill()
        for f in tmp_path.glob("hub.db*"):
            f.unlink()
        for f in backup.iterdir():
            shutil.copy(f, tmp_path / f.name)
        hub.start()
        wait_until(lambda: _matches(hub, city, [hall], day), 30, "the lost events sent again")
    finally:
        if hall:
            hall.server.stop()
        hub.stop()


async def test_the_hub_hears_only_windows_that_serve_as_open(tmp_path: Path) -> None:
    """The pusher counts windows by the rule the estimator and the manager's page use: open,
    not paused, and a clerk logged in at it. Three windows with nobody at them are no capacity
    the city should count on."""
    toml = hall_toml("石滩镇公共服务中心", SERVICES, [["a"], ["a", "b"], ["b"]])
    toml += '\n[network]\nhub = "http://127.0.0.1:9"\ntoken = "0123456789abcdef"\n'
    config = parse_config(toml)
    assert config.network is not None
    hall = HallServer(config, Store(tmp_path / "hall.db"))
    await hall.start()
    pusher = Pusher(hall, config.network)

    def told() -> tuple[int, dict[str, int]]:
        state = pusher.state()
        return state["open_windows"], {s["service"]: s["open_windows"] for s in state["services"]}

    try:
        assert told() == (0, {"a": 0, "b": 0})
        hall.set_staffed({"1", "2"})
        assert told() == (2, {"a": 2, "b": 1})
        await hall.act("2", "pause", reason="lunch")
        assert told() == (1, {"a": 1, "b": 0})
        await hall.act("2", "resume")
        hall.set_staffed({"2", "3"})  # the clerk at 1 logged out, one logged in at 3
        assert told() == (2, {"a": 1, "b": 2})
    finally:
        await hall.stop()
        hall.store.close()
