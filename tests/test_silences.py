"""Silences as first-class objects: set with an author, listed, lifted, and shown on the page and API."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import aiohttp
import jsonschema
import yaml

from tests.helpers import free_port, running_agent


def config(tmp_path: Path) -> Path:
    """Two sites (never probed in these tests: the interval is long) and a loopback listener."""
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path / "state"}
          listen: 127.0.0.1:{free_port()}
        defaults:
          interval: 1h
        sites:
          - name: shop
            url: http://127.0.0.1:9/
          - name: blog
            url: http://127.0.0.1:9/blog
        """),
        encoding="utf-8",
    )
    return path


async def cli(path: Path, *args: str) -> tuple[int, str]:
    """Run ``sitewatch silence`` and return its exit code and combined output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sitewatch.cli", "silence", "-c", str(path), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode()


async def test_zero_duration_is_refused_with_a_hint(tmp_path: Path) -> None:
    """`--for 0s` would leave the old silence in force: it is refused and points to `lift`."""
    path = config(tmp_path)
    code, out = await cli(path, "shop", "--for", "0s", "--reason", "done")
    assert code == 3
    assert "silence lift" in out
    assert (await cli(path, "shop", "--for", "1h"))[0] == 3  # a reason is required


async def test_list_and_lift_by_id_and_by_site(tmp_path: Path) -> None:
    """Silences list with who and why; lift ends one by id, or all of a site's; lifting twice fails."""
    path = config(tmp_path)
    assert (await cli(path, "shop", "--for", "2h", "--reason", "server move", "--by", "petrov"))[0] == 0
    assert (await cli(path, "blog", "--for", "30m", "--reason", "theme update", "--by", "ivanova"))[0] == 0
    code, out = await cli(path, "list")
    assert code == 0
    header, first, second = out.strip().splitlines()
    assert header.split() == ["ID", "SITE", "UNTIL", "BY", "REASON"]
    assert first.split()[:2] == ["2", "blog"]  # ending soonest first
    assert first.split()[-3:] == ["ivanova", "theme", "update"]
    assert second.split()[:2] == ["1", "shop"]
    assert (await cli(path, "lift", "2"))[1].strip() == "lifted silence 2"
    assert [line.split()[1] for line in (await cli(path, "list"))[1].strip().splitlines()[1:]] == ["shop"]
    assert (await cli(path, "lift", "shop"))[0] == 0
    assert (await cli(path, "list"))[1].strip() == "no silences"
    assert (await cli(path, "lift", "shop"))[0] == 1


def status_schema() -> dict[str, object]:
    """docs/openapi.yaml's Status schema, with the components its references point into."""
    spec = yaml.safe_load(Path("docs/openapi.yaml").read_text(encoding="utf-8"))
    return {**spec["components"]["schemas"]["Status"], "components": spec["components"]}


async def test_page_and_api_show_silences_until_lifted(tmp_path: Path) -> None:
    """A running agent's /api/status (valid against docs/openapi.yaml) and status page list a silence
    set by the CLI, and drop it once lifted."""
    path = config(tmp_path)
    schema = status_schema()
    async with running_agent(path) as agent, aiohttp.ClientSession() as client:
        base = f"http://{agent.web.bound[0]}"
        assert (await cli(path, "shop", "--for", "2h", "--reason", "server <move>", "--by", "petrov"))[0] == 0
        async with client.get(f"{base}/api/status") as resp:
            doc = json.loads(await resp.text())
        jsonschema.validate(doc, schema)
        (silence,) = doc["silences"]
        assert (silence["site"], silence["author"], silence["reason"]) == ("shop", "petrov", "server <move>")
        assert silence["until"].endswith("Z")
        async with client.get(f"{base}/") as resp:
            page = await resp.text()
        assert 'data-silence="1"' in page
        assert "server &lt;move&gt;" in page
        assert (await cli(path, "lift", "1"))[0] == 0
        async with client.get(f"{base}/api/status") as resp:
            assert json.loads(await resp.text())["silences"] == []
        async with client.get(f"{base}/") as resp:
            assert "data-silence" not in await resp.text()
