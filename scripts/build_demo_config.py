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


# What to bring (申请材料) for the items people book most, as a town hall's guide lists them.
ID = "本人居民身份证原件"
MATERIALS = {
    "A-011": [ID, "近期免冠彩色证件照（白底）"],
    "A-012": [ID, "原社会保障卡（换领时）", "近期免冠彩色证件照（白底，可现场拍摄）"],
    "A-008": [ID, "居民户口簿", "职工档案", "社会保障卡"],
    "B-010": [ID, "社会保障卡", "医疗费用发票原件", "费用明细清单", "出院记录或门诊病历"],
    "B-011": [ID, "结婚证", "出生医学证明", "医疗费用发票"],
    "C-002": ["原居民身份证", "居民户口簿"],
    "C-003": ["居民户口簿", "近期免冠彩色证件照（可现场拍摄）"],
    "C-010": [ID, "原居民户口簿（换领时）", "户主或本人的申请"],
    "E-001": [ID, "居民户口簿", "二级以上医院残疾评定材料", "近期免冠两寸照片 2 张"],
    "F-009": [ID, "不动产权证书（换发时）", "遗失声明（补发时）"],
    "H-007": [ID, "收入、专项附加扣除等相关凭证"],
    "J-003": [ID, "购房合同或不动产权证书", "本人银行卡"],
}


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
        'address = "示范镇人民路 88 号 便民服务中心一楼"',
        'address_en = "1F, 88 Renmin Road, Demo Town"',
        'map_url = "https://uri.amap.com/search?keyword=%E7%A4%BA%E8%8C%83%E9%95%87%E4%BE%BF%E6%B0%91%E6%9C%8D%E5%8A%A1%E4%B8%AD%E5%BF%83"',
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
                f"mean_service_min = {it['mean_service_min']}"
                + (
                    ", materials = [" + ", ".join(q(m) for m in MATERIALS[it["code"]]) + "]"
                    if it["code"] in MATERIALS
                    else ""
                )
                + " },"
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
