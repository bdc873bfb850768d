"""Hall configuration: a TOML file checked once at start, refused with the key and line at fault."""

from __future__ import annotations

import logging
import re
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hall_server.core.engine import Rules, ServiceDef, WindowDef
from hall_server.core.haocha import CHANNELS, RECORD_FIELDS

log = logging.getLogger(__name__)

DEMO_CONFIG = Path(__file__).parent / "data" / "demo-hall.toml"


class ConfigError(Exception):
    """The file cannot run a hall; the message names the key and, where known, the line."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Item(_Model):
    code: str
    name: str
    name_en: str = ""
    online: bool = False
    keywords: list[str] = []
    materials: list[str] = []  # what to bring (申请材料), shown when booking


class Service(_Model):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$")
    name: str
    name_en: str = ""
    target_wait_min: float = Field(default=30, gt=0)
    mean_service_min: float = Field(default=8, gt=0)
    alarm_waiting: int | None = Field(default=None, gt=0)
    alarm_wait_min: float | None = Field(default=None, gt=0)
    items: list[Item] = []


class Window(_Model):
    id: str = Field(min_length=1, max_length=16)
    name: str = ""
    name_en: str = ""
    services: list[str] = Field(min_length=1)

    @property
    def label(self) -> str:
        return self.name or f"{self.id}号窗口"


class Kiosk(_Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = ""
    printer: str | None = None
    reader: str | None = None
    printer_options: dict[str, Any] = {}
    status_every: float = Field(default=5.0, gt=0)


class QueueRules(_Model):
    max_priority_streak: int = Field(default=2, ge=1)
    max_recalls: int = Field(default=2, ge=0)
    max_active_per_person: int = Field(default=1, ge=1)


class Announce(_Model):
    repeat: int = Field(default=2, ge=1, le=5)


class HallInfo(_Model):
    id: str = Field(min_length=1)
    name: str
    name_en: str = ""
    level: Literal["city", "town", "village"] = "town"
    timezone: str = "Asia/Shanghai"
    hours: list[str] = ["08:30-12:00", "14:00-17:30"]
    priority_age: int = Field(default=60, ge=0, le=150)
    public_url: str | None = None
    address: str = ""
    address_en: str = ""
    map_url: str | None = None  # a map app's link to the hall, shown beside the address

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: list[str]) -> list[str]:
        for span in v:
            m = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", span)
            if not m:
                raise ValueError(f"{span!r} is not HH:MM-HH:MM")
            if int(m[1]) > 23 or int(m[2]) > 59 or int(m[4]) > 59 or int(m[3]) > 24:
                raise ValueError(f"{span!r} is not a time of day")
            a, b = _clock(f"{m[1]}:{m[2]}"), _clock(f"{m[3]}:{m[4]}")
            if a >= b:
                raise ValueError(f"{span!r} ends before it starts")
        return v


class AppointmentRules(_Model):
    """Online booking: slot size, the share of window time kept for appointments, how far ahead,
    and the rules that keep slots for people who come (see ``appointments.py``)."""

    slot_min: int = Field(default=30, ge=5, le=240)
    share: float = Field(default=0.3, gt=0, le=1)
    hours: list[str] | None = None
    min_days_ahead: int = Field(default=1, ge=0, le=30)
    max_working_days_ahead: int = Field(default=5, ge=1, le=60)
    closed_dates: list[date] = []
    working_dates: list[date] = []
    per_person_per_service_day: int = Field(default=1, ge=1)
    cancel_before_min: int = Field(default=120, ge=0)
    early_min: int = Field(default=15, ge=0)
    late_min: int = Field(default=30, ge=0)
    missed_after_min: int = Field(default=30, ge=0)
    suspend_after_missed: int = Field(default=3, ge=1)
    suspend_window_days: int = Field(default=90, ge=1)
    suspend_days: int = Field(default=30, ge=0)

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else HallInfo._hours(v)


class RatingRules(_Model):
    """好差评: how long a bad rating may stay unanswered, and who may still rate.
    ``phone_keep_days``: the longest a 差评's phone number is kept when nobody marks the
    rating contacted (it is erased at once when they do)."""

    followup_working_days: int = Field(default=3, ge=1)
    pad_show_min: float = Field(default=10, gt=0)
    holder_days: int = Field(default=7, ge=0)
    phone_keep_days: float = Field(default=30, gt=0, le=365)


class WebhookRules(_Model):
    """Webhook delivery (``webhooks.py``): each receiver gets its events in order; a failed
    delivery is retried after ``retry_base_s``, doubling (with jitter) up to ``retry_cap_s``,
    and a receiver that has failed for ``give_up_after_h`` hours (the contract: at least 24)
    is disabled, its events kept, until a manager enables or replays it."""

    timeout_s: float = Field(default=10, gt=0, le=120)
    retry_base_s: float = Field(default=5, gt=0, le=3600)
    retry_cap_s: float = Field(default=3600, gt=0, le=86400)
    give_up_after_h: float = Field(default=72, ge=24)
    keep_days: int = Field(default=30, ge=1, le=3650)


class HaochaService(_Model):
    """How one service is known on the provincial 好差评 platform."""

    item_code: str | None = Field(default=None, max_length=64)
    item_name: str | None = Field(default=None, max_length=200)
    department_code: str | None = Field(default=None, max_length=64)
    department_name: str | None = Field(default=None, max_length=200)


class Haocha(_Model):
    """好差评 reported upward (``haocha.py``): the hall's codes on the provincial platform and
    how our fields are named there. The applicant's identity goes out only when the platform
    needs it and the hall allows it (``include_applicant``); the free-text comment likewise."""

    region_code: str = Field(default="", max_length=12, pattern=r"^\d{0,12}$")
    department_code: str = Field(default="", max_length=64)
    department_name: str = Field(default="", max_length=200)
    channels: dict[str, str] = {}
    services: dict[str, HaochaService] = {}
    staff: dict[str, str] = {}
    reasons: dict[str, str] = {}
    fields: dict[str, str] = {}
    include_applicant: bool = False
    include_comment: bool = False

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key not in RECORD_FIELDS:
                raise ValueError(f"no record field {key!r} (known: {', '.join(RECORD_FIELDS)})")
        return v

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key not in CHANNELS:
                raise ValueError(f"no rating channel {key!r} (known: {', '.join(CHANNELS)})")
        return v


class NetworkConfig(_Model):
    """``[network]``: the city hub this hall feeds (see ``hall_server/network.py``)."""

    hub: str = Field(pattern=r"^https?://[^\s/]+(/.*)?$")
    token: str | None = Field(default=None, min_length=16)
    token_file: str | None = None
    push_every_s: float = Field(default=1.0, gt=0, le=60)
    state_every_s: float = Field(default=5.0, gt=0, le=300)
    batch: int = Field(default=2000, ge=1, le=20000)

    @model_validator(mode="after")
    def _one_token(self) -> NetworkConfig:
        if (self.token is None) == (self.token_file is None):
            raise ValueError("give exactly one of token and token_file")
        return self

    def read_token(self) -> str:
        if self.token is not None:
            return self.token
        assert self.token_file is not None
        try:
            return Path(self.token_file).read_text(encoding="utf-8").strip()
        except OSError as e:
            where = f"network.token_file: cannot read {self.token_file}"
            raise ConfigError(f"{where}: {e.strerror}") from None


class SecurityRules(_Model):
    """The public edge (README "Security"): where the identity key lives, which proxies may
    say who the client is, and the per-client limits (``limits`` notation, "10/minute")."""

    identity_key_file: str | None = None
    trusted_proxies: list[str] = []
    phone_proof: Literal["off", "log", "http"] = "off"
    sms_url: str | None = None
    limits: dict[str, str] = {}
    password_min_length: int = Field(default=10, ge=8, le=128)
    pow_difficulty: int = Field(default=14, ge=0, le=28)

    @field_validator("limits")
    @classmethod
    def _limits(cls, v: dict[str, str]) -> dict[str, str]:
        from limits import parse

        for name, spec in v.items():
            try:
                parse(spec)
            except ValueError:
                raise ValueError(f"limits.{name}: {spec!r} is not like '10/minute'") from None
        return v


class HallConfig(_Model):
    hall: HallInfo
    queue: QueueRules = QueueRules()
    announce: Announce = Announce()
    appointments: AppointmentRules = AppointmentRules()
    ratings: RatingRules = RatingRules()
    webhooks: WebhookRules = WebhookRules()
    haocha: Haocha = Haocha()
    security: SecurityRules = SecurityRules()
    service: list[Service] = Field(min_length=1)
    window: list[Window] = Field(min_length=1)
    kiosk: list[Kiosk] = []
    network: NetworkConfig | None = None

    @model_validator(mode="after")
    def _references(self) -> HallConfig:
        _unique("service", "code", [s.code for s in self.service])
        _unique("service", "prefix", [s.prefix for s in self.service])
        _unique("window", "id", [w.id for w in self.window])
        _unique("kiosk", "id", [k.id for k in self.kiosk])
        codes = {s.code for s in self.service}
        for i, w in enumerate(self.window):
            for s in w.services:
                if s not in codes:
                    raise ValueError(f"window[{i}].services: unknown service {s!r}")
        for s in self.haocha.services:
            if s not in codes:
                raise ValueError(f"haocha.services: unknown service {s!r}")
        return self

    # -- what the rest of the server asks of it --

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.hall.timezone)

    def services_by_code(self) -> dict[str, Service]:
        return {s.code: s for s in self.service}

    def engine_args(self) -> dict[str, Any]:
        return {
            "services": [ServiceDef(s.code, s.prefix) for s in self.service],
            "windows": [WindowDef(w.id, tuple(w.services)) for w in self.window],
            "rules": Rules(self.queue.max_priority_streak, self.queue.max_recalls),
        }

    def opening_spans(self) -> list[tuple[time, time]]:
        return [tuple(map(_clock, span.split("-"))) for span in self.hall.hours]  # type: ignore[misc]


def _clock(hhmm: str) -> time:
    """``24:00`` is the end of the day, so a hall can be open around the clock."""
    return time.max if hhmm == "24:00" else time.fromisoformat(hhmm)


def _unique(table: str, key: str, values: list[str]) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise ValueError(f"{table}[{i}].{key}: duplicate {v!r}")
        seen.add(v)


def parse_config(text: str, source: str = "<config>") -> HallConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: {e}") from None
    try:
        config = HallConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = list(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        m = re.search(r"(\w+)\[(\d+)\]\.(\w+): (.*)", msg)
        if m:  # a cross-reference check names its own place
            loc, msg = [m[1], int(m[2]), m[3]], m[4]
        line = locate(text, loc)
        where = f" (line {line})" if line else ""
        raise ConfigError(f"{source}: {_dotted(loc)}{where}: {msg}") from None
    _warn_unknown(config, source)
    return config


def load_config(path: str | Path) -> HallConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    return parse_config(text, str(path))


def _dotted(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def locate(text: str, loc: list[Any]) -> int | None:
    """Best-effort line of a key path such as ``window[2].services`` in TOML source."""
    lines = text.splitlines()
    start, end = 0, len(lines)
    table = loc[0] if loc else None
    rest = loc[1:]
    if table is None:
        return None
    header = re.compile(rf"^\s*\[\[?\s*{re.escape(str(table))}\s*\]\]?\s*(#.*)?$")
    headers = [i for i, line in enumerate(lines) if header.match(line)]
    if rest and isinstance(rest[0], int):
        if rest[0] >= len(headers):
            return headers[-1] + 1 if headers else None
        start = headers[rest[0]]
        rest = rest[1:]
    elif headers:
        start = headers[0]
    else:
        key = re.compile(rf"^\s*{re.escape(str(table))}\s*=")
        return next((i + 1 for i, line in enumerate(lines) if key.match(line)), None)
    nxt = [i for i, line in enumerate(lines) if i > start and line.lstrip().startswith("[")]
    end = nxt[0] if nxt else len(lines)
    if rest and isinstance(rest[0], str):
        key = re.compile(rf"^\s*{re.escape(rest[0])}\s*=")
        for i in range(start, end):
            if key.match(lines[i]):
                return i + 1
    return start + 1


def _warn_unknown(config: HallConfig, source: str) -> None:
    tables = [
        ("hall", config.hall),
        ("queue", config.queue),
        ("announce", config.announce),
        ("appointments", config.appointments),
        ("ratings", config.ratings),
        ("webhooks", config.webhooks),
        ("haocha", config.haocha),
    ]
    tables += [(f"kiosk[{i}]", k) for i, k in enumerate(config.kiosk)]
    tables += [(f"window[{i}]", w) for i, w in enumerate(config.window)]
    for name, model in tables:
        for key in model.model_extra or {}:
            log.warning("%s: [%s] %s is not a known key and is ignored", source, name, key)
