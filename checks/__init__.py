"""Built-in sitewatch checks, registered under the ``sitewatch.checks`` entry-point group."""
