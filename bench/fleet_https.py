"""The HTTPS-only point of the fleet benchmark: both probers at once, ratio per window.

Run: ``.venv/bin/python bench/fleet.py --https [--sites 200] [--windows 3] [--window 20]``.

Why both at once: the machine is shared and its noise moves from one minute to the next, so
two systems measured one after the other can differ by the neighbours' load alone. Here
sitewatch and blackbox_exporter probe the same HTTPS fleet over the same windows, so a burst
of load hits both; the figure that counts is the ratio of their CPU per probe within each
window, and the median of those ratios.

* a Debian **nginx** (one config in a temp dir, as in :mod:`fleet`) serves the page on four
  HTTPS ports, one per variant: an ECDSA P-256 or an RSA 2048 leaf, each behind a TLS 1.2-only
  and a TLS 1.3-only server; every port listens on 127.0.0.1 … 127.0.0.8. Its defaults are
  kept: session tickets on, no shared session cache.
* site *i* is ``https://127.0.0.(1 + i//4 mod 8):PORT(i mod 4)/?site=i``: the variants and the
  hosts spread evenly;
* **sitewatch** runs one ``http`` check per site (fresh connection, certificate verified
  against the bench CA, a content match), every I seconds;
* **blackbox_exporter** gets the same URLs as ``/probe`` targets of one Prometheus job with the
  same interval: Prometheus offsets each target within the interval, which spreads the probes
  over each second as it does in production;
* one **Prometheus** scrapes both (sitewatch's ``/metrics`` and blackbox's ``/probe``), and
  counts both systems' probes over each window.

CPU is utime+stime of each agent process from ``/proc/PID/stat`` at each window's edges.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import fleet
import trustme
from fleet import MARKER, PAGE, Procs, binary, cpu_seconds, free_port, http_get, wait_until

#: (name, key type, TLS version) of each HTTPS port.
VARIANTS = (
    ("ecdsa-tls1.2", trustme.KeyType.ECDSA, "TLSv1.2"),
    ("ecdsa-tls1.3", trustme.KeyType.ECDSA, "TLSv1.3"),
    ("rsa-tls1.2", trustme.KeyType.RSA, "TLSv1.2"),
    ("rsa-tls1.3", trustme.KeyType.RSA, "TLSv1.3"),
)


#: ``--check-set key=value`` options added to every http check (e.g. ``tls_resumption=false``).
CHECK_EXTRA: dict[str, str] = {}
#: ``--src DIR``: the agent's code from another tree (PYTHONPATH), so the bench runs a snapshot.
SRC: list[str] = []
#: ``--no-blackbox``: blackbox_exporter gets no targets (sitewatch alone, e.g. at a rate the
#: machine cannot carry for both).
SOLO: list[bool] = []
#: ``--plain``: the same sites over plain HTTP (nginx's port 80 twin), the point's HTTP reference.
PLAIN: list[bool] = []


@dataclass(frozen=True)
class HttpsTarget:
    """The nginx of the HTTPS point: one port per variant, the CA bundle that signed them."""

    http_port: int
    ports: tuple[int, ...]
    ca_file: Path

    def url(self, i: int) -> str:
        """Site i: variant i mod 4, host 127.0.0.(1 + i//4 mod 8), a distinct query."""
        host = f"127.0.0.{1 + (i // len(VARIANTS)) % fleet.ADDRESSES}"
        if PLAIN:
            return f"http://{host}:{self.http_port}/?site={i}"
        return f"https://{host}:{self.ports[i % len(VARIANTS)]}/?site={i}"


def nginx_config(prefix: Path, http_port: int, ports: tuple[int, ...]) -> str:
    """nginx.conf: a plain port (readiness) and one HTTPS server per variant."""
    hosts = range(1, fleet.ADDRESSES + 1)
    servers = [
        "  server {\n"
        + "".join(f"    listen 127.0.0.{n}:{http_port};\n" for n in hosts)
        + f"    root {prefix}/html;\n  }}"
    ]
    for (name, _, version), port in zip(VARIANTS, ports, strict=True):
        listens = "".join(f"    listen 127.0.0.{n}:{port} ssl;\n" for n in hosts)
        servers.append(
            f"  server {{\n{listens}    ssl_certificate {prefix}/{name}.pem;\n"
            f"    ssl_certificate_key {prefix}/{name}.pem;\n    ssl_protocols {version};\n"
            f"    root {prefix}/html;\n    location / {{ default_type text/html; index index.html; }}\n  }}"
        )
    temp = "".join(f"  {kind}_temp_path {prefix}/tmp_{kind};\n" for kind in ("client_body", "proxy", "fastcgi"))
    temp += "".join(f"  {kind}_temp_path {prefix}/tmp_{kind};\n" for kind in ("uwsgi", "scgi"))
    return (
        f"worker_processes 2;\nerror_log {prefix}/logs/error.log warn;\nevents {{ worker_connections 4096; }}\n"
        f"http {{\n  access_log off;\n{temp}  keepalive_timeout 0;\n" + "\n".join(servers) + "\n}\n"
    )


def start_nginx(procs: Procs, work: Path) -> HttpsTarget:
    """A Debian nginx of our own with the four HTTPS variants on 127.0.0.1-8."""
    prefix = work / "nginx"
    (prefix / "html").mkdir(parents=True)
    (prefix / "logs").mkdir()
    (prefix / "html" / "index.html").write_text(PAGE)
    hosts = [f"127.0.0.{n}" for n in range(1, fleet.ADDRESSES + 1)]
    bundle = []
    for name, key_type, _ in VARIANTS:
        ca = trustme.CA(key_type=key_type)  # an RSA leaf under an RSA CA: the chain verifies as RSA
        ca.issue_cert(*hosts, key_type=key_type).private_key_and_cert_chain_pem.write_to_path(
            str(prefix / f"{name}.pem")
        )
        bundle.append(ca.cert_pem.bytes())
    ca_file = work / "ca.pem"
    ca_file.write_bytes(b"".join(bundle))
    http_port = free_port()
    ports = tuple(free_port() for _ in VARIANTS)
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(prefix, http_port, ports))
    procs.start(
        [
            binary("nginx", "/usr/sbin/nginx"),
            *("-c", str(conf), "-p", str(prefix), "-g", f"daemon off; pid {prefix}/nginx.pid;"),
        ],
        work / "nginx.log",
    )
    wait_until(lambda: http_get(f"http://127.0.0.1:{http_port}/")[0] == 200, 10, "nginx")
    return HttpsTarget(http_port, ports, ca_file)


def sitewatch_config(  # noqa: PLR0917 - one caller and a test
    target: HttpsTarget, sites: int, interval: float, port: int, state: Path, extra: dict[str, str]
) -> str:
    """One http check per HTTPS site, every ``interval`` seconds (``extra``: more agent: settings)."""
    lines = [
        "agent:",
        f"  listen: 127.0.0.1:{port}",
        f"  state_dir: {state}",
        "  concurrency: 512",
        "  per_host_concurrency: 256",
        *(f"  {key}: {value}" for key, value in extra.items()),
        "defaults:",
        f"  interval: {interval:g}s",
        f"  timeout: {interval:g}s",
        "sites:",
    ]
    for i in range(sites):
        lines += [f"  - name: site{i:05d}", f"    url: {target.url(i)}", "    checks:"]
        options = "".join(f", {key}: {value}" for key, value in CHECK_EXTRA.items())
        lines.append(f"      - {{type: http, contains: [{MARKER}]{options}}}")
    return "\n".join(lines) + "\n"


@dataclass
class Window:
    """One window: both systems' CPU seconds and probes."""

    sw_cpu: float
    bb_cpu: float
    sw_probes: float = math.nan
    bb_probes: float = math.nan
    sw_ok: float = math.nan
    bb_ok: float = math.nan
    load: float = math.nan

    @property
    def sw_ms(self) -> float:
        """sitewatch CPU ms per probe."""
        return self.sw_cpu / self.sw_probes * 1000 if self.sw_probes else math.nan

    @property
    def bb_ms(self) -> float:
        """blackbox_exporter CPU ms per probe."""
        return self.bb_cpu / self.bb_probes * 1000 if self.bb_probes else math.nan

    @property
    def ratio(self) -> float:
        """sitewatch / blackbox CPU per probe in this window."""
        return self.sw_ms / self.bb_ms if self.bb_ms else math.nan

    def kept_up(self, expected: float) -> bool:
        """Both probers completed at least ``COMPLETE`` of the probes offered in this window.

        A prober that falls behind (the machine out of cores) still spends CPU on probes that time
        out and are never counted, so its CPU per completed probe says nothing: such a window gives
        no ratio.
        """
        return min(self.sw_probes, self.bb_probes) >= COMPLETE * expected


@dataclass
class Run:
    """Everything one HTTPS run measured."""

    sites: int
    interval: float
    window: float
    windows: list[Window] = field(default_factory=list)
    lag_p99: float = math.nan
    sw_rss: float = math.nan
    bb_rss: float = math.nan


def run(  # noqa: PLR0917 - one caller
    procs: Procs, work: Path, sites: int, interval: float, window: float, count: int, extra: dict[str, str]
) -> Run:
    """Start nginx, both probers and one Prometheus; measure ``count`` consecutive windows."""
    target = start_nginx(procs, work)
    result = Run(sites, interval, window)
    bb_port, sw_port = free_port(), free_port()
    (work / "blackbox.yml").write_text(
        "modules:\n  http_bench:\n    prober: http\n    timeout: 5s\n    http:\n"
        f"      preferred_ip_protocol: ip4\n      fail_if_body_not_matches_regexp: ['{MARKER}']\n"
        f"      tls_config:\n        ca_file: {target.ca_file}\n"
    )
    exporter = procs.start(
        [
            binary("prometheus-blackbox-exporter"),
            f"--config.file={work / 'blackbox.yml'}",
            f"--web.listen-address=127.0.0.1:{bb_port}",
            "--log.level=warn",
        ],
        work / "blackbox.log",
    )
    (work / "state").mkdir()
    config = work / "sitewatch.yaml"
    config.write_text(sitewatch_config(target, sites, interval, sw_port, work / "state", extra))
    env = {**os.environ, "SSL_CERT_FILE": str(target.ca_file), **({"PYTHONPATH": SRC[0]} if SRC else {})}
    agent = procs.start([str(fleet.ROOT / ".venv/bin/sitewatch"), "run", "-c", str(config)], work / "agent.log", env)
    wait_until(lambda: http_get(f"http://127.0.0.1:{bb_port}/-/healthy")[0] == 200, 10, "blackbox_exporter")
    complete = f"sitewatch_checks_configured {sites:.1f}".encode()
    wait_until(lambda: complete in http_get(f"http://127.0.0.1:{sw_port}/metrics", 30)[1], 120, "sitewatch")
    targets = work / "targets.json"
    targets.write_text(json.dumps([{"targets": [] if SOLO else [target.url(i) for i in range(sites)]}]))
    scrape = (
        f"  - job_name: sitewatch\n    static_configs: [{{targets: ['127.0.0.1:{sw_port}']}}]\n"
        "  - job_name: blackbox\n    metrics_path: /probe\n    params: {module: [http_bench]}\n"
        f"    file_sd_configs: [{{files: ['{targets}']}}]\n"
        "    relabel_configs:\n"
        "      - {source_labels: [__address__], target_label: __param_target}\n"
        "      - {source_labels: [__param_target], target_label: instance}\n"
        f"      - {{target_label: __address__, replacement: '127.0.0.1:{bb_port}'}}\n"
    )
    prom = fleet.start_prometheus(procs, work, "both", scrape, interval)
    runs = "sum(sitewatch_check_runs_total)"
    time.sleep(interval * 3 + 2)  # every target scraped a few times, sessions (if any) warm
    wait_until(lambda: not math.isnan(prom.query(runs, time.time())), 60, "Prometheus to scrape sitewatch")
    edges = [(time.time(), cpu_seconds(agent.pid), cpu_seconds(exporter.pid))]
    for _ in range(count):
        time.sleep(window)
        edges.append((time.time(), cpu_seconds(agent.pid), cpu_seconds(exporter.pid)))
        result.windows.append(Window(edges[-1][1] - edges[-2][1], edges[-1][2] - edges[-2][2], load=os.getloadavg()[0]))
    result.sw_rss, result.bb_rss = fleet.peak_rss_mb(agent.pid), fleet.peak_rss_mb(exporter.pid)
    time.sleep(interval * 2 + 2)  # the scrapes of the last window land in the TSDB
    ok = 'sum(sitewatch_check_runs_total{status="ok"})'
    for w, ((t0, *_), (t1, *_)) in zip(result.windows, zip(edges, edges[1:], strict=False), strict=True):
        w.sw_probes = prom.query(runs, t1) - prom.query(runs, t0)
        w.sw_ok = prom.query(ok, t1) - prom.query(ok, t0)
        span = f"{round((t1 - t0) * 1000)}ms"
        w.bb_probes = prom.query(f'sum(count_over_time(probe_success{{job="blackbox"}}[{span}]))', t1)
        w.bb_ok = prom.query(f'sum(sum_over_time(probe_success{{job="blackbox"}}[{span}]))', t1)
    t_end = edges[-1][0]
    total = f"{t_end - edges[0][0]:.0f}s"
    lag = f"sum by (le) (increase(sitewatch_scheduler_lag_seconds_bucket[{total}]))"
    result.lag_p99 = prom.query(f"histogram_quantile(0.99, {lag})", t_end)
    for proc in (agent, exporter, prom.proc):
        procs.stop(proc)
    return result


#: Share of the offered probes both probers must complete for a window to give a ratio.
COMPLETE = 0.95


def report(result: Run, label: str) -> list[str]:
    """Markdown: one row per window, then the median ratio."""
    rate = result.sites / result.interval
    kind = "plain HTTP (--plain)" if PLAIN else "HTTPS only"
    lines = [
        f"### {kind}{' (' + label + ')' if label else ''}: {result.sites:,} sites every {result.interval:g} s "
        f"({rate:,.0f} probes/s each), both probers at once, {len(result.windows)} windows of {result.window:g} s",
        "",
        "| window | sitewatch CPU ms/probe | probes (ok) | blackbox CPU ms/probe | probes (ok) | ratio | load 1 min |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, w in enumerate(result.windows, 1):
        lines.append(
            f"| {n} | {w.sw_ms:.3f} | {w.sw_probes:.0f} ({w.sw_ok:.0f}) | {w.bb_ms:.3f} | "
            f"{w.bb_probes:.0f} ({w.bb_ok:.0f}) | {w.ratio:.2f}× | {w.load:.2f} |"
        )
    expected = rate * result.window
    ratios = [w.ratio for w in result.windows if not math.isnan(w.ratio) and w.kept_up(expected)]
    median = statistics.median(ratios) if ratios else math.nan
    sw_ms = statistics.median(w.sw_ms for w in result.windows)
    bb_ms = statistics.median(w.bb_ms for w in result.windows)
    behind = [n for n, w in enumerate(result.windows, 1) if not math.isnan(w.ratio) and not w.kept_up(expected)]
    if not math.isnan(median):
        verdict = "met" if median <= 0.5 else "**not met**"
    elif behind:
        verdict = f"– not measured (a prober completed < {COMPLETE:.0%} of its probes in windows {behind})"
    else:
        verdict = "– (blackbox not probing)"
    lines += [
        "",
        f"Median ratio **{median:.2f}×** (windows {min(ratios, default=math.nan):.2f}–"
        f"{max(ratios, default=math.nan):.2f}×); sitewatch median {sw_ms:.3f} ms, "
        f"blackbox median {bb_ms:.3f} ms per probe. "
        f"sitewatch lag p99 {result.lag_p99 * 1000:.1f} ms; peak RSS sitewatch {result.sw_rss:.0f} MB, "
        f"blackbox {result.bb_rss:.0f} MB. Goal ≤ 0.5×: {verdict}.",
        "",
    ]
    return lines


def main(  # noqa: PLR0917 - called from fleet.main
    sites: int, interval: float, window: float, count: int, label: str, keep: bool, extra: dict[str, str]
) -> list[str]:
    """Run the HTTPS point once; the report's lines."""
    procs = Procs()
    with fleet.workdir(keep) as work:
        try:
            result = run(procs, work, sites, interval, window, count, extra)
        finally:
            procs.stop_all()
    return report(result, label)


if __name__ == "__main__":  # pragma: no cover - run through fleet.py --https
    sys.exit(fleet.main(["--https", *sys.argv[1:]]))
