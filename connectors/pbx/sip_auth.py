"""Digest authentication of INVITEs in trunk mode (RFC 3261 §22, RFC 8760: SHA-256 and MD5).

Nonces are stateless: ``<unix time>.<HMAC of it with a per-process key>``, valid for
``NONCE_TTL`` seconds, so a restart or many callers cost no memory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from aiosipua.headers import parse_auth
from aiosipua.message import SipRequest

NONCE_TTL = 300
HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


class DigestChecker:
    def __init__(
        self,
        username: str,
        password: str,
        realm: str,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
    ) -> None:
        self.algorithms = algorithms
        self.username = username
        self.password = password
        self.realm = realm
        self._key = secrets.token_bytes(32)

    def _nonce(self, stamp: int) -> str:
        mac = hmac.new(self._key, str(stamp).encode(), hashlib.sha256).hexdigest()[:32]
        return f"{stamp}.{mac}"

    def challenges(self) -> list[str]:
        """``WWW-Authenticate`` values in preference order (RFC 8760; some clients read only
        the first, SIPp among them: put MD5 first for those)."""
        nonce = self._nonce(int(time.time()))
        return [
            f'Digest realm="{self.realm}", nonce="{nonce}", algorithm={name}, qop="auth"'
            for name in self.algorithms
        ]

    def check(self, request: SipRequest) -> bool:
        raw = request.headers.get_first("authorization")
        if not raw:
            return False
        try:
            creds = parse_auth(raw, credentials=True)
        except Exception:
            return False
        p = creds.params
        if creds.scheme.lower() != "digest" or p.get("username") != self.username:
            return False
        if p.get("realm") != self.realm or not self._nonce_ok(p.get("nonce", "")):
            return False
        algorithm = p.get("algorithm", "MD5").upper()
        hasher = HASHES.get(algorithm) if algorithm in self.algorithms else None
        if hasher is None:
            return False

        def h(text: str) -> str:
            return hasher(text.encode()).hexdigest()

        ha1 = h(f"{self.username}:{self.realm}:{self.password}")
        ha2 = h(f"{request.method}:{p.get('uri', '')}")
        if p.get("qop"):
            expected = h(f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:auth:{ha2}")
        else:
            expected = h(f"{ha1}:{p['nonce']}:{ha2}")
        return hmac.compare_digest(expected, p.get("response", ""))

    def _nonce_ok(self, nonce: str) -> bool:
        stamp_text, _, _ = nonce.partition(".")
        if not stamp_text.isdigit():
            return False
        stamp = int(stamp_text)
        if not 0 <= time.time() - stamp <= NONCE_TTL:
            return False
        return hmac.compare_digest(self._nonce(stamp), nonce)
