"""Evidence intake: streamed with limits, typed by magic bytes, images re-encoded without
metadata, PDFs with scripts refused, stored immutably by SHA-256 outside any served folder.

Used by the web pages and the partner API alike: store_evidence(dispute_id, uploads, actor).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import unicodedata
import uuid
import warnings
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from trustdesk.core.errors import ValidationFailed
from trustdesk.settings import get_settings

READ_CHUNK = 64 * 1024
MAX_PIXELS = 40_000_000          # 40 megapixels: more is a decompression bomb for a photo
MAX_SIDE = 12_000
PDF_INFLATE_BUDGET = 64 * 1024 * 1024
MAX_NAME_CHARS = 150

KINDS = {"image/jpeg": ("image", "jpg"), "image/png": ("image", "png"),
         "image/webp": ("image", "webp"), "application/pdf": ("pdf", "pdf")}


class EvidenceRejected(ValidationFailed):
    """A file that will not be stored; the message names the file and the reason."""

    code = "evidence_rejected"


class EvidenceTooLarge(EvidenceRejected):
    status_code = 413
    code = "too_large"


@runtime_checkable
class UploadLike(Protocol):
    """What a web form part or an API upload looks like to the intake."""

    filename: str | None
    content_type: str | None

    async def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_files: int
    daily_bytes: int

    @classmethod
    def from_settings(cls) -> Limits:
        s = get_settings()
        return cls(s.evidence_max_bytes, s.evidence_max_files, s.evidence_daily_bytes)


@dataclass
class Prepared:
    """A file that passed every check, ready to store: clean bytes and their facts."""

    data: bytes
    sha256: str
    content_type: str
    kind: str
    ext: str
    display_name: str
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)


# -- storage paths ---------------------------------------------------------------------------

def evidence_root() -> Path:
    return get_settings().data_path / "evidence"


def scratch_root() -> Path:
    path = get_settings().data_path / "upload-tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def blob_path(sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise ValueError("not a SHA-256 hex digest")
    return evidence_root() / sha256[:2] / sha256[2:4] / sha256


def write_blob(prepared: Prepared) -> Path:
    """Write once (content-addressed, read-only); an existing blob with that hash is kept."""
    target = blob_path(prepared.sha256)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = scratch_root() / f"blob-{uuid.uuid4().hex}"
    with open(tmp, "wb") as fh:
        fh.write(prepared.data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o444)
    os.replace(tmp, target)
    return target


def read_blob(sha256: str) -> bytes:
    return blob_path(sha256).read_bytes()


# -- names -----------------------------------------------------------------------------------

def clean_name(raw: str | None) -> str:
    """The client's file name as safe display text; refuses traversal and control characters."""
    name = unicodedata.normalize("NFC", (raw or "").strip())
    shown = name[:60].encode("ascii", "backslashreplace").decode() or "(no name)"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for ch in name):
        raise EvidenceRejected(f"“{shown}”: the file name contains control or invisible "
                               "characters. Rename the file and try again.", field="evidence")
    if "/" in name or "\\" in name or ".." in name or name.startswith("."):
        raise EvidenceRejected(f"“{shown}”: the file name looks like a path. Rename the file "
                               "(letters, digits, spaces, dashes) and try again.", field="evidence")
    if len(name) > MAX_NAME_CHARS:
        raise EvidenceRejected(f"“{shown}…”: the file name is longer than {MAX_NAME_CHARS} "
                               "characters. Shorten it and try again.", field="evidence")
    return name or "evidence"


# -- type sniffing and checks ----------------------------------------------------------------

def sniff(head: bytes) -> str | None:
    """The content type decided by the first bytes, never by name or client header."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


_MARKUP = (b"<script", b"<html", b"<!doctype", b"<svg", b"<?php", b"<iframe", b"<body",
           b"javascript:", b"<object", b"<embed")
_FOREIGN_IN_IMAGE = (b"PK\x03\x04", b"%PDF-", b"\x7fELF", b"MZ\x90\x00", b"Rar!\x1a\x07")


def _has_markup(raw: bytes) -> bool:
    lowered = raw.lower()
    return any(marker in lowered for marker in _MARKUP)


def _image_trailer_ok(raw: bytes, content_type: str) -> bool:
    """No extra file glued after the image (a classic polyglot)."""
    if content_type == "image/png":
        end = raw.rfind(b"IEND")
        return end != -1 and len(raw) - (end + 8) <= 0
    if content_type == "image/jpeg":
        end = raw.rfind(b"\xff\xd9")
        return end != -1 and len(raw[end + 2:].strip(b"\x00")) == 0
    if content_type == "image/webp":
        declared = int.from_bytes(raw[4:8], "little") + 8
        return declared == len(raw) or declared + 1 == len(raw)
    return True


_PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia|XFA|AA)(?![A-Za-z0-9])")
_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.DOTALL)


def _pdf_active(raw: bytes) -> bool:
    """Scripts, launch actions or embedded files anywhere, including compressed streams."""
    def scan(blob: bytes) -> bool:
        return bool(_PDF_ACTIVE.search(_PDF_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), blob)))

    if scan(raw):
        return True
    budget = PDF_INFLATE_BUDGET
    for match in _PDF_STREAM.finditer(raw):
        if budget <= 0:
            return True  # too much compressed content to check: refuse rather than guess
        try:
            inflated = zlib.decompressobj().decompress(match.group(1), budget)
        except zlib.error:
            continue
        budget -= len(inflated)
        if scan(inflated):
            return True
    return False


def _check_pdf(raw: bytes, name: str) -> Prepared:
    if b"%%EOF" not in raw[-2048:]:
        raise EvidenceRejected(f"“{name}”: this PDF is incomplete (it has no end marker). "
                               "Save or export it again.", field="evidence")
    if _has_markup(raw):
        raise EvidenceRejected(f"“{name}”: this PDF carries web page code. Print it to a new "
                               "PDF and upload that.", field="evidence")
    if _pdf_active(raw):
        raise EvidenceRejected(f"“{name}”: PDFs with JavaScript, actions or embedded files are "
                               "refused. Print it to a new PDF and upload that.", field="evidence")
    return Prepared(raw, hashlib.sha256(raw).hexdigest(), "application/pdf", "pdf", "pdf", name)


def _check_image(raw: bytes, content_type: str, name: str) -> Prepared:
    from PIL import Image, ImageOps

    if _has_markup(raw) or any(marker in raw[16:] for marker in _FOREIGN_IN_IMAGE):
        raise EvidenceRejected(f"“{name}”: this image has another kind of file hidden inside it. "
                               "Take a fresh screenshot or photo and upload that.", field="evidence")
    if not _image_trailer_ok(raw, content_type):
        raise EvidenceRejected(f"“{name}”: this image has extra data after its end, or is cut "
                               "short. Save it again and upload that.", field="evidence")
    expected = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}[content_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as img:
                if img.format != expected:
                    raise EvidenceRejected(f"“{name}”: the file is not the image it claims to be.",
                                           field="evidence")
                width, height = img.size
                if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                    raise EvidenceRejected(
                        f"“{name}”: {width}×{height} pixels is too large to be a photo "
                        f"(the limit is {MAX_PIXELS // 1_000_000} megapixels).", field="evidence")
                img.load()
                clean = ImageOps.exif_transpose(img)
                out = io.BytesIO()
                if expected == "JPEG":
                    if clean.mode not in ("RGB", "L"):
                        clean = clean.convert("RGB")
                    clean.save(out, format="JPEG", quality=90, optimize=True)
                elif expected == "PNG":
                    if clean.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                        clean = clean.convert("RGBA")
                    clean.save(out, format="PNG", optimize=False)
                else:
                    if clean.mode not in ("RGB", "RGBA"):
                        clean = clean.convert("RGBA")
                    clean.save(out, format="WEBP", quality=90)
                width, height = clean.size
    except EvidenceRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise EvidenceRejected(f"“{name}”: the image expands to far more pixels than a photo "
                               "has (a decompression bomb).", field="evidence") from None
    except Exception:  # noqa: BLE001 - Pillow raises many types for broken files
        raise EvidenceRejected(f"“{name}”: the image could not be read; it is damaged or "
                               "incomplete. Save it again and upload that.", field="evidence") from None
    data = out.getvalue()
    return Prepared(data, hashlib.sha256(data).hexdigest(), content_type, "image",
                    KINDS[content_type][1], name, width, height)


def inspect_bytes(raw: bytes, name: str) -> Prepared:
    """Every content check for one fully-read file (CPU work: run in a thread)."""
    if not raw:
        raise EvidenceRejected(f"“{name}”: the file is empty.", field="evidence")
    content_type = sniff(raw[:16])
    if content_type is None:
        raise EvidenceRejected(f"“{name}”: only JPEG, PNG, WebP photos and PDF documents are "
                               "accepted (decided by the file's contents, not its name).",
                               field="evidence")
    if content_type == "application/pdf":
        return _check_pdf(raw, name)
    return _check_image(raw, content_type, name)


async def read_limited(upload: UploadLike, name: str, max_bytes: int) -> bytes:
    """Read at most max_bytes; one byte more and the file is refused without reading on."""
    buffer = bytearray()
    while True:
        chunk = await upload.read(READ_CHUNK)
        if not chunk:
            break
        buffer += chunk
        if len(buffer) > max_bytes:
            raise EvidenceTooLarge(f"“{name}”: larger than the {max_bytes // (1024 * 1024)} MB "
                                   "limit per file.", field="evidence")
    return bytes(buffer)


async def prepare_uploads(uploads: list[UploadLike], limits: Limits | None = None) -> list[Prepared]:
    """Read and check every upload; the first bad one raises and nothing is kept."""
    limits = limits or Limits.from_settings()
    if len(uploads) > limits.max_files:
        raise EvidenceRejected(f"At most {limits.max_files} files per party per dispute.",
                               field="evidence")
    prepared: list[Prepared] = []
    for upload in uploads:
        name = clean_name(getattr(upload, "filename", None))
        raw = await read_limited(upload, name, limits.max_bytes)
        prepared.append(await asyncio.to_thread(inspect_bytes, raw, name))
    return prepared


async def check_quotas(dispute_id: int, user_id: int, incoming: list[Prepared],
                       limits: Limits | None = None) -> None:
    """Files per party per dispute, and bytes per user per day."""
    from trustdesk.core.clock import now
    from trustdesk.disputes.tables import Evidence

    limits = limits or Limits.from_settings()
    filed = await Evidence.count().where(
        (Evidence.dispute == dispute_id) & (Evidence.uploaded_by == user_id))
    if filed + len(incoming) > limits.max_files:
        left = max(0, limits.max_files - filed)
        raise EvidenceRejected(f"You can file at most {limits.max_files} files in one dispute; "
                               f"you have {left} left.", field="evidence")
    rows = await Evidence.select(Evidence.size_bytes).where(
        (Evidence.uploaded_by == user_id) & (Evidence.created_at >= now() - timedelta(days=1)))
    used = sum(int(r["size_bytes"]) for r in rows)
    if used + sum(p.size for p in incoming) > limits.daily_bytes:
        raise EvidenceRejected(f"You have reached today's upload limit of "
                               f"{limits.daily_bytes // (1024 * 1024)} MB. Try again tomorrow.",
                               field="evidence")


async def save_prepared(dispute: Any, prepared: list[Prepared], *, user_id: int, party: str,
                        actor: Any) -> list[Any]:
    """Rows + blobs + one audit entry per file (its hash); call inside write_transaction()."""
    from trustdesk.core import audit
    from trustdesk.core.clock import now
    from trustdesk.disputes.tables import Evidence

    stamp = now()
    rows = []
    for item in prepared:
        write_blob(item)
        row = Evidence(dispute=dispute.id, uploaded_by=user_id, party=party, sha256=item.sha256,
                       size_bytes=item.size, content_type=item.content_type, kind=item.kind,
                       display_name=item.display_name[:160], width=item.width, height=item.height,
                       created_at=stamp)
        await row.save()
        await audit.record("disputes:evidence:filed", subject_type="dispute", subject_id=dispute.id,
                           actor=actor, data={"evidence_id": row.id, "sha256": item.sha256,
                                              "size_bytes": item.size, "content_type": item.content_type,
                                              "name": item.display_name})
        rows.append(row)
    return rows


async def store_evidence(dispute_id: int, uploads: list[UploadLike], actor: Any) -> list[Any]:
    """File evidence on a dispute for a party (or mediator); every limit enforced while reading.

    Raises EvidenceRejected (422), EvidenceTooLarge (413), NotFound, InvalidTransition."""
    from trustdesk.disputes import services

    return await services.add_evidence(dispute_id, uploads=uploads, actor=actor)


class BytesUpload:
    """An upload from bytes already in memory (the API, demo data, tests)."""

    def __init__(self, filename: str | None, data: bytes, content_type: str | None = None) -> None:
        self.filename = filename
        self.content_type = content_type
        self._stream = io.BytesIO(data)

    async def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)


# -- streamed multipart for the web forms ----------------------------------------------------

class SpooledUpload:
    """A form file part already spooled to a scratch file (limit enforced while spooling)."""

    def __init__(self, filename: str | None, content_type: str | None, path: Path) -> None:
        self.filename = filename
        self.content_type = content_type
        self.path = path
        self._fh: Any = None

    async def read(self, size: int = -1) -> bytes:
        if self._fh is None:
            self._fh = open(self.path, "rb")  # noqa: SIM115, ASYNC230 - local scratch file; closed in close()
        return self._fh.read(size)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


@dataclass
class ParsedForm:
    fields: dict[str, str] = field(default_factory=dict)
    uploads: list[SpooledUpload] = field(default_factory=list)

    def close(self) -> None:
        for upload in self.uploads:
            upload.close()


_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def disposition_params(header: str) -> dict[str, str]:
    """name/filename from Content-Disposition, kept raw (no path stripping): the intake
    decides what a bad name is, so a Windows path is refused rather than silently trimmed."""
    out: dict[str, str] = {}
    for key, quoted, bare in _PARAM.findall(header):
        value = quoted.replace('\\"', '"') if quoted or not bare else bare.strip()
        key = key.lower()
        if key == "filename*" and "''" in value:
            from urllib.parse import unquote

            out["filename"] = unquote(value.split("''", 1)[1])
        elif key not in out:
            out[key] = value
    return out


class _Reader:
    """python-multipart callbacks: fields to memory (bounded), files to scratch (bounded)."""

    def __init__(self, limits: Limits, check_token: Any) -> None:
        self.limits = limits
        self.check_token = check_token
        self.form = ParsedForm()
        self.token_ok = check_token is None
        self.headers: dict[str, str] = {}
        self._hname = b""
        self._hvalue = b""
        self.kind: str | None = None
        self.name = ""
        self.filename: str | None = None
        self.buffer = bytearray()
        self.fh: Any = None
        self.written = 0
        self.field_bytes = 0
        self.error: Exception | None = None

    def on_part_begin(self) -> None:
        self.headers = {}
        self.kind = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self._hname.decode("latin-1").lower()] = self._hvalue.decode("utf-8", "replace")
        self._hname = b""
        self._hvalue = b""

    def on_headers_finished(self) -> None:
        params = disposition_params(self.headers.get("content-disposition", ""))
        self.name = params.get("name", "")
        filename = params.get("filename")
        if filename is not None:
            self.filename = filename
            self.kind = "file"
            if not self.token_ok:
                raise PermissionError("form token missing before the files")
            if len(self.form.uploads) >= self.limits.max_files:
                raise EvidenceRejected(f"At most {self.limits.max_files} files per party per "
                                       "dispute.", field="evidence")
            path = scratch_root() / f"part-{uuid.uuid4().hex}"
            self.fh = open(path, "wb")  # noqa: SIM115 - closed at part end
            self.written = 0
            self.form.uploads.append(SpooledUpload(self.filename, self.headers.get("content-type"), path))
        else:
            self.kind = "field"
            self.buffer = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self.kind == "file":
            self.written += size
            if self.written > self.limits.max_bytes:
                name = (self.filename or "file")[:60]
                raise EvidenceTooLarge(f"“{name}”: larger than the "
                                       f"{self.limits.max_bytes // (1024 * 1024)} MB limit per file.",
                                       field="evidence")
            self.fh.write(data[start:end])
        else:
            self.field_bytes += size
            if self.field_bytes > 256 * 1024:
                raise EvidenceRejected("The form's text is too long.", field="_")
            self.buffer += data[start:end]

    def on_part_end(self) -> None:
        if self.kind == "file":
            self.fh.close()
            self.fh = None
            if self.filename == "" and self.written == 0:  # an empty file input
                self.form.uploads.pop().close()
        elif self.kind == "field":
            value = self.buffer.decode("utf-8", "replace")
            if self.name == "_csrf_token" and self.check_token is not None:
                self.token_ok = self.token_ok or bool(self.check_token(value))
            else:
                self.form.fields.setdefault(self.name, value)

    def abort(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None
        self.form.close()


async def parse_multipart(chunks: AsyncIterator[bytes], content_type: str, *,
                          limits: Limits | None = None, check_token: Any = None) -> ParsedForm:
    """Stream a multipart body: stops reading the moment any limit is passed.

    check_token(value) -> bool verifies the form's `_csrf_token` field, which must come before
    any file part; raises PermissionError if it does not."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    limits = limits or Limits.from_settings()
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise EvidenceRejected("The upload was not sent as a form.", field="_")
    reader = _Reader(limits, check_token)
    callbacks = {name: getattr(reader, name) for name in (
        "on_part_begin", "on_header_field", "on_header_value", "on_header_end",
        "on_headers_finished", "on_part_data", "on_part_end")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    total_cap = limits.max_bytes * limits.max_files + 2 * 1024 * 1024
    received = 0
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            received += len(chunk)
            if received > total_cap:
                raise EvidenceTooLarge("The upload is larger than all allowed files together.",
                                       field="evidence")
            parser.write(chunk)
        parser.finalize()
    except (EvidenceRejected, PermissionError):
        reader.abort()
        raise
    except Exception as exc:  # noqa: BLE001 - malformed bodies
        reader.abort()
        if hasattr(exc, "status_code") and 400 <= getattr(exc, "status_code", 0) < 500:
            raise  # the server's own limits (e.g. 413 from the body-size cap)
        import logging

        logging.getLogger("trustdesk.evidence").info("unreadable upload: %r", exc)
        raise EvidenceRejected("The upload could not be read; send the form again.",
                               field="_") from exc
    if not reader.token_ok:
        reader.abort()
        raise PermissionError("form token missing")
    return reader.form


def scratch_files() -> list[str]:
    root = scratch_root()
    return sorted(p.name for p in root.iterdir())


def stored_files() -> list[str]:
    root = evidence_root()
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

