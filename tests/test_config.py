"""Hall configuration: a bad file is refused with the key and the line at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from hall_server.config import DEMO_CONFIG, ConfigError, load_config, parse_config

GOOD = """\
[hall]
id = "town-01"
name = "某某镇公共服务中心"
hours = ["08:30-12:00", "14:00-17:30"]

[[service]]
code = "social-insurance"
prefix = "A"
name = "社会保障"

[[service]]
code = "tax"
prefix = "H"
name = "税务"

[[window]]
id = "1"
services = ["social-insurance", "tax"]

[[window]]
id = "2"
services = ["tax"]
"""


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "hall.toml")
    return str(err.value)


def test_the_demo_hall_has_the_catalogs_ten_services_and_eight_or_more_windows() -> None:
    config = load_config(DEMO_CONFIG)
    assert len(config.service) == 10 and len(config.window) >= 8 and len(config.kiosk) == 2
    assert sum(len(s.items) for s in config.service) == 128


def test_a_window_naming_an_unknown_service_is_refused_with_its_line() -> None:
    message = refused(GOOD.replace('services = ["tax"]', 'services = ["taxes"]'))
    assert message == "hall.toml: window[1].services (line 22): unknown service 'taxes'"


def test_a_bad_prefix_names_the_service_and_line() -> None:
    message = refused(GOOD.replace('prefix = "H"', 'prefix = "h1"'))
    assert message.startswith("hall.toml: service[1].prefix (line 13): ")


def test_bad_opening_hours_are_refused() -> None:
    message = refused(GOOD.replace('"14:00-17:30"', '"17:30-14:00"'))
    assert "hall.hours (line 4)" in message and "ends before it starts" in message


def test_duplicate_window_ids_are_refused() -> None:
    message = refused(GOOD.replace('id = "2"', 'id = "1"'))
    assert "window[1].id" in message and "duplicate '1'" in message


def test_a_toml_syntax_error_gives_its_line() -> None:
    message = refused(GOOD.replace('name = "税务"', 'name = "税务'))
    assert message.startswith("hall.toml: ") and "line 14" in message


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "missing.toml")
    assert "cannot read" in str(err.value)


def test_unknown_keys_are_warned_about_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    config = parse_config(GOOD.replace('id = "town-01"', 'id = "town-01"\ncolour = "red"'))
    assert config.hall.id == "town-01"
    assert "[hall] colour is not a known key" in caplog.text
