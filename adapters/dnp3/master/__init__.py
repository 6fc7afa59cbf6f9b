"""The `dnp3-master` adapter: `association` (sans-IO conversation), `requests` (request
objects), `pointmap` (objects -> bus rows), `settings`, and the asyncio shell `adapter`."""
