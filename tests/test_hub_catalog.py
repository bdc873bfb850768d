"""One catalog for the city: halls fetch what the hub publishes, apply the items of their level
for the services they have windows for, and keep the last good catalog when the hub is gone.
(The catalog's storage runs on both engines in test_hub_store/test_hub_api; the halls' side
is the same whatever the hub's engine, so this runs on SQLite.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from hall_server.config import load_config
from hall_server.network import CatalogRejected, items_for
from tests.hub_support import HubProcess, http, hub_cli
from tests.support import ServerProcess, add_demo_accounts, hall_toml, wait_until

CATALOG = {
    "services": [
        {"code": "a", "prefix": "A", "name": "社会保障"},
        {"code": "b", "prefix": "B", "name": "户籍"},
    ],
    "items": [
        {"code": "A-001", "name": "社会保障卡申领", "name_en": "Social security card",
         "service": "a", "levels": ["town", "village"], "online": True, "keywords": ["社保卡"]},
        {"code": "A-002", "name": "村级代办", "service": "a", "levels": ["village"],
         "online": False},
        {"code": "B-001", "name": "户口迁移", "service": "b", "levels": ["town"], "online": False},
    ],
}  # fmt: skip


def test_items_for_takes_the_halls_level_and_services_and_refuses_a_bad_catalog() -> None:
    got = items_for(CATALOG, "town", {"a"})
    assert [i.code for i in got["a"]] == ["A-001"]
    assert got["a"][0].keywords == ["社保卡"]
    with pytest.raises(CatalogRejected, match=r"items\[1\]\.levels"):
        items_for({**CATALOG, "items": [CATALOG["items"][0], {**CATALOG["items"][1],
                                                               "levels": ["moon"]}]},
                  "town", {"a"})  # fmt: skip


def test_a_hall_applies_the_published_catalog_and_keeps_it_without_the_hub(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "hub.db")
    token = hub_cli("hall", "add", "h1", "--name", "石滩镇", "--level", "town", "--db", db).strip()
    hub_cli("user", "add", "city", "--role", "city", "--db", db, stdin="city-pass\n")
    hub = HubProcess(db, tmp_path / "hub.log").start()
    (tmp_path / "hub.token").write_text(token)
    services = [{"code": "a", "prefix": "A", "name": "社会保障"},
                {"code": "b", "prefix": "B", "name": "户籍"}]  # fmt: skip
    toml = hall_toml("石滩镇", services, [["a"], ["a"]], hall_id="h1", level="town")
    toml += f'\n[network]\nhub = "{hub.url}"\ntoken_file = "{tmp_path / "hub.token"}"\n'
    toml += "push_every_s = 0.1\nstate_every_s = 0.3\n"
    (tmp_path / "hall.toml").write_text(toml)
    add_demo_accounts(tmp_path / "hall.db", load_config(tmp_path / "hall.toml"))
    hall = ServerProcess(tmp_path / "hall.db", tmp_path / "hall.toml").start()

    def items() -> dict[str, list[str]]:
        _, services = hall.request("GET", "/api/v1/services?items=1")
        return {s["code"]: [i["code"] for i in s["items"]] for s in services}

    try:
        assert items() == {"a": [], "b": []}
        _, login = http(hub.url, "POST", "/api/v1/auth/login",
                        {"username": "city", "password": "city-pass"})  # fmt: skip
        city = login["token"]
        status, out = http(hub.url, "POST", "/api/v1/catalog", CATALOG, city)
        assert status == 201, out
        # the town's item of a service it has windows for; not the village's, not b's
        wait_until(lambda: items() == {"a": ["A-001"], "b": []}, 20, "the catalog applied")

        def deployed() -> object:
            return http(hub.url, "GET", "/api/v1/catalog/deployed", token=city)[1]

        wait_until(lambda: deployed() == {"published": 1, "halls": [{"hall": "h1", "deployed": 1}]},
                   20, "the hub to know the deployed version")  # fmt: skip
        _, halls = http(hub.url, "GET", "/api/v1/halls")
        assert halls["halls"][0]["catalog_version"] == 1

        hub.kill()
        hall.kill()
        hall.start()  # no hub to ask: the last good catalog is applied again
        assert items() == {"a": ["A-001"], "b": []}
    finally:
        hall.stop()
        hub.stop()
