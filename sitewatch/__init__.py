"""sitewatch: an asyncio agent that watches websites and opens tickets when they fail."""

__version__ = "0.1.0"
