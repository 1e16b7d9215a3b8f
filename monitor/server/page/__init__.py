"""The status page at ``/``: a pure renderer over the status snapshot dict, its word
tables (English, Simplified Chinese), and the aiohttp routes that serve it."""

from monitor.server.page.render import render_page
from monitor.server.page.routes import add_page_routes

__all__ = ["add_page_routes", "render_page"]
