"""The `sql-historian` adapter: bus changes stored in SQLite or PostgreSQL, through a journal
on disk, and the `iccp-gateway history` command that reads them back."""
