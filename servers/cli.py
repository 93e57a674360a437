"""`dnaforca`: ingest, ask and inspect from a terminal or a notebook, without the servers."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
from tqdm import tqdm

from knowledge.ingest import Progress
from knowledge.services import get_services

app = typer.Typer(help="DNA da Força AI: course materials in, cited answers out.", no_args_is_help=True)


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


@app.command()
def ingest(paths: list[Path] = typer.Argument(None, help="files or folders to copy into MATERIALS_DIR")) -> None:
    """Copy PATHs into MATERIALS_DIR (if given) and index every new or changed material."""
    services = get_services()
    root = services.settings.materials_path
    for path in paths or []:
        if path.is_dir():
            if path.resolve() != root.resolve():
                shutil.copytree(path, root, dirs_exist_ok=True)
        elif path.is_file():
            if path.resolve().parent != root.resolve():
                shutil.copy2(path, root / path.name)
        else:
            raise typer.BadParameter(f"{path} does not exist")
    _print_results(_run_with_progress(services.ingestor.sync))


@app.command()
def reindex() -> None:
    """Drop the index and rebuild it from MATERIALS_DIR (after changing the embedding model)."""
    services = get_services()
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
    services = get_services()
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
def worker() -> None:
    """Run ingestion jobs from the queue (RedisHuey with REDIS_URL, else SqliteHuey under DATA_DIR)."""
    import logging

    from knowledge.jobs import JobQueue

    settings = get_services().settings
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    queue = JobQueue(settings)
    typer.echo(f"Worker on the {queue.backend} job queue (DATA_DIR {settings.data_dir})")
    queue.requeue_stalled()
    queue.consumer().run()


if __name__ == "__main__":
    app()
