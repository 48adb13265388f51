from datetime import timedelta

import numpy as np
import pytest

from rightsizer.settings import Settings
from rightsizer.summaries import SampleGrid, summarise

from helpers import AT, make_server

STEP = 300
SLOTS = 30 * 86400 // STEP
START = int(AT.timestamp()) - SLOTS * STEP


def grid(cpu, mem, disk, ids=("s1",)):
    shape = (len(ids), SLOTS)
    arr = lambda v: np.broadcast_to(np.asarray(v, np.float32), shape).copy()  # noqa: E731
    return SampleGrid(list(ids), START, STEP, arr(cpu), arr(mem), arr(disk))


def local_hour():
    t = START + STEP * np.arange(SLOTS)
    return ((t + 8 * 3600) % 86400) / 3600


def test_nightly_batch_is_a_periodic_peak():
    mem = np.full(SLOTS, 15.0)
    mem[(local_hour() >= 2) & (local_hour() < 2.5)] = 85.0  # 30 minutes a night
    s = summarise(grid(10, mem, 40), [make_server()], AT, Settings())[0]
    assert s.memory_peak_pct == pytest.approx(85.0)
    assert s.memory_peak_days == 30
    # A plain p95 of raw memory would have called this 15 %: 2 % of samples are the peak.
    assert np.percentile(mem, 95) == pytest.approx(15.0)


def test_statistics_match_numpy():
    rng = np.random.default_rng(1)
    cpu = rng.uniform(0, 100, SLOTS)
    s = summarise(grid(cpu, 50, 40), [make_server()], AT, Settings())[0]
    assert s.cpu_p95_pct == pytest.approx(np.percentile(cpu.astype(np.float32), 95), abs=1e-3)
    assert s.cpu_max_pct == pytest.approx(cpu.astype(np.float32).max(), abs=1e-3)
    recent = cpu[-14 * 288:].astype(np.float32)
    assert s.recent_cpu_p95_pct == pytest.approx(np.percentile(recent, 95), abs=1e-3)
    assert s.coverage == 1.0 and s.days_of_data == 30.0


def test_missing_data_is_not_zero():
    cpu = np.full(SLOTS, 40.0)
    cpu[: SLOTS // 2] = np.nan  # half the window lost
    s = summarise(grid(cpu, 50, 40), [make_server()], AT, Settings())[0]
    assert s.cpu_p95_pct == pytest.approx(40.0)  # no zeros crept in
    assert s.coverage == pytest.approx(0.5)


def test_server_without_samples_has_no_statistics():
    s = summarise(grid(10, 10, 10, ids=("other",)), [make_server("s1")], AT, Settings())[0]
    assert s.coverage == 0 and s.cpu_p95_pct is None and s.memory_peak_pct is None and s.disk_latest_pct is None


def test_coverage_counts_from_delivery():
    delivered = AT - timedelta(days=10)
    cpu = np.full(SLOTS, 5.0)
    t = START + STEP * np.arange(SLOTS)
    cpu[t < delivered.timestamp()] = 99.0  # whatever ran before delivery is not this server's
    s = summarise(grid(cpu, 20, 30), [make_server(delivered=delivered)], AT, Settings())[0]
    assert s.delivered_in_window
    assert s.coverage == pytest.approx(1.0)
    assert s.days_of_data == pytest.approx(10.0)
    assert s.cpu_max_pct == pytest.approx(5.0)


def test_disk_latest_and_max():
    disk = np.linspace(30, 70, SLOTS)
    disk[-5:] = np.nan
    s = summarise(grid(10, 10, disk), [make_server()], AT, Settings())[0]
    assert s.disk_latest_pct == pytest.approx(disk[-6], abs=1e-3)
    assert s.disk_max_pct == pytest.approx(disk[-6], abs=1e-3)


def test_many_servers_in_chunks_keep_their_order():
    n = 2500  # more than one chunk
    ids = [f"s{i}" for i in range(n)]
    cpu = np.repeat(np.arange(n, dtype=np.float32)[:, None] % 100, SLOTS, axis=1)
    g = SampleGrid(ids, START, STEP, cpu, cpu.copy(), cpu.copy())
    servers = [make_server(sid) for sid in reversed(ids)]
    out = summarise(g, servers, AT, Settings())
    assert [s.server_id for s in out] == [s.server_id for s in servers]
    assert all(s.cpu_p95_pct == int(s.server_id[1:]) % 100 for s in out)


def test_the_selection_quantile_is_numpys_linear_quantile_whatever_is_missing():
    """`np.partition` by groups of equal count gives exactly np.nanquantile's figures (gaps left out)."""
    import numpy as np

    from rightsizer.summaries import _counts, _row_quantile

    rng = np.random.default_rng(15)
    rows = rng.uniform(0, 100, (300, 97)).astype(np.float32)
    rows[rng.uniform(size=rows.shape) < 0.2] = np.nan  # a fifth missing, a different count per row
    rows[:40, :] = rows[0]  # and a group of rows alike
    rows[7] = np.nan  # a row with nothing: no figure, not zero
    for q in (0.0, 0.5, 0.95, 1.0):
        got = _row_quantile(rows, _counts(rows), q)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                want = np.nanquantile(rows.astype(np.float64), q, axis=1)
        assert np.isnan(got[7]) and np.allclose(got, want, equal_nan=True, rtol=0, atol=1e-9), q
