"""Per-project API keys, stored as SHA-256 hashes: a key proves which project it may use."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

import orjson


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random API key (shown once; only its hash is stored)."""
    return "ms_" + secrets.token_urlsafe(32)


class ApiKeyStore:
    def __init__(self, hashes: dict[str, str]) -> None:
        self._project_by_hash = dict(hashes)

    @classmethod
    def from_settings(cls, pairs: str, file: Path | None) -> ApiKeyStore:
        hashes: dict[str, str] = {}
        for pair in filter(None, (part.strip() for part in pairs.split(","))):
            project, _, digest = pair.partition(":")
            hashes[digest.lower()] = project
        if file is not None and file.exists():
            for line in file.read_bytes().splitlines():
                if line.strip():
                    record = orjson.loads(line)
                    hashes[str(record["sha256"]).lower()] = str(record["project"])
        return cls(hashes)

    def project_for(self, key: str) -> str | None:
        """The project a key belongs to; None for an unknown key (compared in constant time)."""
        digest = hash_key(key)
        for known, project in self._project_by_hash.items():
            if hmac.compare_digest(known, digest):
                return project
        return None


def append_key(file: Path, project: str) -> str:
    """Create a key for `project`, store its hash in `file`, return the key itself."""
    key = new_key()
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("ab") as handle:
        handle.write(orjson.dumps({"project": project, "sha256": hash_key(key)}) + b"\n")
    return key
