"""The `sql-source` adapter: point values read from a database table or query, commands
written back as statements (see `adapter`)."""
