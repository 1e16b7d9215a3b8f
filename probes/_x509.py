"""Read a certificate's ``notAfter`` straight from its DER bytes.

``SSLSocket.getpeercert()`` only decodes the certificate when it was verified, so a
probe with ``insecure_skip_verify`` would lose the expiry; the DER form is always
available and the validity field sits at a fixed place in every X.509 certificate:
``Certificate -> tbsCertificate -> [version], serial, signature, issuer, validity``.
"""

from __future__ import annotations

import calendar

_SEQUENCE = 0x30
_VERSION = 0xA0  # [0] EXPLICIT, optional
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18


def _read_tlv(der: bytes, pos: int) -> tuple[int, int, int]:
    """``(tag, value_start, value_end)`` of the element at ``pos`` (single-byte tags)."""
    tag = der[pos]
    length = der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(der):
        raise ValueError("truncated DER")
    return tag, pos, end


def _parse_time(tag: int, raw: bytes) -> float:
    text = raw.decode("ascii")
    if tag == _UTC_TIME:  # YYMMDDHHMMSSZ; RFC 5280: YY >= 50 is 19YY
        year = int(text[0:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != _GENERALIZED_TIME:
        raise ValueError("not a time")
    if not text.endswith("Z") or len(text) != 15:
        raise ValueError("unsupported time format")
    fields = (text[0:4], text[4:6], text[6:8], text[8:10], text[10:12], text[12:14])
    return float(calendar.timegm(tuple(int(f) for f in fields)))


def not_after_timestamp(der: bytes) -> float | None:
    """The certificate's ``notAfter`` as Unix seconds, or None if ``der`` is unreadable."""
    try:
        tag, pos, _ = _read_tlv(der, 0)  # Certificate
        if tag != _SEQUENCE:
            return None
        tag, pos, _ = _read_tlv(der, pos)  # tbsCertificate
        if tag != _SEQUENCE:
            return None
        tag, start, end = _read_tlv(der, pos)
        if tag == _VERSION:
            tag, start, end = _read_tlv(der, end)  # serialNumber
        for _ in range(3):  # serialNumber, signature, issuer -> validity
            tag, start, end = _read_tlv(der, end)
        if tag != _SEQUENCE:
            return None
        tag, start, end = _read_tlv(der, start)  # notBefore
        tag, start, end = _read_tlv(der, end)  # notAfter
        return _parse_time(tag, der[start:end])
    except (IndexError, ValueError):  # UnicodeDecodeError is a ValueError
        return None
