"""What the TASE.2 server keeps for one association, sans-IO."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.tase2.mms.names import ObjectName
from adapters.tase2.server.bilateral import TableView
from adapters.tase2.server.controls import PeerInfo
from gateway.logs import Throttle

__all__ = ["PeerSession"]


@dataclass(slots=True)
class PeerSession:
    """One association of the server: its bilateral table, the compiled view of that table
    (replaced when the table changes while the association runs) and who the peer is;
    ``limit_log`` thins out the log lines of its requests refused over a server limit.
    ``since`` (POSIX s) and ``tls`` say when and how it came; ``reports`` counts, per
    transfer set, the reports sent and when the last one went, for the operators' view."""

    association_id: int
    table_id: str
    view: TableView
    info: PeerInfo
    label: str = ""
    limit_log: Throttle = field(default_factory=Throttle)
    since: float = 0.0
    tls: bool = False
    reports: dict[ObjectName, tuple[int, float]] = field(default_factory=dict)
