"""The bilateral tables of one server, compiled against the current points, sans-IO.

:class:`ServedTables` holds the configured tables (plus the VCC point rules every table
inherits) and their compiled :class:`~adapters.tase2.server.bilateral.TableView`, and
changes them atomically: everything new is compiled first, so a table that does not
compile raises :class:`~adapters.tase2.server.bilateral.BilateralConfigError` and nothing
changes. :func:`rebind` then applies one table's change to the associations that use it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from adapters.tase2.server.bilateral import (
    BilateralTableConfig,
    PeerRejected,
    PointRule,
    TableView,
    check_tables,
    compile_table,
    is_pattern,
    match_peer,
)
from adapters.tase2.server.peers import PeerSession
from adapters.tase2.server.transfer import TransferEngine
from gateway.points import PointKind

__all__ = ["ServedTables", "TableChange", "rebind"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TableChange:
    """One table before and after a change (None: it did not exist / was removed)."""

    old: BilateralTableConfig | None
    new: BilateralTableConfig | None

    @property
    def keeps_associations(self) -> bool:
        """False when the table was removed or changed its peer identity or ICC domain:
        its associations must then end."""
        old, new = self.old, self.new
        return not (new is None or old is None or new.peer != old.peer or new.domain != old.domain)


class ServedTables:
    """The tables of one server and their views (see the module docstring)."""

    def __init__(
        self,
        tables: Sequence[BilateralTableConfig],
        vcc_points: Sequence[PointRule],
        kinds: Mapping[str, PointKind],
    ) -> None:
        check_tables(tables)
        self.tables: dict[str, BilateralTableConfig] = {t.id: t for t in tables}
        self.vcc = tuple(vcc_points)
        self.views = self._compile(self.tables, kinds)
        self._kinds = dict(kinds)

    def _with_vcc(self, table: BilateralTableConfig) -> BilateralTableConfig:
        if not self.vcc:
            return table
        exact = {r.match for r in table.points if not is_pattern(r.match)}
        extra = tuple(
            r.model_copy(update={"scope": "vcc"})
            for r in self.vcc
            if is_pattern(r.match) or r.match not in exact
        )
        return table.model_copy(update={"points": (*table.points, *extra)})

    def _compile(
        self, tables: Mapping[str, BilateralTableConfig], kinds: Mapping[str, PointKind]
    ) -> dict[str, TableView]:
        ids = sorted(kinds)
        return {tid: compile_table(self._with_vcc(t), kinds, ids) for tid, t in tables.items()}

    def domains(self) -> list[str]:
        """The ICC domain of every table."""
        return [t.domain for t in self.tables.values()]

    def match(
        self, ap_title: str | None, ae_qualifier: int | None, address: str | None
    ) -> BilateralTableConfig | PeerRejected:
        """The table of a caller, or why it has none."""
        return match_peer(list(self.tables.values()), ap_title, ae_qualifier, address)

    def served_points(self) -> set[str]:
        """Every point some table lets a peer read (what the bus subscription must cover)."""
        out: set[str] = set()
        for view in self.views.values():
            out.update(a.point for a in view.icc.values() if a.read)
            out.update(a.point for a in view.vcc.values() if a.read)
        return out

    def apply(
        self,
        tables: Sequence[BilateralTableConfig],
        vcc_points: Sequence[PointRule] | None,
        kinds: Mapping[str, PointKind],
    ) -> dict[str, TableChange]:
        """Take new tables (and VCC points, unless None); returns the changed tables.

        A table changes when its configuration does, and every table when the VCC points
        do. Nothing changes when a new table does not compile.
        """
        check_tables(tables)
        new = {t.id: t for t in tables}
        vcc = self.vcc if vcc_points is None else tuple(vcc_points)
        changed = {
            tid for tid in self.tables.keys() | new.keys() if self.tables.get(tid) != new.get(tid)
        }
        if vcc != self.vcc:
            changed |= set(new)
        old_vcc, self.vcc = self.vcc, vcc
        try:
            views = self._compile({tid: new[tid] for tid in changed if tid in new}, kinds)
        except Exception:
            self.vcc = old_vcc
            raise
        changes = {tid: TableChange(self.tables.get(tid), new.get(tid)) for tid in changed}
        self.tables = new
        for tid in changed:
            if tid in views:
                self.views[tid] = views[tid]
            else:
                self.views.pop(tid, None)
        return changes

    def refresh(self, kinds: Mapping[str, PointKind]) -> dict[str, TableChange]:
        """Recompile every view when the set of points or the kind of one changed; returns
        every table as changed (in place) when it did, else nothing."""
        if kinds == self._kinds:
            return {}
        self.views = self._compile(self.tables, kinds)
        self._kinds = dict(kinds)
        return {tid: TableChange(t, t) for tid, t in self.tables.items()}


def rebind(
    table_id: str,
    change: TableChange,
    view: TableView | None,
    sessions: Iterable[tuple[object, PeerSession]],
    engine: TransferEngine,
) -> list[object]:
    """Apply one table's change to its associations: each gets the new ``view``, and its
    transfer sets whose data sets lost a readable point stop. Returns the associations
    that must be aborted instead (see :attr:`TableChange.keeps_associations`)."""
    doomed: list[object] = []
    for association, peer in sessions:
        if peer.table_id != table_id:
            continue
        if not change.keeps_associations or view is None:
            log.warning(
                "association %d (%s): bilateral table %s %s; aborting the association",
                peer.association_id,
                peer.label,
                table_id,
                "was removed" if change.new is None else "changed its peer or domain",
            )
            doomed.append(association)
            continue
        peer.view = view
        for name in engine.update_view(association, view):
            log.info(
                "transfer set %s stopped: association %d (%s): its data set has points "
                "bilateral table %s no longer lets the peer read",
                name,
                peer.association_id,
                peer.label,
                table_id,
            )
    return doomed
