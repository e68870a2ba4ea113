"""``check-config``'s lines per client: its sites, where its tickets go after routing, its zone and language."""

from __future__ import annotations

from sitewatch.config.clients import DEFAULT_CLIENT, ClientConfig
from sitewatch.config.models import Config

__all__ = ["client_lines"]


def client_lines(config: Config) -> list[str]:
    """One line per client (the default one only when it has sites or is configured)."""
    book = config.client_book
    lines = []
    for name, entry in sorted(book.by_name.items()):
        sites = [s for s in config.sites if s.client == name]
        if not sites and entry == ClientConfig(name=DEFAULT_CLIENT):
            continue  # the implicit default client, with nothing of its own
        base = book.route(name, ())
        extra: list[str] = []
        for site in sites:
            for sink in book.route(name, site.info.tags).sinks:
                if sink not in base.sinks and sink not in extra:
                    extra.append(sink)
        sinks = ", ".join(base.sinks) or "none"
        if extra:
            sinks += f" (+ by tags: {', '.join(extra)})"
        title = f" ({entry.title})" if entry.title else ""
        count = f"{len(sites)} site{'s' if len(sites) != 1 else ''}"
        page = ", page /clients/" + name + "/" if entry.token else ""
        lines.append(f"    {name}{title}: {count}; sinks: {sinks}; {base.language}, {base.timezone}{page}")
    return lines
