"""The outer structure of a config file: its top-level sections, validated before any site is built.

A model of its own because it names every section's model (``agent:``, ``tickets:``,
``clients:`` …) while the site and check builders, which read its ``defaults:`` and
``maintenance:``, need none of the others.
"""

from __future__ import annotations

from typing import Any

import pydantic

from sitewatch.config.agent import AgentConfig
from sitewatch.config.clients import ClientConfig
from sitewatch.config.maintenance import MaintenanceWindow
from sitewatch.config.sites import DefaultsConfig
from sitewatch.config.tickets import TicketsConfig
from sitewatch.config.vulns import VulnerabilitiesConfig

__all__: list[str] = []  # _Raw is the loader's own model, not for the rest of the agent


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class _Raw(_Model):
    agent: AgentConfig = AgentConfig()
    defaults: DefaultsConfig = DefaultsConfig()
    tickets: TicketsConfig = TicketsConfig()
    clients: tuple[ClientConfig, ...] = ()
    # Each site is validated on its own while it is built (_validated_site): a reload of
    # 10,000 sites then holds one site model at a time, not all of them (~10 MB at the peak).
    sites: tuple[Any, ...] = ()
    include: tuple[str, ...] = ()
    maintenance: tuple[MaintenanceWindow, ...] = ()
    vulnerabilities: VulnerabilitiesConfig = VulnerabilitiesConfig()
