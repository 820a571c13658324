"""Whatsminer's encrypted write API (API v1/v2 on TCP 4028): the key and
sign derived with md5-crypt from the password and the salts `get_token`
gives, and the command sealed with AES-256-ECB under sha256(key).

md5-crypt is implemented here (the stdlib `crypt` module is deprecated and
gone in Python 3.13); it is the FreeBSD/glibc `$1$` algorithm."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _to64(v: int, n: int) -> str:
    out = []
    for _ in range(n):
        out.append(_ITOA64[v & 0x3F])
        v >>= 6
    return "".join(out)


def md5_crypt(password: str, salt: str) -> str:
    """`$1$<salt>$<hash>`, as crypt(3) gives for a `$1$` salt (8 chars at most)."""
    pw, s = password.encode(), salt.encode()[:8]
    magic = b"$1$"
    alt = hashlib.md5(pw + s + pw).digest()
    ctx = pw + magic + s
    n = len(pw)
    while n > 0:
        ctx += alt[:min(16, n)]
        n -= 16
    i = len(pw)
    while i:
        ctx += b"\x00" if i & 1 else pw[:1]
        i >>= 1
    final = hashlib.md5(ctx).digest()
    for r in range(1000):
        c = pw if r & 1 else final
        if r % 3:
            c += s
        if r % 7:
            c += pw
        c += final if r & 1 else pw
        final = hashlib.md5(c).digest()
    f = final
    groups = ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))
    enc = "".join(_to64((f[a] << 16) | (f[b] << 8) | f[c], 4) for a, b, c in groups)
    enc += _to64(f[11], 2)
    return f"$1${s.decode()}${enc}"


def _hash_part(crypted: str) -> str:
    return crypted.split("$")[3]


def session_keys(password: str, salt: str, newsalt: str, when: str) -> tuple[str, str]:
    """(key, sign) for one `get_token` answer: key seals the command, sign is its token."""
    key = _hash_part(md5_crypt(password, salt))
    sign = _hash_part(md5_crypt(key + when, newsalt))
    return key, sign


def _cipher(key: str) -> Cipher:
    return Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.ECB())


def seal(command: dict[str, Any], key: str) -> str:
    """JSON, NUL-padded to 16 bytes, AES-256-ECB, base64 (the firmware's own padding)."""
    raw = json.dumps(command, separators=(",", ":")).encode()
    raw += b"\x00" * (-len(raw) % 16)
    enc = _cipher(key).encryptor()
    return base64.b64encode(enc.update(raw) + enc.finalize()).decode()


def unseal(text: str, key: str) -> dict[str, Any]:
    """The inverse of seal; ValueError when it is not a sealed JSON object."""
    try:
        data = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64") from exc
    if not data or len(data) % 16:
        raise ValueError("not a whole number of AES blocks")
    dec = _cipher(key).decryptor()
    raw = (dec.update(data) + dec.finalize()).rstrip(b"\x00")
    try:
        out = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("wrong key or damaged reply") from exc
    if not isinstance(out, dict):
        raise ValueError("not a JSON object")
    return out
