"""The API's bearer tokens: a file of `ROLE TOKEN [NAME]` lines, read-only or operator.

A line is ``read TOKEN name`` or ``operator TOKEN name`` (the name, optional, is what the
audit log records instead of the secret); blank lines and ``#`` comments are skipped. A
token is at least 16 characters. A bad line raises :class:`TokenFileError` naming the file
and line; nothing of a bad file is used.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MIN_TOKEN_LENGTH", "Role", "Token", "TokenFileError", "TokenStore", "load_tokens"]

MIN_TOKEN_LENGTH = 16


class Role(enum.IntEnum):
    """What a token may do; a higher role may do what a lower one may."""

    READ = 1
    OPERATOR = 2


_ROLES = {"read": Role.READ, "read-only": Role.READ, "operator": Role.OPERATOR}


class TokenFileError(ValueError):
    """A tokens file that cannot be read or has a bad line (the message says where)."""


@dataclass(frozen=True, slots=True)
class Token:
    """One token of the file: its role and the name the audit log shows."""

    role: Role
    name: str
    digest: bytes


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def load_tokens(path: Path) -> list[Token]:
    """Every token of ``path``; raises :class:`TokenFileError` on the first bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TokenFileError(f"tokens file {path} cannot be read: {reason}") from None
    tokens: list[Token] = []
    seen: set[bytes] = set()
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = f"{path}:{number}"
        if len(words) not in (2, 3):
            raise TokenFileError(f"{where}: expected 'ROLE TOKEN [NAME]'")
        role = _ROLES.get(words[0].lower())
        if role is None:
            raise TokenFileError(f"{where}: unknown role {words[0]!r} (read or operator)")
        if len(words[1]) < MIN_TOKEN_LENGTH:
            raise TokenFileError(f"{where}: a token needs at least {MIN_TOKEN_LENGTH} characters")
        digest = _digest(words[1])
        if digest in seen:
            raise TokenFileError(f"{where}: the same token is listed twice")
        seen.add(digest)
        name = words[2] if len(words) == 3 else f"{words[0].lower()}-token-{number}"
        tokens.append(Token(role, name, digest))
    return tokens


class TokenStore:
    """The tokens in force, read again when the file changes (its size or time).

    Without a file (``path`` None) there are no tokens: reads are open and writes refused.
    A file that turns bad keeps the tokens last read (and says so in ``error``).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.error = ""
        self._tokens: list[Token] = []
        self._stamp: tuple[int, int] | None = None
        if path is not None:
            self._tokens = load_tokens(path)
            self._stamp = self._stat()

    @property
    def enabled(self) -> bool:
        """Whether a tokens file is configured (then every request needs a token)."""
        return self.path is not None

    def _stat(self) -> tuple[int, int] | None:
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns)

    def _refresh(self) -> None:
        if self.path is None:
            return
        stamp = self._stat()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._tokens = load_tokens(self.path)
            self.error = ""
        except TokenFileError as exc:
            self.error = str(exc)

    def check(self, secret: str) -> Token | None:
        """The token whose secret is ``secret``, or None."""
        self._refresh()
        digest = _digest(secret)
        for token in self._tokens:
            if hmac.compare_digest(token.digest, digest):
                return token
        return None
