"""The Big Data gen-1 secret pair, shared by every node of one app through SOAR's database.

The gen-1 gateway keeps one request/refresh secret pair per app, and a renewal
(``refreshTokenByKey`` / ``refreshTokenBySec``) revokes the previous pair. Two SOAR nodes that
each renewed their own would keep revoking one another: measured with two household-check
workers, every second business call was answered code 11. :class:`DbSecretStore` keeps the pair
in ``sx_gateway_secret`` instead:

- a node that needs secrets (at start, near expiry, or after a code 11) locks the app's row
  (``SELECT … FOR UPDATE``; on SQLite the write lock, taken at ``BEGIN``) and takes the stored pair when it is still
  usable and is not the pair that just failed; only otherwise does it renew, store the new pair
  and commit — one node at a time, the others wait on the lock and then take its pair;
- the secrets are stored encrypted (AES-GCM, key derived from the app secret with HMAC-SHA256,
  the row's key as associated data): a DBA reading the table learns nothing usable, and a row
  written under another app secret cannot be read (it counts as absent and is renewed);
- should the table be missing or the database out of reach, the node renews on its own (as
  without a store) and logs a warning: the store never turns a query into a failure.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import socket
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from soar_ext.adapters.bigdata.gen1 import Gen1Secrets, Renew
from soar_ext.clock import Clock, beijing_now
from soar_ext.db.engine import WRITE_LOCK_OPTION, write_transaction
from soar_ext.db.extension import gateway_secrets as table
from soar_ext.db.portability import clip_utf8
from soar_ext.log_masking import get_logger
from soar_ext.secret import Secret

log = get_logger(__name__)

_KEY_LABEL = b"soar-ext sx_gateway_secret v1"
_PLACEHOLDER = "-"  # the row exists to be locked before any pair was stored ('' is NULL on Oracle)


def gateway_key(base_url: str, app_key: str) -> str:
    """The row of one app on one gateway (a digest: no address in the key column)."""
    return hashlib.sha256(f"{base_url.rstrip('/')}\n{app_key}".encode()).hexdigest()


class DbSecretStore:
    """:class:`~soar_ext.adapters.bigdata.gen1.SharedSecretStore` over ``sx_gateway_secret``."""

    def __init__(
        self,
        engine: Engine,
        *,
        base_url: str,
        app_key: str,
        app_secret: Secret,
        clock: Clock = beijing_now,
    ) -> None:
        self.engine = engine
        self.app_key = app_key
        self.key = gateway_key(base_url, app_key)
        self._aead = AESGCM(hmac.new(app_secret.reveal().encode(), _KEY_LABEL, hashlib.sha256).digest())
        self._clock = clock
        self._node = clip_utf8(f"{socket.gethostname()}:{os.getpid()}", 100)
        self._row_ready = False

    # ------------------------------------------------------------------ encryption

    def _seal(self, value: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, value.encode(), self.key.encode())).decode()

    def _open(self, sealed: str) -> str | None:
        try:
            raw = base64.b64decode(sealed, validate=True)
            return self._aead.decrypt(raw[:12], raw[12:], self.key.encode()).decode()
        except (ValueError, InvalidTag):
            return None  # the placeholder, a row of another app secret, or a damaged value

    def _secrets(self, row: Any) -> Gen1Secrets | None:
        request, refresh = self._open(row.request_secret), self._open(row.refresh_secret)
        if request is None or refresh is None:
            return None
        return Gen1Secrets(
            request_secret=Secret(request),
            request_expires_at=float(row.request_expires_at),
            refresh_secret=Secret(refresh),
            refresh_expires_at=float(row.refresh_expires_at),
        )

    # ------------------------------------------------------------------ the row

    def load(self) -> Gen1Secrets | None:
        """The stored pair, if there is one this app secret can read (no lock)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.gateway_key == self.key)).first()
        return None if row is None else self._secrets(row)

    def _ensure_row(self) -> None:
        if self._row_ready:
            return
        try:
            with write_transaction(self.engine) as conn:
                exists = conn.execute(select(table.c.gateway_key).where(table.c.gateway_key == self.key)).first()
                if exists is None:
                    conn.execute(
                        insert(table).values(
                            gateway_key=self.key,
                            app_key=clip_utf8(self.app_key, 100),
                            request_secret=_PLACEHOLDER,
                            request_expires_at=Decimal(0),
                            refresh_secret=_PLACEHOLDER,
                            refresh_expires_at=Decimal(0),
                            updated_at=self._clock(),
                            updated_by=self._node,
                        )
                    )
        except IntegrityError:
            pass  # another node created it at the same moment
        self._row_ready = True

    def _lock(self) -> tuple[Connection, Gen1Secrets | None]:
        """A connection in a transaction holding the app's row, and the pair stored there."""
        self._ensure_row()
        conn = self.engine.connect()
        try:
            conn.execution_options(**{WRITE_LOCK_OPTION: True})  # as write_transaction, held past return
            conn.begin()
            row = conn.execute(select(table).where(table.c.gateway_key == self.key).with_for_update()).first()
            return conn, None if row is None else self._secrets(row)
        except BaseException:
            conn.close()
            raise

    def _store(self, conn: Connection, secrets: Gen1Secrets) -> None:
        try:
            conn.execute(
                update(table)
                .where(table.c.gateway_key == self.key)
                .values(
                    request_secret=self._seal(secrets.request_secret.reveal()),
                    request_expires_at=Decimal(f"{secrets.request_expires_at:.3f}"),
                    refresh_secret=self._seal(secrets.refresh_secret.reveal()),
                    refresh_expires_at=Decimal(f"{secrets.refresh_expires_at:.3f}"),
                    updated_at=self._clock(),
                    updated_by=self._node,
                )
            )
            conn.commit()
        finally:
            conn.close()

    @staticmethod
    def _release(conn: Connection) -> None:
        try:
            conn.rollback()
        finally:
            conn.close()

    # ------------------------------------------------------------------ the protocol

    async def renew(
        self, previous: Gen1Secrets | None, renew: Renew, usable: Callable[[Gen1Secrets], bool]
    ) -> Gen1Secrets:
        """The stored pair if it is ``usable`` and not ``previous``; else a renewed one, stored.

        The row stays locked while the renewal runs, so nodes renew one at a time and a node that
        waited takes the pair the other one stored.
        """
        try:
            conn, stored = await asyncio.to_thread(self._lock)
        except SQLAlchemyError as exc:  # the table missing or the database out of reach: not a failed query
            log.warning("大数据局一代网关密钥共享表不可用（%s），本进程自行刷新密钥", type(exc).__name__)
            return await renew(previous)
        try:
            if stored is not None and usable(stored) and not _same(stored, previous):
                await asyncio.to_thread(self._release, conn)
                return stored
            secrets = await renew(stored or previous)  # the newest pair known: its refresh secret
        except BaseException:
            await asyncio.shield(asyncio.to_thread(self._release, conn))
            raise
        try:
            await asyncio.to_thread(self._store, conn, secrets)
        except SQLAlchemyError as exc:
            log.warning("大数据局一代网关密钥未能写入共享表（%s），其他节点将自行刷新", type(exc).__name__)
        return secrets


def _same(a: Gen1Secrets, b: Gen1Secrets | None) -> bool:
    return b is not None and hmac.compare_digest(a.request_secret.reveal(), b.request_secret.reveal())
