"""AWS Signature Version 4, header form: pure functions, no I/O, no clock of its own.

    canonical_request(method, path, query, headers, signed_headers, payload_hash) -> str
    string_to_sign(amz_date, scope, canonical_request) -> str
    signing_key(secret, date, region, service) -> bytes
    signature(key, string_to_sign) -> str (hex)
    verify(method, path, query, headers, body, lookup_secret, now, ...) -> the credential's owner

``verify`` checks a request the way AWS does for DynamoDB and raises AWS's errors
(``MissingAuthenticationTokenException``, ``IncompleteSignatureException``,
``InvalidSignatureException``, ``UnrecognizedClientException``).  ``lookup_secret``
maps an access key id to an object with ``secret_access_key`` and ``session_token``
attributes (or None for an unknown key); ``verify`` returns that object.

Non-S3 rules apply: the path is normalised (empty and dot segments removed) and
URI-encoded once more (so a client's already-encoded path ends up double-encoded, as
SDKs sign it); the payload hash is always the SHA-256 of the body actually received.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote, unquote_to_bytes

from dynamodbforge.auth import errors as E

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
MAX_SKEW = timedelta(minutes=15)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

_UNRESERVED = "-_.~"  # plus ASCII letters and digits, which quote() never encodes
_SPACES = re.compile(r"\s+")
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")

HeaderInput = Mapping[Any, Any] | Iterable[tuple[Any, Any]]


def _text(value: str | bytes) -> str:
    # Header bytes are latin-1 on the wire (http.client sends str values as latin-1 and
    # SDKs sign the str), so latin-1 round-trips what the client signed and never fails.
    return value.decode("latin-1") if isinstance(value, bytes) else value


def normalize_headers(headers: HeaderInput) -> dict[str, str]:
    """Lower-case names; repeated headers joined with ',' in arrival order; values trimmed
    and inner runs of whitespace collapsed to one space (SigV4's canonical form)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        key = _text(name).strip().lower()
        val = _SPACES.sub(" ", _text(value).strip())
        out[key] = f"{out[key]},{val}" if key in out else val
    return out


def canonical_uri(path: str | bytes) -> str:
    raw = path.encode("utf-8", "surrogateescape") if isinstance(path, str) else path
    segments: list[bytes] = []
    for segment in raw.split(b"/"):
        if segment in (b"", b"."):
            continue
        if segment == b"..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    if not segments:
        return "/"
    out = "/" + "/".join(quote(s, safe=_UNRESERVED) for s in segments)
    return out + "/" if raw.endswith(b"/") else out


def canonical_query(query: str | bytes) -> str:
    raw = query.encode("utf-8", "surrogateescape") if isinstance(query, str) else query
    if not raw:
        return ""
    pairs: list[tuple[str, str]] = []
    for part in raw.split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        pairs.append((quote(unquote_to_bytes(key), safe=_UNRESERVED), quote(unquote_to_bytes(value), safe=_UNRESERVED)))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_request(
    method: str | bytes,
    path: str | bytes,
    query: str | bytes,
    headers: HeaderInput,
    signed_headers: Iterable[str],
    payload_hash: str,
) -> str:
    """SigV4's canonical request.  ``headers`` may be a mapping or (name, value) pairs;
    ``signed_headers`` are lower-case names, in the order the signer listed them."""
    normalized = headers if _is_normalized(headers) else normalize_headers(headers)
    names = list(signed_headers)
    lines = [_text(method).upper(), canonical_uri(path), canonical_query(query)]
    lines.extend(f"{name}:{normalized.get(name, '')}" for name in names)  # type: ignore[union-attr]
    lines.append("")
    lines.append(";".join(names))
    lines.append(payload_hash)
    return "\n".join(lines)


class _Normalized(dict):  # marker: already through normalize_headers
    pass


def _is_normalized(headers: Any) -> bool:
    return isinstance(headers, _Normalized)


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return "\n".join((ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()))


_KEY_CACHE: dict[tuple[str, str, str, str], bytes] = {}


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    cache_key = (secret, date, region, service)
    key = _KEY_CACHE.get(cache_key)
    if key is None:
        key = hmac.digest(("AWS4" + secret).encode("utf-8"), date.encode("utf-8"), "sha256")
        for part in (region, service, TERMINATOR):
            key = hmac.digest(key, part.encode("utf-8"), "sha256")
        if len(_KEY_CACHE) > 4096:
            _KEY_CACHE.clear()
        _KEY_CACHE[cache_key] = key
    return key


def signature(key: bytes, sts: str) -> str:
    return hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(
    method: str, path: str, query: str, headers: HeaderInput, body: bytes,
    access_key_id: str, secret: str, region: str, service: str, amz_date: str,
    signed_headers: Iterable[str] | None = None,
) -> str:
    """The Authorization header value for a request (test helper and reference signer)."""
    normalized = _Normalized(normalize_headers(headers))
    names = sorted(signed_headers if signed_headers is not None else normalized)
    scope = f"{amz_date[:8]}/{region}/{service}/{TERMINATOR}"
    creq = canonical_request(method, path, query, normalized, names, hashlib.sha256(body).hexdigest())
    sig = signature(signing_key(secret, amz_date[:8], region, service), string_to_sign(amz_date, scope, creq))
    return f"{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"


# --- verification -------------------------------------------------------------

def _parse_authorization(header: str) -> dict[str, str]:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise E.incomplete_signature(f"Unsupported AWS 'algorithm': '{algorithm}'")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq:
            raise E.incomplete_signature(
                f"'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'."
            )
        fields[key.strip()] = value.strip()
    return fields


def _format(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _request_time(amz_date: str | None, date_header: str | None) -> tuple[str, datetime]:
    if amz_date is not None:
        if not _AMZ_DATE.match(amz_date):
            raise E.incomplete_signature(
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601"
            )
        try:
            moment = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise E.incomplete_signature(
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ) from None
        return amz_date, moment
    assert date_header is not None
    try:
        moment = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        raise E.incomplete_signature(f"Date must be in RFC 1123 format. Got '{date_header}'.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return _format(moment), moment


def verify(
    method: str | bytes,
    path: str | bytes,
    query: str | bytes,
    headers: HeaderInput,
    body: bytes,
    lookup_secret: Callable[[str], Any],
    now: datetime | float,
    *,
    region: str | None = None,
    service: str | None = "dynamodb",
) -> Any:
    """Verify a SigV4-signed request; return ``lookup_secret(access_key_id)``'s result.

    ``region``/``service``: what the credential scope must name (None accepts any).
    ``now``: a timezone-aware datetime or a Unix timestamp.
    """
    hdrs = _Normalized(normalize_headers(headers))
    authorization = hdrs.get("authorization")
    if authorization is None:
        raise E.missing_authentication_token()
    fields = _parse_authorization(authorization)
    amz_date_header = hdrs.get("x-amz-date")
    date_header = hdrs.get("date")
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    if amz_date_header is None and date_header is None:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if missing:
        raise E.incomplete_signature(" ".join(missing) + f" Authorization={authorization}")

    credential = fields["Credential"]
    parts = credential.split("/")
    if len(parts) != 5:
        raise E.incomplete_signature(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,"
            f" got '{credential}'"
        )
    access_key_id, scope_date, scope_region, scope_service, terminator = parts
    amz_date, moment = _request_time(amz_date_header, date_header)
    if terminator != TERMINATOR:
        raise E.invalid_signature(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'."
        )
    if scope_date != amz_date[:8]:
        raise E.invalid_signature(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if service is not None and scope_service != service:
        raise E.invalid_signature(f"Credential should be scoped to correct service: '{service}'. ")
    if region is not None and scope_region != region:
        raise E.invalid_signature(f"Credential should be scoped to a valid region, not '{scope_region}'. ")

    current = now if isinstance(now, datetime) else datetime.fromtimestamp(now, timezone.utc)
    if moment < current - MAX_SKEW:
        raise E.invalid_signature(
            f"Signature expired: {amz_date} is now earlier than {_format(current - MAX_SKEW)} "
            f"({_format(current)} - 15 min.)"
        )
    if moment > current + MAX_SKEW:
        raise E.invalid_signature(
            f"Signature not yet current: {amz_date} is still later than {_format(current + MAX_SKEW)} "
            f"({_format(current)} + 15 min.)"
        )

    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed:
        raise E.incomplete_signature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    for name in signed:
        if name not in hdrs:
            raise E.incomplete_signature(f"'{name}' is named as a SignedHeader, but it does not exist in the HTTP request.")

    owner = lookup_secret(access_key_id)
    if owner is None:
        raise E.unrecognized_client()
    token = hdrs.get("x-amz-security-token")
    if token != owner.session_token:
        raise E.unrecognized_client()

    creq = canonical_request(method, path, query, hdrs, signed, hashlib.sha256(body).hexdigest())
    scope = f"{scope_date}/{scope_region}/{scope_service}/{TERMINATOR}"
    key = signing_key(owner.secret_access_key, scope_date, scope_region, scope_service)
    expected = signature(key, string_to_sign(amz_date, scope, creq))
    if not hmac.compare_digest(expected.encode(), fields["Signature"].encode("utf-8", "surrogateescape")):
        raise E.signature_mismatch()
    return owner
