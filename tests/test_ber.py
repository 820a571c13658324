"""The BER codec: round trips, byte-for-byte agreement with pysnmp, strictness."""

from __future__ import annotations

import contextlib
import random

import pytest
from pyasn1.codec.ber import decoder as pyasn1_decoder
from pyasn1.codec.ber import encoder as pyasn1_encoder
from pysnmp.proto import api

from opsconsole.collectors.snmp import ber
from opsconsole.collectors.snmp.ber import BerError, Message, Pdu, VarBind

SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)


def _pysnmp_message(version: int, community: str, pdu_cls: str, rid: int, varbinds: list,
                    bulk: tuple[int, int] | None = None) -> bytes:
    p = api.PROTOCOL_MODULES[api.SNMP_VERSION_1 if version == 0 else api.SNMP_VERSION_2C]
    pdu = getattr(p, pdu_cls)()
    p.apiPDU.set_defaults(pdu)
    p.apiPDU.set_request_id(pdu, rid)
    if bulk is not None:
        p.apiBulkPDU.set_non_repeaters(pdu, bulk[0])
        p.apiBulkPDU.set_max_repetitions(pdu, bulk[1])
    p.apiPDU.set_varbinds(pdu, [(oid, make(p)) for oid, make in varbinds])
    msg = p.Message()
    p.apiMessage.set_defaults(msg)
    p.apiMessage.set_community(msg, community)
    p.apiMessage.set_pdu(msg, pdu)
    return pyasn1_encoder.encode(msg)


def test_oid_helpers() -> None:
    assert ber.oid_from_str(".1.3.6.1.4.1.32473.1.1.0") == (1, 3, 6, 1, 4, 1, 32473, 1, 1, 0)
    assert ber.oid_to_str((1, 3, 6, 1, 2, 1, 1, 1, 0)) == "1.3.6.1.2.1.1.1.0"
    assert ber.oid_startswith((1, 3, 6, 1, 2), (1, 3, 6))
    assert not ber.oid_startswith((1, 3), (1, 3, 6))
    for bad in ("", "1", "1.3.x", "3.1", "1.40", "1.3.-1", f"1.3.{2**32}"):
        with pytest.raises(BerError):
            ber.oid_from_str(bad)


def test_known_vector_get_request_v2c() -> None:
    # snmpget -v2c -c public <host> sysDescr.0, request-id 1 (checked by hand)
    expected = bytes.fromhex(
        "3026" "020101" "0406" "7075626c6963"  # v2c, "public"
        "a019" "020101" "020100" "020100"  # GetRequest, request-id 1, no error
        "300e" "300c" "06082b06010201010100" "0500"  # sysDescr.0 = NULL
    )
    vb = VarBind(SYS_DESCR, ber.NULL)
    msg = Message(ber.V2C, b"public", Pdu(ber.GET_REQUEST, 1, 0, 0, (vb,)))
    assert ber.encode(msg) == expected
    assert ber.decode(expected) == msg


@pytest.mark.parametrize(
    ("version", "pdu_cls", "bulk", "ours_type"),
    [
        (0, "GetRequestPDU", None, ber.GET_REQUEST),
        (0, "GetNextRequestPDU", None, ber.GET_NEXT_REQUEST),
        (1, "SetRequestPDU", None, ber.SET_REQUEST),
        (1, "GetBulkRequestPDU", (1, 25), ber.GET_BULK_REQUEST),
    ],
)
def test_matches_pysnmp_requests(version: int, pdu_cls: str, bulk: tuple[int, int] | None,
                                 ours_type: int) -> None:
    oids = [SYS_DESCR, (1, 3, 6, 1, 4, 1, 32473, 1, 9, 0)]
    if pdu_cls == "SetRequestPDU":
        theirs = _pysnmp_message(version, "private", pdu_cls, 77,
                                 [(oids[1], lambda p: p.Integer(0))])
        ours = Message(version, b"private",
                       Pdu(ours_type, 77, 0, 0, (VarBind(oids[1], ber.INTEGER, 0),)))
    else:
        theirs = _pysnmp_message(version, "public", pdu_cls, 2**31 - 1,
                                 [(o, lambda p: p.Null()) for o in oids], bulk)
        nr, mr = bulk or (0, 0)
        ours = Message(version, b"public", Pdu(ours_type, 2**31 - 1, nr, mr,
                                               tuple(VarBind(o, ber.NULL) for o in oids)))
    assert ber.encode(ours) == theirs
    assert ber.decode(theirs) == ours


def test_matches_pysnmp_response_every_type() -> None:
    p = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    vbs = [
        (SYS_DESCR, p.OctetString(b"hello"), ber.OCTET_STRING, b"hello"),
        ((1, 3, 6, 1, 4, 1, 32473, 1, 1, 0), p.Gauge32(2**32 - 1), ber.GAUGE32, 2**32 - 1),
        ((1, 3, 6, 1, 2, 1, 1, 3, 0), p.TimeTicks(123456), ber.TIMETICKS, 123456),
        ((1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 1), p.Counter32(128), ber.COUNTER32, 128),
        ((1, 3, 6, 1, 4, 1, 32473, 1, 5, 0), p.Integer(-5), ber.INTEGER, -5),
        ((1, 3, 6, 1, 2, 1, 4, 20, 1, 1, 10, 0, 0, 1), p.IpAddress("10.0.0.1"), ber.IP_ADDRESS,
         "10.0.0.1"),
        ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 1), p.Counter64(2**64 - 1), ber.COUNTER64, 2**64 - 1),
        ((1, 3, 6, 1, 2, 1, 1, 2, 0), p.ObjectIdentifier((1, 3, 6, 1, 4, 1, 318, 1, 3, 4, 6)),
         ber.OBJECT_IDENTIFIER, (1, 3, 6, 1, 4, 1, 318, 1, 3, 4, 6)),
        ((1, 3, 6, 1, 2, 1, 1, 9, 0), p.Null(), ber.NULL, None),
        ((1, 3, 6, 1, 9, 9), p.NoSuchObject(), ber.NO_SUCH_OBJECT, None),
        ((1, 3, 6, 1, 9, 10), p.NoSuchInstance(), ber.NO_SUCH_INSTANCE, None),
        ((1, 3, 6, 1, 9, 11), p.EndOfMibView(), ber.END_OF_MIB_VIEW, None),
    ]
    theirs = _pysnmp_message(1, "public", "GetResponsePDU", 12345,
                             [(oid, lambda _p, v=v: v) for oid, v, _, _ in vbs])
    ours = Message(ber.V2C, b"public", Pdu(ber.GET_RESPONSE, 12345, 0, 0,
                                           tuple(VarBind(o, t, v) for o, _, t, v in vbs)))
    assert ber.encode(ours) == theirs
    assert ber.decode(theirs) == ours
    # and pysnmp reads ours back to the same values
    decoded, rest = pyasn1_decoder.decode(ber.encode(ours), asn1Spec=p.Message())
    assert rest == b""
    got = p.apiPDU.get_varbinds(p.apiMessage.get_pdu(decoded))
    assert [tuple(o) for o, _ in got] == [o for o, *_ in vbs]
    assert int(got[1][1]) == 2**32 - 1 and bytes(got[0][1]) == b"hello"


def _random_value(rng: random.Random) -> tuple[int, ber.Value]:
    tag = rng.choice([ber.INTEGER, ber.OCTET_STRING, ber.NULL, ber.OBJECT_IDENTIFIER,
                      ber.IP_ADDRESS, ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS, ber.COUNTER64,
                      ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE, ber.END_OF_MIB_VIEW])
    edge32 = [0, 1, 127, 128, 255, 256, 2**31 - 1, 2**31, 2**32 - 1]
    if tag == ber.INTEGER:
        return tag, rng.choice([rng.randint(-(2**31), 2**31 - 1), -1, 0, 127, 128, -128, -129,
                                2**31 - 1, -(2**31)])
    if tag == ber.OCTET_STRING:
        return tag, rng.randbytes(rng.choice([0, 1, 5, 127, 128, 300]))
    if tag == ber.OBJECT_IDENTIFIER:
        return tag, _random_oid(rng)
    if tag == ber.IP_ADDRESS:
        return tag, ".".join(str(rng.randint(0, 255)) for _ in range(4))
    if tag == ber.COUNTER64:
        return tag, rng.choice([rng.getrandbits(64), 0, 2**63, 2**64 - 1])
    if tag in (ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS):
        return tag, rng.choice([rng.getrandbits(32), *edge32])
    return tag, None


def _random_oid(rng: random.Random) -> ber.Oid:
    first = rng.randint(0, 2)
    second = rng.randint(0, 39) if first < 2 else rng.choice([0, 5, 100, 2**32 - 81])
    return (first, second, *(rng.choice([0, 1, 127, 128, 16383, 16384, 2**32 - 1,
                                         rng.getrandbits(32)])
                             for _ in range(rng.randint(0, 20))))


def _random_message(rng: random.Random) -> Message:
    ptype = rng.choice(sorted(ber.PDU_TYPES))
    vbs = tuple(VarBind(_random_oid(rng), *_random_value(rng)) for _ in range(rng.randint(0, 12)))
    pdu = Pdu(ptype, rng.randint(-(2**31), 2**31 - 1), rng.randint(0, 18), rng.randint(0, 50), vbs)
    return Message(rng.choice([ber.V1, ber.V2C]), rng.randbytes(rng.randint(0, 40)), pdu)


def test_random_round_trips() -> None:
    rng = random.Random(20261126)  # hypothesis-style, reproducible
    for _ in range(1500):
        msg = _random_message(rng)
        data = ber.encode(msg)
        assert ber.decode(data) == msg
        assert ber.encode(ber.decode(data)) == data


def test_mutated_input_only_ever_raises_ber_error() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        data = bytearray(ber.encode(_random_message(rng)))
        how = rng.randrange(4)
        if how == 0:
            del data[rng.randrange(len(data)):]
        elif how == 1:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif how == 2:
            data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        else:
            data += rng.randbytes(rng.randint(1, 4))
        with contextlib.suppress(BerError):  # anything else fails the test
            ber.decode(bytes(data))


def _msg(pdu_body: bytes, *, ptype: int = 0xA0, version: bytes = b"\x02\x01\x01",
         community: bytes = b"\x04\x06public") -> bytes:
    pdu = bytes([ptype, len(pdu_body)]) + pdu_body
    inner = version + community + pdu
    return bytes([0x30, len(inner)]) + inner


HDR = b"\x02\x01\x01\x02\x01\x00\x02\x01\x00"  # request-id 1, error-status 0, error-index 0
VB_NULL = b"\x30\x0c\x06\x08\x2b\x06\x01\x02\x01\x01\x01\x00\x05\x00"  # sysDescr.0 = NULL
GOOD = _msg(HDR + b"\x30" + bytes([len(VB_NULL)]) + VB_NULL)


def _vb(value_tlv: bytes, oid_tlv: bytes = b"\x06\x03\x2b\x06\x01") -> bytes:
    body = oid_tlv + value_tlv
    vb = bytes([0x30, len(body)]) + body
    return _msg(HDR + bytes([0x30, len(vb)]) + vb)


MALFORMED = {
    "empty": b"",
    "tag only": b"\x30",
    "truncated": GOOD[:-1],
    "trailing garbage": GOOD + b"\x00",
    "indefinite length": b"\x30\x80" + GOOD[2:] + b"\x00\x00",
    "length of length too big": b"\x30\x85\x00\x00\x00\x00" + bytes([len(GOOD) - 2]) + GOOD[2:],
    "length past the end": b"\x30\x7f" + GOOD[2:],
    "not a sequence": b"\x31" + GOOD[1:],
    "snmpv3 version": _msg(HDR + b"\x30\x00", version=b"\x02\x01\x03"),
    "non-minimal integer": _msg(b"\x02\x02\x00\x01" + HDR[3:] + b"\x30\x00"),
    "request-id too long": _msg(b"\x02\x05\x01\x00\x00\x00\x00" + HDR[3:] + b"\x30\x00"),
    "empty integer": _msg(b"\x02\x00" + HDR[3:] + b"\x30\x00"),
    "trap pdu": _msg(HDR + b"\x30\x00", ptype=0xA4),
    "community not a string": _msg(HDR + b"\x30\x00", community=b"\x02\x01\x05"),
    "varbind list not a sequence": _msg(HDR + b"\x31\x00"),
    "opaque value": _vb(b"\x44\x01\x00"),
    "oid truncated subid": _vb(b"\x05\x00", oid_tlv=b"\x06\x03\x2b\x06\x81"),
    "oid empty": _vb(b"\x05\x00", oid_tlv=b"\x06\x00"),
    "oid non-minimal subid": _vb(b"\x05\x00", oid_tlv=b"\x06\x03\x2b\x80\x01"),
    "counter32 out of range": _vb(b"\x41\x05\x01\x00\x00\x00\x00"),
    "gauge negative": _vb(b"\x42\x01\xff"),
    "null with content": _vb(b"\x05\x01\x00"),
    "ipaddress 3 octets": _vb(b"\x40\x03\x0a\x00\x01"),
    "multi-byte tag": _vb(b"\x1f\x01\x00"),
    "extra bytes in varbind": _vb(b"\x05\x00\x05\x00"),
}


def test_good_fixture_decodes() -> None:
    assert ber.decode(GOOD).pdu.varbinds == (VarBind(SYS_DESCR, ber.NULL),)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_raises_ber_error(name: str) -> None:
    with pytest.raises(BerError):
        ber.decode(MALFORMED[name])
    assert issubclass(BerError, ValueError)


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (ber.INTEGER, 2**31),
        (ber.INTEGER, "1"),
        (ber.OCTET_STRING, "text"),
        (ber.GAUGE32, -1),
        (ber.COUNTER64, 2**64),
        (ber.IP_ADDRESS, "10.0.0"),
        (ber.IP_ADDRESS, "10.0.0.256"),
        (ber.NULL, 0),
        (ber.OBJECT_IDENTIFIER, (1,)),
        (0x44, b""),
    ],
)
def test_encode_rejects_bad_values(tag: int, value: object) -> None:
    with pytest.raises(BerError):
        ber.encode_value(tag, value)  # type: ignore[arg-type]
