"""The `dnaforca` command: ingest with progress, ask with sources, stats, reindex."""

from typer.testing import CliRunner

from servers.cli import app
from tests.conftest import SAMPLES

runner = CliRunner()


def test_ingest_ask_stats_and_reindex(services):
    ingested = runner.invoke(app, ["ingest", str(SAMPLES)])
    asked = runner.invoke(app, ["ask", "Quanto tempo devo dormir por noite?", "--k", "2"])
    again = runner.invoke(app, ["ingest"])
    stats = runner.invoke(app, ["stats"])
    reindexed = runner.invoke(app, ["reindex"])

    assert ingested.exit_code == 0, ingested.output
    assert ingested.output.count("indexed") == 5 and "arquivos" in ingested.output
    assert "Durma de 7 a 9 horas" in asked.output and "[1] guia-nutricao-e-recuperacao.docx" in asked.output
    assert again.output.count("unchanged") == 5
    assert "trechos indexados: 11" in stats.output and "materiais indexed: 5" in stats.output
    assert reindexed.output.count("indexed") == 5 and services.index.count() == 11


def test_ingest_reports_a_broken_file_and_indexes_the_rest(services, tmp_path):
    broken = tmp_path / "quebrado.pdf"
    broken.write_bytes(b"%PDF-1.4 broken")

    result = runner.invoke(app, ["ingest", str(SAMPLES / "aula-01-tecnica-do-supino.srt"), str(broken)])

    assert "not a readable PDF" in result.output and "1 arquivo(s) com erro" in result.output
    assert services.index.count() == 1


def test_ingest_if_changed_skips_only_what_is_as_it_left_it(services, tmp_path):
    import shutil

    folder = tmp_path / "amostras"
    shutil.copytree(SAMPLES, folder)

    first = runner.invoke(app, ["ingest", "--if-changed", str(folder)])
    second = runner.invoke(app, ["ingest", "--if-changed", str(folder)])
    (folder / "aula-01-tecnica-do-supino.srt").write_text(
        "1\n00:00:01,000 --> 00:00:04,000\nNo supino, mantenha as escápulas retraídas.\n", encoding="utf-8")
    edited = runner.invoke(app, ["ingest", "--if-changed", str(folder)])
    services.ingestor.delete(services.catalog.materials()[0].id)  # the index changed since: synced again
    after_delete = runner.invoke(app, ["ingest", "--if-changed", str(folder)])

    assert first.output.count("indexed") == 5
    assert "unchanged since the last run (materials: 5 indexed)" in second.output and "arquivos" not in second.output
    assert "indexed  aula-01-tecnica-do-supino.srt" in edited.output and edited.output.count("unchanged") == 4
    assert "unchanged since the last run" not in after_delete.output and after_delete.output.count("indexed") == 1
