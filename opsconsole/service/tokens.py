"""API tokens of one site: `tokens.json` in its data dir, hashed.

A token is 32 random bytes (URL-safe text with a recognisable prefix); only
its SHA-256 is stored, beside the user name it stands for and its role. The
file is rewritten atomically with mode 0600 and re-read when it changes, so
`opsconsole token create|revoke` take effect on a running service at once.
A token's text is shown once, by `token create`, and never again.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FILE_NAME = "tokens.json"
PREFIX = "osc_"
ROLES = ("viewer", "operator", "admin")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class TokenError(Exception):
    """A bad name or role, a duplicate or an unknown token name; one line."""


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    role: str

    def may(self, role: str) -> bool:
        """Whether this identity holds `role` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class TokenBook:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILE_NAME
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[str, dict[str, Any]] = {}
        # the embedded service's one-time token (`serve --session-token-stdin`):
        # memory only, its hash, gone with the process
        self._session: tuple[str, Identity] | None = None

    def add_session_token(self, token: str, user: str, role: str) -> None:
        if role not in ROLES:
            raise TokenError(f"unknown role {role!r}")
        self._session = (digest(token), Identity(user, role))

    # -- the file -----------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._entries = None, {}
            return self._entries
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                entries = {str(k): v for k, v in doc.get("tokens", {}).items()
                           if isinstance(v, dict) and v.get("role") in ROLES
                           and isinstance(v.get("sha256"), str)}
            except (OSError, ValueError, AttributeError) as exc:
                raise TokenError(f"{self.path}: cannot read the token file ({exc})") from None
            self._stamp, self._entries = stamp, entries
        return self._entries

    def _save(self, entries: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                os.chmod(tmp, 0o600)
                json.dump({"tokens": entries}, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._stamp = None

    # -- managing ----------------------------------------------------------------
    def create(self, name: str, role: str) -> str:
        """A new token for user `name`: its text (shown once)."""
        if not NAME_RE.match(name):
            raise TokenError(f'token name "{name}": use 1-64 letters, digits, . _ @ - '
                             "(starting with a letter or digit)")
        if role not in ROLES:
            raise TokenError(f'role "{role}": one of {", ".join(ROLES)}')
        with self._lock:
            entries = dict(self._load())
            if name in entries:
                raise TokenError(f'a token named "{name}" exists: revoke it first')
            token = PREFIX + secrets.token_urlsafe(32)
            entries[name] = {"sha256": digest(token), "role": role,
                             "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
            self._save(entries)
        return token

    def revoke(self, name: str) -> None:
        with self._lock:
            entries = dict(self._load())
            if name not in entries:
                raise TokenError(f'no token named "{name}"')
            del entries[name]
            self._save(entries)

    def list(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"name": n, "role": e["role"], "created_at": e.get("created_at", "")}
                    for n, e in sorted(self._load().items())]

    # -- checking ----------------------------------------------------------------
    def check(self, token: str) -> Identity | None:
        """The identity of a presented token, or None. Every stored hash is
        compared in constant time, so timing tells nothing about the others."""
        if not token or len(token) > 512:
            return None
        want = digest(token)
        found: Identity | None = None
        with self._lock:
            entries = self._load()
        for name, e in entries.items():
            if hmac.compare_digest(want, e["sha256"]):
                found = Identity(name, e["role"])
        if self._session is not None and hmac.compare_digest(want, self._session[0]):
            found = self._session[1]
        return found
