import subprocess
import sys

import pytest

from devices.address import parse_address


def test_serial_address_maps_to_a_device_path_and_baudrate():
    address = parse_address("serial:///dev/ttyUSB0?baudrate=57600")
    assert address.pyserial_url() == "/dev/ttyUSB0"
    assert address.baudrate(115200) == 57600
    assert parse_address("serial:///dev/ttyUSB0").baudrate(115200) == 115200


def test_windows_com_port_address():
    assert parse_address("serial://COM3").pyserial_url() == "COM3"


def test_tcp_address_maps_to_pyserial_socket_url():
    address = parse_address("tcp://127.0.0.1:9100")
    assert address.pyserial_url() == "socket://127.0.0.1:9100"
    assert address.host_port == ("127.0.0.1", 9100)


def test_usb_file_and_sim_addresses():
    assert parse_address("usb://04b8:0202").usb_ids == (0x04B8, 0x0202)
    assert parse_address("file:///tmp/out.bin").target == "/tmp/out.bin"
    assert parse_address("sim:").scheme == "sim"


@pytest.mark.parametrize(
    "bad", ["/dev/ttyUSB0", "lpt://1", "tcp://host", "usb://epson", "serial://", "file://"]
)
def test_malformed_addresses_are_rejected(bad):
    with pytest.raises(ValueError):
        parse_address(bad)


def test_file_and_usb_addresses_are_not_serial_ports():
    with pytest.raises(ValueError):
        parse_address("usb://04b8:0202").pyserial_url()


def test_package_exports_the_factories_without_loading_escpos_for_the_card_codec():
    code = (
        "import sys, devices.sam; assert 'escpos' not in sys.modules; "
        "import devices; assert callable(devices.open_printer) and callable(devices.open_reader)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
