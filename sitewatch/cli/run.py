"""``sitewatch run``: the agent in the foreground, as systemd starts it, until it is told to stop.

The one command that changes the whole process (descriptor limit, event loop, exception
handler, the exit past stuck threads), so it sits apart from the short-lived commands;
:func:`serve` is shared with ``sitewatch demo``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from pathlib import Path

from sitewatch.agent import Agent
from sitewatch.cli.loading import EXIT_UNUSABLE, load_or_report
from sitewatch.config.shard import parse_shard, sharded
from sitewatch.config.specs import Config
from sitewatch.limits import AcceptFailures, raise_nofile
from sitewatch.logs import event
from sitewatch.runtime import loop_factory

__all__ = ["EXECUTOR_GRACE", "run_command", "serve"]

#: After an orderly stop, how long the loop's shared executor gets to finish its threads.
EXECUTOR_GRACE = 2.0


def run_command(path: Path, log: logging.Logger, shard_text: str | None = None, *, strict: bool = False) -> int:
    """Run the agent until SIGTERM/SIGINT; 0 after an orderly stop, 3 when it could not start."""
    config = load_or_report(path, lenient=not strict)
    if config is None:
        return EXIT_UNUSABLE
    for warning in config.warnings:
        event(log, logging.WARNING, "config_warning", problem=str(warning))
    if shard_text is not None:
        try:
            config = sharded(config, parse_shard(shard_text))
        except ValueError as exc:  # pydantic's ValidationError is one
            print(f"sitewatch: --shard: {str(exc).splitlines()[-1].strip()}", file=sys.stderr)
            return EXIT_UNUSABLE
    with asyncio.Runner(loop_factory=loop_factory(log)) as runner:
        code = runner.run(serve(config, log))
        if not runner.run(_executor_drained(EXECUTOR_GRACE)):
            # A thread stuck in a syscall (a FIFO, a hung NFS mount, NSS asking a dead LDAP) would
            # keep the process alive forever, past systemd's stop timeout: the agent is closed, so leave.
            main = threading.main_thread()
            stuck = [t.name for t in threading.enumerate() if t is not main and t.is_alive() and not t.daemon]
            event(log, logging.WARNING, "exit_with_stuck_threads", threads=",".join(stuck)[:200])
            logging.shutdown()
            sys.stdout.flush()
            os._exit(code)
        return code


async def _executor_drained(timeout: float) -> bool:  # noqa: ASYNC109 - the caller's bound on an exit step
    """Shut the default executor down; False when its threads did not finish within ``timeout``."""
    shutdown = asyncio.ensure_future(asyncio.get_running_loop().shutdown_default_executor())
    done, _ = await asyncio.wait({shutdown}, timeout=timeout)
    return bool(done)


async def serve(config: Config, log: logging.Logger) -> int:
    """Serve ``config`` until stopped; 0, or 3 when the listen address cannot be bound."""
    # The whole process's descriptors and loop: only the real agent changes them (sitewatch.limits).
    raise_nofile(log)
    asyncio.get_running_loop().set_exception_handler(AcceptFailures(log))
    agent = Agent(config, log, freeze_gc=True)
    try:
        await agent.serve()
    except OSError as exc:
        event(log, logging.ERROR, "bind_failed", listen=config.agent.listen, error=exc.strerror or str(exc))
        print(
            f"sitewatch: cannot listen on {config.agent.listen} ({exc.strerror or exc}); "
            "set agent.listen to a free address",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    return 0
