"""Measuring one ``pmrecon build`` (a subprocess) and its floor (the same queries, replayed raw).

pmrecon itself: wall time from spawn to exit; CPU time and peak RSS of the pmrecon process
alone (``/proc/PID/stat`` of the exited, not yet reaped process, and ``VmHWM`` sampled while it
runs), and of the whole process tree (``wait4``'s rusage: includes Chromium for PNG export).

The floor: every query of the build's evidence bundle (``sources.json``: text or body, time
range, step, endpoint), sent again over plain HTTP with each source's concurrency, in the
recorded order, each body read (and un-gzipped) but never parsed. Its wall time is what the
servers and the network cost; pmrecon ÷ floor is the headline figure.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import http.client
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# --------------------------------------------------------------------------- CPU accounting


def pmrecon_env(cache: Path) -> dict[str, str]:
    """The environment pmrecon is measured in: this one, without a ``PMRECON_CONFIG``, and
    with its compiled bytecode kept in ``cache``.

    An installed pmrecon has its modules compiled at install time; a checkout run with
    ``PYTHONDONTWRITEBYTECODE`` (set on some CI machines) would compile every module of
    its own at every start instead, about 0.2 s of each build that no user pays. The
    bytecode goes to ``cache``, not into the checkout; the warm-up build writes it.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PMRECON_CONFIG", "PYTHONDONTWRITEBYTECODE")
    }
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def proc_cpu(pid: int) -> tuple[float, float] | None:
    """(own CPU, reaped children's CPU) in seconds from /proc/PID/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK


def group_cpu(pgid: int) -> float:
    """CPU seconds of every live process in process group ``pgid`` (the ES node's JVM)."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def system_busy() -> float:
    """CPU seconds spent busy by the whole machine since boot (all cores)."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in parts[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


@dataclass
class ServerPids:
    """Where the servers' CPU time is read, to tell the machine's other load apart."""

    prometheus: int | None = None
    es_group: int | None = None

    def cpu(self) -> dict[str, float]:
        out = {}
        if self.prometheus:
            got = proc_cpu(self.prometheus)
            out["prometheus"] = got[0] if got else 0.0
        if self.es_group:
            out["elasticsearch"] = group_cpu(self.es_group)
        return out


# --------------------------------------------------------------------------- pmrecon runs


@dataclass
class Run:
    """One measured ``pmrecon`` process."""

    argv: list[str]
    exit_code: int
    wall: float
    cpu: float  # pmrecon's own process
    cpu_tree: float  # with its reaped children (Chromium)
    rss_mb: float  # peak RSS of pmrecon's own process
    rss_tree_mb: float  # largest peak of the process or any reaped child
    stdout: str
    stderr: str
    servers_cpu: dict[str, float] = field(default_factory=dict)
    others_cpu: float | None = None


def run_measured(
    argv: list[str],
    env: dict[str, str],
    servers: ServerPids | None = None,
    timeout: float | None = None,
) -> Run:
    """Run ``argv``, sampling its VmHWM; read its CPU from /proc before reaping it.

    A process still running after ``timeout`` seconds is killed (exit code -9).
    """
    servers = servers or ServerPids()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    busy0, srv0 = system_busy(), servers.cpu()
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=out_w, stderr=err_w, stdin=subprocess.DEVNULL)
    os.close(out_w)
    os.close(err_w)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}

    def drain(fd: int) -> None:
        while True:
            data = os.read(fd, 65536)
            if not data:
                return
            chunks[fd].append(data)

    readers = [threading.Thread(target=drain, args=(fd,), daemon=True) for fd in chunks]
    for r in readers:
        r.start()
    peak_kb = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_kb
        path = f"/proc/{proc.pid}/status"
        while not stop.is_set():
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak_kb = max(peak_kb, int(line.split()[1]))
                            break
            except OSError:
                return
            stop.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    killer = threading.Timer(timeout, proc.kill) if timeout else None
    if killer is not None:
        killer.daemon = True
        killer.start()
    # wait for the exit without reaping: /proc/PID/stat still holds the final CPU times
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    wall = time.monotonic() - started
    if killer is not None:
        killer.cancel()
    stop.set()
    sampler.join()
    own = proc_cpu(proc.pid) or (0.0, 0.0)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    busy1, srv1 = system_busy(), servers.cpu()
    for r in readers:
        r.join()
    os.close(out_r)
    os.close(err_r)
    cpu_tree = usage.ru_utime + usage.ru_stime
    srv = {k: round(srv1.get(k, 0.0) - v, 2) for k, v in srv0.items()}
    others = (busy1 - busy0) - cpu_tree - sum(srv.values())
    return Run(
        argv=argv,
        exit_code=proc.returncode,
        wall=wall,
        cpu=own[0],
        cpu_tree=cpu_tree,
        rss_mb=peak_kb / 1024,
        rss_tree_mb=usage.ru_maxrss / 1024,
        stdout=b"".join(chunks[out_r]).decode(errors="replace"),
        stderr=b"".join(chunks[err_r]).decode(errors="replace"),
        servers_cpu=srv,
        others_cpu=round(max(0.0, others), 2),
    )


# --------------------------------------------------------------------------- the bundle


def bundle_queries(evidence_dir: Path) -> list[dict[str, Any]]:
    """Every source of the bundle with its kind, URL and queries."""
    return list(json.loads((evidence_dir / "sources.json").read_text(encoding="utf-8")))


def bundle_totals(sources: list[dict[str, Any]]) -> dict[str, Any]:
    """Number of queries and bytes received, per source and in all."""
    per: dict[str, dict[str, int]] = {}
    for s in sources:
        qs = s.get("queries") or []
        per[s["name"]] = {
            "queries": len(qs),
            "bytes": sum(int(q.get("bytes_received") or 0) for q in qs),
            # records without a size: the connector did not count what it received
            "unsized": sum(1 for q in qs if q.get("bytes_received") is None),
        }
    return {
        "queries": sum(v["queries"] for v in per.values()),
        "bytes": sum(v["bytes"] for v in per.values()),
        "per_source": per,
    }


# --------------------------------------------------------------------------- the floor


def _epoch(text: str | None) -> str | None:
    if not text:
        return None
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return f"{t.timestamp():.3f}".rstrip("0").rstrip(".")


@dataclass
class Replay:
    """One HTTP request rebuilt from a recorded query."""

    source: str
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]
    expected_bytes: int | None
    follow: str | None = None  # "composite" or "pit": more pages follow from the answers
    pages: int = 1
    failed: bool = False  # the connector's request failed too (its record holds a warning)


def prometheus_requests(source: dict[str, Any]) -> list[Replay]:
    """The requests the Prometheus connector sent, rebuilt from its query records."""
    out = []
    base = urllib.parse.urlsplit(source["url"]).path.rstrip("/")
    for q in source.get("queries") or []:
        endpoint = q.get("endpoint") or "/api/v1/query"
        params: dict[str, str] = {}
        method = "GET"
        if endpoint == "/api/v1/query_range":
            method = "POST"
            params = {
                "query": q["query"],
                "start": _epoch(q["start"]) or "",
                "end": _epoch(q["end"]) or "",
                "step": f"{float(q['step_seconds']):g}",
            }
        elif endpoint == "/api/v1/query":
            method = "POST"
            params = {"query": q["query"]}
            if q.get("end"):
                params["time"] = _epoch(q["end"]) or ""
        elif endpoint == "/api/v1/rules":
            params = {"type": "alert"}
        elif endpoint.endswith("/values") and q.get("query"):  # the lookup of changes' metrics
            params = {"match[]": q["query"]}
            params.update({k: _epoch(q[k]) or "" for k in ("start", "end") if q.get(k)})
        headers = {"Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
        body = None
        path = base + endpoint
        if method == "POST":
            body = urllib.parse.urlencode(params).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif params:
            path += "?" + urllib.parse.urlencode(params)
        out.append(
            Replay(
                source["name"],
                method,
                path,
                body,
                headers,
                q.get("bytes_received"),
                failed=bool(q.get("warnings")),
            )
        )
    return out


def elasticsearch_requests(source: dict[str, Any]) -> list[Replay]:
    """The requests the Elasticsearch connector sent, rebuilt from its query records.

    A record can stand for several requests: a composite aggregation read page by page
    (``after_key``) or a ``search_after`` scan over a point in time. Its purpose says how many
    pages; the replay follows the same pages, reading only ``after_key``/``sort`` from the
    answers (a regular-expression match, not a JSON parse).
    """
    out = []
    for q in source.get("queries") or []:
        body = q.get("query")
        endpoint = str(q.get("endpoint") or "/_search")
        index = q.get("index")
        pages = 1
        m = re.search(r"(\d+) page\(s\)", str(q.get("purpose") or ""))
        if m:
            pages = max(1, int(m.group(1)))
        headers = {"Accept": "application/json"}
        path = endpoint.split(" ")[0]
        if not path.startswith("/"):
            path = "/" + path
        follow = None
        method = "POST"
        data: bytes | None = None
        if path == "/":
            method = "GET"
        elif path.startswith("/_nodes"):
            method, path = "GET", "/_nodes/_local?filter_path=nodes.*.version"
        elif path.endswith("/_field_caps"):
            method = "GET"
            fields = body.get("fields") if isinstance(body, dict) else None
            if isinstance(fields, list):
                fields = ",".join(fields)
            params = {"fields": fields or "*", "ignore_unavailable": "true"}
            if "allow_no_indices" not in path:
                params["allow_no_indices"] = "true"
            path += "?" + urllib.parse.urlencode(params)
        elif isinstance(body, dict):
            if isinstance(body.get("pit"), dict):
                follow = "pit"
                path = f"/{urllib.parse.quote(index or '_all', safe=',*:')}/_pit"
            elif pages > 1 and _composite_name(body):
                follow = "composite"
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        else:
            method = "GET"
        out.append(
            Replay(
                source["name"],
                method,
                path,
                data,
                headers,
                q.get("bytes_received"),
                follow=follow,
                pages=pages,
                failed=bool(q.get("warnings")),
            )
        )
    return out


def _composite_name(body: dict[str, Any]) -> str | None:
    for name, agg in (body.get("aggs") or body.get("aggregations") or {}).items():
        if isinstance(agg, dict) and "composite" in agg:
            return str(name)
    return None


_AFTER_KEY = re.compile(rb'"after_key":(\{[^{}]*\})')
_SORT = re.compile(rb'"sort":(\[[^\]]*\])')
_PIT_ID = re.compile(rb'"(?:pit_)?id":"([^"]+)"')


@dataclass
class FloorResult:
    wall: float
    requests: int
    bytes: int
    wire_bytes: int
    per_source: dict[str, dict[str, Any]]
    mismatched_sizes: int
    errors: list[str]


def _replay(
    host: str, port: int, requests: list[Replay], workers: int
) -> tuple[float, int, int, int, int, list[str]]:
    local = threading.local()
    conns: list[http.client.HTTPConnection] = []
    lock = threading.Lock()
    totals = {"bytes": 0, "wire": 0, "mismatch": 0, "requests": 0}
    errors: list[str] = []

    def conn() -> http.client.HTTPConnection:
        c = getattr(local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(host, port, timeout=300)
            local.conn = c
            with lock:
                conns.append(c)
        return c

    def send(
        method: str, path: str, body: bytes | None, headers: dict[str, str], failed: bool = False
    ) -> bytes:
        c = conn()
        c.request(method, path, body=body, headers=headers)
        resp = c.getresponse()
        wire = resp.read()
        data = wire
        if resp.getheader("Content-Encoding") == "gzip":
            data = zlib.decompress(wire, 16 + zlib.MAX_WBITS)
        with lock:
            totals["bytes"] += len(data)
            totals["wire"] += len(wire)
            totals["requests"] += 1
            if resp.status >= 400 and not failed:
                errors.append(f"{method} {path[:120]}: HTTP {resp.status}")
        return data

    def one(req: Replay) -> None:
        got = 0
        if req.follow == "composite":
            body = json.loads(req.body or b"{}")
            name = _composite_name(body)
            for page in range(req.pages):
                data = send(req.method, req.path, json.dumps(body).encode(), req.headers)
                got += len(data)
                found = _AFTER_KEY.findall(data)
                if page + 1 >= req.pages or not found or name is None:
                    break
                body["aggs"][name]["composite"]["after"] = json.loads(found[-1])
        elif req.follow == "pit":
            data = send("POST", req.path + "?keep_alive=1m&ignore_unavailable=true", None, {})
            got += len(data)
            found = _PIT_ID.findall(data)
            pit = found[0].decode() if found else ""
            body = json.loads(req.body or b"{}")
            for page in range(req.pages):
                body["pit"] = {"id": pit, "keep_alive": "1m"}
                data = send("POST", "/_search", json.dumps(body).encode(), req.headers)
                got += len(data)
                if page + 1 >= req.pages:
                    break
                sorts = _SORT.findall(data)
                if not sorts:
                    break
                body["search_after"] = json.loads(sorts[-1])
                body["track_total_hits"] = False
                ids = _PIT_ID.findall(data[:4096])
                pit = ids[0].decode() if ids else pit
            got += len(send("DELETE", "/_pit", json.dumps({"id": pit}).encode(), req.headers))
        else:
            got += len(send(req.method, req.path, req.body, req.headers, req.failed))
        if req.expected_bytes is not None and abs(got - req.expected_bytes) > max(
            64, 0.01 * req.expected_bytes
        ):
            with lock:
                totals["mismatch"] += 1

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, requests))
    wall = time.monotonic() - started
    for c in conns:
        c.close()
    return wall, totals["bytes"], totals["wire"], totals["mismatch"], totals["requests"], errors


def floor(sources: list[dict[str, Any]], concurrency: dict[str, int]) -> FloorResult:
    """Replay every source's recorded queries at its concurrency, all sources at once."""
    jobs = []
    for s in sources:
        if not s.get("ok", True) or not s.get("url"):
            continue
        if s["kind"] == "prometheus":
            reqs = prometheus_requests(s)
        elif s["kind"] == "elasticsearch":
            reqs = elasticsearch_requests(s)
        else:
            continue
        parts = urllib.parse.urlsplit(s["url"])
        jobs.append((s["name"], parts.hostname or "127.0.0.1", parts.port or 80, reqs))
    results: dict[str, Any] = {}
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = {
            pool.submit(_replay, host, port, reqs, concurrency.get(name, 1)): (name, reqs)
            for name, host, port, reqs in jobs
        }
        for fut, (name, reqs) in futures.items():
            wall, nbytes, wire, mismatch, sent, errors = fut.result()
            results[name] = {
                "wall": wall,
                "records": len(reqs),
                "requests": sent,
                "bytes": nbytes,
                "wire_bytes": wire,
                "mismatched_sizes": mismatch,
                "errors": errors,
                "concurrency": concurrency.get(name, 1),
            }
    wall = time.monotonic() - started
    return FloorResult(
        wall=wall,
        requests=sum(r["requests"] for r in results.values()),
        bytes=sum(r["bytes"] for r in results.values()),
        wire_bytes=sum(r["wire_bytes"] for r in results.values()),
        per_source=results,
        mismatched_sizes=sum(r["mismatched_sizes"] for r in results.values()),
        errors=[e for r in results.values() for e in r["errors"]],
    )


# --------------------------------------------------------------------------- server-side counts

_PROM_REQUESTS = re.compile(r"^prometheus_http_requests_total\{([^}]*)\} (\S+)$", re.M)
_HANDLER = re.compile(r'handler="(/api/v1/[^"]*)"')


def prometheus_api_requests(url: str) -> int:
    """API requests Prometheus has answered since it started, from its own ``/metrics``.

    A count kept by the server, not by pmrecon: the difference around a run is how many
    queries the run sent (the benchmark's own ``/metrics`` reads are not API requests).
    """
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
    try:
        conn.request("GET", parts.path.rstrip("/") + "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    total = 0.0
    for labels, value in _PROM_REQUESTS.findall(text):
        if _HANDLER.search(labels):
            total += float(value)
    return int(total)


# --------------------------------------------------------------------------- the machine


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import platform

    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
        info["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        pass
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(Path(__file__).resolve().parent.parent),
                "rev-parse",
                "--short",
                "HEAD",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        )
        info["git_commit"] = out.stdout.strip() or None
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(Path(__file__).resolve().parent.parent),
                "status",
                "--porcelain",
                "--untracked-files=no",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        )
        info["git_dirty_files"] = len(dirty.stdout.splitlines())
    except (OSError, subprocess.SubprocessError):
        pass
    return info
