"""Admission lives in the core: opening hours, the per-person limit and age priority decided
without a hall, a store or a clock."""

from __future__ import annotations

from datetime import time

import pytest

from hall_server.core.admission import Admission, admit, check_open, is_open
from hall_server.core.engine import Engine, EngineError, Priority, Rules, ServiceDef, WindowDef
from hall_server.core.identity import Identity

RULES = Admission(
    spans=((time(8, 30), time(12)), (time(14), time(17, 30))),
    hours=("08:30-12:00", "14:00-17:30"),
    max_active_per_person=1,
    priority_age=70,
)
OLD = Identity("a" * 64, "张*丰", 75)
YOUNG = Identity("b" * 64, "李*", 30)


def engine() -> Engine:
    return Engine(
        [ServiceDef("tax", "H")], [WindowDef("1", ("tax",))], Rules(), day_of=lambda _: "d1"
    )


def test_admission_refuses_outside_opening_hours_and_says_when() -> None:
    assert is_open(RULES, time(9)) and not is_open(RULES, time(12)) and is_open(RULES, time(14))
    with pytest.raises(EngineError) as refused:
        check_open(RULES, time(13))
    assert refused.value.code == "hall_closed"
    assert refused.value.params == {"hours": "08:30-12:00, 14:00-17:30"}


def test_admission_gives_priority_by_age_but_keeps_an_appointment() -> None:
    assert admit(RULES, OLD, "tax", [], Priority.NORMAL) is Priority.PRIORITY
    assert admit(RULES, YOUNG, "tax", [], Priority.NORMAL) is Priority.NORMAL
    assert admit(RULES, OLD, "tax", [], Priority.APPOINTMENT) is Priority.APPOINTMENT


def test_admission_refuses_a_second_live_ticket_of_the_same_service_per_person() -> None:
    e = engine()
    e.issue("tax", 1.0, "t1", identity=YOUNG.hash)
    with pytest.raises(EngineError) as refused:
        admit(RULES, YOUNG, "tax", e.tickets.values(), Priority.NORMAL)
    assert refused.value.code == "already_waiting"
    assert refused.value.params == {"number": "H001"}
    assert admit(RULES, OLD, "tax", e.tickets.values(), Priority.NORMAL) is Priority.PRIORITY
    e.call_next("1", 2.0)
    e.finish("1", 3.0)
    assert admit(RULES, YOUNG, "tax", e.tickets.values(), Priority.NORMAL) is Priority.NORMAL
