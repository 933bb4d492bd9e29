"""`trustdesk verify-case-file FILE [--public-key PEM]`: exit 0 only if every hash and the
signature hold. `trustdesk signing-key`: print the public key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def cmd_verify_case_file(args: argparse.Namespace) -> int:
    from trustdesk.disputes import casefile

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        if args.public_key:
            pem = Path(args.public_key).read_bytes()
        else:
            if not casefile.key_path().exists():
                print("error: no --public-key given and no local TrustDesk key; download it from "
                      "<site>/.well-known/trustdesk-signing-key", file=sys.stderr)
                return 2
            pem = casefile.public_key_pem()
        key = casefile.load_public_key(pem)
    except (OSError, ValueError) as exc:
        print(f"error: cannot use the public key: {exc}", file=sys.stderr)
        return 2
    result = casefile.verify_zip(data, key)
    if result.ok:
        print(f"OK: signature valid (key {result.key_id}); {result.files_checked} files match "
              "their SHA-256.")
        return 0
    print("FAILED: this case file does not verify:")
    for problem in result.problems:
        print(f"  - {problem}")
    return 1


def cmd_signing_key(args: argparse.Namespace) -> int:
    from trustdesk.disputes import casefile

    sys.stdout.write(casefile.public_key_pem().decode())
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("verify-case-file", help="check a dispute case file's hashes and signature")
    p.add_argument("file")
    p.add_argument("--public-key", help="PEM file (default: this installation's key)")
    p.set_defaults(func=cmd_verify_case_file)
    p = sub.add_parser("signing-key", help="print the public key that signs case files")
    p.set_defaults(func=cmd_signing_key)
