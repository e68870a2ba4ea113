"""Cost of judging installed components against a full-size Wordfence snapshot (issue 23).

- parse: a Wordfence-shaped production feed of 42,500 records (the real feed's record count in
  late 2026; our records are shorter than the real ones, so the bytes are fewer) into the index;
- judge: 2,000 installed plugins (every 20th one in a vulnerable range, CF7 5.3.1 among them)
  with ``judge_components``, as the check runs it once the snapshot is loaded. Target: < 100 ms CPU.
  The peer is the minimum the same work needs: one index lookup and one version parse per plugin.

Run: .venv/bin/python -m bench.cms_components [--records N] [--plugins N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import resource
import statistics
import time
from collections.abc import Callable

from checks.cms import vulns
from checks.cms.components import Component
from checks.cms.config import ComponentsConfig
from checks.cms.versions import parse_version
from sitewatch.probe import AdvisoryBook, SourceState, parse_snapshot
from sitewatch.runtime import freeze_long_lived
from tests.advisory_feeds import wordfence_feed


def cpu(func: Callable[[], object], rounds: int) -> list[float]:
    """CPU seconds of each of ``rounds`` calls."""
    out = []
    for _ in range(rounds):
        start = time.process_time()
        func()
        out.append(time.process_time() - start)
    return out


def loop_stall(work: Callable[[], object]) -> float:
    """The longest the event loop waited past a 5 ms timer while ``work`` ran in a worker thread (seconds)."""

    async def measure() -> float:
        worst = 0.0
        task = asyncio.ensure_future(asyncio.to_thread(work))
        while not task.done():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - start - 0.005)
        await task
        return worst

    return asyncio.run(measure())


def installed(book: AdvisoryBook, plugins: int) -> list[Component]:
    """``plugins`` components over the feed's slugs; every 20th at a version inside an advisory's range."""
    rng = random.Random(7)
    snapshot = book.snapshots["wordfence"]
    slugs = sorted(name for (eco, name) in snapshot.index if eco == "wordpress-plugin")
    out = [Component("plugin", "contact-form-7", "5.3.1", "bench")]
    for n, slug in enumerate(rng.sample(slugs, plugins - 1)):
        advisories = snapshot.index[("wordpress-plugin", slug)]
        highs = [v for a in advisories for r in a.ranges if r.high and (v := parse_version(r.high))]
        newest = max(highs, default=None)
        if n % 20 == 0 and newest is not None:
            version = str(newest)  # inside the newest advisory's range: vulnerable
        elif newest is not None:
            version = f"{newest.release[0]}.{newest.release[1] + 1}.0"  # updated past every advisory
        else:
            version = "1.0.0"  # only unpatched advisories: vulnerable whatever the version
        out.append(Component("plugin", slug, version, "bench"))
    return out


def main() -> None:
    """Print the parse cost, the judging CPU per run and its ratio to the peer."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=42_500)
    parser.add_argument("--plugins", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    data = wordfence_feed(records=args.records, slugs=args.records // 2)
    start = time.process_time()
    snapshot = parse_snapshot("wordfence", data, source="wordfence", fetched=time.time())
    parse_cpu = time.process_time() - start
    gc.collect()  # the feed generator's garbage is not the parse's
    ours = loop_stall(lambda: parse_snapshot("wordfence", data, source="wordfence", fetched=0.0))
    whole = loop_stall(lambda: json.loads(data))
    book = AdvisoryBook()
    book.configure({"wordfence": SourceState("wordfence", "wordfence", ("wordpress-plugin", "wordpress-theme"))})
    book.publish(snapshot)
    components = installed(book, args.plugins)
    cfg = ComponentsConfig()
    now = time.time()

    def judge() -> vulns.ComponentsVerdict:
        return vulns.judge_components("wordpress", components, book, cfg, now)

    def peer() -> None:
        for c in components:
            snapshot.index.get(("wordpress-plugin", c.name))
            parse_version(c.version or "")

    verdict = judge()
    vulns._version.cache_clear()  # the first run of a process parses every bound once
    (cold,) = cpu(judge, 1)
    unfrozen = cpu(judge, args.rounds)  # as in tests and `sitewatch probe`: gen-2 passes walk the snapshot
    freeze_long_lived()  # what `sitewatch run` does after each publish (FeedRefresher on_publish)
    agent_gc = loop_stall(lambda: parse_snapshot("wordfence", data, source="wordfence", fetched=0.0))
    warm = cpu(judge, args.rounds)
    base = cpu(peer, args.rounds)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"feed: {args.records} records, {len(data) / 1e6:.1f} MB, {len(snapshot.index)} slugs")
    print(
        f"parse + index: {parse_cpu * 1000:.0f} ms CPU;"
        f" peak RSS of the bench process (generating the feed included) {rss:.0f} MiB"
    )
    print(
        f"event-loop stall while parsing in a worker thread: {ours * 1000:.0f} ms record by record"
        f" vs {whole * 1000:.0f} ms for one json.loads of the whole feed (Python's default collector);"
        f" {agent_gc * 1000:.0f} ms record by record with the agent's collector settings"
    )
    counts = {state: verdict.count(state) for state in vulns.STATES}
    print(f"judged {len(components)} plugins: {counts}")
    print(f"judge, first run (cold version cache): {cold * 1000:.1f} ms CPU")
    print(
        f"judge, warm, gc frozen: median {statistics.median(warm) * 1000:.1f} ms, max {max(warm) * 1000:.1f} ms CPU"
        f" ({args.rounds} runs); peer (lookup + parse only) median {statistics.median(base) * 1000:.1f} ms"
        f" -> ratio {statistics.median(warm) / max(statistics.median(base), 1e-9):.1f}x"
    )
    print(
        f"without the agent's gc freeze: median {statistics.median(unfrozen) * 1000:.1f} ms,"
        f" max {max(unfrozen) * 1000:.1f} ms CPU (a gen-2 collection over the snapshot lands in some run)"
    )
    print("target: < 100 ms CPU per run (as the agent runs it):", "met" if max(cold, *warm) < 0.1 else "NOT met")


if __name__ == "__main__":
    main()
