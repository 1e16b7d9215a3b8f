"""Read what a probe reports about a certificate straight from its DER bytes.

``SSLSocket.getpeercert()`` only decodes a certificate that was verified, so a probe with
``insecure_skip_verify`` (or one looking at a certificate that failed verification) would
lose its expiry and names; the DER form is always available, and the fields sit at fixed
places in every X.509 certificate:
``Certificate -> tbsCertificate -> [version], serial, signature, issuer, validity, subject``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LeafCertificate:
    """What the probe reports about the certificate a server presented."""

    not_after_timestamp: float
    subject_cn: str
    issuer_cn: str

    def details(self) -> dict[str, str]:
        """The certificate's names as result details."""
        return {"subject_cn": self.subject_cn, "issuer_cn": self.issuer_cn}


# --- the few DER fields the probe reports ---------------------------------------------
# Python 3.11's ssl module decodes a certificate only once it is verified; an unverified
# one (insecure_skip_verify, or the second look after a failure) comes back as DER bytes.
_SEQUENCE, _OID, _UTC_TIME, _GENERALIZED_TIME, _BMP_STRING = 0x30, 0x06, 0x17, 0x18, 0x1E
_EXPLICIT_VERSION = 0xA0
_OID_COMMON_NAME = b"\x55\x04\x03"  # 2.5.4.3


def der_elements(data: bytes) -> list[tuple[int, bytes]]:
    """The ``(tag, content)`` of each DER element laid end to end in ``data``."""
    elements: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("truncated DER header")
        tag, length = data[pos], data[pos + 1]
        pos += 2
        if length & 0x80:
            size = length & 0x7F
            if not 0 < size <= 4 or pos + size > len(data):
                raise ValueError("bad DER length")
            length = int.from_bytes(data[pos:pos + size], "big")
            pos += size
        if pos + length > len(data):
            raise ValueError("truncated DER element")
        elements.append((tag, data[pos:pos + length]))
        pos += length
    return elements


def leaf_certificate(der: bytes) -> LeafCertificate:
    """The expiry and common names of a DER X.509 certificate; ValueError if malformed."""
    try:
        ((cert_tag, cert),) = der_elements(der)
        tbs_tag, tbs = der_elements(cert)[0]
        # serial, signature algorithm, issuer, validity, subject (after the optional version)
        fields = [e for e in der_elements(tbs) if e[0] != _EXPLICIT_VERSION]
        issuer, validity, subject = fields[2], fields[3], fields[4]
        not_after = der_elements(validity[1])[1]
    except (IndexError, ValueError) as exc:  # too few elements, or too many
        raise ValueError(f"not an X.509 certificate ({exc})") from None
    if {cert_tag, tbs_tag, issuer[0], validity[0], subject[0]} != {_SEQUENCE}:
        raise ValueError("not an X.509 certificate")
    return LeafCertificate(_der_time(*not_after), _common_name(subject[1]),
                           _common_name(issuer[1]))


def _der_time(tag: int, content: bytes) -> float:
    text = content.decode("ascii")
    if tag == _UTC_TIME:  # RFC 5280: a two-digit year of 50 or more is 19xx
        text = ("19" if int(text[:2]) >= 50 else "20") + text
    elif tag != _GENERALIZED_TIME:
        raise ValueError("bad certificate time")
    # Read by hand, not with strptime: its first call imports _strptime and compiles
    # locale patterns (several ms), which landed inside the first TLS probe's duration.
    if len(text) != 15 or not text[:14].isdigit() or not text.isascii() or text[14] != "Z":
        raise ValueError("bad certificate time")
    fields = (int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]),
              int(text[10:12]), int(text[12:14]))
    return dt.datetime(*fields, tzinfo=dt.UTC).timestamp()


def _common_name(name: bytes) -> str:
    for _, rdn in der_elements(name):
        for _, attribute in der_elements(rdn):
            (oid_tag, oid), (value_tag, value) = der_elements(attribute)
            if oid_tag == _OID and oid == _OID_COMMON_NAME:
                codec = "utf-16-be" if value_tag == _BMP_STRING else "utf-8"
                return value.decode(codec, errors="replace")
    return ""


def not_after_timestamp(der: bytes) -> float | None:
    """The certificate's ``notAfter`` as Unix seconds, or None if ``der`` is unreadable."""
    try:
        return leaf_certificate(der).not_after_timestamp
    except (ValueError, UnicodeDecodeError):
        return None
