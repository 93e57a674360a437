"""Where a material came from when it was not uploaded by hand: a Google Drive file's id and web link.

Kept as a small JSON file beside the material (`.origin.json` in the material's own folder under
MATERIALS_DIR), so it travels with the file through backups and re-indexing and needs no schema. Ingestion
copies the link into every chunk's metadata, which is how a citation points to the Drive file.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

ORIGIN_FILE = ".origin.json"
DRIVE_FOLDER = "drive"  # MATERIALS_DIR/drive/<Drive file id>/<file name>


@dataclass(frozen=True)
class Origin:
    drive_id: str
    url: str | None


def drive_folder(materials_dir: Path, drive_id: str) -> Path:
    return materials_dir / DRIVE_FOLDER / drive_id


def write_origin(folder: Path, origin: Origin) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f"{ORIGIN_FILE}.tmp"
    temporary.write_text(json.dumps(asdict(origin)), encoding="utf-8")
    temporary.replace(folder / ORIGIN_FILE)


def origin_of(material: Path) -> Origin | None:
    """The origin recorded beside a material file; None for an uploaded one (or an unreadable record)."""
    try:
        data = json.loads((material.parent / ORIGIN_FILE).read_text(encoding="utf-8"))
        url = data.get("url")
        return Origin(drive_id=str(data["drive_id"]), url=url if is_web_link(url) else None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def is_web_link(url: object) -> bool:
    """Only https links reach citations (a restored or crafted record cannot plant a `javascript:` link)."""
    return isinstance(url, str) and url.startswith("https://") and len(url) <= 2048


def forget_origin(folder: Path) -> None:
    """Drop the record (and the folder) once no material is left in a material's own folder."""
    if not (folder / ORIGIN_FILE).is_file():
        return
    if all(path.name.startswith(".") for path in folder.iterdir()):
        (folder / ORIGIN_FILE).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # a temporary upload is still being written there
            folder.rmdir()
