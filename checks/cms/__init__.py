"""``cms`` check: which CMS and core version a site runs, and whether it is outdated or insecure.

Local files under ``root`` are authoritative; HTTP fingerprints are the fallback and a
cross-check. See docs/checks/cms.md. The check is :class:`checks.cms.check.CmsCheck`
(the ``cms`` entry point); the other modules of this package are its parts, one job each.
Nothing is imported here, so a part (a detector, the version parser) loads without the rest.
"""
