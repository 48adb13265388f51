"""A seeded simulation of a city's government cloud, for the demo and the benchmark.

About 40 departments and 2,000 servers with 30 days of 5-minute samples, in
shapes a centre really sees: office-hours and working-day cycles (from the
statutory calendar, so holidays are quiet), oversized and idle servers, nightly
batch jobs whose memory peaks for 30 minutes every night, disks filling up,
servers never deployed, servers delivered a few days ago, and a collector outage
(six hours fleet-wide, twelve days for a few servers).

Example::

    from collectors.simulate import simulate_city
    city = simulate_city(seed=7, servers=2000, at=datetime(2026, 11, 20, tzinfo=ZoneInfo("Asia/Shanghai")))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from rightsizer.calendar import WorkCalendar
from rightsizer.models import Server, Size
from rightsizer.settings import Flavor
from rightsizer.summaries import SampleGrid

DEPARTMENTS = [
    "市发展和改革局", "市教育和体育局", "市科学技术局", "市工业和信息化局", "市公安局", "市民政局", "市司法局",
    "市财政局", "市人力资源和社会保障局", "市自然资源局", "市生态环境局", "市住房和城乡建设局", "市交通运输局",
    "市水利局", "市农业农村局", "市商务局", "市文化和旅游局", "市卫生健康局", "市退役军人事务局", "市应急管理局",
    "市审计局", "市市场监督管理局", "市统计局", "市医疗保障局", "市综合行政执法局", "市行政审批服务局",
    "市信访局", "市机关事务服务中心", "市档案馆", "市融媒体中心", "市供销社", "市气象局", "市税务局",
    "市公积金管理中心", "市疾病预防控制中心", "市人民医院", "市图书馆", "市消防救援大队", "市园林环卫中心",
    "市大数据发展中心",
]
SYSTEMS = ["政务服务平台", "业务审批系统", "数据共享交换", "门户网站", "视频会议", "档案管理", "监管执法平台",
           "统计分析平台", "办公自动化", "移动办事应用"]

# name: share of the fleet
ARCHETYPES = {
    "office": 0.30,      # busy in office hours on working days
    "oversized": 0.27,   # little use all the time
    "idle": 0.07,        # no longer used
    "batch": 0.08,       # memory peaks every night at 02:00 for 30 minutes
    "hot": 0.07,         # too small
    "filling": 0.07,     # disk growing towards full
    "undeployed": 0.05,  # delivered weeks ago, never deployed
    "new": 0.03,         # delivered three days ago
    "outage": 0.06,      # collector lost 12 days of its data
}

DEMO_FLAVORS = [Flavor(name=f"s{v}.{r}g", vcpus=v, ram_gib=r) for v in (1, 2, 4, 8, 16, 32) for r in (v, 2 * v, 4 * v)]


@dataclass
class City:
    servers: list[Server]
    grid: SampleGrid
    archetype: dict[str, str]  # server_id -> archetype, for tests and curiosity


def simulate_city(seed: int, servers: int, at: datetime, days: int = 30, step: int = 300,
                  tz: ZoneInfo = ZoneInfo("Asia/Shanghai"), calendar: WorkCalendar | None = None,
                  departments: int = 40) -> City:
    rng = np.random.default_rng(seed)
    calendar = calendar or WorkCalendar()
    slots = days * 86400 // step
    start = int(at.timestamp()) - slots * step
    t = start + step * np.arange(slots, dtype=np.int64)
    offset = int(at.astimezone(tz).utcoffset().total_seconds())
    local = t + offset
    hour = (local % 86400) / 3600.0
    day_index = (local - (local[0] - local[0] % 86400)) // 86400
    first_day = (at - timedelta(days=days)).astimezone(tz).date()
    workday = np.array([calendar.is_workday(first_day + timedelta(days=int(d))) for d in range(int(day_index[-1]) + 1)])
    office = (workday[day_index] * np.clip(np.sin((hour - 8) / 10 * np.pi), 0, None)).astype(np.float32)
    nightly = ((hour >= 2) & (hour < 2.5)).astype(np.float32)

    names = list(ARCHETYPES)
    kinds = rng.choice(len(names), size=servers, p=np.array(list(ARCHETYPES.values())) / sum(ARCHETYPES.values()))
    depts = DEPARTMENTS[:departments] if departments <= len(DEPARTMENTS) else \
        DEPARTMENTS + [f"市直单位{i:02d}" for i in range(len(DEPARTMENTS), departments)]
    dept_of = rng.integers(0, len(depts), servers)
    vcpus = rng.choice([2, 4, 8, 16, 32], size=servers, p=[0.15, 0.3, 0.3, 0.18, 0.07])
    ram = vcpus * rng.choice([2, 4], size=servers)
    disk = rng.choice([100, 200, 500, 1000], size=servers)

    shape = (servers, slots)
    noise = lambda scale: rng.standard_normal(shape, dtype=np.float32) * scale  # noqa: E731
    col = lambda v: np.asarray(v, np.float32)[:, None]  # noqa: E731
    u = lambda lo, hi: rng.uniform(lo, hi, servers)  # noqa: E731
    cpu_base, cpu_amp = u(2, 12), u(5, 50)
    mem_base, mem_amp = u(10, 45), u(0, 20)
    kind_name = np.array(names)[kinds]

    # Per archetype: base levels and amplitudes, whole-fleet arrays, no loop over samples.
    def setv(arr, kind, values):
        m = kind_name == kind
        arr[m] = values[m] if np.ndim(values) else values

    setv(cpu_base, "oversized", u(1, 6)); setv(cpu_amp, "oversized", u(3, 14))
    setv(mem_base, "oversized", u(8, 20)); setv(mem_amp, "oversized", u(0, 8))
    for k in ("idle", "undeployed"):
        setv(cpu_base, k, u(0.2, 1.2)); setv(cpu_amp, k, 0.0); setv(mem_base, k, u(5, 12)); setv(mem_amp, k, 0.0)
    setv(cpu_base, "hot", u(55, 75)); setv(cpu_amp, "hot", u(15, 30)); setv(mem_base, "hot", u(70, 85))
    setv(cpu_base, "batch", u(3, 8)); setv(cpu_amp, "batch", u(5, 15)); setv(mem_base, "batch", u(12, 20))
    setv(mem_amp, "batch", 0.0)

    cpu = col(cpu_base) + col(cpu_amp) * office[None, :] + noise(1.0) * col(np.maximum(cpu_base, 1) * 0.2)
    batch = kind_name == "batch"
    cpu[batch] += (nightly * 70)[None, :]
    mem = col(mem_base) + col(mem_amp) * office[None, :] + noise(0.8)
    mem[batch] += col(u(50, 70)[batch]) * nightly[None, :]
    growth = np.linspace(0, 1, slots, dtype=np.float32)[None, :]
    disk_base = u(10, 65)
    disk_rate = u(0, 6)
    setv(disk_base, "filling", u(62, 72)); setv(disk_rate, "filling", u(16, 25))
    dsk = col(disk_base) + col(disk_rate) * growth + noise(0.05)
    for arr in (cpu, mem, dsk):
        np.clip(arr, 0, 100, out=arr)

    # Delivery: most long ago; "undeployed" 15-25 days ago; "new" three days ago.
    age_days = rng.uniform(60, 900, servers)
    setv(age_days, "undeployed", u(15, 25))
    setv(age_days, "new", 3.0)
    # Outages: a fleet-wide six-hour gap, and twelve lost days for the "outage" servers.
    gap = (t >= start + 9 * 86400) & (t < start + 9 * 86400 + 6 * 3600)
    for arr in (cpu, mem, dsk):
        arr[:, gap] = np.nan
        arr[kind_name == "outage", slots // 3: slots // 3 + 12 * 86400 // step] = np.nan

    ids = [f"srv-{i:05d}" for i in range(servers)]
    system_of = rng.integers(0, len(SYSTEMS), servers)
    inv = []
    for i, sid in enumerate(ids):
        d = depts[dept_of[i]]
        delivered = (at - timedelta(days=float(age_days[i]))).astimezone(tz)
        inv.append(Server(sid, f"{SYSTEMS[system_of[i]]}-{i:05d}", d, SYSTEMS[system_of[i]],
                          Size(int(vcpus[i]), float(ram[i]), float(disk[i])), delivered))
    grid = SampleGrid(ids, start, step, cpu, mem, dsk)
    return City(inv, grid, dict(zip(ids, kind_name.tolist())))
