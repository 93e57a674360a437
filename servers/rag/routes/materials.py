"""Course materials in MATERIALS_DIR: list with processing state, upload (queues indexing), download, delete;
Google Drive files kept in step by the API server's sync (one folder per Drive file, with its link)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile, status
from fastapi import Path as FastAPIPath
from fastapi.responses import FileResponse

from knowledge.catalog import Material
from knowledge.ingest import material_id_for
from knowledge.origins import DRIVE_FOLDER, Origin, drive_folder, forget_origin, origin_of, write_origin
from knowledge.services import Services
from loaders.extensions import VIDEO_EXTENSIONS
from loaders.transcription import content_sha256, transcript_path
from loaders.video import sidecar_for
from servers.rag.deps import JobsDep, ServicesDep
from servers.rag.schemas import DeleteOut, MaterialOut, UploadOut
from servers.rag.security import ServiceToken
from servers.uploads import material_names, save_upload

router = APIRouter(prefix="/materials", tags=["materials"], dependencies=ServiceToken)
DriveFileId = Annotated[str, FastAPIPath(pattern=r"^[A-Za-z0-9_-]{1,200}$", description="a Google Drive file id")]


def _with_origin(material: MaterialOut, root: Path) -> MaterialOut:
    origin = origin_of(root / material.path) if material.path.startswith(f"{DRIVE_FOLDER}/") else None
    if origin is not None:
        material.drive_id, material.url = origin.drive_id, origin.url
    return material


def all_materials(services: Services) -> list[MaterialOut]:
    """Catalogued materials, and files of MATERIALS_DIR not processed yet (`pending`)."""
    known = {material.id: MaterialOut(**asdict(material)) for material in services.catalog.materials()}
    for path in services.ingestor.scan():
        relative = services.ingestor.relative_path(path)
        material_id = material_id_for(relative)
        if material_id not in known:
            known[material_id] = MaterialOut(
                id=material_id, path=relative, file_name=path.name, size=path.stat().st_size, sha256=None,
                status="pending", error=None, chunks=0, updated_at=None,
            )
    root = services.settings.materials_path
    return sorted((_with_origin(material, root) for material in known.values()), key=lambda material: material.path)


def _find(material_id: str, services: Services) -> tuple[MaterialOut, Path]:
    for material in all_materials(services):
        if material.id == material_id:
            return material, services.settings.materials_path / material.path
    raise HTTPException(404, f"No material {material_id}")


def refuse_same_content(materials: list[Material], sha256: str, name: str, own: Callable[[str], bool]) -> None:
    """409 when a material other than this file's own earlier versions (`own(path)`) has the same content: the
    knowledge base would cite it twice."""
    twin = next((material for material in materials if material.sha256 == sha256 and not own(material.path)), None)
    if twin is not None:
        raise HTTPException(409, f"{name} has the same content as material {twin.id} ({twin.file_name})")


@router.get("")
def list_materials(services: ServicesDep) -> list[MaterialOut]:
    return all_materials(services)


@router.get("/{material_id}")
def get_material(material_id: str, services: ServicesDep) -> MaterialOut:
    return _find(material_id, services)[0]


@router.get("/{material_id}/file", response_class=FileResponse)
def download_material(material_id: str, services: ServicesDep) -> FileResponse:
    material, path = _find(material_id, services)
    root = services.settings.materials_path.resolve()
    if not path.resolve().is_relative_to(root):
        raise HTTPException(404, f"No material {material_id}")  # a catalogue entry pointing outside MATERIALS_DIR
    if not path.is_file():
        raise HTTPException(410, f"The file of material {material_id} is no longer in MATERIALS_DIR")
    return FileResponse(path, filename=material.file_name)


@router.get("/{material_id}/transcript", response_class=FileResponse,
            responses={200: {"content": {"text/vtt": {}}}})
def download_transcript(material_id: str, services: ServicesDep) -> FileResponse:
    """A video's or audio's transcript (WebVTT, or the sidecar subtitles it was read from)."""
    material, path = _find(material_id, services)
    if path.suffix.lower() not in VIDEO_EXTENSIONS or not path.is_file():
        raise HTTPException(404, f"Material {material_id} is not a video or audio file")
    transcript = sidecar_for(path) or transcript_path(services.settings, content_sha256(path))
    if not transcript.is_file():
        raise HTTPException(404, f"Material {material_id} has not been transcribed yet")
    media_type = "text/vtt" if transcript.suffix == ".vtt" else "application/x-subrip"
    name = f"{Path(material.file_name).stem}{transcript.suffix}"
    return FileResponse(transcript, media_type=media_type, filename=name)


@router.delete("/{material_id}")
def delete_material(material_id: str, services: ServicesDep) -> DeleteOut:
    material, path = _find(material_id, services)
    result = services.ingestor.delete(material_id, remove_file=True)
    if path.resolve().is_relative_to(services.settings.materials_path.resolve()):
        path.unlink(missing_ok=True)
        forget_origin(path.parent)
    return DeleteOut(material_id=material_id, file_name=material.file_name,
                     vectors_removed=result.removed if result else 0)


@router.post("", status_code=status.HTTP_201_CREATED)
async def upload_materials(
    services: ServicesDep,
    jobs: JobsDep,
    files: Annotated[list[UploadFile], File(description="course materials")],
    process: bool = True,
) -> UploadOut:
    """Store files in MATERIALS_DIR (same name = new version) and queue their indexing."""
    root = services.settings.materials_path
    names = material_names(files)
    known = services.catalog.materials()
    saved: list[tuple[Path, Path]] = []
    try:
        for upload, name in zip(files, names, strict=True):
            temporary, sha256, _ = await save_upload(upload, root, services.settings.max_file_bytes, "MAX_FILE_MB")
            saved.append((temporary, root / name))
            refuse_same_content(known, sha256, name, own=lambda path, name=name: path == name)
    except BaseException:
        for temporary, _ in saved:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, target in saved:
        os.replace(temporary, target)
    relative = [target.name for _, target in saved]
    job = jobs.submit(relative) if process else None
    materials = {material.path: material for material in all_materials(services)}
    return UploadOut(materials=[materials[name] for name in relative], job_id=job.id if job else None)


@router.put("/drive/{drive_id}")
async def put_drive_file(
    drive_id: DriveFileId,
    services: ServicesDep,
    jobs: JobsDep,
    file: Annotated[UploadFile, File(description="the Drive file's current content (exported for Google types)")],
    url: Annotated[str | None, Form(pattern=r"^https://\S+$", max_length=2048,
                                    description="the Drive file's web page (https), cited with it")] = None,
    process: bool = True,
) -> UploadOut:
    """The current version of a Google Drive file, as MATERIALS_DIR/drive/<id>/<name>: a new name replaces the
    file's earlier one (its vectors too), the link is kept for citations, and its indexing is queued. Sending
    the same version again changes nothing (idempotent, so an interrupted sync can simply send it again)."""
    root = services.settings.materials_path
    name = material_names([file])[0]
    folder = drive_folder(root, drive_id)
    temporary, sha256, _ = await save_upload(file, folder, services.settings.max_file_bytes, "MAX_FILE_MB")
    own = f"{folder.relative_to(root).as_posix()}/"
    try:
        refuse_same_content(services.catalog.materials(), sha256, name, own=lambda path: path.startswith(own))
    except HTTPException:
        temporary.unlink(missing_ok=True)
        raise
    write_origin(folder, Origin(drive_id=drive_id, url=url))
    os.replace(temporary, folder / name)
    for earlier in folder.iterdir():  # the file was renamed in Drive: its earlier name goes, vectors included
        if earlier.name != name and not earlier.name.startswith("."):
            services.ingestor.delete(material_id_for(services.ingestor.relative_path(earlier)))
            earlier.unlink(missing_ok=True)
    relative = (folder / name).relative_to(root).as_posix()
    job = jobs.submit([relative]) if process else None
    materials = {material.path: material for material in all_materials(services)}
    return UploadOut(materials=[materials[relative]], job_id=job.id if job else None)
