"""Per-check memory at 10,000 checks: settings in key-sharing dicts, shared empty mappings (issue #24 item 4)."""

from __future__ import annotations

import pickle
import sys

import pytest
import yarl

from checks.http import HttpCheck
from sitewatch.compact import compact_fields
from sitewatch.probe import CheckConfig, SiteInfo


def http_settings(site: int) -> CheckConfig:
    """The fleet bench's http check settings for site number ``site``."""
    return HttpCheck.Config.model_validate({"url": f"https://127.0.0.1/x?site={site}", "contains": ["marker"]})


def test_settings_read_compare_copy_and_dump_as_before() -> None:
    """Compacted settings read, compare, copy, dump and pickle like the dict pydantic built."""
    first, again, other = http_settings(1), http_settings(1), http_settings(2)
    plain = dict(first.__dict__)
    assert first.__dict__ == plain
    assert list(first.__dict__) == list(plain)
    assert first == again
    assert first != other
    assert first.model_copy(update={"url": "https://example.test/"}).url == "https://example.test/"  # type: ignore[attr-defined]
    assert first.url == "https://127.0.0.1/x?site=1"  # type: ignore[attr-defined]
    assert first.model_dump(exclude_unset=True) == {"url": "https://127.0.0.1/x?site=1", "contains": ("marker",)}
    assert pickle.loads(pickle.dumps(first)) == first


def test_a_compacted_dict_is_smaller_than_pydantics() -> None:
    """The http settings' fields take under half the bytes of pydantic's own dict on CPython."""
    settings = http_settings(3)
    plain = dict(settings.__dict__)
    assert len(plain) > 21  # past the 32-slot table: where the ordinary dict doubles
    if sys.implementation.name == "cpython":
        assert sys.getsizeof(settings.__dict__) * 2 < sys.getsizeof(plain)


def test_compacting_twice_keeps_the_values() -> None:
    """A second compaction (a copy compacted again) changes nothing."""
    settings = http_settings(4)
    before = dict(settings.__dict__)
    compact_fields(settings)
    assert settings.__dict__ == before


def test_http_checks_without_headers_share_one_read_only_mapping() -> None:
    """Checks with no headers or pinned address share one empty mapping; a configured header stays its check's own."""
    site = SiteInfo("shop", yarl.URL("https://shop.test/"))
    plain_a = HttpCheck(HttpCheck.Config.model_validate({}), site)
    plain_b = HttpCheck(HttpCheck.Config.model_validate({"url": "/health"}), site)
    assert plain_a.headers is plain_b.headers
    assert plain_a.foreign_headers is plain_a.override
    assert not plain_a.headers
    with pytest.raises(TypeError):
        plain_a.headers["X-Probe"] = "1"  # type: ignore[index]
    authed = HttpCheck(HttpCheck.Config.model_validate({"bearer_token": "t0ken", "headers": {"X-Probe": "1"}}), site)
    assert authed.headers == {"X-Probe": "1", "Authorization": "Bearer t0ken"}
    assert authed.foreign_headers == {"X-Probe": "1"}
    assert not plain_a.headers
