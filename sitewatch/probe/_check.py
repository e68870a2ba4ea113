"""The :class:`Check` base class every check, built in or third party, derives from.

Separate because it is the one piece that ties the others together: it names its settings
model (``_settings``), is handed a ``Context`` (``_context``) and answers a ``Result`` (``_result``).
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sitewatch.probe._context import Context, SiteInfo
from sitewatch.probe._result import MetricSpec, Push, Result
from sitewatch.probe._settings import CheckConfig

C = TypeVar("C", bound=CheckConfig)


class Check(abc.ABC, Generic[C]):
    """Base class of every check, built in or third party.

    Subclasses set ``type`` (the name used in config), ``Config`` (a
    :class:`CheckConfig` subclass) and optionally ``metrics`` (every sample name
    the check may emit). Register the class under the ``sitewatch.checks``
    entry-point group.
    """

    type: ClassVar[str]
    Config: ClassVar[builtins.type[CheckConfig]]
    metrics: ClassVar[Sequence[MetricSpec]] = ()

    def __init__(self, config: C, site: SiteInfo) -> None:
        self.config = config
        self.site = site

    @property
    def target_host(self) -> str:
        """The host this check loads, for the scheduler's per-host concurrency limit."""
        return self.site.url.host or self.site.name

    @property
    def push_token(self) -> str | None:
        """Secret token that routes ``/ping/<token>`` to this check; None if it takes no pings."""
        return None

    def receive(self, push: Push) -> None:
        """Take a ping addressed to :attr:`push_token` (called on the event loop; must not block)."""
        raise NotImplementedError(f"{type(self).__name__} takes no pings")

    @abc.abstractmethod
    async def run(self, ctx: Context) -> Result:
        """Probe once and describe what was found; never raise for a failing site."""


#: Type used by the core for any configured check regardless of its settings.
AnyCheck = Check[Any]
