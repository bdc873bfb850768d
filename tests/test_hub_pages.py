"""The hub pages' rules that need no browser: the 监督考核 ranking, the CSV export's formula
guard, and the demo city's shape and catalog (the work plan's "1+21+N")."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from city_hub.demo import catalog, network
from city_hub.pages import MEASURES, csv_cell, rank
from hall_server.network import check_catalog, items_for


def row(hall: str, **measures: float | None) -> dict:
    return {"hall": hall, **{k: measures.get(k) for k in MEASURES}}


def test_rank_is_the_mean_place_over_the_measures_each_hall_has() -> None:
    rows = [
        row("a", wait_p90_s=60, service_level=0.9, no_show_rate=0.1, satisfaction=0.9,
            followups_overdue=0),
        row("b", wait_p90_s=30, service_level=0.8, no_show_rate=0.1, satisfaction=None,
            followups_overdue=2),
        row("c"),
    ]  # fmt: skip
    rank(rows)
    by = {r["hall"]: r for r in rows}
    # a: wait 2nd, level 1st, no-show 1st (tie), satisfaction 1st, overdue 1st -> 6/5
    assert by["a"]["score"] == 1.2 and by["a"]["rank"] == 1
    # b: wait 1st, level 2nd, no-show 1st (tie), overdue 2nd -> 6/4
    assert by["b"]["score"] == 1.5 and by["b"]["rank"] == 2
    assert by["c"]["score"] is None and by["c"]["rank"] is None
    assert [r["hall"] for r in rows] == ["a", "b", "c"]  # unranked last


measure = st.one_of(st.none(), st.floats(0, 1, allow_nan=False))


@given(st.lists(st.fixed_dictionaries({k: measure for k in MEASURES}), max_size=12))
def test_ranks_start_at_one_and_are_ordered_by_score(measures: list[dict]) -> None:
    rows = [{"hall": f"h{i}", **m} for i, m in enumerate(measures)]
    rank(rows)
    scored = [r for r in rows if r["score"] is not None]
    assert [r["rank"] for r in scored] == sorted(r["rank"] for r in scored)
    if scored:
        assert scored[0]["rank"] == 1
    assert all(r["rank"] is None for r in rows[len(scored) :])


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted() -> None:
    for bad in ("=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(bad) == "'" + bad
    assert csv_cell("东湖镇公共服务中心") == "东湖镇公共服务中心"
    assert csv_cell(-3) == -3 and csv_cell(0.25) == 0.25 and csv_cell(None) is None


def test_the_demo_city_has_the_work_plans_shape_around_one_city() -> None:
    services, _ = catalog()
    points = network([s["code"] for s in services])
    assert Counter(p.level for p in points) == {"city": 1, "town": 18, "village": 225}
    ids = {p.id for p in points}
    assert len(ids) == len(points)
    by_id = {p.id: p for p in points}
    for p in points:
        assert (p.parent is None) == (p.level == "city")
        if p.parent:
            assert by_id[p.parent].level == {"town": "city", "village": "town"}[p.level]
        assert 22.6 < p.lat < 23.5 and 113.3 < p.lon < 114.2  # one city, not the province
        assert 1 <= p.staffed <= p.windows
    assert by_id["city"].windows == 100
    assert all(10 <= p.windows <= 30 for p in points if p.level == "town")
    assert all(1 <= p.windows <= 3 for p in points if p.level == "village")


def test_the_demo_catalog_is_valid_and_most_town_centers_meet_the_pilot_targets() -> None:
    services, published = catalog()
    check_catalog(published)
    assert len(published["items"]) == 128
    points = network([s["code"] for s in services])
    meets = []
    for p in (p for p in points if p.level == "town"):
        items = [i for v in items_for(published, "town", set(p.services)).values() for i in v]
        meets.append(len(items) >= 100 and sum(i.online for i in items) / len(items) >= 0.9)
    assert 0 < meets.count(False) < 5  # the dashboard has a town to point at
    villages = items_for(published, "village", {services[0]["code"]})
    assert villages[services[0]["code"]]  # simple social-insurance items reach the villages


def test_a_halls_booking_address_reaches_the_public_page_only_as_a_plain_web_address() -> None:
    from city_hub.api import _shown

    assert _shown({"public_url": "http://10.0.0.5:8080", "name_en": "Donghu"}) == {
        "name_en": "Donghu",
        "public_url": "http://10.0.0.5:8080",
    }
    for bad in ("javascript:alert(1)", 'http://x/"><script>', "ftp://x", "http://" + "a" * 300, 7):
        assert _shown({"public_url": bad})["public_url"] is None
    assert _shown({}) == {"name_en": "", "public_url": None}
