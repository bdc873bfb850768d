"""Builds hall_server/data/demo-hall.toml from the town service catalog in ../shared/spec.

The demo hall ships inside the package so that `hall-server demo` runs without the catalog;
run this again when the catalog changes.
"""

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT.parent / "shared" / "spec" / "catalog-town.toml"
OUT = ROOT / "hall_server" / "data" / "demo-hall.toml"

# Window -> services in order of preference: a typical town centre's layout.
WINDOWS = [
    ("1", ["social-insurance", "medical-insurance"]),
    ("2", ["social-insurance", "medical-insurance"]),
    ("3", ["medical-insurance", "social-insurance"]),
    ("4", ["household-registration"]),
    ("5", ["household-registration", "civil-affairs"]),
    ("6", ["civil-affairs", "disability-health"]),
    ("7", ["real-estate"]),
    ("8", ["business", "tax"]),
    ("9", ["tax", "business"]),
    ("10", ["general", "help-desk", "disability-health"]),
    ("11", ["help-desk", "general"]),
]


def q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main() -> None:
    catalog = tomllib.loads(CATALOG.read_text(encoding="utf-8"))
    out = [
        "# Demo hall built from shared/spec/catalog-town.toml by scripts/build_demo_config.py.",
        "[hall]",
        'id = "demo-town"',
        'name = "示范镇公共服务中心"',
        'name_en = "Demo Town Public Service Center"',
        'level = "town"',
        'timezone = "Asia/Shanghai"',
        'hours = ["00:00-24:00"]',
        "priority_age = 60",
        "",
        "[queue]",
        "max_priority_streak = 2",
        "max_recalls = 2",
        "",
        "# The demo hall takes tickets around the clock; appointments keep office hours.",
        "[appointments]",
        'hours = ["08:30-12:00", "14:00-17:30"]',
        "",
    ]
    for c in catalog["category"]:
        out += [
            "[[service]]",
            f"code = {q(c['code'])}",
            f"prefix = {q(c['prefix'])}",
            f"name = {q(c['name'])}",
            f"name_en = {q(c['name_en'])}",
            f"target_wait_min = {c['target_wait_min']}",
            f"mean_service_min = {c['mean_service_min']}",
            f"share = {c['share']}",
            f"alarm_waiting = {max(8, round(c['share'] * 60))}",
            f"alarm_wait_min = {c['target_wait_min']}",
            "items = [",
        ]
        for it in c["items"]:
            out.append(
                f"  {{ code = {q(it['code'])}, name = {q(it['name'])}, "
                f"name_en = {q(it['name_en'])}, online = {str(it['online']).lower()}, "
                f"mean_service_min = {it['mean_service_min']} }},"
            )
        out += ["]", ""]
    for wid, services in WINDOWS:
        out += [
            "[[window]]",
            f"id = {q(wid)}",
            f'name = "{wid}号窗口"',
            f'name_en = "Window {wid}"',
            "services = [" + ", ".join(q(s) for s in services) + "]",
            "",
        ]
    out += [
        "[[kiosk]]",
        'id = "k1"',
        'name = "大厅入口"',
        'printer = "sim:"',
        'reader = "sim:"',
        "",
    ]
    out += ["[[kiosk]]", 'id = "k2"', 'name = "二楼"', 'printer = "sim:"', 'reader = "sim:"', ""]
    OUT.write_text("\n".join(out), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
