"""Properties that must hold for any input (hypothesis)."""

from datetime import timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from policies import evaluate_server
from rightsizer.calendar import WorkCalendar
from rightsizer.models import Kind
from rightsizer.settings import Flavor, Settings
from rightsizer.summaries import SampleGrid, summarise

from helpers import AT, make_server, make_summary

CAL = WorkCalendar()
pct = st.floats(0, 100, allow_nan=False)
FLAVORS = [Flavor(name=f"f{v}-{r}", vcpus=v, ram_gib=r) for v in (1, 2, 4, 8) for r in (1, 2, 4, 8, 16, 32)]
STEP = 3600
SLOTS = 30 * 24
START = int(AT.timestamp()) - SLOTS * STEP


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gap_start=st.integers(0, SLOTS - 1), gap_len=st.integers(1, SLOTS), level=st.floats(0, 2),
       delivered_days=st.floats(1, 400))
def test_a_gap_never_yields_release_or_undeployed(gap_start, gap_len, level, delivered_days):
    """An idle-looking server whose data has a big hole is never called idle or undeployed on that hole.

    If the gap hides more than the coverage floor allows, the answer must be insufficient_data."""
    cpu = np.full((1, SLOTS), level, np.float32)
    cpu[0, gap_start:gap_start + gap_len] = np.nan
    g = SampleGrid(["s1"], START, STEP, cpu, cpu.copy(), cpu.copy())
    server = make_server(delivered=AT - timedelta(days=delivered_days))
    s = Settings.model_validate({"window": {"step_seconds": STEP}})
    summary = summarise(g, [server], AT, s)[0]
    found = evaluate_server(server, summary, AT, s, CAL)
    kinds = {f.kind for f in found}
    if kinds & {Kind.RELEASE, Kind.UNDEPLOYED}:
        assert summary.coverage >= 0.8 and summary.days_of_data >= 7
        assert summary.recent_coverage >= 0.8 or Kind.UNDEPLOYED in kinds
    if summary.coverage < 0.8:
        assert kinds == {Kind.INSUFFICIENT_DATA}


@hsettings(max_examples=300, deadline=None)
@given(cpu=pct, mem=pct, mem_extra=st.floats(0, 100), disk=pct, vcpus=st.integers(1, 64),
       ram=st.floats(0.5, 512), disk_gib=st.floats(1, 4000), flavors=st.booleans(),
       mode=st.sampled_from(["any", "all"]))
def test_recommendations_are_safe(cpu, mem, mem_extra, disk, vcpus, ram, disk_gib, flavors, mode):
    mem_max = min(100.0, mem + mem_extra)
    s = Settings.model_validate({"policy": {"shrink": {"mode": mode}},
                                 "sizing": {"flavors": [f.model_dump() for f in FLAVORS] if flavors else []}})
    server = make_server(vcpus=vcpus, ram=ram, disk=disk_gib)
    found = evaluate_server(server, make_summary(cpu=cpu, mem=mem, memory_max_pct=mem_max, disk=disk,
                                                 recent_cpu_p95_pct=max(cpu, 5)), AT, s, CAL)
    from policies.sizing import monthly_cost

    cuts = [f for f in found if f.kind is Kind.SHRINK]
    grows = [f for f in found if f.kind is Kind.EXPAND]
    base = server.size
    if cuts:
        # compulsory and whole: one size; together they save today's cost less that size's, which is positive,
        # and no item costs money (a snap's cost is never left on a compulsory item)
        assert len({f.recommended for f in cuts}) == 1
        base = cuts[0].recommended
        whole = monthly_cost(server.size, s.prices) - monthly_cost(base, s.prices)
        assert sum(f.monthly_saving_cny for f in cuts) == whole and whole > 0
        assert all(f.monthly_saving_cny >= 0 for f in cuts)
    if grows:
        # advice on top of the compulsory size: it carries all the rest, what its snap forced included
        assert len({f.recommended for f in grows}) == 1
        assert sum(f.monthly_saving_cny for f in grows) == monthly_cost(base, s.prices) - monthly_cost(
            grows[0].recommended, s.prices)
    for f in found:
        if f.kind is Kind.SHRINK:
            # a shrink never recommends more than the current size in its dimension
            assert f.recommended.get(f.dimension) < f.current.get(f.dimension)
        if f.kind in (Kind.SHRINK, Kind.EXPAND) and f.recommended is not None:
            # memory is never cut below the observed maximum x 1.15 (kept, or rounded up to a flavor, is fine)
            rec = f.recommended.ram_gib
            assert rec >= ram * mem_max / 100 * 1.15 - 1e-9 or rec >= ram
            assert f.recommended.vcpus >= 1 and rec >= 1 or rec == ram
        if f.kind is Kind.EXPAND:
            assert f.recommended.get(f.dimension) > f.current.get(f.dimension)
