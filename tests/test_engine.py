"""The queue engine on its own: lifecycle rules by example, the contract's invariants by
hypothesis over arbitrary command sequences."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hall_server.core.engine import (
    TERMINAL,
    Engine,
    EngineError,
    Priority,
    Rules,
    ServiceDef,
    Status,
    TicketCalled,
    TicketIssued,
    WindowChanged,
    WindowDef,
    WindowStatus,
    event_from_dict,
)

SERVICES = [ServiceDef("a", "A"), ServiceDef("b", "B"), ServiceDef("c", "C")]
WINDOWS = [
    WindowDef("1", ("a", "b")),
    WindowDef("2", ("b", "a")),
    WindowDef("3", ("c",)),
    WindowDef("4", ("a", "b", "c")),
]


#: Clerks of the state machine (None: a command without a login, as the replay makes them).
STAFF = [None, "ann", "bob"]


def make_engine(**rules: int) -> Engine:
    return Engine(SERVICES, WINDOWS, Rules(**rules), day_of=lambda at: f"d{int(at // 100_000)}")


def issue(e: Engine, service: str, at: float, prio: Priority = Priority.NORMAL) -> str:
    ev = e.issue(service, at, token=f"tok{at}", priority=prio)
    return next(x for x in ev if isinstance(x, TicketIssued)).ticket_id


def called(e: Engine, window: str) -> str | None:
    return e.windows[window].current


# --- by example ------------------------------------------------------------------------------


def test_numbers_are_prefix_and_daily_sequence_per_service() -> None:
    e = make_engine()
    ids = [issue(e, "a", 1), issue(e, "a", 2), issue(e, "b", 3)]
    assert [e.tickets[i].number for i in ids] == ["A001", "A002", "B001"]


def test_new_day_restarts_numbering_and_expires_what_waited() -> None:
    e = make_engine()
    first = issue(e, "a", 1)
    issue(e, "a", 2)
    e.call_next("1", 3)
    events = e.issue("a", 100_001, token="next-day")
    types = [x.type for x in events]
    assert types == ["day_closed", "day_opened", "ticket_issued"]
    assert events[-1].number == "A001"
    changed = {t.id: t.status for t in e.take_changed()}
    assert changed[first] is Status.EXPIRED
    assert e.windows["1"].current is None


def test_close_day_expires_waiting_and_in_hand_tickets() -> None:
    e = make_engine()
    waiting, in_hand = issue(e, "c", 1), issue(e, "a", 2)
    e.call_next("1", 3)
    e.close_day(4)
    assert e.tickets[waiting].status is Status.EXPIRED
    assert e.tickets[in_hand].status is Status.EXPIRED
    assert e.waiting("c") == 0


def test_window_serves_its_first_service_before_the_others() -> None:
    e = make_engine()
    b = issue(e, "b", 1)
    a = issue(e, "a", 2)
    e.call_next("1", 3)
    assert called(e, "1") == a
    e.call_next("2", 4)
    assert called(e, "2") == b


def test_priority_goes_first_but_at_most_two_in_a_row_while_normal_waits() -> None:
    e = make_engine(max_priority_streak=2)
    normal = issue(e, "c", 1)
    high = [issue(e, "c", 2 + i, Priority.PRIORITY) for i in range(3)]
    order = []
    for i in range(4):
        e.call_next("3", 10 + i)
        order.append(called(e, "3"))
    assert order == [high[0], high[1], normal, high[2]]


def test_appointment_and_priority_are_merged_by_issue_time() -> None:
    e = make_engine()
    appt = issue(e, "c", 1, Priority.APPOINTMENT)
    prio = issue(e, "c", 2, Priority.PRIORITY)
    e.call_next("3", 3)
    assert called(e, "3") == appt
    e.call_next("3", 4)
    assert called(e, "3") == prio


def test_recall_three_times_marks_no_show() -> None:
    e = make_engine(max_recalls=2)
    t = issue(e, "c", 1)
    e.call_next("3", 2)
    assert [x.type for x in e.recall("3", 3)] == ["ticket_recalled"]
    assert [x.type for x in e.recall("3", 4)] == ["ticket_recalled"]
    assert [x.type for x in e.recall("3", 5)] == ["ticket_no_show"]
    assert e.tickets[t].status is Status.NO_SHOW
    assert e.tickets[t].recalls == 2
    assert e.windows["3"].current is None


def test_the_item_a_visitor_came_for_stays_with_the_ticket_through_a_transfer() -> None:
    e = make_engine()
    ev = e.issue("a", 1, token="t", item="A-012")
    t = next(x for x in ev if isinstance(x, TicketIssued))
    assert t.item == "A-012" and e.tickets[t.ticket_id].item == "A-012"
    e.call_next("1", 10)
    (moved,) = e.transfer("1", "c", 20)
    assert e.tickets[moved.successor_id].item == "A-012"
    replayed = make_engine()
    replayed.apply(event_from_dict(ev[-1].to_dict()))
    assert replayed.tickets[t.ticket_id].item == "A-012"


def test_transfer_keeps_number_token_and_issue_time_and_goes_ahead_of_later_tickets() -> None:
    e = make_engine()
    t = issue(e, "a", 1)
    later = issue(e, "c", 5)
    e.call_next("1", 10)
    (ev,) = e.transfer("1", "c", 20)
    old, new = e.tickets[t], e.tickets[ev.successor_id]
    assert old.status is Status.TRANSFERRED and old.successor == new.id
    assert (new.number, new.token, new.issued_at) == (old.number, old.token, old.issued_at)
    assert new.predecessor == old.id and new.status is Status.WAITING
    assert e.by_token_latest(old.token) is new
    e.call_next("3", 30)
    assert called(e, "3") == new.id
    assert e.tickets[later].status is Status.WAITING


def sent(e: Engine, window: str, at: float, by: str | None = None, **target: str) -> str:
    """Transfer what ``window`` holds; the successor's id."""
    (ev,) = e.transfer(window, target.pop("service", None), at, by=by, **target)
    return ev.successor_id


def test_transfer_to_window_is_called_next_there_ahead_of_its_ordinary_queue() -> None:
    e = make_engine()
    first = issue(e, "a", 1)
    c_normal, c_priority = issue(e, "c", 2), issue(e, "c", 3, Priority.PRIORITY)
    e.call_next("1", 10, by="ann")
    moved = sent(e, "1", 20, by="ann", to_window="3", note="材料已收，缺户口本复印件")
    t = e.tickets[moved]
    assert (t.number, t.service, t.status) == ("A001", "a", Status.WAITING)
    assert (t.to_window, t.note, t.sent_by, t.sent_from) == (
        "3",
        "材料已收，缺户口本复印件",
        "ann",
        "1",
    )
    assert e.position(t) == 0 and e.lines == {("window", "3"): [t.id]}
    assert e.waiting("a") == 0  # not in the service's queue: only window 3 calls it
    e.call_next("4", 25)  # window 4 serves a too, but the ticket was sent to window 3
    assert called(e, "4") == c_priority
    e.call_next("3", 30, by="bob")  # window 3 serves only c: its own line comes first
    assert called(e, "3") == moved and e.tickets[moved].window == "3"
    assert e.tickets[first].status is Status.TRANSFERRED
    e.call_next("3", 40, by="bob")
    assert called(e, "3") == c_normal


def test_tickets_sent_to_a_window_are_called_in_the_order_they_were_sent() -> None:
    e = make_engine()
    issue(e, "a", 1)
    issue(e, "b", 2)
    e.call_ticket("1", "A001", 10)
    e.call_ticket("2", "B001", 11)
    sent_first = sent(e, "2", 15, to_window="3")  # B001: issued second, sent first
    sent_second = sent(e, "1", 20, to_window="3")
    assert [e.tickets[x].number for x in e.lines[("window", "3")]] == ["B001", "A001"]
    assert e.position(e.tickets[sent_second]) == 1
    e.call_next("3", 30)
    assert called(e, "3") == sent_first


def test_transfer_to_a_colleague_follows_them_to_whichever_window_they_call_at() -> None:
    e = make_engine()
    issue(e, "a", 1)
    waiting_b = issue(e, "b", 2)
    e.call_next("1", 10, by="ann")
    moved = sent(e, "1", 20, by="ann", to_staff="carol", note="请核对房产证")
    assert e.tickets[moved].to_staff == "carol" and e.lines[("staff", "carol")] == [moved]
    e.call_next("2", 30, by="dave")  # someone else at a window serving a: not theirs
    assert called(e, "2") == waiting_b
    e.call_next("3", 40, by="carol")  # carol works window 3 today, which serves only c
    assert called(e, "3") == moved
    assert e.tickets[moved].window == "3" and e.tickets[moved].called_by == "carol"


def test_a_ticket_sent_to_someone_absent_waits_and_can_still_be_called_by_number() -> None:
    e = make_engine()
    issue(e, "a", 1)
    e.call_next("1", 10, by="ann")
    moved = sent(e, "1", 20, by="ann", to_staff="carol")
    e.call_next("4", 30, by="dave")
    assert called(e, "4") is None  # it waits for carol...
    e.call_ticket("4", "A001", 40, by="dave")  # ...unless a colleague takes it on purpose
    assert called(e, "4") == moved and e.lines == {}


def test_transfer_needs_one_target_and_never_sends_a_ticket_where_it_is() -> None:
    e = make_engine()
    issue(e, "a", 1)
    e.call_next("1", 10, by="ann")
    refusals = [
        ({"service": "b", "to_window": "3"}, "transfer_one_target"),
        ({}, "transfer_one_target"),
        ({"service": "a"}, "transfer_to_self"),  # its own service
        ({"to_window": "1"}, "transfer_to_self"),  # this window
        ({"to_staff": "ann"}, "transfer_to_self"),  # the clerk sending it
        ({"to_window": "9"}, "unknown_window"),
        ({"to_staff": ""}, "unknown_staff"),  # nobody: it would wait for any login-less call
        ({"service": "zz"}, "unknown_service"),
        ({"to_window": "3", "note": "备" * 201}, "note_too_long"),
    ]
    for target, code in refusals:
        with pytest.raises(EngineError) as err:
            sent(e, "1", 20, by="ann", **target)
        assert err.value.code == code, target
    e.set_window("3", WindowStatus.CLOSED, 21)
    with pytest.raises(EngineError) as err:
        sent(e, "1", 22, by="ann", to_window="3")
    assert err.value.code == "transfer_window_closed"
    assert e.tickets[called(e, "1") or ""].status is Status.CALLED  # nothing changed
    e.set_window("2", WindowStatus.PAUSED, 23)  # a paused window keeps it until it resumes
    moved = sent(e, "1", 24, by="ann", to_window="2", note="  " + "备" * 200 + "  ")
    assert e.tickets[moved].note == "备" * 200


def test_a_blank_note_is_no_note_and_the_note_survives_a_replay_of_the_log() -> None:
    e = make_engine()
    log = e.issue("a", 1, token="t") + e.call_next("1", 10, by="ann")
    log += e.transfer("1", None, 20, by="ann", to_window="2", note="  ")
    assert log[-1].note is None
    log += e.call_next("2", 30, by="bob")
    log += e.transfer("2", None, 40, by="bob", to_staff="carol", note="缺户口本复印件")
    replayed = make_engine()
    for ev in log:
        replayed.apply(event_from_dict(ev.to_dict()))
    (tid,) = replayed.lines[("staff", "carol")]
    t = replayed.tickets[tid]
    assert (t.note, t.sent_by, t.sent_from, t.number) == ("缺户口本复印件", "bob", "2", "A001")
    assert replayed.lines == e.lines


def test_a_ticket_in_a_windows_line_leaves_it_when_cancelled_or_at_closing() -> None:
    e = make_engine()
    issue(e, "a", 1)
    issue(e, "b", 2)
    e.call_next("1", 10)
    gone = sent(e, "1", 11, to_window="3")
    e.call_next("2", 12)
    stays = sent(e, "2", 13, to_staff="carol")
    e.cancel(gone, 14)
    assert e.tickets[gone].status is Status.CANCELLED and ("window", "3") not in e.lines
    e.close_day(20)
    assert e.tickets[stays].status is Status.EXPIRED and e.lines == {}


def test_finishing_without_a_called_ticket_is_a_conflict() -> None:
    e = make_engine()
    with pytest.raises(EngineError) as err:
        e.finish("1", 1)
    assert (err.value.kind, err.value.code) == ("conflict", "no_current_ticket")


def test_no_show_after_start_is_refused() -> None:
    e = make_engine()
    issue(e, "a", 1)
    e.call_next("1", 2)
    e.start("1", 3)
    with pytest.raises(EngineError) as err:
        e.no_show("1", 4)
    assert err.value.code == "invalid_state"


def test_call_next_finishes_the_ticket_in_hand() -> None:
    e = make_engine()
    first, second = issue(e, "a", 1), issue(e, "a", 2)
    e.call_next("1", 3)
    events = e.call_next("1", 4)
    assert [x.type for x in events] == ["ticket_finished", "ticket_called"]
    assert e.tickets[first].status is Status.DONE
    assert called(e, "1") == second


def test_call_next_with_nobody_waiting_calls_nobody() -> None:
    e = make_engine()
    issue(e, "a", 1)
    assert e.call_next("3", 2) == []
    assert called(e, "3") is None


def test_calling_a_specific_number_is_recorded_with_who_did_it() -> None:
    e = make_engine()
    issue(e, "a", 1)
    second = issue(e, "a", 2)
    (ev,) = e.call_ticket("1", "a002", 3, by="staff1")
    assert isinstance(ev, TicketCalled) and ev.specific and ev.by == "staff1"
    assert called(e, "1") == second


def test_paused_window_cannot_call_and_resumes() -> None:
    e = make_engine()
    issue(e, "a", 1)
    e.set_window("1", WindowStatus.PAUSED, 2)
    with pytest.raises(EngineError) as err:
        e.call_next("1", 3)
    assert err.value.code == "window_paused"
    e.set_window("1", WindowStatus.OPEN, 4)
    e.call_next("1", 5)
    assert called(e, "1") is not None


def test_a_pause_records_its_reason_until_the_window_resumes() -> None:
    e = make_engine()
    event = e.set_window("1", WindowStatus.PAUSED, 2, by="wang", reason="lunch")[-1]
    assert isinstance(event, WindowChanged) and event.reason == "lunch"
    assert e.windows["1"].pause_reason == "lunch"
    e.set_window("1", WindowStatus.OPEN, 3)
    assert e.windows["1"].pause_reason is None
    replayed = make_engine()  # the reason survives a replay of the log
    for logged in e.set_window("2", WindowStatus.PAUSED, 4, reason="meeting"):
        replayed.apply(event_from_dict(logged.to_dict()))
    assert replayed.windows["2"].pause_reason == "meeting"
    replayed.apply(event_from_dict(event.to_dict()))
    assert replayed.windows["1"].pause_reason == "lunch"


@pytest.mark.parametrize(
    ("status", "reason"),
    [(WindowStatus.PAUSED, "nap"), (WindowStatus.CLOSED, "lunch")],
)
def test_only_a_pause_takes_a_reason_and_only_a_known_one(
    status: WindowStatus, reason: str
) -> None:
    e = make_engine()
    with pytest.raises(EngineError) as err:
        e.set_window("1", status, 2, reason=reason)
    assert err.value.code == "invalid_pause_reason"
    assert e.windows["1"].status is WindowStatus.OPEN


def test_cancelled_ticket_leaves_the_queue() -> None:
    e = make_engine()
    t = issue(e, "c", 1)
    e.cancel(t, 2)
    assert e.waiting("c") == 0
    assert e.call_next("3", 3) == []
    assert e.tickets[t].status is Status.CANCELLED


def test_unknown_service_and_window_are_not_found() -> None:
    e = make_engine()
    with pytest.raises(EngineError) as err:
        e.issue("zz", 1, token="x")
    assert (err.value.kind, err.value.code) == ("not_found", "unknown_service")
    with pytest.raises(EngineError) as err:
        e.call_next("99", 1)
    assert err.value.code == "unknown_window"


def test_position_counts_people_called_before_a_ticket() -> None:
    e = make_engine()
    n1, n2 = issue(e, "c", 1), issue(e, "c", 2)
    p = issue(e, "c", 3, Priority.PRIORITY)
    assert [e.position(e.tickets[t]) for t in (p, n1, n2)] == [0, 1, 2]


# --- invariants under arbitrary sequences ---------------------------------------------------


class HallMachine(RuleBasedStateMachine):
    """Drives the engine with any sequence of commands and checks the contract's rules."""

    K = 2

    def __init__(self) -> None:
        super().__init__()
        self.e = make_engine(max_priority_streak=self.K, max_recalls=2)
        self.now = 0.0
        self.log: list = []
        self.calls: dict[str, int] = {}
        self.ended: dict[str, Status] = {}
        self.numbers: set[tuple[str, str]] = set()
        self.high_run = {w.id: 0 for w in WINDOWS}

    def run(self, command, *args, **kw) -> list:
        self.now += 1
        before = self.fingerprint()
        new_day = self.e.day_of(self.now) != self.e.day
        try:
            events = command(*args, at=self.now, **kw)
        except EngineError:
            if not new_day:
                assert self.fingerprint() == before, "a refused command changed the state"
            self.log.extend(self.e.flush())
            return []
        self.log.extend(events)
        for ev in events:
            if isinstance(ev, TicketCalled):
                self.calls[ev.ticket_id] = self.calls.get(ev.ticket_id, 0) + 1
                assert self.calls[ev.ticket_id] == 1, "a ticket was called twice"
            if isinstance(ev, TicketIssued):
                key = (self.e.day, ev.number)
                assert key not in self.numbers, "a number was issued twice in a day"
                self.numbers.add(key)
        return events

    def fingerprint(self) -> tuple:
        return (
            self.e.day,
            tuple((t.id, t.status, t.window, t.recalls) for t in self.e.tickets.values()),
            tuple((w.id, w.status, w.current, w.streak) for w in self.e.windows.values()),
            tuple((c, tuple(q.high), tuple(q.normal)) for c, q in self.e.queues.items()),
            tuple((k, tuple(line)) for k, line in sorted(self.e.lines.items())),
        )

    @rule(
        service=st.sampled_from(["a", "b", "c"]),
        prio=st.sampled_from(list(Priority)),
    )
    def issue(self, service: str, prio: Priority) -> None:
        self.run(self.e.issue, service, token=f"t{self.now}", priority=prio)

    @rule(window=st.sampled_from(["1", "2", "3", "4"]), by=st.sampled_from(STAFF))
    def call_next(self, window: str, by: str | None) -> None:
        w = self.e.windows[window]
        own = [
            *self.e.lines.get(("staff", by or ""), ()),
            *self.e.lines.get(("window", window), ()),
        ]
        chosen_service = next((s for s in w.services if self.e.waiting(s)), None)
        lanes = {}
        if chosen_service:
            q = self.e.queues[chosen_service]
            lanes = {"high": list(q.high), "normal": list(q.normal)}
        events = self.run(self.e.call_next, window, by=by)
        call = next((ev for ev in events if isinstance(ev, TicketCalled)), None)
        if call is None:
            if events or w.status is WindowStatus.OPEN:
                assert chosen_service is None and not own, "nobody called although someone waited"
            return
        t = self.e.tickets[call.ticket_id]
        if own:  # the clerk's own line, then the window's, before any service's queue
            assert t.id == own[0], "a ticket sent to this clerk or window was not called first"
            return
        assert t.service == chosen_service, "the window skipped its preferred service"
        lane = lanes["high" if t.high else "normal"]
        assert lane[0][2] == t.id, "a ticket was called ahead of an earlier one of its class"
        if t.high and lanes["normal"]:
            self.high_run[window] += 1
            assert self.high_run[window] <= self.K, "normal visitors starved"
        else:
            self.high_run[window] = 0

    @rule(window=st.sampled_from(["1", "2", "3", "4"]), data=st.data())
    def call_specific(self, window: str, data: st.DataObject) -> None:
        waiting = [t for t in self.e.tickets.values() if t.status is Status.WAITING]
        if waiting:
            t = data.draw(st.sampled_from(waiting))
            self.run(self.e.call_ticket, window, t.number)

    @rule(
        window=st.sampled_from(["1", "2", "3", "4"]),
        action=st.sampled_from(["recall", "start", "finish", "no_show"]),
    )
    def act(self, window: str, action: str) -> None:
        self.run(getattr(self.e, action), window)

    @rule(window=st.sampled_from(["1", "2", "3", "4"]), service=st.sampled_from(["a", "b", "c"]))
    def transfer(self, window: str, service: str) -> None:
        self.run(self.e.transfer, window, service)

    @rule(
        window=st.sampled_from(["1", "2", "3", "4"]),
        to=st.sampled_from(["1", "2", "3", "4"]),
        note=st.sampled_from([None, "材料已收，缺户口本复印件"]),
    )
    def transfer_to_window(self, window: str, to: str, note: str | None) -> None:
        self.run(self.e.transfer, window, None, to_window=to, note=note)

    @rule(
        window=st.sampled_from(["1", "2", "3", "4"]),
        by=st.sampled_from(STAFF),
        to=st.sampled_from(STAFF[1:]),
    )
    def transfer_to_staff(self, window: str, by: str | None, to: str) -> None:
        self.run(self.e.transfer, window, None, by=by, to_staff=to)

    @rule(window=st.sampled_from(["1", "2", "3", "4"]), status=st.sampled_from(list(WindowStatus)))
    def set_window(self, window: str, status: WindowStatus) -> None:
        self.run(self.e.set_window, window, status)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        waiting = [t for t in self.e.tickets.values() if t.status is Status.WAITING]
        if waiting:
            self.run(self.e.cancel, data.draw(st.sampled_from(waiting)).id)

    @precondition(lambda self: self.e.day is not None)
    @rule()
    def next_day(self) -> None:
        self.now = (self.now // 100_000 + 1) * 100_000
        self.high_run = dict.fromkeys(self.high_run, 0)
        self.run(self.e.issue, "a", token=f"t{self.now}")

    @invariant()
    def every_ticket_is_in_exactly_one_place(self) -> None:
        queued = [
            tid for q in self.e.queues.values() for lane in (q.high, q.normal) for *_, tid in lane
        ] + [tid for line in self.e.lines.values() for tid in line]
        assert len(queued) == len(set(queued)), "one ticket in two queues"
        assert all(self.e.lines.values()), "an empty own line was kept"
        in_hand = [w.current for w in self.e.windows.values() if w.current]
        assert len(in_hand) == len(set(in_hand)), "one ticket at two windows"
        for t in self.e.tickets.values():
            if t.status is Status.WAITING:
                assert t.id in queued
                if t.personal is not None:
                    assert t.id in self.e.lines[t.personal] and t.predecessor is not None
            elif t.status in (Status.CALLED, Status.SERVING):
                assert t.id in in_hand and self.e.windows[t.window].current == t.id
            else:
                assert t.status in TERMINAL and t.id not in queued and t.id not in in_hand
            if t.status is Status.TRANSFERRED:
                assert t.successor in self.e.tickets or t.day != self.e.day

    @invariant()
    def terminal_states_are_final(self) -> None:
        for t in self.e.tickets.values():
            if t.id in self.ended:
                assert t.status is self.ended[t.id], "a ticket left its terminal state"
            elif t.status in TERMINAL:
                self.ended[t.id] = t.status

    @invariant()
    def waiting_time_belongs_to_the_calling_window(self) -> None:
        for t in self.e.tickets.values():
            if t.called_at is not None:
                assert t.window is not None and t.called_at >= t.issued_at

    def teardown(self) -> None:
        """Replaying the event log into a fresh engine rebuilds exactly the same state."""
        fresh = make_engine(max_priority_streak=self.K, max_recalls=2)
        for ev in self.log:
            fresh.apply(ev)
        mine = {t.id: (t.status, t.window, t.number) for t in self.e.tickets.values()}
        theirs = {t.id: (t.status, t.window, t.number) for t in fresh.tickets.values()}
        assert mine == theirs
        assert [(w.status, w.current, w.streak) for w in self.e.windows.values()] == [
            (w.status, w.current, w.streak) for w in fresh.windows.values()
        ]
        assert self.e.lines == fresh.lines
        sent = {t.id: (t.to_window, t.to_staff, t.note, t.sent_by) for t in self.e.tickets.values()}
        assert sent == {
            t.id: (t.to_window, t.to_staff, t.note, t.sent_by) for t in fresh.tickets.values()
        }


HallMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_engine_keeps_the_queue_rules = HallMachine.TestCase


def test_a_no_show_can_be_taken_back_within_a_minute_and_is_called_again() -> None:
    e = make_engine()
    t = issue(e, "a", 1)
    e.call_next("1", 10)
    e.no_show("1", 20, by="wang")
    assert e.tickets[t].status is Status.NO_SHOW and called(e, "1") is None
    (undone,) = e.undo_no_show("1", 75, by="wang")
    assert undone.by == "wang" and undone.ticket_id == t
    assert e.tickets[t].status is Status.CALLED and called(e, "1") == t
    assert e.tickets[t].finished_at is None
    with pytest.raises(EngineError) as err:  # once only
        e.undo_no_show("1", 76)
    assert err.value.code == "nothing_to_undo"


def test_a_no_show_cannot_be_taken_back_late_or_over_someone_else() -> None:
    e = make_engine()
    first, second = issue(e, "a", 1), issue(e, "a", 2)
    e.call_next("1", 10)
    e.recall("1", 11)
    e.recall("1", 12)
    e.recall("1", 13)  # the third recall marks the no-show
    assert e.tickets[first].status is Status.NO_SHOW
    e.call_next("1", 20)
    with pytest.raises(EngineError) as err:
        e.undo_no_show("1", 30)
    assert err.value.code == "window_busy"
    e.finish("1", 40)
    with pytest.raises(EngineError) as err:
        e.undo_no_show("1", 13 + 61)
    assert err.value.code == "undo_too_late"
    assert e.tickets[first].status is Status.NO_SHOW and e.tickets[second].status is Status.DONE
