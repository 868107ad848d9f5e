"""The Ed25519 key that signs checkpoints of the chain head.

The key lives outside the database (a file only the server account can read), so someone
who can rewrite the audit tables cannot forge a checkpoint, and truncating the chain's
tail below a checkpoint is detected.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def _public_bytes(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class CheckpointSigner:
    def __init__(self, private_key: Ed25519PrivateKey):
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = hashlib.sha256(_public_bytes(self.public_key)).hexdigest()

    @classmethod
    def load_or_create(cls, path: str | Path) -> "CheckpointSigner":
        path = Path(path)
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} does not hold an Ed25519 private key")
            return cls(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return cls(key)

    def sign(self, seq: int, chain_hash: str) -> str:
        return self._key.sign(f"{seq}:{chain_hash}".encode()).hex()

    def verify(self, seq: int, chain_hash: str, signature_hex: str) -> bool:
        try:
            self.public_key.verify(bytes.fromhex(signature_hex), f"{seq}:{chain_hash}".encode())
            return True
        except (InvalidSignature, ValueError):
            return False
