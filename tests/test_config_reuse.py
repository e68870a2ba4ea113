"""A reload reuses the running config's objects, and only those that are equal.

``load_config(path, previous=...)`` hands back the running site, check or check setting
wherever the newly read one equals it, so a reload holds one copy of what did not change.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sitewatch.config.loader import ConfigError, load_config
from sitewatch.config.specs import Config

CONFIG = """
defaults:
  interval: 30s
sites:
  - name: shop
    url: https://shop.example.com/
    checks:
      - {type: http, contains: [Welcome]}
      - {type: tls}
  - name: blog
    url: https://blog.example.com/
"""


def load(tmp_path: Path, text: str, previous: Config | None = None) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_config(path, previous=previous)


def by_key(config: Config) -> dict[tuple[str, str], Any]:
    return {c.key: c for c in config.checks}


def test_an_unchanged_config_is_the_running_objects(tmp_path: Path) -> None:
    """Reloading the same file: every site and check is the running one, and equal to a fresh load."""
    running = load(tmp_path, CONFIG)
    again = load(tmp_path, CONFIG, previous=running)
    assert all(new is old for new, old in zip(again.sites, running.sites, strict=True))
    assert again.sites == load(tmp_path, CONFIG).sites


def test_only_what_changed_is_new(tmp_path: Path) -> None:
    """A changed setting makes that check (and its site) new; the rest stays the running objects."""
    running = load(tmp_path, CONFIG)
    changed = load(tmp_path, CONFIG.replace("[Welcome]", "[Hello]"), previous=running)
    old, new = by_key(running), by_key(changed)
    assert new["shop", "http"] is not old["shop", "http"]
    assert new["shop", "http"].settings.contains == ("Hello",)
    assert new["shop", "tls"] is old["shop", "tls"]
    assert new["blog", "http"] is old["blog", "http"]
    assert new["shop", "http"].site is old["shop", "http"].site  # the site itself did not change
    assert changed.sites[0] is not running.sites[0]
    assert changed.sites[1] is running.sites[1]


def test_a_moved_check_keeps_its_new_line(tmp_path: Path) -> None:
    """Equal settings on other lines: the settings are reused, the spec (it names its line) is not."""
    running = load(tmp_path, CONFIG)
    moved = load(tmp_path, "# a new first line\n" + textwrap.dedent(CONFIG).lstrip("\n"), previous=running)
    old, new = by_key(running), by_key(moved)
    assert new["shop", "http"] is not old["shop", "http"]
    assert new["shop", "http"].origin.line == old["shop", "http"].origin.line + 1
    assert new["shop", "http"].settings is old["shop", "http"].settings
    assert new["shop", "http"] == dataclasses.replace(old["shop", "http"], origin=new["shop", "http"].origin)


def test_a_changed_url_or_default_is_not_hidden_by_reuse(tmp_path: Path) -> None:
    """Anything that makes a check different (its site's URL, an inherited interval) makes it new."""
    running = load(tmp_path, CONFIG)
    changed = load(
        tmp_path,
        CONFIG.replace("blog.example.com", "news.example.com").replace("interval: 30s", "interval: 45s"),
        previous=running,
    )
    old, new = by_key(running), by_key(changed)
    assert str(new["blog", "http"].site.url) == "https://news.example.com/"
    assert new["shop", "tls"].interval == 45.0
    assert all(new[k] is not old[k] for k in old)
    assert new["shop", "tls"].settings is old["shop", "tls"].settings  # settings alone did not change


def test_an_invalid_config_with_previous_still_raises(tmp_path: Path) -> None:
    """The running config is only a source of objects: errors are found and located as without it."""
    running = load(tmp_path, CONFIG)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, CONFIG.replace("{type: tls}", "{type: tls, colour: blue}"), previous=running)
    assert [(p.origin.line, p.path) for p in info.value.problems] == [(8, "sites[0].checks[1].colour")]
