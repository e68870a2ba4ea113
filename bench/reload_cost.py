"""What a SIGHUP reload of a 10,000-check config costs, in-process: CPU time per stage and peak memory.

Run: ``.venv/bin/python -m bench.reload_cost [--sites 10000] [--repeat 3] [--profile FILE]``.

The fleet bench (``bench/fleet.py``) times a reload from outside, in wall-clock seconds, on
a shared machine. This script measures the same work inside one process, cheaply (well under
a minute, no servers, nothing written unless ``--profile`` asks for it):

* the config is ``bench.fleet.sitewatch_config`` (N sites, one ``http`` check each), and the
  reloaded one has 1% of the sites changed, as ``fleet.py``'s reload does;
* ``load_config`` split into its stages: YAML compose (libyaml when available), node → data
  conversion with ``${…}`` substitution, pydantic validation of the outer structure, site and
  check construction (the per-check validation is in there), by process CPU time (best of
  ``--repeat``) — CPU time, not wall-clock, because other benches may share the cores;
* ``load_config`` with ``previous=`` (the running config, whose equal objects are reused);
* the whole ``Agent.reload`` path (load, scheduler apply, garbage-collector freeze) on an
  agent whose scheduler holds the first config, as ``sitewatch run`` has it (``freeze_gc``);
* peak memory across that reload: the rise of VmHWM (peak resident set, reset through
  ``/proc/self/clear_refs`` just before) over the resident set before, and, in a separate
  pass because tracing slows everything down, the tracemalloc peak over what was allocated
  before the reload.

``--profile FILE`` writes cProfile statistics of one ``load_config`` (read them with
``python -m pstats FILE``) and prints the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import logging
import pstats
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bench.fleet import Point, Target, sitewatch_config
from sitewatch.agent import Agent
from sitewatch.config import document, includes, reuse, sitebuild, yamlsource
from sitewatch.config.loader import load_config
from sitewatch.config.sourcemap import Origin, Problem, SourceMap

T = TypeVar("T")
LOG = logging.getLogger("sitewatch.bench")


def status_kb(field: str) -> int:
    """A figure of /proc/self/status in kB (VmHWM: peak resident set, VmRSS: now)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return -1


def reset_peak_rss() -> bool:
    """Set VmHWM back to the current resident set (Linux ≥ 4.0); False when not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu(fn: Callable[[], T]) -> tuple[float, T]:
    """(process CPU seconds, result) of one call."""
    t0 = time.process_time()
    result = fn()
    return time.process_time() - t0, result


def write_configs(work: Path, sites: int) -> tuple[Path, str]:
    """The first config at ``work/config.yaml``; returns its path and the text of the changed one."""
    target = Target(http_port=8080, https_port=8443, ca_file=work / "ca.pem")
    point = Point("reload", sites, interval=60.0, window=0.0)
    path = work / "config.yaml"
    path.write_text(sitewatch_config(target, point, 9, work / "state"), encoding="utf-8")
    changed = sitewatch_config(target, point, 9, work / "state", changed=sites // 100)
    return path, changed


def parse_only(text: str) -> int:
    """Run the YAML parser over ``text`` without building anything; the number of events."""
    loader = yamlsource._Loader(text)
    count = 0
    try:
        while loader.check_event():
            loader.get_event()
            count += 1
    finally:
        loader.dispose()
    return count


def stages(path: Path) -> dict[str, float]:
    """CPU seconds of each stage of ``load_config(path)``, run step by step as it runs them."""
    out: dict[str, float] = {}
    smap = SourceMap(default=Origin(str(path), 1))
    problems: list[Problem] = []
    text = path.read_text(encoding="utf-8")
    out["YAML parse (events only)"], _ = cpu(lambda: parse_only(text))
    tree, data = cpu(lambda: yamlsource.load_yaml_tree(path, smap, problems))
    out["data with origins and ${} (incl. parse)"] = tree
    out["includes"], _ = cpu(lambda: includes.merge_includes(data, path.parent, smap, problems))
    parsed = reuse.Parsed()
    out["pydantic: outer structure"], raw = cpu(lambda: document._Raw.model_validate(data, context=parsed))
    out["sites and checks (check validation)"], _ = cpu(
        lambda: sitebuild.build_sites(data, raw, smap, problems, parsed)
    )
    assert not problems, problems
    return out


def read(path: Path) -> str:
    """The config file's text."""
    return path.read_text(encoding="utf-8")


def write(path: Path, text: str) -> None:
    """Replace the config file (a helper, so the async pass below does no file I/O itself)."""
    path.write_text(text, encoding="utf-8")


async def reload_pass(path: Path, changed: str, repeat: int) -> dict[str, Any]:
    """Time ``Agent.reload`` and measure the peak memory over it."""
    agent = Agent(load_config(path), LOG, freeze_gc=True)
    try:
        agent._apply(agent.config)  # what start() does, without the web server and the probe loop
        original = read(path)
        times = []
        for i in range(repeat):
            write(path, changed if i % 2 == 0 else original)
            seconds, ok = cpu(agent.reload)
            assert ok
            times.append(seconds)
        rss_before = status_kb("VmRSS")
        write(path, changed if repeat % 2 == 0 else original)
        can_reset = reset_peak_rss()
        wall = time.perf_counter()
        assert agent.reload()
        wall = time.perf_counter() - wall
        peak = status_kb("VmHWM") if can_reset else -1
        rss_after = status_kb("VmRSS")
        # tracemalloc sees only what Python allocates, but sees it exactly; a separate pass.
        write(path, original if repeat % 2 == 0 else changed)
        gc.collect()
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert agent.reload()
        current, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {
            "reload cpu": min(times),
            "reload wall": wall,
            "rss before": rss_before / 1024,
            "rss peak": peak / 1024,
            "rss after": rss_after / 1024,
            "traced peak above before": (traced_peak - base) / 2**20,
            "traced kept": (current - base) / 2**20,
        }
    finally:
        await agent.close()


def profile(path: Path, out: str) -> None:
    """cProfile one load_config; stats to ``out``, the top 25 by cumulative time printed."""
    prof = cProfile.Profile()
    prof.runcall(load_config, path)
    prof.dump_stats(out)
    pstats.Stats(out).sort_stats("cumulative").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    """Print the stage split of load_config and the reload's CPU time and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is shown")
    parser.add_argument("--profile", metavar="FILE", help="write cProfile stats of one load_config")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sitewatch-reload-") as tmp:
        work = Path(tmp)
        (work / "state").mkdir()
        path, changed = write_configs(work, args.sites)
        print(f"{args.sites} sites, libyaml: {yaml.__with_libyaml__}, loader: {yamlsource._Loader.__name__}")
        if args.profile:
            profile(path, args.profile)
        whole = min(cpu(lambda: load_config(path))[0] for _ in range(args.repeat))
        running = load_config(path)
        reused = min(cpu(lambda: load_config(path, previous=running))[0] for _ in range(args.repeat))
        split: dict[str, float] = {}
        for _ in range(args.repeat):
            for name, seconds in stages(path).items():
                split[name] = min(split.get(name, seconds), seconds)
        print(f"load_config: {whole:.3f} s CPU (best of {args.repeat}); {reused:.3f} s with previous= the same config")
        for name, seconds in split.items():
            print(f"  {name:<40} {seconds:.3f} s")
        figures = asyncio.run(reload_pass(path, changed, args.repeat))
    print(
        f"Agent.reload: {figures['reload cpu']:.3f} s CPU (best of {args.repeat}), {figures['reload wall']:.3f} s wall"
    )
    print(
        f"resident set: {figures['rss before']:.0f} MB before the reload, peak {figures['rss peak']:.0f} MB"
        f" (+{figures['rss peak'] - figures['rss before']:.0f}), {figures['rss after']:.0f} MB after"
    )
    print(
        f"tracemalloc: peak {figures['traced peak above before']:.0f} MB above the start of the reload,"
        f" {figures['traced kept']:+.0f} MB kept after it"
    )
    with open("/proc/loadavg", encoding="ascii") as f:
        print(f"load average: {' '.join(f.read().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
