import asyncio
import os
from dataclasses import replace

import pytest

from devices import sam
from devices.reader import CardEvent, CardReader, StateEvent, open_reader
from devices.sam import Op
from devices.sim import cards
from devices.sim.links import PtyLink, TcpLink
from devices.sim.reader_sim import GARBAGE, ReaderSimulator
from tests.support import wait_until

FAST = {"poll_interval": 0.02, "reply_timeout": 0.3}


@pytest.fixture
def sim():
    return ReaderSimulator()


@pytest.fixture
def pty_link(sim):
    with PtyLink(sim) as link:
        yield link


@pytest.fixture
def reader(pty_link, recorder):
    r = CardReader(pty_link.address, on_card=recorder.on_card, on_state=recorder.on_state, **FAST)
    with r:
        recorder.wait_for(lambda: recorder.state == "ok")
        yield r


@pytest.mark.parametrize("card", cards.SAMPLES, ids=lambda c: c.card_type.value)
def test_reads_each_card_type_over_a_pty(sim, reader, recorder, card):
    photo = cards.sample_photo(seed=3)
    sim.place(card, photo=photo)
    recorder.wait_for(lambda: recorder.cards)
    assert recorder.cards == [replace(card, photo=photo)]
    assert sim.received[Op.SELECT_CARD] == 1 and sim.received[Op.READ_TEXT_PHOTO] == 1


def test_reads_a_card_over_loopback_tcp(sim, recorder):
    with TcpLink(sim) as link, CardReader(link.address, on_card=recorder.on_card, **FAST):
        sim.place(cards.RESIDENT)
        recorder.wait_for(lambda: recorder.cards)
    assert recorder.cards[0].id_number == "11010519491231002X"


def test_serial_address_with_baudrate_and_wire_time(recorder):
    sim = ReaderSimulator(baudrate=115200, wire_time=True)
    with PtyLink(sim) as link:
        address = f"{link.address}?baudrate=115200"
        with CardReader(address, on_card=recorder.on_card, **FAST):
            sim.place(cards.HMT_RESIDENCE)
            recorder.wait_for(lambda: recorder.cards)
    assert recorder.cards[0].pass_number == "H12345678"


def test_card_held_for_ten_polls_fires_once(sim, reader, recorder):
    sim.place(cards.RESIDENT)
    recorder.wait_for(lambda: recorder.cards)
    finds = sim.received[Op.FIND_CARD]
    wait_until(lambda: sim.received[Op.FIND_CARD] >= finds + 10, what="ten more polls")
    assert len(recorder.cards) == 1
    assert sim.received[Op.READ_TEXT_PHOTO] == 1


def test_card_removed_and_put_back_fires_again(sim, reader, recorder):
    sim.place(cards.RESIDENT)
    recorder.wait_for(lambda: len(recorder.cards) == 1)
    sim.remove()
    finds = sim.received[Op.FIND_CARD]
    wait_until(lambda: sim.received[Op.FIND_CARD] >= finds + 2, what="polls without card")
    sim.place(cards.RESIDENT)
    recorder.wait_for(lambda: len(recorder.cards) == 2)


def test_garbage_in_the_stream_is_skipped(sim, reader, recorder):
    sim.inject("garbage", times=6)
    sim.place(cards.FOREIGN_PERMANENT)
    recorder.wait_for(lambda: recorder.cards)
    wait_until(lambda: sim.pending_faults() == 0, what="all garbage sent")
    wait_until(lambda: reader.counters["garbage_bytes"] == 6 * len(GARBAGE), what="skipped")
    assert recorder.cards[0].english_name == "SMITH, ANNA MARIE"
    assert recorder.state == "ok"


def test_bad_checksum_reply_is_dropped_and_the_read_retried(sim, reader, recorder):
    sim.inject("bad_checksum", op=Op.READ_TEXT_PHOTO)
    sim.place(cards.RESIDENT)
    recorder.wait_for(lambda: recorder.cards)
    assert reader.counters["checksum_errors"] == 1
    assert sim.received[Op.READ_TEXT_PHOTO] == 2
    assert len(recorder.cards) == 1 and recorder.state == "ok"


def test_checksum_errors_on_every_retry_report_error_then_recover(sim, reader, recorder):
    sim.inject("bad_checksum", op=Op.FIND_CARD, times=3)
    recorder.wait_for(lambda: recorder.state == "error")
    assert "corrupted" in recorder.states[-1][1]
    recorder.wait_for(lambda: recorder.state == "ok")


def test_failed_read_reports_error_and_the_next_poll_reads_the_card(sim, reader, recorder):
    sim.inject("read_failed")
    sim.place(cards.RESIDENT)
    recorder.wait_for(lambda: recorder.cards)
    assert ("error", "read card: card_read_failed") in recorder.states
    assert recorder.state == "ok" and len(recorder.cards) == 1


def test_slow_read_within_the_timeout_still_arrives(sim, reader, recorder):
    sim.slow_s = 0.2
    sim.inject("slow")
    sim.place(cards.RESIDENT)
    recorder.wait_for(lambda: recorder.cards)
    assert sim.received[Op.READ_TEXT_PHOTO] == 1
    assert reader.counters["timeouts"] == 0


def test_slow_read_past_the_timeout_is_retried_without_a_double_event(sim, reader, recorder):
    sim.slow_s = 0.5
    sim.inject("slow")
    sim.place(cards.RESIDENT)
    recorder.wait_for(lambda: recorder.cards)
    finds = sim.received[Op.FIND_CARD]
    wait_until(lambda: sim.received[Op.FIND_CARD] >= finds + 5, what="more polls")
    assert len(recorder.cards) == 1
    assert reader.counters["timeouts"] >= 1


def test_silent_reader_goes_offline_and_recovers(sim, pty_link, recorder):
    settings = {**FAST, "reply_timeout": 0.05, "retries": 1}
    with CardReader(pty_link.address, on_state=recorder.on_state, **settings) as reader:
        recorder.wait_for(lambda: recorder.state == "ok")
        sim.inject("no_reply", times=10_000)
        recorder.wait_for(lambda: recorder.state == "offline")
        assert recorder.states[-1] == ("offline", "reader does not answer")
        assert reader.counters["silent_polls"] >= reader.silent_polls
        sim.clear_faults()
        recorder.wait_for(lambda: recorder.state == "ok")


def test_invalid_check_digit_is_reported_on_the_card(sim, reader, recorder):
    sim.place(replace(cards.RESIDENT, id_number="110105194912310021"))
    recorder.wait_for(lambda: recorder.cards)
    assert recorder.cards[0].valid_check_digit is False


def test_unreadable_text_block_reports_error(sim, reader, recorder):
    text = bytearray(sam.encode_text(cards.RESIDENT))
    text[36:52] = "1949XX31".encode("utf-16-le")
    sim.place_text(bytes(text))
    recorder.wait_for(lambda: recorder.state == "error")
    assert "birth_date" in recorder.states[-1][1]
    assert recorder.cards == []


def test_unplugged_serial_adapter_goes_offline_and_comes_back(tmp_path, recorder):
    # Like udev's /dev/serial/by-id links: the name stays, the pty behind it changes.
    alias = tmp_path / "ttyREADER"
    sim = ReaderSimulator()
    link = PtyLink(sim)
    alias.symlink_to(link.path)
    settings = {**FAST, "backoff": (0.02, 0.1)}
    with CardReader(
        f"serial://{alias}", on_state=recorder.on_state, on_card=recorder.on_card, **settings
    ):
        recorder.wait_for(lambda: recorder.state == "ok")
        link.close()
        recorder.wait_for(lambda: recorder.state == "offline")
        alias.unlink()
        sim2 = ReaderSimulator()
        with PtyLink(sim2) as link2:
            alias.symlink_to(link2.path)
            sim2.place(cards.RESIDENT)
            recorder.wait_for(lambda: recorder.cards)
            assert recorder.state == "ok"


def test_tcp_reader_that_goes_away_comes_back(sim, recorder):
    link = TcpLink(sim)
    port = link.port
    settings = {**FAST, "backoff": (0.02, 0.1)}
    with CardReader(link.address, on_state=recorder.on_state, on_card=recorder.on_card, **settings):
        recorder.wait_for(lambda: recorder.state == "ok")
        link.close()
        recorder.wait_for(lambda: "cannot open" in recorder.states[-1][1])
        with TcpLink(sim, port=port):
            sim.place(cards.RESIDENT)
            recorder.wait_for(lambda: recorder.cards)
            assert recorder.state == "ok"


def test_missing_port_is_offline_with_the_reason(tmp_path, recorder):
    missing = tmp_path / "ttyUSB9"
    with CardReader(f"serial://{missing}", on_state=recorder.on_state, **FAST):
        recorder.wait_for(lambda: recorder.state == "offline")
    assert "cannot open" in recorder.states[-1][1]


async def test_events_async_iterator_yields_state_then_card(sim, pty_link):
    with CardReader(pty_link.address, **FAST) as reader:
        events = reader.events()
        first = await anext(events)
        assert isinstance(first, StateEvent)
        sim.place(cards.RESIDENT)
        async with asyncio.timeout(5):
            async for event in events:
                if isinstance(event, CardEvent):
                    break
        await events.aclose()
    assert event.card.name == "张三丰"


def test_sim_address_starts_an_in_process_simulator(recorder):
    reader = open_reader("sim:", on_card=recorder.on_card, **FAST)
    try:
        reader.simulator.place(cards.RESIDENT)
        recorder.wait_for(lambda: recorder.cards)
    finally:
        reader.stop()


def test_pty_link_path_is_a_real_tty(pty_link):
    fd = os.open(pty_link.path, os.O_RDWR | os.O_NOCTTY)
    try:
        assert os.isatty(fd)
    finally:
        os.close(fd)
