"""Cost of the cms check's detection, as ratios against a peer doing the minimum.

- local: Bitrix detection of a tree with 200 modules vs. just reading the same files;
- remote: WordPress fingerprinting of a 1 MiB page vs. one pass of the stdlib HTML parser.

Run: .venv/bin/python bench/cms_detect.py
"""

from __future__ import annotations

import html.parser
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yarl

from checks.cms import bitrix, magento, wordpress
from checks.cms.model import Page


def best_of(func: Callable[[], object], rounds: int = 20) -> float:
    """Fastest wall time of ``rounds`` calls (seconds)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def bitrix_tree(root: Path, modules: int) -> list[Path]:
    """A Bitrix tree with ``modules`` modules; returns every version file."""
    core = root / "bitrix/modules/main/classes/general/version.php"
    core.parent.mkdir(parents=True)
    core.write_bytes(b'<?\ndefine("SM_VERSION","23.850.0");\n')
    files = [core]
    for i in range(modules):
        path = root / f"bitrix/modules/mod{i}/install/version.php"
        path.parent.mkdir(parents=True)
        path.write_bytes(f'<?\n$arModuleVersion = array("VERSION" => "23.{i}.0");\n'.encode())
        files.append(path)
    return files


def main() -> None:
    """Print absolute times and the ratio to the peer for each case."""
    with tempfile.TemporaryDirectory() as tmp:
        files = bitrix_tree(Path(tmp), 200)
        ours = best_of(lambda: bitrix.detect_local(Path(tmp)))
        peer = best_of(lambda: [f.read_bytes() for f in files])
        print(f"local bitrix, 200 modules: {ours * 1000:.2f} ms vs read-only {peer * 1000:.2f} ms = {ours / peer:.1f}x")

    asset = "<link rel='stylesheet' href='/wp-content/plugins/p{0}/style.css?ver=1.{0}'>\n"
    body = '<meta name="generator" content="WordPress 6.4.2">\n' + "".join(asset.format(i) for i in range(12000))
    body = body[: 1024 * 1024]
    page = Page(yarl.URL("http://shop.test/"), 200, {}, body)
    ours = best_of(lambda: wordpress.detect_remote(page, None), 5)

    def peer_parse() -> None:
        parser = html.parser.HTMLParser()
        parser.feed(body)
        parser.close()

    peer = best_of(peer_parse, 5)
    print(
        f"remote wordpress, 1 MiB page: {ours * 1000:.1f} ms vs html.parser {peer * 1000:.1f} ms = {ours / peer:.2f}x"
    )
    ours = best_of(lambda: (bitrix.detect_remote(page), magento.detect_remote(page, None)), 5)
    print(f"remote bitrix+magento, 1 MiB page: {ours * 1000:.1f} ms vs html.parser = {ours / peer:.2f}x")


if __name__ == "__main__":
    main()
