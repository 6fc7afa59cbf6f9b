"""Where each served variable sits in the folder tree (sans-IO).

Points are given a logical folder path (from the grouping); a folder whose children
(variables and subfolders) would exceed the limit puts them into numbered subfolders
(001, 002, ...) of at most the limit each. Placement is stable: a child keeps its numbered
subfolder from one plan to the next while there is room, so a reconfiguration moves only
what it must.
"""

from __future__ import annotations

from collections.abc import Mapping

Path = tuple[str, ...]


class TreeError(ValueError):
    """A folder would need more numbered subfolders than the limit allows."""


def chunk_name(index: int) -> str:
    """The name of numbered subfolder `index` (0-based): 001, 002, ..."""
    return f"{index + 1:03d}"


class FolderPlan:
    """The real folder path of each point, kept stable across `plan` calls."""

    def __init__(self, max_per_folder: int) -> None:
        self.max = max_per_folder
        self.placement: dict[str, Path] = {}
        # (logical parent, child key) -> chunk index, for children of split folders
        self._chunks: dict[tuple[Path, str], int] = {}

    def plan(self, logical: Mapping[str, Path]) -> dict[str, Path]:
        """Place every point of `logical` (point -> logical folder); returns the placement."""
        children: dict[Path, list[str]] = {}
        folders: set[Path] = {()}
        for point, path in logical.items():
            children.setdefault(path, []).append("v:" + point)
            for depth in range(len(path)):
                folders.add(path[:depth])
                folders.add(path[: depth + 1])
        for path in folders:
            if path:
                children.setdefault(path[:-1], []).append("f:" + path[-1])
        chunks: dict[tuple[Path, str], int] = {}
        for parent, keys in children.items():
            if len(keys) > self.max:
                chunks.update(self._split(parent, sorted(set(keys))))
        self._chunks = chunks
        real: dict[Path, Path] = {}

        def real_of(path: Path) -> Path:
            if not path:
                return ()
            known = real.get(path)
            if known is None:
                parent = real_of(path[:-1])
                index = chunks.get((path[:-1], "f:" + path[-1]))
                mid = () if index is None else (chunk_name(index),)
                known = real[path] = (*parent, *mid, path[-1])
            return known

        placement: dict[str, Path] = {}
        for point, path in logical.items():
            index = chunks.get((path, "v:" + point))
            mid = () if index is None else (chunk_name(index),)
            placement[point] = (*real_of(path), *mid)
        self.placement = placement
        return placement

    def _split(self, parent: Path, keys: list[str]) -> dict[tuple[Path, str], int]:
        count = -(-len(keys) // self.max)
        if count > self.max:
            raise TreeError(
                f"folder {'/'.join(parent) or '(root)'} would hold {len(keys)} nodes: more "
                f"than {self.max} numbered subfolders of {self.max}; group the points further"
            )
        fill = [0] * count
        out: dict[tuple[Path, str], int] = {}
        new: list[str] = []
        for key in keys:
            old = self._chunks.get((parent, key))
            if old is not None and old < count and fill[old] < self.max:
                out[(parent, key)] = old
                fill[old] += 1
            else:
                new.append(key)
        index = 0
        for key in new:
            while fill[index] >= self.max:
                index += 1
            out[(parent, key)] = index
            fill[index] += 1
        return out
