"""The signed case file: dispute.json + every evidence file + manifest.json (SHA-256 of each)
+ manifest.sig (Ed25519 over manifest.json). Anyone with the public key can verify it.

The signing key is generated on first use under settings.data_path/keys (mode 0600)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
RECORD = "dispute.json"
README = "VERIFY.txt"
FORMAT = "trustdesk-case-file/1"


# -- the key ---------------------------------------------------------------------------------

def key_path() -> Path:
    from trustdesk.settings import get_settings

    return get_settings().data_path / "keys" / "case-file-ed25519.pem"


def load_private_key() -> Ed25519PrivateKey:
    """The platform's signing key; created (race-safely) the first time it is needed."""
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race; use its key
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return loaded


def public_key_pem(key: Ed25519PublicKey | None = None) -> bytes:
    key = key or load_private_key().public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(pub: Ed25519PublicKey) -> str:
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


# -- building --------------------------------------------------------------------------------

def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, indent=2, default=str, ensure_ascii=False).encode()


def build_zip(record: dict[str, Any], files: dict[str, bytes], *, created_at: str,
              key: Ed25519PrivateKey | None = None) -> bytes:
    """Pure packing: record + files (path -> bytes), manifest of hashes, signature."""
    key = key or load_private_key()
    record_bytes = _canonical(record)
    kid = key_id(key.public_key())
    entries = {RECORD: record_bytes, README: _readme(kid).encode(), **files}
    manifest = {
        "format": FORMAT,
        "created_at": created_at,
        "algorithm": "Ed25519",
        "key_id": kid,
        "files": {path: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                  for path, data in sorted(entries.items())},
    }
    manifest_bytes = _canonical(manifest)
    signature = base64.b64encode(key.sign(manifest_bytes))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in sorted(entries.items()):
            zf.writestr(path, data)
        zf.writestr(MANIFEST, manifest_bytes)
        zf.writestr(SIGNATURE, signature + b"\n")
    return out.getvalue()


def _readme(kid: str) -> str:
    return (
        "TrustDesk case file\n===================\n\n"
        f"{RECORD} is the full record of the dispute; evidence/ holds every file filed.\n"
        f"{MANIFEST} lists the SHA-256 of every file; {SIGNATURE} is an Ed25519 signature "
        f"(base64) over the exact bytes of {MANIFEST}, made with TrustDesk's key {kid}.\n\n"
        "To verify without trusting TrustDesk's servers:\n"
        "  1. Get the public key (PEM) from <site>/.well-known/trustdesk-signing-key.\n"
        "  2. `trustdesk verify-case-file THIS.zip --public-key key.pem`, or by hand:\n"
        "     base64 -d manifest.sig > sig.bin\n"
        "     openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in manifest.json -sigfile sig.bin\n"
        "     then check each file with `sha256sum` against manifest.json.\n"
    )


async def build_case_file(dispute_id: int) -> tuple[str, bytes]:
    """(file name, zip bytes) for one dispute."""
    from trustdesk.accounts.tables import User
    from trustdesk.core import audit
    from trustdesk.core.clock import now
    from trustdesk.disputes import evidence as ev
    from trustdesk.disputes import policy, services
    from trustdesk.escrow.services import get_order, list_ledger

    dispute = await services.get_dispute(dispute_id)
    order = await get_order(dispute.order)
    people = {r["id"]: r for r in await User.select(User.id, User.email, User.display_name,
                                                     User.store_name, User.role).where(
        User.id.is_in([dispute.buyer, dispute.seller] + ([dispute.assigned_mediator]
                                                          if dispute.assigned_mediator else [])))}
    evidence_rows = await services.list_evidence(dispute.id)
    files: dict[str, bytes] = {}
    evidence_meta = []
    for row in evidence_rows:
        ext = ev.KINDS.get(row["content_type"], ("", "bin"))[1]
        path = f"evidence/{row['id']:05d}-{row['sha256'][:12]}.{ext}"
        files[path] = ev.read_blob(row["sha256"])
        evidence_meta.append({**row, "path": path})
    record = {
        "format": FORMAT,
        "dispute": {k: v for k, v in dispute.to_dict().items()},
        "order": {k: v for k, v in order.to_dict().items() if k != "token"},
        "parties": {str(k): v for k, v in people.items()},
        "mandated_refund_rule": policy.MANDATED_REFUND_RULE,
        "timeline": await services.list_events(dispute.id),
        "evidence": evidence_meta,
        "ledger": await list_ledger(order.id),
        "audit": await audit.list_for("dispute", dispute.id),
        "order_audit": await audit.list_for("order", order.id),
    }
    stamp = now().isoformat()
    data = build_zip(record, files, created_at=stamp)
    return f"trustdesk-dispute-{dispute.id}-case-file.zip", data


# -- verifying -------------------------------------------------------------------------------

@dataclass
class Verification:
    ok: bool
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    key_id: str = ""


def verify_zip(data: bytes, public_key: Ed25519PublicKey) -> Verification:
    """Every listed file's hash, no unlisted files, and the signature over the manifest."""
    problems: list[str] = []
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = set(zf.namelist())
        manifest_bytes = zf.read(MANIFEST)
        signature = base64.b64decode(zf.read(SIGNATURE).strip(), validate=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, zlib_error()) as exc:
        return Verification(False, [f"not a readable case file: {exc}"])
    try:
        public_key.verify(signature, manifest_bytes)
    except InvalidSignature:
        problems.append("the signature does not match manifest.json (altered or another key)")
    try:
        manifest = json.loads(manifest_bytes)
        listed = manifest["files"]
    except (ValueError, KeyError, TypeError):
        return Verification(False, problems + ["manifest.json is not valid"])
    checked = 0
    for path, facts in sorted(listed.items()):
        if path not in names:
            problems.append(f"{path}: listed but missing")
            continue
        try:
            content = zf.read(path)
        except Exception as exc:  # noqa: BLE001 - a corrupted member is a failed check
            problems.append(f"{path}: cannot be read ({exc})")
            continue
        if hashlib.sha256(content).hexdigest() != facts.get("sha256"):
            problems.append(f"{path}: SHA-256 does not match the manifest")
        checked += 1
    extra = names - set(listed) - {MANIFEST, SIGNATURE}
    for path in sorted(extra):
        problems.append(f"{path}: not listed in the manifest")
    return Verification(not problems, problems, checked, str(manifest.get("key_id", "")))


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error
