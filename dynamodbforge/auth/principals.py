"""The ``--auth FILE`` principals: IAM users with access keys and identity policies.

    {"principals": [{"name": "alice", "access_key_id": "...", "secret_access_key": "...",
                     "session_token": null, "policies": [<IAM policy document>, ...],
                     "user_id": "AIDA... (optional)", "tags": {"team": "x"} (optional)}]}

Each principal is the IAM user ``arn:aws:iam::000000000000:user/<name>``.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from dynamodbforge.auth.policy import Policy, PolicyError, compile_policy

ACCOUNT_ID = "000000000000"


class PrincipalsError(ValueError):
    """The --auth file is not usable; the message says why."""


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    policies: tuple[Policy, ...]
    user_id: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT_ID}:user/{self.name}"


def _default_user_id(name: str) -> str:
    # IAM user ids are "AIDA" + 17 upper-case alphanumerics; derive a stable one.
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()
    return "AIDA" + digest[:17]


def parse_principals(document: Any) -> dict[str, Principal]:
    """access key id -> Principal, from the parsed JSON document."""
    if not isinstance(document, dict) or not isinstance(document.get("principals"), list):
        raise PrincipalsError('the auth file must be a JSON object {"principals": [...]}')
    out: dict[str, Principal] = {}
    names: set[str] = set()
    for index, raw in enumerate(document["principals"]):
        where = f"principals[{index}]"
        if not isinstance(raw, dict):
            raise PrincipalsError(f"{where} must be an object")
        for required in ("name", "access_key_id", "secret_access_key"):
            if not isinstance(raw.get(required), str) or not raw[required]:
                raise PrincipalsError(f"{where}.{required} must be a non-empty string")
        token = raw.get("session_token")
        if token is not None and not isinstance(token, str):
            raise PrincipalsError(f"{where}.session_token must be a string or null")
        policies = raw.get("policies", [])
        if not isinstance(policies, list):
            raise PrincipalsError(f"{where}.policies must be a list of policy documents")
        try:
            compiled = tuple(compile_policy(p) for p in policies)
        except (PolicyError, ValueError) as exc:
            raise PrincipalsError(f"{where}.policies: {exc}") from None
        tags = raw.get("tags") or {}
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise PrincipalsError(f"{where}.tags must map tag keys to strings")
        name = raw["name"]
        if name in names:
            raise PrincipalsError(f"{where}: duplicate principal name {name!r}")
        if raw["access_key_id"] in out:
            raise PrincipalsError(f"{where}: duplicate access_key_id")
        names.add(name)
        out[raw["access_key_id"]] = Principal(
            name=name,
            access_key_id=raw["access_key_id"],
            secret_access_key=raw["secret_access_key"],
            session_token=token,
            policies=compiled,
            user_id=raw.get("user_id") or _default_user_id(name),
            tags=dict(tags),
        )
    return out


def load_principals(path: str) -> dict[str, Principal]:
    try:
        with open(path, "rb") as fh:
            document = json.load(fh)
    except OSError as exc:
        raise PrincipalsError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise PrincipalsError(f"{path} is not valid JSON: {exc}") from None
    return parse_principals(document)
