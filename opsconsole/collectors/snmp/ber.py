"""A lean BER codec for SNMP v1/v2c messages.

Why our own: pysnmp/pyasn1 spend 85-90 % of their time in pyasn1, which is
too slow to serve thousands of simulated agents and too slow for the lean
engine's hot path. This module does plain bytes/int work, keeps OIDs as tuples of ints
(tuple order is OID order, so bisect works on them), and is strict: any
malformed, truncated or overlong input raises `BerError` (a ValueError),
never IndexError or friends, so a hostile packet can never crash a loop.

Shapes (all NamedTuples: cheap to build, compare and hash):
    Message(version, community, pdu)       version 0 = v1, 1 = v2c
    Pdu(type, request_id, error_status, error_index, varbinds)
        GetBulk reuses error_status/error_index as non_repeaters/max_repetitions
    VarBind(oid, tag, value)
Value representation per tag:
    INTEGER int (Integer32), OCTET_STRING bytes, NULL None, OBJECT_IDENTIFIER
    tuple[int, ...], IP_ADDRESS str "a.b.c.d", COUNTER32 / GAUGE32 /
    TIMETICKS int (0..2**32-1), COUNTER64 int (0..2**64-1),
    NO_SUCH_OBJECT / NO_SUCH_INSTANCE / END_OF_MIB_VIEW None.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

Oid = tuple[int, ...]
Value = int | bytes | str | Oid | None


class BerError(ValueError):
    """The bytes are not a well-formed SNMP v1/v2c message (or a value cannot be encoded)."""


# Universal and SNMP application tags.
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30
IP_ADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42  # also Unsigned32
UNSIGNED32 = GAUGE32
TIMETICKS = 0x43
COUNTER64 = 0x46
# v2 exceptions (context-specific, primitive, empty)
NO_SUCH_OBJECT = 0x80
NO_SUCH_INSTANCE = 0x81
END_OF_MIB_VIEW = 0x82

# PDU types (context-specific, constructed)
GET_REQUEST = 0xA0
GET_NEXT_REQUEST = 0xA1
GET_RESPONSE = 0xA2
SET_REQUEST = 0xA3
GET_BULK_REQUEST = 0xA5
PDU_TYPES = frozenset({GET_REQUEST, GET_NEXT_REQUEST, GET_RESPONSE, SET_REQUEST, GET_BULK_REQUEST})

V1 = 0
V2C = 1

# error-status values (RFC 1157 / RFC 3416)
NO_ERROR = 0
TOO_BIG = 1
NO_SUCH_NAME = 2
BAD_VALUE = 3
READ_ONLY = 4
GEN_ERR = 5
NO_ACCESS = 6
WRONG_TYPE = 7
WRONG_LENGTH = 8
WRONG_ENCODING = 9
WRONG_VALUE = 10
NO_CREATION = 11
INCONSISTENT_VALUE = 12
RESOURCE_UNAVAILABLE = 13
COMMIT_FAILED = 14
UNDO_FAILED = 15
AUTHORIZATION_ERROR = 16
NOT_WRITABLE = 17
INCONSISTENT_NAME = 18

_UNSIGNED_MAX = {COUNTER32: 0xFFFFFFFF, GAUGE32: 0xFFFFFFFF, TIMETICKS: 0xFFFFFFFF,
                 COUNTER64: 0xFFFFFFFFFFFFFFFF}
_EMPTY_TAGS = frozenset({NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW})
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_MAX_OID_ARCS = 128  # RFC 2578 limit
_MAX_ARC = 0xFFFFFFFF


class VarBind(NamedTuple):
    oid: Oid
    tag: int
    value: Value = None


class Pdu(NamedTuple):
    type: int
    request_id: int
    error_status: int = 0
    error_index: int = 0
    varbinds: tuple[VarBind, ...] = ()

    @property
    def non_repeaters(self) -> int:  # GetBulk naming of error_status
        return self.error_status

    @property
    def max_repetitions(self) -> int:  # GetBulk naming of error_index
        return self.error_index


class Message(NamedTuple):
    version: int
    community: bytes
    pdu: Pdu


# ---------------------------------------------------------------- OID helpers


def oid_from_str(text: str) -> Oid:
    """'1.3.6.1' or '.1.3.6.1' -> (1, 3, 6, 1). Raises BerError on junk."""
    s = text.strip().lstrip(".")
    try:
        oid = tuple(int(p) for p in s.split("."))
    except ValueError:
        raise BerError(f"bad OID {text!r}") from None
    _check_oid(oid)
    return oid


def oid_to_str(oid: Oid) -> str:
    return ".".join(map(str, oid))


def oid_startswith(oid: Oid, prefix: Oid) -> bool:
    return oid[: len(prefix)] == prefix


def _check_oid(oid: Oid) -> None:
    if len(oid) < 2 or len(oid) > _MAX_OID_ARCS:
        raise BerError(f"OID must have 2..{_MAX_OID_ARCS} arcs")
    if oid[0] > 2 or (oid[0] < 2 and oid[1] >= 40):
        raise BerError("bad first OID arcs")
    for a in oid:
        if a < 0 or a > _MAX_ARC:
            raise BerError("OID arc out of range")


# ---------------------------------------------------------------- encoding


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    if n < 0x1000000:
        return bytes((0x83, n >> 16, (n >> 8) & 0xFF, n & 0xFF))
    raise BerError("length too large")


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:  # the common case, inlined for speed
        return bytes((tag, n)) + body
    return bytes((tag,)) + _len(n) + body


def _int_body(v: int) -> bytes:
    # minimal two's complement: magnitude bits plus one sign bit, rounded up to bytes
    return v.to_bytes(((v if v >= 0 else ~v).bit_length() + 8) // 8, "big", signed=True)


@lru_cache(maxsize=8192)
def _oid_body(oid: Oid) -> bytes:
    # cached: an agent encodes the same few hundred OIDs over and over
    _check_oid(oid)
    out = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        if arc < 0x80:
            out.append(arc)
            continue
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def encode_value(tag: int, value: Value) -> bytes:
    """Encode one varbind value as a TLV; validates type and range."""
    if tag == INTEGER:
        if type(value) is not int or not _INT32_MIN <= value <= _INT32_MAX:
            raise BerError("INTEGER needs an int in Integer32 range")
        return _tlv(INTEGER, _int_body(value))
    if tag == OCTET_STRING:
        if not isinstance(value, bytes | bytearray):
            raise BerError("OCTET STRING needs bytes")
        return _tlv(OCTET_STRING, bytes(value))
    if tag in _UNSIGNED_MAX:
        if type(value) is not int or not 0 <= value <= _UNSIGNED_MAX[tag]:
            raise BerError(f"tag 0x{tag:02x} needs an unsigned int in range")
        return _tlv(tag, _int_body(value))
    if tag in _EMPTY_TAGS:
        if value is not None:
            raise BerError(f"tag 0x{tag:02x} carries no value")
        return bytes((tag, 0))
    if tag == OBJECT_IDENTIFIER:
        if not isinstance(value, tuple):
            raise BerError("OBJECT IDENTIFIER needs a tuple of ints")
        return _tlv(OBJECT_IDENTIFIER, _oid_body(value))
    if tag == IP_ADDRESS:
        try:
            parts = bytes(int(p) for p in str(value).split("."))
        except ValueError:
            raise BerError("IpAddress needs 'a.b.c.d'") from None
        if len(parts) != 4:
            raise BerError("IpAddress needs 4 octets")
        return _tlv(IP_ADDRESS, parts)
    raise BerError(f"unsupported value tag 0x{tag:02x}")


def encode_varbind(oid: Oid, tag: int, value: Value = None) -> bytes:
    """One varbind TLV (takes the parts so hot paths need not build a VarBind)."""
    return _tlv(SEQUENCE, _tlv(OBJECT_IDENTIFIER, _oid_body(oid)) + encode_value(tag, value))


def _int32(v: int, what: str) -> bytes:
    if type(v) is not int or not _INT32_MIN <= v <= _INT32_MAX:
        raise BerError(f"{what} out of Integer32 range")
    return _tlv(INTEGER, _int_body(v))


def encode_message_parts(version: int, community: bytes, pdu_type: int, request_id: int,
                         error_status: int, error_index: int, varbinds_body: bytes) -> bytes:
    """Assemble a message around already-encoded varbinds (the agent uses this
    to size a response without re-encoding every varbind)."""
    if version not in (V1, V2C):
        raise BerError("version must be 0 (v1) or 1 (v2c)")
    if pdu_type not in PDU_TYPES:
        raise BerError(f"unsupported PDU type 0x{pdu_type:02x}")
    pdu = _tlv(
        pdu_type,
        _int32(request_id, "request-id")
        + _int32(error_status, "error-status")
        + _int32(error_index, "error-index")
        + _tlv(SEQUENCE, varbinds_body),
    )
    return _tlv(SEQUENCE, bytes((INTEGER, 1, version)) + _tlv(OCTET_STRING, community) + pdu)


def encode(msg: Message) -> bytes:
    p = msg.pdu
    body = b"".join([encode_varbind(*vb) for vb in p.varbinds])
    return encode_message_parts(msg.version, bytes(msg.community), p.type, p.request_id,
                                p.error_status, p.error_index, body)


# ---------------------------------------------------------------- decoding


def _tl(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Read tag and length at pos; return (tag, body_start, body_end) inside end."""
    if pos + 2 > end:
        raise BerError("truncated tag/length")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise BerError("multi-byte tags are not used by SNMP")
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise BerError("indefinite length is not allowed")
        if k > 4:
            raise BerError("length of length too large")
        if pos + k > end:
            raise BerError("truncated length")
        n = int.from_bytes(data[pos : pos + k], "big")
        pos += k
    if pos + n > end:
        raise BerError("length runs past the end of its container")
    return tag, pos, pos + n


def _int_at(data: bytes, start: int, stop: int) -> int:
    n = stop - start
    if n == 0:
        raise BerError("empty INTEGER")
    if n > 1:
        b0, b1 = data[start], data[start + 1]
        if (b0 == 0 and b1 < 0x80) or (b0 == 0xFF and b1 >= 0x80):
            raise BerError("non-minimal INTEGER encoding")
    return int.from_bytes(data[start:stop], "big", signed=True)


def _expect_int32(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    tag, s, e = _tl(data, pos, end)
    if tag != INTEGER:
        raise BerError(f"{what}: expected INTEGER")
    if e - s > 4:
        raise BerError(f"{what}: INTEGER too long")
    return _int_at(data, s, e), e


@lru_cache(maxsize=8192)
def _decode_oid_body(body: bytes) -> Oid:
    if not body:
        raise BerError("empty OBJECT IDENTIFIER")
    if body[-1] & 0x80:
        raise BerError("truncated OID sub-identifier")
    arcs: list[int] = []
    acc = 0
    fresh = True
    for b in body:
        if fresh and b == 0x80:
            raise BerError("non-minimal OID sub-identifier")
        acc = (acc << 7) | (b & 0x7F)
        if b & 0x80:
            fresh = False
            if acc > _MAX_ARC * 80:  # keeps hostile bignums out; first arc may reach 2*40+2**32
                raise BerError("OID sub-identifier too large")
            continue
        arcs.append(acc)
        acc = 0
        fresh = True
    first = arcs[0]
    head = (first // 40, first % 40) if first < 80 else (2, first - 80)
    oid = (*head, *arcs[1:])
    _check_oid(oid)
    return oid


def decode_value(tag: int, data: bytes, start: int, stop: int) -> Value:
    if tag == INTEGER:
        if stop - start > 4:
            raise BerError("INTEGER too long for Integer32")
        return _int_at(data, start, stop)
    if tag == OCTET_STRING:
        return data[start:stop]
    if tag in _UNSIGNED_MAX:
        v = _int_at(data, start, stop)
        if not 0 <= v <= _UNSIGNED_MAX[tag]:
            raise BerError(f"tag 0x{tag:02x} value out of range")
        return v
    if tag in _EMPTY_TAGS:
        if stop != start:
            raise BerError("NULL / exception with a body")
        return None
    if tag == OBJECT_IDENTIFIER:
        return _decode_oid_body(data[start:stop])
    if tag == IP_ADDRESS:
        if stop - start != 4:
            raise BerError("IpAddress must be 4 octets")
        return ".".join(map(str, data[start:stop]))
    raise BerError(f"unsupported value tag 0x{tag:02x}")


def decode(data: bytes) -> Message:
    """Decode one SNMP v1/v2c message; trailing bytes are an error."""
    try:
        return _decode(bytes(data))
    except BerError:
        raise
    except (IndexError, ValueError, TypeError, OverflowError) as exc:  # belt and braces
        raise BerError(f"malformed message: {exc}") from None


def _decode(data: bytes) -> Message:
    end = len(data)
    tag, pos, mend = _tl(data, 0, end)
    if tag != SEQUENCE:
        raise BerError("message is not a SEQUENCE")
    if mend != end:
        raise BerError("trailing bytes after the message")
    version, pos = _expect_int32(data, pos, mend, "version")
    if version not in (V1, V2C):
        raise BerError(f"unsupported SNMP version {version}")
    tag, s, pos = _tl(data, pos, mend)
    if tag != OCTET_STRING:
        raise BerError("community: expected OCTET STRING")
    community = data[s:pos]
    ptype, pos, pend = _tl(data, pos, mend)
    if ptype not in PDU_TYPES:
        raise BerError(f"unsupported PDU type 0x{ptype:02x}")
    if pend != mend:
        raise BerError("trailing bytes after the PDU")
    request_id, pos = _expect_int32(data, pos, pend, "request-id")
    err_status, pos = _expect_int32(data, pos, pend, "error-status")
    err_index, pos = _expect_int32(data, pos, pend, "error-index")
    tag, pos, vend = _tl(data, pos, pend)
    if tag != SEQUENCE:
        raise BerError("varbind list: expected SEQUENCE")
    if vend != pend:
        raise BerError("trailing bytes after the varbind list")
    varbinds: list[VarBind] = []
    while pos < vend:
        tag, vs, ve = _tl(data, pos, vend)
        if tag != SEQUENCE:
            raise BerError("varbind: expected SEQUENCE")
        otag, os_, oe = _tl(data, vs, ve)
        if otag != OBJECT_IDENTIFIER:
            raise BerError("varbind name: expected OBJECT IDENTIFIER")
        oid = _decode_oid_body(data[os_:oe])
        vtag, xs, xe = _tl(data, oe, ve)
        if xe != ve:
            raise BerError("trailing bytes in a varbind")
        varbinds.append(VarBind(oid, vtag, decode_value(vtag, data, xs, xe)))
        pos = ve
    pdu = Pdu(ptype, request_id, err_status, err_index, tuple(varbinds))
    return Message(version, community, pdu)

