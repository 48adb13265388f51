"""What a notice says in money, through the CLI (issue 23, points 5 and 6): a compulsory item never costs money
— what a flavor snap forced by optional expansion advice costs is on the advice; each server is once per
section; "未配置云平台规格目录" only when there is no catalogue, and a size larger than every flavor says so on
its own item."""
from __future__ import annotations

import csv
import re

import numpy as np

from rightsizer.cli import main

from helpers import AT
from test_evaluate_cli import INV_HEADER, T

FLAVORS = ('[sizing]\nflavors = [\n  { name = "c4m16", vcpus = 4, ram_gib = 16 },\n'
           '  { name = "c8m32", vcpus = 8, ram_gib = 32 },\n  { name = "c16m64", vcpus = 16, ram_gib = 64 },\n]\n')


def _city(tmp_path):
    inv = tmp_path / "inv.csv"
    inv.write_text(INV_HEADER + "\n"
                   # CPU 15 %, memory peak 85 %, disk 10 %: shrink CPU and disk, expand memory
                   "mixed-1,档案库,市档案馆,档案管理系统,8,32,500,2025-01-10T09:00:00+08:00\n"
                   # CPU 90 % of 64: more than the largest flavor holds
                   "huge-1,统计库,市档案馆,统计分析系统,64,256,100,2025-01-10T09:00:00+08:00\n", encoding="utf-8")
    samples = tmp_path / "samples.csv"
    rng = np.random.default_rng(7)
    with samples.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["server_id", "timestamp", "cpu_pct", "mem_pct", "disk_pct"])
        for sid, cpu, mem, disk in (("mixed-1", 14, 84, 10), ("huge-1", 89, 50, 60)):
            for t in T:
                w.writerow([sid, str(int(t)), f"{cpu + rng.uniform(0, 1):.2f}", f"{mem + rng.uniform(0, 1):.2f}",
                            f"{disk:.1f}"])
    return inv, samples


def _notice_text(tmp_path, capsys, config: str) -> str:
    inv, samples = _city(tmp_path)
    cfg = tmp_path / "rs.toml"
    cfg.write_text('[[notifiers]]\nname = "im"\ntype = "console"\n[departments."市档案馆"]\nchannels = ["im"]\n'
                   + config, encoding="utf-8")
    common = ["--config", str(cfg), "--db", str(tmp_path / "rs.db")]
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(),
                 *common]) == 0
    assert main(["sweep", "--now", "2026-11-23T09:00:00+08:00", *common]) == 0
    capsys.readouterr()
    assert main(["deliver", "--now", "2026-11-23T09:05:00+08:00", *common]) == 0
    return capsys.readouterr().out


def _section(text: str, head: str, end: str) -> str:
    return text[text.index(head):text.index(end, text.index(head))]


def test_a_snap_forced_by_advice_is_paid_by_the_advice_and_the_shrink_saves(tmp_path, capsys):
    text = _notice_text(tmp_path, capsys, FLAVORS)
    must = _section(text, "一、需整改的服务器", "合计预计每月节约")
    advice = _section(text, "二、扩容建议", "以上为资源扩容建议")
    assert must.count("mixed-1") == 1 and advice.count("mixed-1") == 1  # once per section
    assert "预计每月节约：-" not in text and re.search(r"预计每月节约：[1-9]", must)
    # compulsory: the disk, on the flavor that holds today's CPU and memory (the CPU snapped back to 8)
    assert "问题：核减 硬盘" in must and "建议配置：8核/32GiB" in must
    # advice: memory to 64 GiB needs the 16-core flavor; that CPU is the advice's cost, said on its item
    assert "问题：扩容 内存" in advice and "建议配置：16核/64GiB" in advice
    assert "套用规格 c16m64：CPU 8→16核，每月增加" in advice
    assert "预计每月增加费用：-" not in advice
    # the catalogue is configured: not "no catalogue"; the size no flavor holds says so on its own item
    assert "未配置云平台规格目录" not in text
    huge = advice[advice.index("huge-1"):]
    assert "规格目录中没有容纳该配置的规格，建议配置未按规格取整" in huge
    assert "规格目录中没有" not in advice[:advice.index("huge-1")]


def test_without_a_catalogue_the_notice_says_so_once(tmp_path, capsys):
    text = _notice_text(tmp_path, capsys, "")
    assert text.count("（未配置云平台规格目录，建议配置未按规格取整。）") == 1
    assert "规格目录中没有容纳" not in text and "预计每月节约：-" not in text
