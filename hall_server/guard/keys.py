"""The identity key: what turns ID and phone numbers into the keyed hashes the hall keeps.

It lives outside the database, so that a copy of the database alone recovers nothing (a
number space of 10^11 phones or a few million birth-date IDs is small: with the key beside
the hashes, both came back in minutes). Where it comes from, first found wins:

1. ``HALLQ_IDENTITY_KEY`` in the environment (64 hex digits), for containers and secret stores;
2. the file named by ``[security] identity_key_file``;
3. ``<database>.key`` beside the database file.

A file is created when missing (32 random bytes, hex, mode 0600) and refused when others may
read it. A key still in the database from an earlier version is moved to the file once (the
hashes already made keep matching) and deleted from the database.

The key never leaves the server: kiosks send card numbers over TLS and the server hashes them.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from hall_server.store.db import Store

log = logging.getLogger(__name__)

ENV = "HALLQ_IDENTITY_KEY"
_META = "identity_key"


class IdentityKeyError(Exception):
    """The key cannot be used (unreadable, readable by others, malformed)."""


def _parse(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise IdentityKeyError(f"{where}: the identity key must be hex digits") from None
    if len(key) < 16:
        raise IdentityKeyError(f"{where}: the identity key must be at least 32 hex digits")
    return key


def key_path(db_path: str | Path, configured: str | None) -> Path:
    return Path(configured) if configured else Path(f"{db_path}.key")


def load_identity_key(store: Store, configured: str | None = None) -> bytes:
    legacy = store.meta(_META)
    if os.environ.get(ENV):
        key = _parse(os.environ[ENV], ENV)
        if legacy is not None and bytes.fromhex(legacy) != key:
            log.warning(
                "%s differs from the key the database held: older hashes will not match", ENV
            )
    else:
        path = key_path(store.path, configured)
        if not path.exists():
            _write(path, legacy or secrets.token_hex(32))
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise IdentityKeyError(f"{path}: others may read the identity key; chmod 600 {path}")
        key = _parse(path.read_text(encoding="ascii"), str(path))
    if legacy is not None:
        store.forget_meta(_META)
        log.warning("the identity key was moved out of the database")
    return key


def _write(path: Path, hex_key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(hex_key + "\n")
