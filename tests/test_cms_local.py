"""Local detection from install trees: WordPress layouts, Bitrix (windows-1251, overrides), Magento 1 and 2.

The tree builders here are reused by the other ``test_cms_*`` modules.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from checks.cms import bitrix, magento, wordpress
from checks.cms.magento import parse_mage_php
from sitewatch.probe import Status
from tests.helpers import run_check

# -- tree builders -------------------------------------------------------------------


def write(path: Path, data: str | bytes) -> Path:
    """Create ``path`` with parents; text is written as UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def wp_version_php(version: str) -> str:
    """A wp-includes/version.php as WordPress ships it."""
    return (
        "<?php\n/**\n * WordPress Version\n */\n\n/**\n * The WordPress version string.\n *\n"
        f" * @global string $wp_version\n */\n$wp_version = '{version}';\n\n$wp_db_version = 56657;\n"
        "$tinymce_version = '49110-20201110';\n$required_php_version = '7.0.0';\n"
    )


def wordpress_classic(root: Path, version: str = "6.4.2", multisite: bool = False) -> Path:
    """Classic docroot: wp-includes next to wp-config.php."""
    write(root / "wp-includes" / "version.php", wp_version_php(version))
    config = "<?php\ndefine( 'DB_NAME', 'wp' );\n"
    if multisite:
        config += "define( 'WP_ALLOW_MULTISITE', true );\ndefine( 'MULTISITE', true );\n"
    write(root / "wp-config.php", config)
    header = "<?php\n/**\n * @package Akismet\n */\n/*\nPlugin Name: Akismet Anti-spam\nVersion: 5.3\n*/\n"
    write(root / "wp-content" / "plugins" / "akismet" / "akismet.php", header)
    write(root / "wp-content" / "plugins" / "akismet" / "class.akismet.php", "<?php\n// Version: 0.0.1\n")
    write(root / "wp-content" / "plugins" / "notes" / "notes.php", "<?php\n// Version: 9.9 without a plugin header\n")
    return root


def wordpress_bedrock(root: Path, version: str = "6.4.2") -> Path:
    """Roots Bedrock: core in web/wp, config in config/application.php."""
    write(root / "web" / "wp" / "wp-includes" / "version.php", wp_version_php(version))
    write(root / "web" / "wp-config.php", "<?php\nrequire_once dirname(__DIR__) . '/vendor/autoload.php';\n")
    write(root / "config" / "application.php", "<?php\nConfig::define('WP_ENV', 'production');\n")
    plugin = "<?php\n/**\n * Plugin Name:       WooCommerce\n * Version:           8.4.0\n */\n"
    write(root / "web" / "app" / "plugins" / "woocommerce" / "woocommerce.php", plugin)
    return root


def bitrix_tree(
    root: Path,
    sm_version: str = "23.850.0",
    modules: dict[str, tuple[str, str]] | None = None,
    local: dict[str, str] | None = None,
) -> Path:
    """A Bitrix install; ``modules`` maps id -> (syntax ``array``/``short``/``assign``, version)."""
    comment = "// Версия главного модуля — не редактировать\n".encode("cp1251")
    core = (
        b"<?\n"
        + comment
        + f'define("SM_VERSION","{sm_version}");\ndefine("SM_VERSION_DATE","2024-01-15 10:00:00");\n'.encode()
    )
    write(root / "bitrix" / "modules" / "main" / "classes" / "general" / "version.php", core)
    for name, (syntax, version) in (modules or {}).items():
        body = {
            "array": f'$arModuleVersion = array(\n\t"VERSION" => "{version}",\n\t"VERSION_DATE" => "2021-11-15"\n);',
            "short": f"$arModuleVersion = [\n    'VERSION' => '{version}',\n    'VERSION_DATE' => '2023-05-01',\n];",
            "assign": f'$arModuleVersion["VERSION"] = "{version}";\n$arModuleVersion["VERSION_DATE"] = "2020-01-01";',
        }[syntax]
        text = b"<?\n" + "// Модуль опросов\n".encode("cp1251") + body.encode() + b"\n"
        write(root / "bitrix" / "modules" / name / "install" / "version.php", text)
    for name, version in (local or {}).items():
        text = f'<?php\n$arModuleVersion = array("VERSION" => "{version}", "VERSION_DATE" => "2024-02-02");\n'
        write(root / "local" / "modules" / name / "install" / "version.php", text)
    return root


def composer_lock(packages: list[tuple[str, str]]) -> str:
    """A composer.lock naming ``(package, version)`` pairs."""
    return json.dumps({"_readme": ["..."], "packages": [{"name": n, "version": v} for n, v in packages]})


def magento2_tree(root: Path, edition: str = "community", version: str = "2.4.7-p3") -> Path:
    """Magento 2 installed with composer; module packages (other versions) come first on purpose."""
    product = f"magento/product-{edition}-edition"
    packages = [("magento/module-catalog", "104.0.7-p3"), ("magento/magento2-base", version), (product, version)]
    write(root / "composer.lock", composer_lock(packages))
    write(root / "app" / "etc" / "env.php", "<?php return [];\n")
    return root


MAGE_19 = """<?php
final class Mage
{
    public static function getVersion()
    {
        $i = self::getVersionInfo();
        return trim("{$i['major']}.{$i['minor']}.{$i['revision']}" . ($i['patch'] != '' ? ".{$i['patch']}" : ""));
    }

    public static function getVersionInfo()
    {
        return array(
            'major'     => '1',
            'minor'     => '9',
            'revision'  => '4',
            'patch'     => '5',
            'stability' => '',
            'number'    => '',
        );
    }
}
"""

OPENMAGE = MAGE_19.replace(
    "}\n\n    public static function getVersionInfo()",
    """}

    public static function getOpenMageVersionInfo(): array
    {
        return [
            'major'     => '20',
            'minor'     => '1',
            'patch'     => '0',
            'stability' => '', // beta,alpha,rc
            'number'    => '', // 1,2,3
        ];
    }

    public static function getVersionInfo()""",
)


# -- WordPress ---------------------------------------------------------------------


def test_wordpress_classic(tmp_path: Path) -> None:
    """A classic docroot gives the exact version from $wp_version, not the db or tinymce version."""
    found = wordpress.detect_local(wordpress_classic(tmp_path, "6.4.2"))
    assert found is not None
    assert (found.cms, str(found.version), found.source) == ("wordpress", "6.4.2", "local")
    assert found.extra["multisite"] is False
    assert found.extra["plugins"] == {"akismet": "5.3"}


def test_wordpress_bedrock(tmp_path: Path) -> None:
    """Bedrock keeps the core in web/wp; root is the project directory."""
    found = wordpress.detect_local(wordpress_bedrock(tmp_path, "6.3.2"))
    assert found is not None
    assert str(found.version) == "6.3.2"
    assert found.extra["layout"] == "web/wp"
    assert found.extra["plugins"] == {"woocommerce": "8.4.0"}


def test_wordpress_multisite_is_one_core(tmp_path: Path) -> None:
    """Multisite is one core version, flagged in the finding."""
    found = wordpress.detect_local(wordpress_classic(tmp_path, "6.4.1", multisite=True))
    assert found is not None
    assert (str(found.version), found.extra["multisite"]) == ("6.4.1", True)


def test_wordpress_symlinked_release(tmp_path: Path) -> None:
    """Deploys with releases/<stamp> and a current symlink resolve to the live release."""
    wordpress_classic(tmp_path / "releases" / "20240101", "6.3.1")
    wordpress_classic(tmp_path / "releases" / "20240301", "6.4.2")
    (tmp_path / "current").symlink_to(tmp_path / "releases" / "20240301")
    found = wordpress.detect_local(tmp_path)
    assert found is not None
    assert str(found.version) == "6.4.2"
    assert found.where.endswith("releases/20240301/wp-includes/version.php")


def test_no_wordpress(tmp_path: Path) -> None:
    """An empty tree is not WordPress."""
    assert wordpress.detect_local(tmp_path) is None


# -- Bitrix ------------------------------------------------------------------------


def test_bitrix_windows1251_and_module_syntaxes(tmp_path: Path) -> None:
    """SM_VERSION and all three module version syntaxes parse from windows-1251 bytes."""
    modules = {"vote": ("array", "21.0.99"), "iblock": ("short", "23.800.0"), "sale": ("assign", "23.700.100")}
    found = bitrix.detect_local(bitrix_tree(tmp_path, "23.850.0", modules))
    assert found is not None
    assert str(found.version) == "23.850.0"
    assert found.extra["version_date"] == "2024-01-15 10:00:00"
    assert found.extra["modules"] == {
        "vote": "21.0.99",
        "iblock": "23.800.0",
        "sale": "23.700.100",
        "main": "23.850.0",
    }


def test_bitrix_local_modules_override(tmp_path: Path) -> None:
    """A module in local/modules wins over bitrix/modules."""
    found = bitrix.detect_local(
        bitrix_tree(tmp_path, modules={"vote": ("array", "21.0.99")}, local={"vote": "21.0.100"})
    )
    assert found is not None
    assert found.extra["modules"]["vote"] == "21.0.100"
    assert found.extra["local_modules"] == ["vote"]


def test_bitrix_violations_against_shipped_rules(tmp_path: Path) -> None:
    """The shipped data file flags the vote module below 21.0.100 and nothing else."""
    rules = bitrix.shipped_rules()
    assert rules["vote"].min_version == bitrix.parse_version("21.0.100")
    assert bitrix.violations({"vote": "21.0.99", "main": "23.850.0"}, rules) == [
        "vote 21.0.99 < 21.0.100 (CVE-2022-27228: unauthenticated RCE via the vote module)"
    ]
    assert bitrix.violations({"vote": "21.0.100"}, rules) == []


# -- Magento -----------------------------------------------------------------------


@pytest.mark.parametrize(("edition", "version"), [("community", "2.4.7-p3"), ("enterprise", "2.4.6-p5")])
def test_magento2_composer_lock(tmp_path: Path, edition: str, version: str) -> None:
    """The product metapackage's exact name gives version and edition, not a module package."""
    found = magento.detect_local(magento2_tree(tmp_path, edition, version))
    assert found is not None
    assert (found.cms, str(found.version), found.edition) == ("magento", version, edition)


def test_magento2_installed_json_fallback(tmp_path: Path) -> None:
    """Without composer.lock, vendor/composer/installed.json (composer 2 shape) is read."""
    doc = {"packages": [{"name": "magento/product-community-edition", "version": "2.4.6-p4"}], "dev": False}
    write(tmp_path / "vendor" / "composer" / "installed.json", json.dumps(doc))
    found = magento.detect_local(tmp_path)
    assert found is not None
    assert str(found.version) == "2.4.6-p4"
    assert found.where.endswith("installed.json")


def test_magento2_base_and_git_install(tmp_path: Path) -> None:
    """magento2-base's composer.json, then a git clone's root composer.json, are the last fallbacks."""
    base = write(tmp_path / "a" / "vendor" / "magento" / "magento2-base" / "composer.json", "")
    base.write_text(json.dumps({"name": "magento/magento2-base", "version": "2.4.5-p1"}))
    git = write(tmp_path / "b" / "composer.json", json.dumps({"name": "magento/magento2ce", "version": "2.4.7"}))
    first, second = magento.detect_local(tmp_path / "a"), magento.detect_local(git.parent)
    assert first is not None
    assert second is not None
    assert (str(first.version), str(second.version)) == ("2.4.5-p1", "2.4.7")


def test_unrelated_composer_project_is_not_magento(tmp_path: Path) -> None:
    """A Laravel project's composer.lock with a similar package name is not Magento."""
    write(tmp_path / "composer.lock", composer_lock([("magento/product-community-edition-sample", "1.0.0")]))
    write(tmp_path / "composer.json", json.dumps({"name": "acme/shop", "version": "2.4.7"}))
    assert magento.detect_local(tmp_path) is None


def test_magento1_and_openmage(tmp_path: Path) -> None:
    """Mage.php gives 1.9.4.5 (end of life) or, for OpenMage, its own version (supported)."""
    write(tmp_path / "m1" / "app" / "Mage.php", MAGE_19)
    write(tmp_path / "om" / "app" / "Mage.php", OPENMAGE)
    m1, om = magento.detect_local(tmp_path / "m1"), magento.detect_local(tmp_path / "om")
    assert m1 is not None
    assert om is not None
    assert (m1.cms, str(m1.version), m1.eol) == ("magento", "1.9.4.5", True)
    assert (om.cms, str(om.version), om.eol) == ("openmage", "20.1.0", False)
    assert parse_mage_php("<?php class Mage {}") is None


# -- through the check -------------------------------------------------------------


async def test_auto_detects_each_cms_locally(tmp_path: Path) -> None:
    """cms: auto with remote off finds each CMS from its files alone."""
    wordpress_classic(tmp_path / "wp", "6.4.2")
    bitrix_tree(tmp_path / "bx", "23.850.0")
    write(tmp_path / "om" / "app" / "Mage.php", OPENMAGE)
    seen = []
    for name in ("wp", "bx", "om"):
        sources = {"wordpress_latest": None, "wordpress_insecure": None}  # never the public API in tests
        settings = {"root": str(tmp_path / name), "remote": False, "sources": sources, "cache_dir": str(tmp_path / "c")}
        record = await run_check("cms", settings)
        seen.append((record.result.details["cms"], record.result.details["version"]))
    assert seen == [("wordpress", "6.4.2"), ("bitrix", "23.850.0"), ("openmage", "20.1.0")]


async def test_missing_root_is_an_error(tmp_path: Path) -> None:
    """A root that does not exist cannot be measured: error, naming the path."""
    record = await run_check("cms", {"root": str(tmp_path / "nope"), "remote": False})
    assert record.result.status is Status.ERROR
    assert "nope" in record.result.summary


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
async def test_unreadable_core_file_is_an_error(tmp_path: Path) -> None:
    """Permission denied on the version file is 'could not measure', not 'not installed'."""
    version_file = wordpress_classic(tmp_path) / "wp-includes" / "version.php"
    version_file.chmod(0)
    record = await run_check("cms", {"root": str(tmp_path), "remote": False})
    assert record.result.status is Status.ERROR
    assert "permission denied" in record.result.summary
