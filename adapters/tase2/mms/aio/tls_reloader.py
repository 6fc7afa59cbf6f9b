"""One endpoint's TLS over time: reload on file change, expiry warnings, status.

:class:`TlsReloader` builds the :class:`TlsEndpoint` from the settings, and on
:meth:`TlsReloader.check` rebuilds it when a certificate, key, CA, CRL or pin file changed
(size or modification time) or when new settings are given: new connections then use the new
context, established ones keep theirs. A file that cannot be used is logged (once per
distinct error) and the previous endpoint stays. :meth:`TlsReloader.check` also logs a
warning when the own certificate's days left fall under a threshold (30/7/1 by default),
once per threshold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from adapters.tase2.mms.aio.tls_context import build_endpoint
from adapters.tase2.security.certificates import CertificateError
from adapters.tase2.security.expiry import ExpiryWatch
from adapters.tase2.security.tls_settings import TlsSettings

__all__ = ["TlsReloader"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Stamp:
    size: int
    mtime_ns: int


def _stamps(files: tuple[Path, ...]) -> dict[Path, _Stamp | None]:
    out: dict[Path, _Stamp | None] = {}
    for f in files:
        try:
            st = f.stat()
        except OSError:
            out[f] = None
        else:
            out[f] = _Stamp(st.st_size, st.st_mtime_ns)
    return out


class TlsReloader:
    """The current :class:`TlsEndpoint` of one adapter (``name`` labels its log lines).

    Construction raises :class:`CertificateError` when the files cannot be used (the adapter
    must not start without its certificate); later failures only log.
    """

    def __init__(self, name: str, settings: TlsSettings, *, server_side: bool) -> None:
        self.name = name
        self.server_side = server_side
        self.settings = settings
        self.endpoint = build_endpoint(settings, server_side=server_side)
        self.reloads = 0
        self.last_error: str | None = None
        self._stamps = _stamps(settings.files())
        self._watch = ExpiryWatch(settings.expiry_warnings)
        self._check_expiry()

    def check(self, settings: TlsSettings | None = None) -> bool:
        """Rebuild the endpoint when ``settings`` differ or a file changed; True when a new
        endpoint is in use. Also logs expiry warnings that became due."""
        new = settings or self.settings
        stamps = _stamps(new.files())
        changed = new != self.settings or stamps != self._stamps
        rebuilt = False
        if changed:
            try:
                endpoint = build_endpoint(new, server_side=self.server_side)
            except CertificateError as exc:
                if str(exc) != self.last_error:
                    log.error(
                        "%s: TLS files not reloaded, the previous certificates stay in use: %s",
                        self.name,
                        exc,
                    )
                self.last_error = str(exc)
            else:
                old = self.endpoint
                endpoint.sessions.update(old.sessions if old.own == endpoint.own else {})
                self.endpoint, self.settings, self._stamps = endpoint, new, stamps
                self.reloads += 1
                self.last_error = None
                self._watch = ExpiryWatch(new.expiry_warnings)
                rebuilt = True
                log.info(
                    "%s: TLS certificates reloaded (certificate %s, expires %s); new "
                    "connections use them",
                    self.name,
                    endpoint.own.subject,
                    endpoint.own.not_after.date().isoformat(),
                )
        self._check_expiry()
        return rebuilt

    def _check_expiry(self) -> None:
        own = self.endpoint.own
        days = own.days_left()
        threshold = self._watch.check(days)
        if threshold is None:
            return
        if days < 0:
            log.error(
                "%s: own TLS certificate %s EXPIRED on %s: peers will refuse it",
                self.name,
                own.subject,
                own.not_after.isoformat(),
            )
        else:
            log.warning(
                "%s: own TLS certificate %s expires in %.1f days (%s, under %d days): renew it",
                self.name,
                own.subject,
                days,
                own.not_after.isoformat(),
                threshold,
            )

    def status(self) -> dict[str, object]:
        """``certificate_days_left`` and the own certificate, reloads, last reload error."""
        own = self.endpoint.own
        days = own.days_left()
        under = [t for t in self.settings.expiry_warnings if days < t]
        return {
            "certificate_days_left": round(days, 2),
            "expiry_warning": None if not under else f"expires within {min(under)} days",
            "certificate": own.to_dict(),
            "versions": f"{self.settings.min_version}-{self.settings.max_version}",
            "pinned": len(self.endpoint.pins),
            "reloads": self.reloads,
            "reload_error": self.last_error,
        }
