"""The TASE.2 server role: the ``tase2-server`` adapter and everything that serves a peer.

* :mod:`.adapter` / :mod:`.settings` - the adapter bound to the point bus, its settings;
* :mod:`.shell` - the thin asyncio server: scheduling, association hooks, report dispatch;
* :mod:`.handler` - what each MMS service does for a peer (sans-IO);
* :mod:`.bilateral` - bilateral tables: who may associate and what they see;
* :mod:`.datasets` - data sets (named variable lists);
* :mod:`.transfer` - the DS transfer set engine (when a report is due);
* :mod:`.reports` - report encoding; :mod:`.outbox` - report sending, one queue per peer;
* :mod:`.controls` / :mod:`.device_control` - Blocks 4 and 5: messages, devices, audit.
"""
