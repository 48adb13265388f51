"""A fake InfluxDB 2 ``/api/v2/query`` on 127.0.0.1 for the Flux that rightsizer sends.

No InfluxDB 2 is packaged for Debian, so this fake answers the one query shape the
collector builds (``collectors.influxdb.flux_for_shard``): it reads the ids, bucket,
ranges, field names and window offset out of the script, computes each ``yield`` from
raw points held in memory, and answers annotated CSV the way InfluxDB does — one table
group per result, ``#datatype``/``#group``/``#default`` annotations (the result name in
``#default``), CRLF line ends. It checks ``Authorization: Token <token>`` (401
otherwise) and that ``org`` and ``bucket`` are the configured ones.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from datetime import datetime, timezone

from localserver import LocalServer, QuietHandler

import numpy as np

FIELDS = ("cpu_utilization_pct", "memory_utilization_pct", "disk_utilization_pct")


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _rfc(t: int) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _exact_mean(v: np.ndarray, q: float) -> float:
    """Flux quantile(method: "exact_mean"): the mean of the two points around the rank."""
    s = np.sort(v)
    pos = q * (len(s) - 1)
    lo, hi = int(np.floor(pos)), int(np.ceil(pos))
    return float((s[lo] + s[hi]) / 2)


class FakeInflux(LocalServer):
    def __init__(self, points: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]], token: str, org: str,
                 bucket: str):
        """``points[(server_id, field, mountpoint or "")] = (epoch seconds, values)``."""
        self.points, self.token, self.org, self.bucket = points, token, org, bucket
        self.queries: list[str] = []
        self.fail_ids: set[str] = set()  # a shard holding one of these answers HTTP 500
        fake = self

        class Handler(QuietHandler):
            def _send(self, code, body: bytes, ctype="application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                url = urllib.parse.urlparse(self.path)
                if url.path != "/api/v2/query":
                    return self._send(404, b'{"code":"not found","message":"path not found"}')
                if self.headers.get("Authorization") != f"Token {fake.token}":
                    return self._send(401, b'{"code":"unauthorized","message":"unauthorized access"}')
                org = urllib.parse.parse_qs(url.query).get("org", [""])[0]
                if org != fake.org:
                    return self._send(404, json.dumps({"code": "not found",
                                                       "message": f"organization name \"{org}\" not found"}).encode())
                doc = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                flux = doc["query"]
                fake.queries.append(flux)
                try:
                    body = fake.answer(flux)
                except LookupError as exc:
                    return self._send(404, json.dumps({"code": "not found", "message": str(exc)}).encode())
                if body is None:
                    return self._send(500, b'{"code":"internal error","message":"shard failed"}')
                return self._send(200, body.encode(), "text/csv; charset=utf-8")

        super().__init__(Handler)

    # -- the query shape of collectors.influxdb.flux_for_shard --------------------------

    def answer(self, flux: str) -> str | None:
        ids = json.loads(re.search(r"^ids = (\[.*\])$", flux, re.M).group(1))
        if set(ids) & self.fail_ids:
            return None
        bucket = json.loads(re.search(r"from\(bucket: (\".*?\")\)", flux).group(1))
        if bucket != self.bucket:
            raise LookupError(f"bucket \"{bucket}\" not found")
        start, stop = map(_epoch, re.search(r"\|> range\(start: (\S+), stop: (\S+)\)\n", flux).groups())
        recent = _epoch(re.search(r"^recent = cpu \|> range\(start: (\S+), stop:", flux, re.M).group(1))
        q = float(re.search(r"quantile\(q: ([\d.]+)", flux).group(1))
        offset = int(re.search(r"every: 1d, offset: (\d+)s", flux).group(1))
        fields = {k: json.loads(re.search(rf"^{k} = base \|> filter\(fn: \(r\) => r._field == (\".*?\")\)",
                                          flux, re.M).group(1)) for k in ("cpu", "mem", "disk")}

        def series(sid, key, lo=start):
            out = []
            for (s, f, mp), (t, v) in self.points.items():
                if s == sid and f == fields[key]:
                    keep = (t >= lo) & (t < stop)
                    out.append((mp, t[keep], v[keep]))
            return [x for x in out if len(x[1])]

        groups: dict[str, list[tuple[str, float, int | None]]] = {k: [] for k in (
            "cpu_p", "cpu_max", "cpu_n", "mem_max", "mem_n", "daily", "disk_last", "disk_max", "disk_n",
            "recent_p", "recent_n")}
        for sid in ids:
            for _, t, v in series(sid, "cpu"):
                groups["cpu_p"].append((sid, _exact_mean(v, q), None))
                groups["cpu_max"].append((sid, float(v.max()), None))
                groups["cpu_n"].append((sid, len(v), None))
            for _, t, v in series(sid, "cpu", recent):
                groups["recent_p"].append((sid, _exact_mean(v, q), None))
                groups["recent_n"].append((sid, len(v), None))
            for _, t, v in series(sid, "mem"):
                groups["mem_max"].append((sid, float(v.max()), None))
                groups["mem_n"].append((sid, len(v), None))
                day = (t - offset) // 86400  # windows [local midnight, next local midnight)
                for d in np.unique(day):
                    stop_t = min(int(d + 1) * 86400 + offset, stop)
                    groups["daily"].append((sid, float(v[day == d].max()), stop_t))
            disks = series(sid, "disk")
            if disks:
                groups["disk_last"].append((sid, max(float(v[np.argmax(t)]) for _, t, v in disks), None))
                groups["disk_max"].append((sid, max(float(v.max()) for _, t, v in disks), None))
                groups["disk_n"].append((sid, max(len(v) for _, t, v in disks), None))
        out = []
        for name, rows in groups.items():
            if not rows:
                continue
            counting = name.endswith("_n")
            timed = name == "daily"
            cols = ["", "result", "table", "_start", "_stop"] + (["_time"] if timed else []) + ["_value", "server_id"]
            dtype = ["#datatype", "string", "long", "dateTime:RFC3339", "dateTime:RFC3339"] + \
                (["dateTime:RFC3339"] if timed else []) + ["long" if counting else "double", "string"]
            grp = ["#group", "false", "false", "true", "true"] + (["false"] if timed else []) + ["false", "true"]
            out += [",".join(dtype), ",".join(grp), ",".join(["#default", name] + [""] * (len(cols) - 2)),
                    ",".join(cols)]
            tables = {sid: i for i, sid in enumerate(dict.fromkeys(r[0] for r in rows))}
            for sid, value, t in rows:
                cells = ["", "", str(tables[sid]), _rfc(start), _rfc(stop)] + ([_rfc(t)] if timed else []) + \
                    [str(int(value)) if counting else repr(float(value)), sid]
                out.append(",".join(cells))
            out.append("")
        return "\r\n".join(out) + "\r\n"
