import asyncio
import socket

import pytest
from escpos.printer import Dummy, Usb
from PIL import Image

from devices.escpos_ticket import TicketFormat, TicketPrint, render_ticket
from devices.printer import Printer, PrinterError, PrintQueue, open_printer
from devices.sim.links import PtyLink, TcpLink
from devices.sim.printer_sim import PrinterSimulator

TICKET = TicketPrint(
    hall_name="朝阳区政务服务中心",
    service_name="社保业务",
    number="A003",
    ahead=3,
    eta_text="约15分钟",
    issued_at_text="2024-05-06 09:31",
    qr_url="https://hall.example/p/7f3a9c",
    footer="请留意叫号（过号作废）",
)
FAST = {"timeout": 0.3, "settle": 0}


def tickets_with(sim, number):
    return [t for t in sim.complete_tickets() if any(line.text == number for line in t.lines)]


@pytest.fixture
def sim():
    return PrinterSimulator()


@pytest.fixture
def pty_printer(sim):
    with PtyLink(sim) as link:
        printer = Printer(link.address, **FAST)
        yield printer
        printer.close()


@pytest.fixture
def tcp_printer(sim):
    with TcpLink(sim) as link:
        printer = Printer(link.address, **FAST)
        yield printer
        printer.close()


def test_ticket_bytes_hold_number_service_name_and_qr_in_gb18030():
    data = render_ticket(TICKET)
    assert data.startswith(b"\x1b@")
    assert "社保业务".encode("gb18030") in data and b"A003" in data
    assert "预计等候：".encode("gb18030") in data  # full-width colon survives
    url = TICKET.qr_url.encode()
    store = b"\x1d(k" + (len(url) + 3).to_bytes(2, "little") + b"1P0" + url
    assert store in data and b"\x1d(k\x03\x001Q0" in data  # GS ( k store, then print
    assert b"\x1d(k\x04\x001A2\x00" in data  # model 2
    assert data.endswith(b"\x1dV\x01")  # partial cut
    assert b"\x1bt" not in data  # no code-page switches


def test_python_escpos_text_loses_lone_fullwidth_punctuation():
    # Why escpos_ticket encodes text itself; if this starts failing, upstream fixed it.
    p = Dummy()
    p.text("（")
    assert p.output.endswith(b"?")


def test_ticket_printed_over_a_pty_has_large_number_and_progress_qr(sim, pty_printer):
    pty_printer.print_ticket(TICKET)
    [ticket] = sim.complete_tickets()
    lines = {line.text: line for line in ticket.lines}
    assert lines["A003"].size == (4, 4) and lines["A003"].bold
    assert lines["社保业务"].size == (2, 2)
    assert lines["朝阳区政务服务中心"].align == "center"
    assert "前面还有 3 人" in lines and "预计等候：约15分钟" in lines
    assert "取号时间：2024-05-06 09:31" in lines and TICKET.footer in lines
    assert ticket.qr_codes == [TICKET.qr_url]
    assert ticket.cut == "partial"
    assert sim.unknown == []


def test_network_printer_over_loopback_tcp_prints_with_a_full_cut(sim):
    with TcpLink(sim) as link:
        printer = Printer(link.address, cut="full", **FAST)
        printer.print_ticket(TICKET)
        printer.close()
    [ticket] = sim.complete_tickets()
    assert ticket.cut == "full" and ticket.qr_codes == [TICKET.qr_url]


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_gbk_and_utf8_settings_encode_every_line_that_way(encoding):
    sim = PrinterSimulator(encoding=encoding)
    with TcpLink(sim) as link:
        printer = Printer(link.address, encoding=encoding, **FAST)
        printer.print_ticket(TICKET)
        printer.close()
    assert "社保业务".encode(encoding) in sim.received
    [ticket] = sim.complete_tickets()
    assert "社保业务" in ticket.text and TICKET.footer in ticket.text


def test_character_outside_gbk_prints_as_question_mark_only_in_gbk():
    rare = TicketPrint(**{**TICKET.__dict__, "hall_name": "𠮷祥村便民服务站"})
    assert "𠮷".encode("gb18030") in render_ticket(rare)
    assert b"?" + "祥".encode("gbk") in render_ticket(rare, TicketFormat(encoding="gbk"))


def test_chinese_mode_sends_fs_and_and_sizes_chinese_text_with_fs_bang():
    sim = PrinterSimulator(needs_chinese_mode=True)
    with TcpLink(sim) as link:
        printer = Printer(link.address, chinese_mode=True, **FAST)
        printer.print_ticket(TICKET)
        printer.close()
    assert b"\x1b@\x1c&" in sim.received  # init, then Chinese mode
    [ticket] = sim.complete_tickets()
    service = next(line for line in ticket.lines if line.text == "社保业务")
    assert service.chinese_size == (2, 2) and service.size == (2, 2)


def test_without_chinese_mode_such_a_printer_prints_mojibake():
    sim = PrinterSimulator(needs_chinese_mode=True)
    with TcpLink(sim) as link:
        printer = Printer(link.address, **FAST)
        printer.print_ticket(TICKET)
        printer.close()
    [ticket] = sim.complete_tickets()
    assert "社保业务" not in ticket.text and "A003" in ticket.text


@pytest.mark.parametrize(
    ("sim_state", "status"),
    [("ok", "ok"), ("near_end", "paper_low"), ("out", "paper_out"), ("offline", "offline")],
)
def test_status_from_dle_eot_over_a_pty(sim, pty_printer, sim_state, status):
    sim.set_state(sim_state)
    assert pty_printer.status() == status


def test_offline_printer_that_stays_silent_is_detected(sim, tcp_printer):
    sim.set_state("offline")
    assert tcp_printer.status() == "offline"
    assert "no answer" in tcp_printer.detail
    with pytest.raises(PrinterError) as failure:
        tcp_printer.print_ticket(TICKET)
    assert failure.value.reason == "offline"
    sim.set_state("ok")
    assert sim.complete_tickets() == [] and tcp_printer.status() == "ok"


def test_nothing_listening_is_offline():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    printer = Printer(f"tcp://127.0.0.1:{port}", **FAST)
    assert printer.status() == "offline"


def test_printer_that_restarts_is_found_again(sim):
    link = TcpLink(sim)
    printer = Printer(link.address, **FAST)
    assert printer.status() == "ok"
    link.close()
    assert printer.status() == "offline"
    with TcpLink(sim, port=link.port):
        printer.print_ticket(TICKET)
        printer.close()
    assert len(sim.complete_tickets()) == 1


def test_paper_out_mid_job_fails_and_reprint_after_refill_prints_exactly_once(sim, pty_printer):
    jobs = PrintQueue(pty_printer)
    sim.run_out_after(3)
    job = jobs.submit(TICKET)
    job = jobs.wait(job.id, timeout=5)
    assert (job.state, job.reason) == ("failed", "paper_out")
    assert pty_printer.status() == "paper_out"
    [torn] = sim.tickets
    assert torn.cut is None and torn.qr_codes == [] and len(torn.lines) == 3

    sim.set_state("ok")  # paper refilled
    jobs.reprint(job.id)
    job = jobs.wait(job.id, timeout=5)
    assert (job.state, job.attempts) == ("done", 2)
    assert len(tickets_with(sim, "A003")) == 1
    jobs.close()


def test_paper_out_before_printing_sends_no_ticket_bytes(sim, tcp_printer):
    sim.set_state("out")
    jobs = PrintQueue(tcp_printer)
    job = jobs.wait(jobs.submit(TICKET).id, timeout=5)
    assert (job.state, job.reason) == ("failed", "paper_out")
    assert bytes(sim.received).replace(b"\x10\x04\x01", b"").replace(b"\x10\x04\x04", b"") == b""
    jobs.close()


def test_each_job_id_prints_at_most_once(sim, tcp_printer):
    jobs = PrintQueue(tcp_printer)
    first = jobs.submit(TICKET, job_id="ticket-42")
    again = jobs.submit(TICKET, job_id="ticket-42")
    assert again.id == first.id
    assert jobs.wait("ticket-42", timeout=5).state == "done"
    assert jobs.submit(TICKET, job_id="ticket-42").state == "done"
    jobs.close()
    assert len(tickets_with(sim, "A003")) == 1
    with pytest.raises(KeyError):
        jobs.reprint("no-such-job")


def test_done_job_can_be_reprinted_explicitly(sim, tcp_printer):
    jobs = PrintQueue(tcp_printer)
    job = jobs.submit(TICKET)
    jobs.wait(job.id, timeout=5)
    jobs.reprint(job.id)
    assert jobs.wait(job.id, timeout=5).attempts == 2
    jobs.close()
    assert len(tickets_with(sim, "A003")) == 2


def test_file_printer_appends_raw_bytes(tmp_path):
    out = tmp_path / "tickets.bin"
    out.write_bytes(b"earlier")
    printer = Printer(f"file://{out}", **FAST)
    printer.print_ticket(TICKET)
    printer.print_ticket(TICKET)
    printer.close()
    data = out.read_bytes()
    assert data.startswith(b"earlier") and data.count(render_ticket(TICKET)) == 2


def test_sim_address_prints_in_process():
    printer = open_printer("sim:", encoding="gbk", **FAST)
    try:
        printer.print_ticket(TICKET)
        [ticket] = printer.simulator.complete_tickets()
        assert "社保业务" in ticket.text
    finally:
        printer.close()


async def test_queue_is_usable_from_asyncio(sim, tcp_printer):
    jobs = PrintQueue(tcp_printer)
    updates = jobs.updates()
    pending = asyncio.ensure_future(anext(updates))
    await asyncio.sleep(0)  # let the subscription start before submitting
    job = jobs.submit(TICKET)
    assert (await asyncio.wait_for(pending, 5)).id == job.id
    done = await jobs.wait_async(job.id, timeout=5)
    assert done.state == "done"
    await updates.aclose()
    jobs.close()


def test_simulator_decodes_a_stream_fed_one_byte_at_a_time():
    sim = PrinterSimulator()
    for b in render_ticket(TICKET):
        sim.feed(bytes([b]))
    [ticket] = sim.complete_tickets()
    assert ticket.qr_codes == [TICKET.qr_url] and "社保业务" in ticket.text


def test_simulator_decodes_raster_images_and_records_unknown_commands():
    p = Dummy()
    p.image(Image.new("1", (64, 24)), impl="bitImageRaster")
    p._raw(b"\x1bZ")  # not something we model
    p.cut()
    sim = PrinterSimulator()
    sim.feed(p.output)
    [ticket] = sim.complete_tickets()
    assert ticket.images == [(64, 24)]
    assert sim.unknown == [b"\x1bZ"]


@pytest.mark.skipif(Usb.is_usable(), reason="pyusb installed: would look for real hardware")
def test_usb_printer_without_pyusb_is_offline_with_the_reason():
    printer = Printer("usb://04b8:0202", **FAST)
    assert printer.status() == "offline" and "pyusb" in printer.detail
