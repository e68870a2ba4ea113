"""Extension inventory from disk: WordPress plugins, themes, mu-plugins and drop-ins; Magento and Bitrix modules.

Fixtures in tests/fixtures/cms are written in the real formats; each names its source.
"""

from __future__ import annotations

from pathlib import Path

from checks.cms import bitrix, magento, wordpress
from checks.cms.components import Component
from tests.helpers import run_check
from tests.test_cms_local import MAGE_19, bitrix_tree, wordpress_classic, wp_version_php, write

FIX = Path(__file__).parent / "fixtures" / "cms"


def fixture(name: str) -> bytes:
    """The bytes of one fixture file."""
    return (FIX / name).read_bytes()


def by_name(components: list[Component]) -> dict[str, Component]:
    """Components keyed by name."""
    return {c.name: c for c in components}


def wp_full(content: Path) -> None:
    """A content directory with a directory plugin, a single-file plugin, an mu-plugin, a drop-in and two themes."""
    write(content / "plugins" / "contact-form-7" / "wp-contact-form-7.php", fixture("wp-contact-form-7.php"))
    write(content / "plugins" / "contact-form-7" / "readme.txt", fixture("contact-form-7-readme.txt"))
    write(content / "plugins" / "contact-form-7" / "uninstall.php", "<?php\n// Version: 0.1 (no header)\n")
    write(content / "plugins" / "hello.php", fixture("hello.php"))
    write(content / "plugins" / "index.php", "<?php\n// Silence is golden.\n")
    write(content / "mu-plugins" / "host-tweaks.php", "<?php\n/**\n * Plugin Name: Host tweaks\n * Version: 0.3\n */\n")
    write(content / "object-cache.php", fixture("object-cache.php"))
    write(content / "themes" / "twentytwentyone" / "style.css", fixture("style.css"))
    write(content / "themes" / "tt1-child" / "style.css", fixture("child-style.css"))


def test_wordpress_every_extension_kind(tmp_path: Path) -> None:
    """Directory and single-file plugins, mu-plugins, drop-ins and parent/child themes are all listed with versions."""
    wordpress_classic(tmp_path, "6.4.2")
    wp_full(tmp_path / "wp-content")
    found = wordpress.detect_local(tmp_path)
    assert found is not None
    got = by_name(found.extra["components"])
    cf7 = got["contact-form-7"]
    assert (cf7.kind, cf7.version, cf7.title) == ("plugin", "5.3.1", "Contact Form 7")
    assert cf7.where.endswith("wp-contact-form-7.php")
    assert cf7.extra == {"stable_tag": "5.3.1"}
    hello = got["hello-dolly"]
    assert (hello.kind, hello.version, hello.extra) == ("plugin", "1.7.2", {"single_file": True})
    assert (got["host-tweaks"].kind, got["host-tweaks"].version) == ("mu-plugin", "0.3")
    assert (got["object-cache.php"].kind, got["object-cache.php"].version) == ("dropin", "2.5.0")
    assert (got["twentytwentyone"].kind, got["twentytwentyone"].version) == ("theme", "1.7")
    assert got["tt1-child"].extra == {"parent": "twentytwentyone"}
    assert "index" not in got  # no Plugin Name header: not a plugin
    assert found.extra["plugins"]["contact-form-7"] == "5.3.1"


def test_readme_stable_tag_differs(tmp_path: Path) -> None:
    """A readme.txt Stable tag other than the header's version is flagged, the header still wins."""
    wordpress_classic(tmp_path)
    base = tmp_path / "wp-content" / "plugins" / "contact-form-7"
    write(base / "wp-contact-form-7.php", fixture("wp-contact-form-7.php"))
    write(base / "readme.txt", fixture("contact-form-7-readme.txt").replace(b"Stable tag: 5.3.1", b"Stable tag: 5.3.2"))
    found = wordpress.detect_local(tmp_path)
    assert found is not None
    cf7 = by_name(found.extra["components"])["contact-form-7"]
    assert (cf7.version, cf7.extra) == ("5.3.1", {"stable_tag": "5.3.2", "readme_differs": True})


def debian_layout(tmp_path: Path) -> tuple[Path, Path]:
    """Debian's wordpress package (6.1.9+dfsg1-0+deb12u1) as unpacked: core in usr/share/wordpress.

    Its wp-config.php loads /etc/wordpress/config-<host>.php and then, if unset, defines
    WP_CONTENT_DIR as /var/lib/wordpress/wp-content, whose plugins/themes hold symlinks to the
    packaged ones. Paths are rebased under ``tmp_path``; the define lines keep the package's shape.
    """
    core = tmp_path / "usr" / "share" / "wordpress"
    content = tmp_path / "var" / "lib" / "wordpress" / "wp-content"
    etc = tmp_path / "etc" / "wordpress"
    write(core / "wp-includes" / "version.php", wp_version_php("6.1.9"))
    config = (
        "<?php\n/***\n * WordPress's Debianised default master config file\n ***/\n"
        f"$debian_file = '{etc}/config-'.strtolower($debian_server).'.php';\n"
        f"$debian_main_file = '{etc}/config-'.strtolower($debian_main_server).'.php';\n"
        "if (!defined('ABSPATH'))\n    define('ABSPATH', '/usr/share/wordpress/');\n"
        "if (!defined('WP_CONTENT_DIR') && !defined('DONT_SET_WP_CONTENT_DIR'))\n"
        f"    define('WP_CONTENT_DIR', '{content}');\n"
    )
    write(core / "wp-config.php", config)
    write(etc / "config-example.com.php", "<?php\ndefine('DB_NAME', 'wp');\n")
    packaged = core / "wp-content" / "plugins" / "akismet"
    write(packaged / "akismet.php", "<?php\n/*\nPlugin Name: Akismet Anti-Spam\nVersion: 5.0.1\n*/\n")
    (content / "plugins").mkdir(parents=True)
    (content / "themes").mkdir()
    (content / "plugins" / "akismet").symlink_to(packaged)
    return core, content


def test_debian_package_layout(tmp_path: Path) -> None:
    """On Debian's layout the content directory is WP_CONTENT_DIR, symlinked packaged plugins included."""
    core, content = debian_layout(tmp_path)
    wp_full(content)
    found = wordpress.detect_local(core)
    assert found is not None
    assert str(found.version) == "6.1.9"
    assert found.extra["dirs"]["plugins"] == str(content / "plugins")
    assert found.extra["dirs_set_by"] == {"WP_CONTENT_DIR": str(core / "wp-config.php")}
    got = by_name(found.extra["components"])
    assert got["akismet"].version == "5.0.1"
    assert got["contact-form-7"].version == "5.3.1"
    assert got["twentytwentyone"].kind == "theme"


def test_debian_host_config_wins(tmp_path: Path) -> None:
    """A host config in /etc/wordpress defining WP_CONTENT_DIR wins over the package default, as PHP would."""
    core, _ = debian_layout(tmp_path)
    other = tmp_path / "srv" / "content"
    write(other / "plugins" / "hello.php", fixture("hello.php"))
    write(tmp_path / "etc" / "wordpress" / "config-example.com.php", f"<?php\ndefine('WP_CONTENT_DIR', '{other}');\n")
    found = wordpress.detect_local(core)
    assert found is not None
    assert found.extra["dirs"]["content"] == str(other)
    assert list(by_name(found.extra["components"])) == ["hello-dolly"]


def test_missing_content_dir_falls_back_and_says_so(tmp_path: Path) -> None:
    """A WP_CONTENT_DIR that does not exist is named and the core's own wp-content is read instead."""
    wordpress_classic(tmp_path)
    write(tmp_path / "wp-config.php", "<?php\ndefine( 'WP_CONTENT_DIR', dirname( __FILE__ ) . '/content' );\n")
    found = wordpress.detect_local(tmp_path)
    assert found is not None
    assert found.extra["content_dir_missing"] == str(tmp_path / "content")
    assert "akismet" in by_name(found.extra["components"])


def test_magento2_third_party_packages_and_app_code(tmp_path: Path) -> None:
    """Non-magento/* lock packages (dev ones excluded) and app/code modules are listed with versions."""
    write(tmp_path / "composer.lock", fixture("composer.lock.json"))
    write(tmp_path / "app" / "code" / "Acme" / "Checkout" / "etc" / "module.xml", fixture("module.xml"))
    composer = '{"name": "acme/module-feed", "version": "1.4.0", "type": "magento2-module"}'
    write(tmp_path / "app" / "code" / "Acme" / "Feed" / "composer.json", composer)
    found = magento.detect_local(tmp_path)
    assert found is not None
    assert str(found.version) == "2.4.6-p3"
    got = by_name(found.extra["components"])
    assert sorted(got) == [
        "Acme_Checkout",
        "Acme_Feed",
        "mageplaza/module-core",
        "mageplaza/module-smtp",
        "monolog/monolog",
    ]
    assert got["mageplaza/module-smtp"].version == "4.7.1"
    assert got["Acme_Checkout"].version == "2.0.1"
    assert (got["Acme_Feed"].version, got["Acme_Feed"].extra) == ("1.4.0", {"package": "acme/module-feed"})


def test_magento1_modules(tmp_path: Path) -> None:
    """Magento 1 modules outside the core pool come with their config.xml version."""
    write(tmp_path / "app" / "Mage.php", MAGE_19)
    write(tmp_path / "app" / "etc" / "modules" / "Acme_Slider.xml", fixture("m1-Acme_Slider.xml"))
    core = "<config><modules><Mage_Cms><active>true</active><codePool>core</codePool></Mage_Cms></modules></config>"
    write(tmp_path / "app" / "etc" / "modules" / "Mage_All.xml", core)
    write(tmp_path / "app" / "code" / "community" / "Acme" / "Slider" / "etc" / "config.xml", fixture("m1-config.xml"))
    found = magento.detect_local(tmp_path)
    assert found is not None
    (slider,) = found.extra["components"]
    assert (slider.name, slider.version, slider.extra["pool"], slider.extra["active"]) == (
        "Acme_Slider",
        "1.2.0",
        "community",
        True,
    )


def test_bitrix_partner_module_windows1251(tmp_path: Path) -> None:
    """A partner module (vendor.module) is read from windows-1251 bytes and flagged as a partner module."""
    bitrix_tree(tmp_path, modules={"vote": ("array", "21.0.99")})
    write(
        tmp_path / "bitrix" / "modules" / "acme.delivery" / "install" / "version.php",
        fixture("bitrix-partner-version.php"),
    )
    found = bitrix.detect_local(tmp_path)
    assert found is not None
    got = by_name(found.extra["components"])
    partner = got["acme.delivery"]
    assert (partner.version, partner.extra["partner"], partner.extra["version_date"]) == (
        "1.0.5",
        True,
        "2019-05-14 12:00:00",
    )
    assert got["vote"].extra["partner"] is False
    assert "main" not in got  # the core is judged as the core


async def test_components_reach_the_details(tmp_path: Path) -> None:
    """Through the check, every component is in details as plain data."""
    wordpress_classic(tmp_path, "6.4.2")
    wp_full(tmp_path / "wp-content")
    sources = {"wordpress_latest": None, "wordpress_insecure": None}
    settings = {"root": str(tmp_path), "remote": False, "sources": sources, "cache_dir": str(tmp_path / "c")}
    record = await run_check("cms", settings)
    listed = record.result.details["local"]["components"]
    assert any(c["name"] == "hello-dolly" and c["version"] == "1.7.2" and c["kind"] == "plugin" for c in listed)
    assert all(isinstance(c, dict) for c in listed)
