"""Device addresses as written on the command line and in config (see devices.md).

``serial:///dev/ttyUSB0?baudrate=115200`` (``serial://COM3`` on Windows), ``tcp://host:port``,
``usb://04b8:0202``, ``file:///path/out.bin`` and ``sim:``. One parser serves every driver so
an address means the same thing for a printer and a reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

SCHEMES = ("serial", "tcp", "usb", "file", "sim")


@dataclass(frozen=True)
class DeviceAddress:
    """A parsed address; `target` is the path, ``host:port``, ``vid:pid`` or empty."""

    scheme: str
    target: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def host_port(self) -> tuple[str, int]:
        """Host and port of a ``tcp://`` address."""
        host, _, port = self.target.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def usb_ids(self) -> tuple[int, int]:
        """Vendor and product id of a ``usb://`` address."""
        vendor, _, product = self.target.partition(":")
        return int(vendor, 16), int(product, 16)

    def pyserial_url(self) -> str:
        """What `serial.serial_for_url` takes: a device path or ``socket://host:port``."""
        if self.scheme == "serial":
            return self.target
        if self.scheme == "tcp":
            return f"socket://{self.target}"
        raise ValueError(f"{self.scheme}: addresses are not serial ports")

    def baudrate(self, default: int) -> int:
        """The ``?baudrate=`` of a serial address, else `default`."""
        return int(self.params.get("baudrate", default))


def parse_address(address: str) -> DeviceAddress:
    """Parse and validate an address; raises ValueError with the accepted forms."""
    parts = urlsplit(address)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"unknown device address {address!r}; use one of {', '.join(SCHEMES)}")
    params = dict(parse_qsl(parts.query))
    if scheme == "sim":
        return DeviceAddress("sim", params=params)
    # serial://COM3 carries the port in netloc, serial:///dev/ttyUSB0 in path.
    target = parts.netloc + parts.path if scheme in ("serial", "file") else parts.netloc
    if not target:
        raise ValueError(f"device address {address!r} names no device")
    result = DeviceAddress(scheme, target, params)
    try:
        if scheme == "tcp":
            result.host_port  # noqa: B018 - validates now rather than at first connect
        elif scheme == "usb":
            result.usb_ids  # noqa: B018
    except ValueError:
        raise ValueError(f"malformed device address {address!r}") from None
    return result
