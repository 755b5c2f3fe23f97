"""Pure unit tests of dynamodbforge.auth.sigv4 (no server).

The vectors are from AWS's published Signature Version 4 test suite
(aws-sig-v4-test-suite, credential AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1,
service "service"): request, canonical request (.creq), string to sign (.sts) and the
Authorization header's Signature (.authz), as AWS documents them.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from dynamodbforge.auth import sigv4
from dynamodbforge.errors import DynamoDBError

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
AMZ_DATE = "20150830T123600Z"
SCOPE = "20150830/us-east-1/service/aws4_request"
WHEN = datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc)
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
STS_TOKEN = (
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflf"
    "KD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlR"
    "d8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx"
    "3iSIlTJabIQwj2ICCR/oLxBA=="
)
HOST = ("Host", "example.amazonaws.com")
DATE = ("X-Amz-Date", AMZ_DATE)

# name: (method, path, query, header pairs, body, signed headers, creq, sts hash, signature)
VECTORS = {
    "get-vanilla": (
        "GET", "/", "", [HOST, DATE], b"", "host;x-amz-date",
        f"GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:{AMZ_DATE}\n\nhost;x-amz-date\n{EMPTY}",
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    "post-vanilla": (
        "POST", "/", "", [HOST, DATE], b"", "host;x-amz-date",
        f"POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:{AMZ_DATE}\n\nhost;x-amz-date\n{EMPTY}",
        "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    ),
    "get-header-key-duplicate": (
        "GET", "/", "", [HOST, ("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1"), DATE],
        b"", "host;my-header1;x-amz-date",
        f"GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:{AMZ_DATE}\n\n"
        f"host;my-header1;x-amz-date\n{EMPTY}",
        "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    ),
    "get-header-value-trim": (
        "GET", "/", "", [HOST, ("My-Header1", " value1"), ("My-Header2", ' "a   b   c"'), DATE],
        b"", "host;my-header1;my-header2;x-amz-date",
        f'GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:"a b c"\nx-amz-date:{AMZ_DATE}\n\n'
        f"host;my-header1;my-header2;x-amz-date\n{EMPTY}",
        "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    ),
    "get-vanilla-query-order-key-case": (
        "GET", "/", "Param2=value2&Param1=value1", [HOST, DATE], b"", "host;x-amz-date",
        f"GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:{AMZ_DATE}\n\n"
        f"host;x-amz-date\n{EMPTY}",
        "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    ),
    "get-vanilla-query-order-key": (
        "GET", "/", "Param1=value2&Param1=Value1", [HOST, DATE], b"", "host;x-amz-date",
        f"GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:{AMZ_DATE}\n\n"
        f"host;x-amz-date\n{EMPTY}",
        "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89",
        "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
    ),
    "get-vanilla-utf8-query": (
        "GET", "/", "\u1234=bar", [HOST, DATE], b"", "host;x-amz-date",
        f"GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:{AMZ_DATE}\n\nhost;x-amz-date\n{EMPTY}",
        "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    ),
    "get-space": (
        "GET", "/example space/", "", [HOST, DATE], b"", "host;x-amz-date",
        f"GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:{AMZ_DATE}\n\nhost;x-amz-date\n{EMPTY}",
        "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
        "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
    ),
    "get-slashes": (
        "GET", "//example//", "", [HOST, DATE], b"", "host;x-amz-date",
        f"GET\n/example/\n\nhost:example.amazonaws.com\nx-amz-date:{AMZ_DATE}\n\nhost;x-amz-date\n{EMPTY}",
        "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015",
        "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
    ),
    "get-unreserved": (
        "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "", [HOST, DATE], b"",
        "host;x-amz-date",
        f"GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\n"
        f"host:example.amazonaws.com\nx-amz-date:{AMZ_DATE}\n\nhost;x-amz-date\n{EMPTY}",
        "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    ),
    "post-sts-header-before": (
        "POST", "/", "", [HOST, DATE, ("X-Amz-Security-Token", STS_TOKEN)], b"",
        "host;x-amz-date;x-amz-security-token",
        f"POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:{AMZ_DATE}\nx-amz-security-token:{STS_TOKEN}\n\n"
        f"host;x-amz-date;x-amz-security-token\n{EMPTY}",
        "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
    ),
    "post-x-www-form-urlencoded": (
        "POST", "/", "", [("Content-Type", "application/x-www-form-urlencoded"), HOST, DATE], b"Param1=value1",
        "content-type;host;x-amz-date",
        f"POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
        f"x-amz-date:{AMZ_DATE}\n\ncontent-type;host;x-amz-date\n"
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
        "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    ),
}


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_aws_vector(name: str) -> None:
    method, path, query, headers, body, signed, creq, sts_hash, expected = VECTORS[name]
    canonical = sigv4.canonical_request(method, path, query, headers, signed.split(";"),
                                        hashlib.sha256(body).hexdigest())
    assert canonical == creq
    sts = sigv4.string_to_sign(AMZ_DATE, SCOPE, canonical)
    assert sts == f"AWS4-HMAC-SHA256\n{AMZ_DATE}\n{SCOPE}\n{sts_hash}"
    assert sigv4.signature(sigv4.signing_key(SECRET, "20150830", "us-east-1", "service"), sts) == expected


def _owner(token: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(secret_access_key=SECRET, session_token=token, name="example")


def _authz(signature: str, signed: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{SCOPE}, SignedHeaders={signed}, Signature={signature}"


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_verify_accepts_aws_vector(name: str) -> None:
    method, path, query, headers, body, signed, _creq, _sts, expected = VECTORS[name]
    token = STS_TOKEN if "security-token" in signed else None
    owner = _owner(token)
    found = sigv4.verify(method, path, query, headers + [("Authorization", _authz(expected, signed))], body,
                         {"AKIDEXAMPLE": owner}.get, WHEN, service="service", region="us-east-1")
    assert found is owner


def test_sign_helper_matches_vector() -> None:
    header = sigv4.sign("GET", "/", "", [HOST, DATE], b"", "AKIDEXAMPLE", SECRET, "us-east-1", "service", AMZ_DATE)
    assert header == _authz("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", "host;x-amz-date")


# --- refusals, with AWS's error types -------------------------------------------------

def _dynamodb_request(body: bytes = b'{"TableName":"T"}', when: datetime = WHEN, token: str | None = None,
                      secret: str = SECRET) -> tuple[list[tuple[str, str]], bytes]:
    amz = when.strftime("%Y%m%dT%H%M%SZ")
    headers = [("Host", "localhost:8000"), ("X-Amz-Date", amz), ("X-Amz-Target", "DynamoDB_20120810.GetItem"),
               ("Content-Type", "application/x-amz-json-1.0")]
    if token:
        headers.append(("X-Amz-Security-Token", token))
    headers.append(("Authorization", sigv4.sign("POST", "/", "", headers, body, "AKIDEXAMPLE", secret,
                                                 "us-east-1", "dynamodb", amz)))
    return headers, body


def _verify(headers, body, owner=None, now=WHEN):  # type: ignore[no-untyped-def]
    owner = owner or _owner()
    return sigv4.verify("POST", "/", "", headers, body, {"AKIDEXAMPLE": owner}.get, now, region="us-east-1")


def _error(headers, body, owner=None, now=WHEN) -> DynamoDBError:  # type: ignore[no-untyped-def]
    with pytest.raises(DynamoDBError) as info:
        _verify(headers, body, owner, now)
    return info.value


def _replace(headers, name, value):  # type: ignore[no-untyped-def]
    return [(k, value if k.lower() == name else v) for k, v in headers]


def test_valid_dynamodb_request() -> None:
    headers, body = _dynamodb_request()
    assert _verify(headers, body).name == "example"


def test_missing_authorization_header() -> None:
    headers, body = _dynamodb_request()
    err = _error([h for h in headers if h[0] != "Authorization"], body)
    assert (err.type_name, err.message, err.status) == (
        "MissingAuthenticationTokenException", "Request is missing Authentication Token", 400)
    assert err.body()["__type"] == "com.amazon.coral.service#MissingAuthenticationTokenException"


def test_tampered_body_is_invalid_signature() -> None:
    headers, body = _dynamodb_request()
    err = _error(headers, b'{"TableName":"U"}')
    assert err.type_name == "InvalidSignatureException"
    assert err.message == (
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
        "Access Key and signing method. Consult the service documentation for details.")
    assert err.body()["__type"] == "com.amazon.coral.service#InvalidSignatureException"


def test_wrong_secret_is_invalid_signature() -> None:
    headers, body = _dynamodb_request(secret="not-the-secret")
    assert _error(headers, body).type_name == "InvalidSignatureException"


def test_tampered_signed_header() -> None:
    headers, body = _dynamodb_request()
    err = _error(_replace(headers, "x-amz-target", "DynamoDB_20120810.DeleteItem"), body)
    assert err.type_name == "InvalidSignatureException"


def test_unknown_access_key() -> None:
    headers, body = _dynamodb_request()
    with pytest.raises(DynamoDBError) as info:
        sigv4.verify("POST", "/", "", headers, body, {}.get, WHEN, region="us-east-1")
    assert (info.value.type_name, info.value.message) == (
        "UnrecognizedClientException", "The security token included in the request is invalid.")


def test_session_token_checks() -> None:
    headers, body = _dynamodb_request(token="good-token")
    assert _verify(headers, body, _owner("good-token")).name == "example"
    assert _error(headers, body, _owner("other-token")).type_name == "UnrecognizedClientException"
    assert _error(headers, body, _owner(None)).type_name == "UnrecognizedClientException"
    headers, body = _dynamodb_request()
    assert _error(headers, body, _owner("good-token")).type_name == "UnrecognizedClientException"


def test_clock_skew_over_15_minutes_refused() -> None:
    headers, body = _dynamodb_request(when=WHEN - timedelta(minutes=16))
    err = _error(headers, body)
    assert err.type_name == "InvalidSignatureException"
    assert err.message == ("Signature expired: 20150830T122000Z is now earlier than 20150830T122100Z "
                           "(20150830T123600Z - 15 min.)")
    headers, body = _dynamodb_request(when=WHEN + timedelta(minutes=16))
    err = _error(headers, body)
    assert err.message == ("Signature not yet current: 20150830T125200Z is still later than 20150830T125100Z "
                           "(20150830T123600Z + 15 min.)")
    headers, body = _dynamodb_request(when=WHEN - timedelta(minutes=14))
    assert _verify(headers, body).name == "example"


def test_unix_timestamp_now() -> None:
    headers, body = _dynamodb_request()
    assert _verify(headers, body, now=WHEN.timestamp()).name == "example"


def test_incomplete_signature() -> None:
    headers, body = _dynamodb_request()
    bare = _replace(headers, "authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request")
    err = _error(bare, body)
    assert err.type_name == "IncompleteSignatureException"
    assert err.message.startswith("Authorization header requires 'Signature' parameter. "
                                  "Authorization header requires 'SignedHeaders' parameter.")
    err = _error(_replace(headers, "authorization", "AWS4-HMAC-SHA256 Credential AKIDEXAMPLE"), body)
    assert err.type_name == "IncompleteSignatureException"
    assert "not a valid key=value pair (missing equal-sign)" in err.message
    no_date = [h for h in headers if h[0] != "X-Amz-Date"]
    err = _error(no_date, body)
    assert err.type_name == "IncompleteSignatureException"
    assert "'X-Amz-Date' or a 'Date' header" in err.message


def test_scope_must_name_dynamodb_and_region() -> None:
    headers, body = _dynamodb_request()
    auth = dict(headers)["Authorization"]
    err = _error(_replace(headers, "authorization", auth.replace("/dynamodb/", "/s3/")), body)
    assert err.type_name == "InvalidSignatureException"
    err = _error(_replace(headers, "authorization", auth.replace("/us-east-1/", "/eu-west-1/")), body)
    assert err.type_name == "InvalidSignatureException"
    err = _error(_replace(headers, "authorization", auth.replace("/20150830/", "/20150829/")), body)
    assert err.type_name == "InvalidSignatureException"


def test_host_must_be_signed() -> None:
    amz = AMZ_DATE
    headers = [("Host", "localhost"), ("X-Amz-Date", amz)]
    authz = sigv4.sign("POST", "/", "", headers, b"", "AKIDEXAMPLE", SECRET, "us-east-1", "dynamodb", amz,
                       signed_headers=["x-amz-date"])
    err = _error(headers + [("Authorization", authz)], b"")
    assert err.type_name == "IncompleteSignatureException"


def test_bytes_headers_as_the_http_layer_passes_them() -> None:
    headers, body = _dynamodb_request()
    as_bytes = {k.lower().encode(): v.encode() for k, v in headers}
    assert sigv4.verify(b"POST", b"/", b"", as_bytes, body, {"AKIDEXAMPLE": _owner()}.get, WHEN,
                        region="us-east-1").name == "example"
