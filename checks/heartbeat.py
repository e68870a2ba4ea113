"""``heartbeat`` check: a dead man's switch for jobs (backups, cron) that ping the agent.

The job calls ``POST /ping/<token>`` when it finishes (``/start`` when it begins,
``/fail`` when it knows it failed). The check is critical when no successful ping
arrived within ``max_age`` + ``grace``, when the last ping was a failure, or when
a job started and did not finish within ``run_timeout``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import pydantic

from sitewatch.probe import (
    Check,
    CheckConfig,
    Context,
    Duration,
    MetricSpec,
    Push,
    Result,
    Sample,
    SiteInfo,
    Status,
    format_duration,
)

__all__ = ["HeartbeatCheck", "HeartbeatConfig"]

_EXCERPT = 300


class HeartbeatConfig(CheckConfig):
    """``type: heartbeat`` — expects a ping at least every ``max_age``."""

    # 20+ characters: `openssl rand -hex 16` gives 32. Put it in ${ENV} or ${file:...}.
    token: Annotated[str, pydantic.Field(min_length=20, pattern=r"^[A-Za-z0-9_-]+$")]
    max_age: Duration = 26 * 3600.0
    grace: Duration = 3600.0
    run_timeout: Duration | None = None  # start without finish; default: grace


class HeartbeatCheck(Check[HeartbeatConfig]):
    """Judges the pings a job sent; the check itself makes no network request."""

    type = "heartbeat"
    Config = HeartbeatConfig
    metrics = (
        MetricSpec("sitewatch_heartbeat_last_ping_timestamp_seconds", "Time of the last successful ping (0 if none)."),
        MetricSpec(
            "sitewatch_heartbeat_age_seconds", "Seconds since the last successful ping, or since the agent started."
        ),
    )

    def __init__(self, config: HeartbeatConfig, site: SiteInfo) -> None:
        super().__init__(config, site)
        # Pings live in memory: after a restart the clock starts at the first run,
        # so a restart never raises a false alarm, at worst delays a true one by max_age.
        self.started: float | None = None
        self.last: dict[str, Push] = {}

    @property
    def target_host(self) -> str:
        """Nothing is probed; heartbeats never wait for a site's slot."""
        return "heartbeat"

    @property
    def push_token(self) -> str:
        """The secret in the ping URL."""
        return self.config.token

    def receive(self, push: Push) -> None:
        """Remember the newest ping of each kind."""
        self.last[push.kind] = push

    async def run(self, ctx: Context) -> Result:
        """Judge the pings received so far."""
        now = ctx.clock.time()
        if self.started is None:
            self.started = now
        cfg = self.config
        success, start, fail = (self.last.get(k) for k in ("success", "start", "fail"))
        since = success.at if success else self.started
        samples = (
            Sample("sitewatch_heartbeat_last_ping_timestamp_seconds", success.at if success else 0.0),
            Sample("sitewatch_heartbeat_age_seconds", max(0.0, now - since)),
        )
        details: dict[str, object] = {
            kind: {"at": _iso(p.at), "body": p.body[-_EXCERPT:]} for kind, p in self.last.items()
        }
        if fail is not None and (success is None or fail.at > success.at):
            log = f": {_tail(fail.body)}" if fail.body.strip() else ""
            return Result(Status.CRITICAL, f"job reported failure at {_iso(fail.at)}{log}", samples, details)
        run_timeout = cfg.run_timeout if cfg.run_timeout is not None else cfg.grace
        if start is not None and (success is None or start.at > success.at) and now - start.at > run_timeout:
            return Result(
                Status.CRITICAL,
                f"job started at {_iso(start.at)} and has not finished after {format_duration(now - start.at)}"
                f" (limit {format_duration(run_timeout)})",
                samples,
                details,
            )
        age = now - since
        if age > cfg.max_age + cfg.grace:
            what = "no ping" if success else "no ping since the agent started"
            return Result(
                Status.CRITICAL,
                f"{what} for {format_duration(age)} (max {format_duration(cfg.max_age)}"
                f" + grace {format_duration(cfg.grace)})",
                samples,
                details,
            )
        if success is None:
            return Result(Status.OK, f"waiting for the first ping (agent up {format_duration(age)})", samples, details)
        return Result(Status.OK, f"last ping {format_duration(age)} ago", samples, details)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _tail(body: str) -> str:
    """The last line of a job's log is usually the error; keep it short for a summary."""
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:160]
