"""Watch a fleet of sites with sitewatch and with blackbox_exporter; compare what each costs.

Run: ``make bench`` (installs nginx, prometheus and prometheus-blackbox-exporter from
Debian first), or ``.venv/bin/python bench/fleet.py [--quick] [--label NAME]``.

One run, loopback only, the same workload for both systems, one after the other
(never side by side: they would compete for the same two cores):

* a Debian **nginx** started from a generated config in a temporary directory serves a
  small page over HTTP and HTTPS on several 127.0.0.x addresses; each "site" is a
  distinct URL (address, scheme and query string);
* **sitewatch** gets N sites, one ``http`` check each (fresh connection per probe, phase
  timings on, a content match), and a real **Prometheus** scrapes its ``/metrics``
  every I seconds;
* **blackbox_exporter** gets the same N URLs as Prometheus ``/probe`` targets (the
  multi-target pattern with ``relabel_configs``), scraped every I seconds.

After a warm-up of one interval, CPU (``/proc/PID/stat`` utime+stime) is read at the
start and end of a fixed window; probe counts, scheduling lag and scrape times come
from Prometheus' own TSDB over that window. Every figure is also given as a ratio
sitewatch / blackbox from the same run, because the machine is shared and absolute
numbers are noisy; the load average is recorded at start and end.

Results go to ``bench/results/<date>-fleet[-LABEL].md``. Everything started here is
stopped by PID in ``finally`` blocks. Speed goals are printed, never asserted in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trustme

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
MARKER = "sitewatch-bench-page"
PAGE = f"<!doctype html><html><head><title>bench</title></head><body><p>{MARKER}</p>{'x' * 900}</body></html>\n"
ADDRESSES = 8  # 127.0.0.1 … 127.0.0.8: several "hosts" on one nginx
HTTPS_EVERY = 10  # one site in ten is HTTPS
TICK = os.sysconf("SC_CLK_TCK")


# -- small process helpers -----------------------------------------------------------------


def free_port() -> int:
    """An ephemeral loopback port for a server that wants one on its command line."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of one process, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds."""
    return sum(cpu_times(pid))


def status_mb(pid: int, field: str) -> float:
    """A memory figure of /proc/PID/status (VmHWM: peak resident set, VmRSS: now), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of one process, in MB."""
    return status_mb(pid, "VmHWM")


def binary(name: str, *candidates: str) -> str:
    """Path of an installed program (``make bench`` installs them from Debian)."""
    for path in (shutil.which(name), *candidates):
        if path and Path(path).exists():
            return path
    raise SystemExit(f"{name} not found: run `make bench`, which installs it with apt-get")


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET on loopback; (status, body), status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except OSError:
        return 0, b""


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until ``predicate()``; the seconds it took. No fixed sleeps."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - start


@dataclass
class Procs:
    """Every process this run started, stopped by PID however the run ends."""

    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start ``args`` with stdout and stderr in ``log``."""
        with log.open("ab") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        self.started.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(ValueError):
            self.started.remove(proc)

    def stop_all(self) -> None:
        """Stop everything still running, newest first."""
        for proc in reversed(list(self.started)):
            self.stop(proc)


# -- the target ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The nginx instance and the CA that signed its certificate."""

    http_port: int
    https_port: int
    ca_file: Path

    def url(self, i: int) -> str:
        """The i-th site's URL: spread over addresses, one in ten HTTPS, a distinct query."""
        host = f"127.0.0.{1 + i % ADDRESSES}"
        if i % HTTPS_EVERY == 0:
            return f"https://{host}:{self.https_port}/?site={i}"
        return f"http://{host}:{self.http_port}/?site={i}"


def start_nginx(procs: Procs, work: Path) -> Target:
    """A Debian nginx of our own (not the system service): HTTP and HTTPS on 127.0.0.1-8."""
    nginx = binary("nginx", "/usr/sbin/nginx")
    prefix = work / "nginx"
    (prefix / "html").mkdir(parents=True)
    (prefix / "logs").mkdir()
    (prefix / "html" / "index.html").write_text(PAGE)
    ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
    cert = ca.issue_cert(*(f"127.0.0.{n}" for n in range(1, ADDRESSES + 1)), key_type=trustme.KeyType.ECDSA)
    cert.private_key_and_cert_chain_pem.write_to_path(str(prefix / "server.pem"))
    ca_file = work / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    http_port, https_port = free_port(), free_port()
    listens = "".join(
        f"    listen 127.0.0.{n}:{http_port};\n    listen 127.0.0.{n}:{https_port} ssl;\n"
        for n in range(1, ADDRESSES + 1)
    )
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/tmp_body;
  proxy_temp_path {prefix}/tmp_proxy;
  fastcgi_temp_path {prefix}/tmp_fastcgi;
  uwsgi_temp_path {prefix}/tmp_uwsgi;
  scgi_temp_path {prefix}/tmp_scgi;
  keepalive_timeout 0;
  server {{
{listens}    ssl_certificate {prefix}/server.pem;
    ssl_certificate_key {prefix}/server.pem;
    root {prefix}/html;
    location / {{ default_type text/html; index index.html; }}
  }}
}}
"""
    )
    procs.start(
        [nginx, "-c", str(conf), "-p", str(prefix), "-g", f"daemon off; pid {prefix}/nginx.pid;"],
        work / "nginx.log",
    )
    target = Target(http_port, https_port, ca_file)
    wait_until(lambda: http_get(target.url(1))[0] == 200, 10, "nginx")
    return target


# -- Prometheus ----------------------------------------------------------------------------


@dataclass
class Prometheus:
    """A real Prometheus with its own TSDB in the run's temp dir."""

    base: str
    proc: subprocess.Popen[bytes]

    def query(self, expr: str, at: float) -> float:
        """One instant query; the single value (summed by the expression), NaN if empty."""
        qs = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
        status, body = http_get(f"{self.base}/api/v1/query?{qs}", timeout=30)
        if status != 200:
            raise SystemExit(f"Prometheus query failed ({status}): {expr}")
        result = json.loads(body)["data"]["result"]
        return float(result[0]["value"][1]) if result else float("nan")


def start_prometheus(procs: Procs, work: Path, name: str, scrape: str, interval: float) -> Prometheus:
    """Start Prometheus with one scrape job (YAML fragment ``scrape``)."""
    port = free_port()
    root = work / f"prometheus-{name}"
    root.mkdir()
    config = root / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {interval:g}s\n  scrape_timeout: {min(interval, 10):g}s\n"
        f"scrape_configs:\n{scrape}"
    )
    proc = procs.start(
        [
            binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        root / "prometheus.log",
    )
    prom = Prometheus(f"http://127.0.0.1:{port}", proc)
    wait_until(lambda: http_get(f"{prom.base}/-/ready")[0] == 200, 30, "Prometheus")
    return prom


# -- the two systems -----------------------------------------------------------------------


@dataclass
class Phase:
    """What one system did in one scale point."""

    probes: float = float("nan")
    expected: float = float("nan")
    ok: float = float("nan")
    agent_cpu: float = float("nan")
    agent_sys: float = float("nan")  # the kernel's share (stime): connect, close, TLS records
    prom_cpu: float = float("nan")
    rss_mb: float = float("nan")
    rss_window_mb: float = float("nan")  # peak at the end of the window: before any reload
    rss_now_mb: float = float("nan")
    prom_rss_mb: float = float("nan")
    lag_p50: float = float("nan")
    lag_p99: float = float("nan")
    lag_within_100ms: float = float("nan")
    scrape_avg: float = float("nan")
    scrape_max: float = float("nan")
    samples: float = float("nan")
    render_avg: float = float("nan")  # the agent's own sitewatch_metrics_render_seconds
    render_max: float = float("nan")
    startup: float = float("nan")
    reload: float = float("nan")
    notes: list[str] = field(default_factory=list)

    def kernel_ms_per_probe(self) -> float:
        """The kernel's share (stime) of :meth:`cpu_ms_per_probe`."""
        return self.agent_sys / self.probes * 1000 if self.probes else float("nan")

    def cpu_ms_per_probe(self, with_prom: bool = False) -> float:
        """CPU seconds per 1,000 probes == CPU milliseconds per probe."""
        cpu = self.agent_cpu + (self.prom_cpu if with_prom else 0.0)
        return cpu / self.probes * 1000 if self.probes else float("nan")


@dataclass(frozen=True)
class Point:
    """One scale point: N sites probed every I seconds, measured over a window."""

    name: str
    sites: int
    interval: float
    window: float
    #: False: only startup, reload and memory (the quick run's 10,000-check point).
    measure: bool = True

    @property
    def rate(self) -> float:
        """Probes per second the workload asks for."""
        return self.sites / self.interval


#: ``--agent-set key=value`` settings added to the agent section (e.g. ``timer_slack=0s``).
AGENT_EXTRA: dict[str, str] = {}


def sitewatch_config(target: Target, point: Point, port: int, state: Path, changed: int = 0) -> str:
    """The agent's YAML: one http check per site; ``changed`` sites get another URL (for reload)."""
    lines = [
        "agent:",
        f"  listen: 127.0.0.1:{port}",
        f"  state_dir: {state}",
        "  concurrency: 512",
        "  per_host_concurrency: 256",
        *(f"  {key}: {value}" for key, value in AGENT_EXTRA.items()),
        "defaults:",
        f"  interval: {point.interval:g}s",
        "  timeout: 5s",
        "sites:",
    ]
    for i in range(point.sites):
        url = target.url(i) + ("&v=2" if i < changed else "")
        lines += [
            f"  - name: site{i:05d}",
            f"    url: {url}",
            "    checks:",
            f"      - {{type: http, contains: [{MARKER}]}}",
        ]
    return "\n".join(lines) + "\n"


def measure_window(
    point: Point, agent: subprocess.Popen[bytes], prom: Prometheus, phase: Phase, ready: str = ""
) -> tuple[float, float]:
    """Warm up one interval (plus a scrape), then read CPU over the window; returns (t0, t1).

    ``ready`` is a PromQL expression that must have a value before the window opens: a
    difference of counters at t0 and t1 needs a scrape before t0 (a slow first scrape left
    one run's 1,000-site counts empty).
    """
    time.sleep(point.interval * 1.2 + 2)
    if ready:
        wait_until(lambda: not math.isnan(prom.query(ready, time.time())), 60, f"Prometheus to have {ready}")
    a0, p0, t0 = cpu_times(agent.pid), cpu_seconds(prom.proc.pid), time.time()
    time.sleep(point.window)
    a1, p1, t1 = cpu_times(agent.pid), cpu_seconds(prom.proc.pid), time.time()
    phase.agent_cpu, phase.prom_cpu = sum(a1) - sum(a0), p1 - p0
    phase.agent_sys = a1[1] - a0[1]
    phase.rss_mb, phase.prom_rss_mb = peak_rss_mb(agent.pid), peak_rss_mb(prom.proc.pid)
    phase.rss_window_mb, phase.rss_now_mb = phase.rss_mb, status_mb(agent.pid, "VmRSS")
    phase.expected = point.rate * point.window
    # Let scrapes that started inside the window land in the TSDB before asking about it.
    time.sleep(min(point.interval, 5.0) + 1)
    return t0, t1


def run_sitewatch(
    procs: Procs,
    work: Path,
    target: Target,
    point: Point,
    *,
    loop: str,
    reload: bool,
    profile: str | None,
    src: str,
) -> Phase:
    """N sites in sitewatch, scraped by Prometheus every I seconds."""
    phase = Phase()
    root = work / f"sitewatch-{point.name}-{loop}"
    (root / "state").mkdir(parents=True)
    port = free_port()
    config = root / "config.yaml"
    config.write_text(sitewatch_config(target, point, port, root / "state"))
    scrape = f"  - job_name: sitewatch\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    prom = start_prometheus(procs, root, "sw", scrape, point.interval)
    env = {**os.environ, "SSL_CERT_FILE": str(target.ca_file), "SITEWATCH_LOOP": loop}
    if src:  # another checkout's code (e.g. `git archive` of an older commit) ahead of the editable install
        env["PYTHONPATH"] = src
    log = root / "agent.log"
    spawned = time.monotonic()
    agent = procs.start([str(ROOT / ".venv/bin/sitewatch"), "run", "-c", str(config)], log, env)
    complete = f"sitewatch_checks_configured {point.sites:.1f}".encode()

    def serving() -> bool:
        if agent.poll() is not None:
            raise SystemExit(f"sitewatch exited with {agent.returncode}; see {log}")
        return complete in http_get(f"http://127.0.0.1:{port}/metrics", timeout=30)[1]

    wait_until(serving, 120, "sitewatch /metrics")
    phase.startup = time.monotonic() - spawned
    spy = None
    if profile:
        spy = procs.start(
            [
                *(
                    str(ROOT / ".venv/bin/py-spy"),
                    "record",
                    "-o",
                    profile,
                    "--pid",
                    str(agent.pid),
                    "--nonblocking",
                    "--gil",
                    "--rate",
                    "250",
                ),
                # An .svg is a flame graph; any other name gets collapsed stacks, greppable text.
                *(() if profile.endswith(".svg") else ("--format", "raw")),
            ],
            root / "py-spy.log",
        )
    if not point.measure:
        phase.reload = measure_reload(agent, config, log, target, point, port, root) if reload else phase.reload
        phase.rss_mb, phase.rss_now_mb = peak_rss_mb(agent.pid), status_mb(agent.pid, "VmRSS")
        procs.stop(agent)
        procs.stop(prom.proc)
        return phase
    try:
        t0, t1 = measure_window(point, agent, prom, phase, ready="sum(sitewatch_check_runs_total)")
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(timeout=30)
            procs.stop(spy)
    w = f"{point.window:g}s"
    runs = "sum(sitewatch_check_runs_total)"
    phase.probes = prom.query(runs, t1) - prom.query(runs, t0)
    ok = 'sum(sitewatch_check_runs_total{status="ok"})'
    phase.ok = prom.query(ok, t1) - prom.query(ok, t0)
    lag = f"sum by (le) (increase(sitewatch_scheduler_lag_seconds_bucket[{w}]))"
    phase.lag_p50 = prom.query(f"histogram_quantile(0.5, {lag})", t1)
    phase.lag_p99 = prom.query(f"histogram_quantile(0.99, {lag})", t1)
    within = f'sum(increase(sitewatch_scheduler_lag_seconds_bucket{{le="0.1"}}[{w}]))'
    phase.lag_within_100ms = prom.query(within, t1) / prom.query(
        f"sum(increase(sitewatch_scheduler_lag_seconds_count[{w}]))", t1
    )
    phase.scrape_avg = prom.query(f'avg_over_time(scrape_duration_seconds{{job="sitewatch"}}[{w}])', t1)
    phase.scrape_max = prom.query(f'max_over_time(scrape_duration_seconds{{job="sitewatch"}}[{w}])', t1)
    phase.samples = prom.query('scrape_samples_scraped{job="sitewatch"}', t1)
    phase.render_avg = prom.query(f"avg_over_time(sitewatch_metrics_render_seconds[{w}])", t1)
    phase.render_max = prom.query(f"max_over_time(sitewatch_metrics_render_seconds[{w}])", t1)
    if reload:
        phase.reload = measure_reload(agent, config, log, target, point, port, root)
    phase.rss_mb = peak_rss_mb(agent.pid)
    procs.stop(agent)
    procs.stop(prom.proc)
    return phase


def measure_reload(  # noqa: PLR0917 - one caller
    agent: subprocess.Popen[bytes], config: Path, log: Path, target: Target, point: Point, port: int, root: Path
) -> float:
    """SIGHUP with 1% of the sites changed; seconds until the agent logs ``reloaded``."""
    config.write_text(sitewatch_config(target, point, port, root / "state", changed=point.sites // 100))
    before = log.read_text(errors="replace").count(" reloaded ")
    agent.send_signal(signal.SIGHUP)
    return wait_until(
        lambda: log.read_text(errors="replace").count(" reloaded ") > before, 120, "the agent's reloaded event"
    )


def run_blackbox(procs: Procs, work: Path, target: Target, point: Point) -> Phase:
    """The same N URLs as Prometheus /probe targets of blackbox_exporter."""
    phase = Phase()
    root = work / f"blackbox-{point.name}"
    root.mkdir()
    (root / "blackbox.yml").write_text(
        "modules:\n  http_bench:\n    prober: http\n    timeout: 5s\n    http:\n"
        "      preferred_ip_protocol: ip4\n"
        f"      fail_if_body_not_matches_regexp: ['{MARKER}']\n"
        f"      tls_config:\n        ca_file: {target.ca_file}\n"
    )
    port = free_port()
    exporter = procs.start(
        [
            binary("prometheus-blackbox-exporter"),
            f"--config.file={root / 'blackbox.yml'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        root / "blackbox.log",
    )
    wait_until(lambda: http_get(f"http://127.0.0.1:{port}/-/healthy")[0] == 200, 10, "blackbox_exporter")
    targets = root / "targets.json"
    targets.write_text(json.dumps([{"targets": [target.url(i) for i in range(point.sites)]}]))
    scrape = (
        "  - job_name: blackbox\n    metrics_path: /probe\n    params: {module: [http_bench]}\n"
        f"    file_sd_configs: [{{files: ['{targets}']}}]\n"
        "    relabel_configs:\n"
        "      - {source_labels: [__address__], target_label: __param_target}\n"
        "      - {source_labels: [__param_target], target_label: instance}\n"
        f"      - {{target_label: __address__, replacement: '127.0.0.1:{port}'}}\n"
    )
    prom = start_prometheus(procs, root, "bb", scrape, point.interval)
    t0, t1 = measure_window(point, exporter, prom, phase)
    del t0
    w = f"{point.window:g}s"
    phase.probes = prom.query(f'sum(count_over_time(probe_success{{job="blackbox"}}[{w}]))', t1)
    phase.ok = prom.query(f'sum(sum_over_time(probe_success{{job="blackbox"}}[{w}]))', t1)
    phase.scrape_avg = prom.query(f'avg(avg_over_time(scrape_duration_seconds{{job="blackbox"}}[{w}]))', t1)
    phase.scrape_max = prom.query(f'max(max_over_time(scrape_duration_seconds{{job="blackbox"}}[{w}]))', t1)
    phase.samples = prom.query('sum(scrape_samples_scraped{job="blackbox"})', t1)
    phase.rss_mb = peak_rss_mb(exporter.pid)
    procs.stop(exporter)
    procs.stop(prom.proc)
    return phase


# -- the report ----------------------------------------------------------------------------


def _f(value: float, fmt: str = "{:.2f}") -> str:
    return "–" if math.isnan(value) else fmt.format(value)  # NaN is "not measured"


def _ratio(ours: float, theirs: float) -> str:
    if math.isnan(ours) or math.isnan(theirs) or not theirs:
        return "–"
    return f"{ours / theirs:.2f}×"


def _completed(phase: Phase) -> str:
    share = phase.probes / phase.expected * 100
    return f"{_f(phase.probes, '{:.0f}')} / {_f(phase.expected, '{:.0f}')} ({_f(share, '{:.1f}')} %)"


def table(point: Point, sw: Phase, bb: Phase | None) -> list[str]:
    """Markdown rows for one scale point, both systems side by side."""
    if not point.measure:
        return [
            f"### {point.name}: {point.sites:,} sites, startup and reload only (sitewatch)",
            "",
            "| figure | sitewatch |",
            "|---|---|",
            f"| startup to first complete /metrics (s) | {_f(sw.startup)} |",
            f"| SIGHUP reload, 1 % of sites changed (s) | {_f(sw.reload)} |",
            f"| agent RSS (MB): peak (reload included) / at the end | {_f(sw.rss_mb, '{:.0f}')} / "
            f"{_f(sw.rss_now_mb, '{:.0f}')} |",
            "",
        ]
    bb = bb or Phase()
    rows: list[tuple[str, str, str, str]] = [
        (
            "CPU ms per probe (= CPU s per 1,000 probes), agent alone",
            _f(sw.cpu_ms_per_probe(), "{:.3f}"),
            _f(bb.cpu_ms_per_probe(), "{:.3f}"),
            _ratio(sw.cpu_ms_per_probe(), bb.cpu_ms_per_probe()),
        ),
        (
            "… of which in the kernel (stime)",
            _f(sw.kernel_ms_per_probe(), "{:.3f}"),
            _f(bb.kernel_ms_per_probe(), "{:.3f}"),
            _ratio(sw.agent_sys, bb.agent_sys),
        ),
        (
            "CPU ms per probe, agent + its Prometheus",
            _f(sw.cpu_ms_per_probe(True), "{:.3f}"),
            _f(bb.cpu_ms_per_probe(True), "{:.3f}"),
            _ratio(sw.cpu_ms_per_probe(True), bb.cpu_ms_per_probe(True)),
        ),
        (
            "agent CPU, share of one core",
            _f(sw.agent_cpu / point.window * 100, "{:.0f} %"),
            _f(bb.agent_cpu / point.window * 100, "{:.0f} %"),
            _ratio(sw.agent_cpu, bb.agent_cpu),
        ),
        (
            "peak RSS of the agent (MB), whole run",
            _f(sw.rss_mb, "{:.0f}"),
            _f(bb.rss_mb, "{:.0f}"),
            _ratio(sw.rss_mb, bb.rss_mb),
        ),
        (
            "agent RSS (MB): peak before any reload / at the window's end",
            f"{_f(sw.rss_window_mb, '{:.0f}')} / {_f(sw.rss_now_mb, '{:.0f}')}",
            f"{_f(bb.rss_window_mb, '{:.0f}')} / {_f(bb.rss_now_mb, '{:.0f}')}",
            "",
        ),
        (
            "peak RSS of its Prometheus (MB)",
            _f(sw.prom_rss_mb, "{:.0f}"),
            _f(bb.prom_rss_mb, "{:.0f}"),
            _ratio(sw.prom_rss_mb, bb.prom_rss_mb),
        ),
        (
            "probes completed / expected",
            _completed(sw),
            _completed(bb),
            "",
        ),
        ("probes ok", _f(sw.ok, "{:.0f}"), _f(bb.ok, "{:.0f}"), ""),
        (
            "scheduling lag p50 / p99 (ms)",
            f"{_f(sw.lag_p50 * 1000, '{:.1f}')} / {_f(sw.lag_p99 * 1000, '{:.1f}')}",
            "– (Prometheus schedules)",
            "",
        ),
        ("runs started ≤ 100 ms late", _f(sw.lag_within_100ms * 100, "{:.2f} %"), "–", ""),
        (
            "scrape time avg / max (ms): sitewatch /metrics, blackbox each /probe",
            f"{_f(sw.scrape_avg * 1000, '{:.1f}')} / {_f(sw.scrape_max * 1000, '{:.1f}')}",
            f"{_f(bb.scrape_avg * 1000, '{:.1f}')} / {_f(bb.scrape_max * 1000, '{:.1f}')}",
            "",
        ),
        (
            "/metrics render CPU time avg / max (ms), the agent's own gauge",
            f"{_f(sw.render_avg * 1000, '{:.1f}')} / {_f(sw.render_max * 1000, '{:.1f}')}",
            "–",
            "",
        ),
        ("samples per scrape (all targets)", _f(sw.samples, "{:.0f}"), _f(bb.samples, "{:.0f}"), ""),
    ]
    if not math.isnan(sw.startup):
        rows.append(("startup to first complete /metrics (s)", _f(sw.startup), "–", ""))
    if not math.isnan(sw.reload):
        rows.append(("SIGHUP reload, 1 % of sites changed (s)", _f(sw.reload), "–", ""))
    out = [
        f"### {point.name}: {point.sites:,} sites every {point.interval:g} s "
        f"({point.rate:,.0f} probes/s), {point.window:g} s window",
        "",
        "| figure | sitewatch | blackbox_exporter | ratio |",
        "|---|---|---|---|",
    ]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return [*out, ""]


def goals(points: dict[str, tuple[Point, Phase, Phase | None]]) -> list[str]:
    """The issue's goals against this run's figures."""
    out = ["### Goals", "", "| goal | measured | met |", "|---|---|---|"]

    def row(goal: str, measured: str, met: bool | None) -> None:
        out.append(f"| {goal} | {measured} | {'–' if met is None else ('yes' if met else '**no**')} |")

    for name, (_, sw, bb) in points.items():
        if bb is not None:
            ratio = sw.cpu_ms_per_probe() / bb.cpu_ms_per_probe()
            row(f"CPU per probe ≤ 0.5× blackbox ({name})", f"{ratio:.2f}×", ratio <= 0.5)
    for name, (point, sw, _) in points.items():
        if point.rate >= 1000:
            row(
                f"{point.rate:,.0f} probes/s: lag p99 < 100 ms ({name})",
                f"{sw.lag_p99 * 1000:.1f} ms",
                sw.lag_p99 < 0.1,
            )
            row(
                f"{point.rate:,.0f} probes/s: nothing dropped ({name})",
                f"{sw.probes:.0f} / {sw.expected:.0f}",
                sw.probes >= 0.995 * sw.expected,
            )
            row(f"{point.rate:,.0f} probes/s on one core ({name})", f"{sw.agent_cpu / point.window:.2f} cores", None)
        if point.sites >= 10_000 and not point.measure:
            row(f"{point.sites:,} checks: reload < 2 s", f"{sw.reload:.2f} s", sw.reload < 2)
        elif point.sites >= 10_000:
            row(
                f"{point.sites:,} checks: RSS ≤ 200 MB (peak while probing and scraped)",
                f"{sw.rss_window_mb:.0f} MB",
                sw.rss_window_mb <= 200,
            )
            row(
                f"{point.sites:,} checks: RSS ≤ 200 MB (peak of the whole run, reload included)",
                f"{sw.rss_mb:.0f} MB",
                sw.rss_mb <= 200,
            )
            row(
                f"{point.sites:,} checks: /metrics rendered < 250 ms",
                f"{sw.render_max * 1000:.0f} ms max (the agent's gauge)",
                sw.render_max < 0.25,
            )
            row(
                f"{point.sites:,} checks: /metrics scraped < 250 ms (Prometheus' view, at {point.rate:,.0f} probes/s)",
                f"{sw.scrape_max * 1000:.0f} ms max",
                sw.scrape_max < 0.25,
            )
            if not math.isnan(sw.reload):
                row(f"{point.sites:,} checks: reload < 2 s", f"{sw.reload:.2f} s", sw.reload < 2)
    return [*out, ""]


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    """A temp dir for configs, TSDBs and logs; kept with --keep for debugging."""
    path = Path(tempfile.mkdtemp(prefix="sitewatch-fleet-"))
    path.chmod(0o755)  # nginx workers drop root and must read the page
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run the scale points, print the table and write it to bench/results/."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run (small N, short windows)")
    parser.add_argument("--label", default="", help="suffix of the results file (e.g. baseline)")
    parser.add_argument("--loop", default="asyncio", choices=("asyncio", "uvloop"), help="sitewatch event loop")
    parser.add_argument("--only", default="", help="comma-separated site counts of the points to run (e.g. 10000)")
    parser.add_argument("--no-blackbox", action="store_true", help="measure sitewatch only")
    parser.add_argument("--profile", default="", help="py-spy SVG of the agent during this point's window")
    parser.add_argument("--window", type=float, default=0, help="override the measurement window (s)")
    parser.add_argument("--src", default="", help="run the agent from this source tree (PYTHONPATH)")
    parser.add_argument(
        "--agent-set", action="append", default=[], metavar="KEY=VALUE", help="an agent: setting for sitewatch"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, configs)")
    parser.add_argument("--no-write", action="store_true", help="print only; write no results file")
    https = parser.add_argument_group("the HTTPS-only point (bench/fleet_https.py): both probers at once")
    https.add_argument("--https", action="store_true", help="run the HTTPS-only point instead of the fleet")
    https.add_argument("--sites", type=int, default=200, help="HTTPS sites (default 200)")
    https.add_argument("--interval", type=float, default=1.0, help="seconds between probes of a site (default 1)")
    https.add_argument("--windows", type=int, default=3, help="consecutive windows measured (default 3)")
    https.add_argument("--plain", action="store_true", help="the same point over plain HTTP (a reference)")
    https.add_argument(
        "--check-set", action="append", default=[], metavar="KEY=VALUE", help="an option of every http check"
    )
    args = parser.parse_args(argv)
    AGENT_EXTRA.update(item.split("=", 1) for item in args.agent_set)
    if args.https:
        return https_main(args)
    if args.quick:
        plan = [Point("N=200", 200, 5, 15), Point("N=10,000 start/reload", 10_000, 60, 0, measure=False)]
    else:
        plan = [Point("N=1,000", 1_000, 10, 30), Point("N=10,000", 10_000, 10, 30)]
    if args.window:
        plan = [Point(p.name, p.sites, p.interval, args.window) for p in plan]
    if args.only:
        wanted = {int(n) for n in args.only.split(",")}
        plan = [p for p in plan if p.sites in wanted]
    load_start = os.getloadavg()
    started_at = dt.datetime.now(dt.UTC)
    results: dict[str, tuple[Point, Phase, Phase | None]] = {}
    procs = Procs()
    with workdir(args.keep) as work:
        try:
            target = start_nginx(procs, work)
            for point in plan:
                big = point.sites >= 10_000
                quick_big = args.quick and big
                print(f"{point.name}: sitewatch ...", file=sys.stderr, flush=True)
                profile = args.profile if args.profile and point is plan[-1] else None
                sw = run_sitewatch(
                    procs, work, target, point, loop=args.loop, reload=big, profile=profile, src=args.src
                )
                bb = None
                if not args.no_blackbox and not quick_big:
                    print(f"{point.name}: blackbox_exporter ...", file=sys.stderr, flush=True)
                    bb = run_blackbox(procs, work, target, point)
                results[point.name] = (point, sw, bb)
        finally:
            procs.stop_all()
    load_end = os.getloadavg()
    lines = [
        f"## Fleet benchmark, {started_at:%Y-%m-%d %H:%M} UTC{' (' + args.label + ')' if args.label else ''}",
        "",
        f"`bench/fleet.py{' --quick' if args.quick else ''}` on {platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, sitewatch event loop `{args.loop}`"
        f"{', code from ' + args.src if args.src else ''}. "
        f"Load average (1/5/15 min) at start {' '.join(f'{x:.2f}' for x in load_start)}, "
        f"at end {' '.join(f'{x:.2f}' for x in load_end)} (the machine is shared: compare ratios, not absolutes).",
        "",
    ]
    for point, sw, bb in results.values():
        lines += table(point, sw, bb)
    lines += goals(results)
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        suffix = f"-{args.label}" if args.label else ""
        out = RESULTS / f"{started_at:%Y-%m-%d}-fleet{suffix}.md"
        if out.exists():  # a second run the same day keeps the first one's table
            out = RESULTS / f"{started_at:%Y-%m-%d-%H%M}-fleet{suffix}.md"
        out.write_text(text)
        print(f"written to {out.relative_to(ROOT)}", file=sys.stderr)
    return 0


def https_main(args: argparse.Namespace) -> int:
    """``--https``: the HTTPS-only point of bench/fleet_https.py, written like the fleet's results."""
    import fleet_https

    fleet_https.CHECK_EXTRA.update(item.split("=", 1) for item in args.check_set)
    fleet_https.SRC.extend([args.src] if args.src else [])
    fleet_https.SOLO.extend([True] if args.no_blackbox else [])
    fleet_https.PLAIN.extend([True] if args.plain else [])
    load_start, started_at = os.getloadavg(), dt.datetime.now(dt.UTC)
    rows = fleet_https.main(
        args.sites, args.interval, args.window or 20, args.windows, args.label, args.keep, dict(AGENT_EXTRA)
    )
    load_end = os.getloadavg()
    text = "\n".join(
        [
            f"## HTTPS fleet benchmark, {started_at:%Y-%m-%d %H:%M} UTC{' (' + args.label + ')' if args.label else ''}",
            "",
            f"`bench/fleet.py --https` on {platform.node()}: {os.cpu_count()} cores, "
            f"Python {platform.python_version()}. "
            f"Load average (1/5/15 min) at start {' '.join(f'{x:.2f}' for x in load_start)}, at end "
            f"{' '.join(f'{x:.2f}' for x in load_end)} (shared machine: the per-window ratio is what counts).",
            "",
            *rows,
        ]
    )
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        suffix = f"-{args.label}" if args.label else ""
        out = RESULTS / f"{started_at:%Y-%m-%d-%H%M}-fleet-https{suffix}.md"
        out.write_text(text)
        print(f"written to {out.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
