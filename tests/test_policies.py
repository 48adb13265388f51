from datetime import timedelta
from decimal import Decimal

import pytest

from policies import evaluate_server
from rightsizer.models import Dimension, Size
from rightsizer.settings import Flavor, Settings

from helpers import AT, make_server, make_summary


def kinds(findings):
    return {(f.kind.value, f.dimension.value if f.dimension else None) for f in findings}


def run(summary, settings=None, server=None, calendar=None, at=AT):
    from rightsizer.calendar import WorkCalendar
    return evaluate_server(server or make_server(), summary, at, settings or Settings(), calendar or WorkCalendar())


@pytest.mark.parametrize("cpu, expected", [(25.0, True), (24.99, True), (25.01, False), (10.0, True)])
def test_cpu_shrink_at_or_below_25(cpu, expected):
    assert (("shrink", "cpu") in kinds(run(make_summary(cpu=cpu)))) is expected


@pytest.mark.parametrize("mem, expected", [(30.0, True), (29.9, True), (30.01, False)])
def test_memory_shrink_at_or_below_30(mem, expected):
    assert (("shrink", "memory") in kinds(run(make_summary(mem=mem, memory_max_pct=mem)))) is expected


@pytest.mark.parametrize("disk, expected", [(49.99, True), (50.0, False), (50.01, False)])
def test_disk_shrink_strictly_below_50(disk, expected):
    assert (("shrink", "disk") in kinds(run(make_summary(disk=disk)))) is expected


@pytest.mark.parametrize("value, expected", [(75.0, False), (75.01, True), (99.0, True)])
@pytest.mark.parametrize("dim", ["cpu", "memory", "disk"])
def test_expand_strictly_above_75(dim, value, expected):
    args = {"cpu": 50.0, "mem": 50.0, "disk": 60.0}
    args["mem" if dim == "memory" else dim] = value
    assert (("expand", dim) in kinds(run(make_summary(**args)))) is expected


def test_middle_of_the_road_has_no_findings():
    assert run(make_summary(cpu=50, mem=50, disk=60)) == []


def test_mode_all_needs_all_three():
    s = Settings.model_validate({"policy": {"shrink": {"mode": "all"}}})
    assert run(make_summary(cpu=10, mem=20, disk=60), s) == []
    assert kinds(run(make_summary(cpu=10, mem=20, disk=40), s)) == {("shrink", "cpu"), ("shrink", "memory"),
                                                                     ("shrink", "disk")}
    # "any" judges each on its own
    assert kinds(run(make_summary(cpu=10, mem=20, disk=60))) == {("shrink", "cpu"), ("shrink", "memory")}


@pytest.mark.parametrize("recent, expected", [(2.99, "release"), (3.0, "shrink")])
def test_release_below_3_pct_over_last_14_days(recent, expected):
    f = run(make_summary(cpu=recent, recent_cpu_p95_pct=recent))
    assert f[0].kind.value == expected
    if expected == "release":
        assert len(f) == 1 and f[0].dimension is None and f[0].recommended is None
        assert f[0].monthly_saving_cny == Decimal("60") * 8 + Decimal("30") * 16 + Decimal("0.5") * 200
        assert f[0].evidence["lookback_days"] == 14


def test_release_needs_coverage_of_the_lookback():
    # An outage in the last days must not make a server idle.
    f = run(make_summary(cpu=10, recent_cpu_p95_pct=0.5, recent_coverage=0.5))
    assert "release" not in {x.kind.value for x in f}


@pytest.mark.parametrize("coverage, days, insufficient", [
    (0.79, 30, True), (0.8, 30, False), (1.0, 6.99, True), (1.0, 7.0, False)])
def test_insufficient_data_and_nothing_else(coverage, days, insufficient):
    f = run(make_summary(cpu=1, recent_cpu_p95_pct=1, coverage=coverage, days_of_data=days))
    if insufficient:
        assert kinds(f) == {("insufficient_data", None)}
        assert f[0].monthly_saving_cny == 0
    else:
        assert kinds(f) == {("release", None)}


def test_undeployed_after_ten_working_days(calendar):
    # AT is Friday 2026-11-20. Delivered Friday 2026-11-06: 10 working days end 2026-11-20 -> still in its
    # legal deployment period: no release (as it used to be told), no shrink, no undeployed
    on_time = make_server(delivered=AT - timedelta(days=14))
    s = make_summary(cpu=0.5, recent_cpu_p95_pct=0.5, delivered_in_window=True, days_of_data=14)
    assert kinds(run(s, server=on_time, calendar=calendar)) == set()
    late = make_server(delivered=AT - timedelta(days=15))  # Thursday 11-05: deadline 11-19, overdue on 11-20
    f = run(s, server=late, calendar=calendar)
    assert kinds(f) == {("undeployed", None)}
    assert f[0].evidence["deploy_deadline"] == "2026-11-19"


def test_undeployed_needs_no_workload(calendar):
    late = make_server(delivered=AT - timedelta(days=20))
    s = make_summary(cpu=20, recent_cpu_p95_pct=20, delivered_in_window=True, days_of_data=20)
    assert "undeployed" not in {x.kind.value for x in run(s, server=late, calendar=calendar)}


def test_undeployed_in_unknown_year_is_held_never_guessed():
    """The deployment deadline needs a year the calendar lacks: the server is judged as still deploying (no
    undeployed, no release, no shrink) — its deadline is held, and the city's evaluation goes on (issue 23)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from rightsizer.calendar import WorkCalendar
    at = datetime(2027, 1, 20, tzinfo=ZoneInfo("Asia/Shanghai"))
    server = make_server(delivered=at - timedelta(days=20))
    s = make_summary(cpu=0.5, recent_cpu_p95_pct=0.5, delivered_in_window=True, days_of_data=20)
    assert evaluate_server(server, s, at, Settings(), WorkCalendar()) == []


def test_sizing_to_target_and_saving():
    # 8 vCPU at p95 15 % -> 8*15/60 = 2 vCPU; 16 GiB at peak 20 %, max 25 % -> max(16*20/60, 16*.25*1.15) = 5.33 -> 6
    f = {x.dimension: x for x in run(make_summary(cpu=15, mem=20, memory_max_pct=25, disk=60))}
    assert f[Dimension.CPU].recommended.vcpus == 2
    assert f[Dimension.CPU].monthly_saving_cny == Decimal("360")
    assert f[Dimension.MEMORY].recommended.ram_gib == 6
    assert f[Dimension.MEMORY].monthly_saving_cny == Decimal("300")
    assert f[Dimension.CPU].observed == 15 and f[Dimension.CPU].threshold == 25
    assert f[Dimension.CPU].evidence["window"]["coverage"] == 1.0


def test_memory_never_below_observed_max_with_headroom():
    # Peak low, but one spike to 95 %: 16 * .95 * 1.15 > 16 -> no memory shrink at all.
    assert ("shrink", "memory") not in kinds(run(make_summary(mem=20, memory_max_pct=95)))


def test_floors_mean_no_shrink_below_one_vcpu():
    f = run(make_summary(cpu=5, mem=50, disk=60), server=make_server(vcpus=1, ram=4))
    assert f == []


def test_expand_recommendation_and_cost():
    f = run(make_summary(cpu=90))
    assert kinds(f) == {("expand", "cpu")}
    assert f[0].recommended.vcpus == 12  # 8 * 90 / 60
    assert f[0].monthly_saving_cny == Decimal("-240")


def test_flavor_snapping_picks_cheapest_covering_flavor():
    flavors = [Flavor(name="big", vcpus=16, ram_gib=32), Flavor(name="s2.8g", vcpus=2, ram_gib=8),
               Flavor(name="s4.8g", vcpus=4, ram_gib=8), Flavor(name="s2.4g", vcpus=2, ram_gib=4),
               Flavor(name="s8.16g", vcpus=8, ram_gib=16)]
    s = Settings.model_validate({"sizing": {"flavors": [f.model_dump() for f in flavors]}})
    # needs 2 vCPU, 6 GiB -> s2.8g
    f = {x.dimension: x for x in run(make_summary(cpu=15, mem=20, memory_max_pct=25, disk=60), s)}
    assert f[Dimension.CPU].recommended == Size(2, 8, 200)
    assert f[Dimension.CPU].evidence["flavor"] == "s2.8g"
    assert f[Dimension.MEMORY].monthly_saving_cny == Decimal("240")  # 16 -> 8 GiB at 30 CNY


# -- issue 10 point 1: the deployment period ------------------------------------------------------


@pytest.mark.parametrize("usage, expected", [
    ({"cpu": 0.5, "mem": 5, "disk": 10, "recent_cpu_p95_pct": 0.5}, set()),  # idle: deploying, not release
    ({"cpu": 10, "mem": 20, "disk": 30}, set()),  # light use: no shrink while deploying
    ({"cpu": 90, "mem": 85, "disk": 40}, {("expand", "cpu"), ("expand", "memory")}),  # overload: advice holds
])
def test_inside_the_deployment_period_only_expand_is_said(calendar, usage, expected):
    # delivered Wednesday 2026-11-11: the deadline is 2026-11-25 (10 working days), AT is 2026-11-20
    server = make_server(delivered=AT - timedelta(days=9))
    s = make_summary(delivered_in_window=True, days_of_data=9, **usage)
    assert kinds(run(s, server=server, calendar=calendar)) == expected


def test_a_national_day_delivery_has_its_period_stretched_by_the_holiday(calendar):
    # delivered 2026-09-29: the 10 working days step over the National Day holiday to 2026-10-19
    at = AT.replace(month=10, day=19)
    server = make_server(delivered=at.replace(month=9, day=29))
    s = make_summary(cpu=0.5, recent_cpu_p95_pct=0.5, delivered_in_window=True, days_of_data=15)
    assert kinds(run(s, server=server, calendar=calendar, at=at)) == set()
    f = run(s, server=server, calendar=calendar, at=at.replace(day=20))
    assert kinds(f) == {("undeployed", None)} and f[0].evidence["deploy_deadline"] == "2026-10-19"


def test_an_undeployed_server_that_stays_idle_keeps_its_finding():
    from policies.undeployed import carry
    from rightsizer.models import Finding, Kind

    release = Finding("u1", "部门", Kind.RELEASE, None, 0.5, 3, None, None, 0)
    other = Finding("r1", "部门", Kind.RELEASE, None, 0.5, 3, None, None, 0)
    kept = carry([release, other], {"u1"})
    assert [(f.server_id, f.kind) for f in kept] == [("u1", Kind.UNDEPLOYED), ("r1", Kind.RELEASE)]


def test_a_deploying_server_gets_expansion_advice_sized_from_its_own_size(calendar):
    """Still deploying: no shrink is asked, so the advice is not sized nor priced from a shrunk size."""
    s = Settings.model_validate({"sizing": {"flavors": [{"name": "c4m16", "vcpus": 4, "ram_gib": 16},
                                                        {"name": "c8m32", "vcpus": 8, "ram_gib": 32},
                                                        {"name": "c8m64", "vcpus": 8, "ram_gib": 64}]}})
    new = make_server(vcpus=8, ram=32, disk=500, delivered=AT - timedelta(days=3))
    found = evaluate_server(new, make_summary(cpu=10.0, mem=85.0, disk=10.0, memory_max_pct=86.0,
                                              delivered_in_window=True), AT, s, calendar)
    (f,) = found
    assert f.kind.value == "expand" and f.dimension is Dimension.MEMORY
    assert f.recommended == Size(8, 64, 500)  # CPU and disk as they are: nothing was asked of them
    assert f.monthly_saving_cny == -(32 * s.prices.cny_per_ram_gib_month)
    assert "undoes_shrink" not in f.evidence
