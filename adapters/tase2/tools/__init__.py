"""Command-line tools over the TASE.2 stack (``iccp-gateway probe``)."""
