"""The documentation stands on its own: every link points at a file inside the repository."""

from __future__ import annotations

import re

from tests.support import REPO

LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_every_markdown_link_is_a_file_of_the_repository() -> None:
    broken = {}
    for doc in DOCUMENTS:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"[a-z]+://", target):
                broken.setdefault(doc.name, []).append(target)  # no links off the repository
                continue
            path = (doc.parent / target).resolve()
            if not path.is_relative_to(REPO) or not path.exists():
                broken.setdefault(doc.name, []).append(target)
    assert broken == {}


def test_no_document_or_example_refers_outside_the_repository() -> None:
    mappings = REPO / "mappings"  # without the state a demo run keeps there (git ignores it)
    shipped = (p for p in mappings.rglob("*") if "state" not in p.relative_to(mappings).parts)
    texts = [*DOCUMENTS, *sorted(p for p in shipped if p.is_file())]
    outside = [str(p.relative_to(REPO)) for p in texts if "../shared" in p.read_text()]
    assert outside == []


def test_the_architecture_names_only_files_that_exist() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:server|client|model|mms|iso|asn1|tools)/[\w/]+\.py)`", text))
    missing = sorted(n for n in named if not (REPO / "adapters" / "tase2" / n).exists())
    assert named and missing == []
