"""Check settings kept in key-sharing dicts: the same values, less memory (issue #24 item 4)."""

from __future__ import annotations

import pickle
import sys

from checks.http import HttpCheck
from sitewatch.compact import compact_fields
from sitewatch.probe import CheckConfig


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
