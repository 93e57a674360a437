"""The notebooks run offline from top to bottom (extractive answerer, small sets), and are committed without
outputs."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO
from tests.integration.conftest import rag_server_on_echo_model

NOTEBOOKS = REPO / "notebooks"
# Small sets for the suite: cells tagged `parameters` are replaced, as papermill does.
PARAMETERS = {
    "retrieval_evaluation.ipynb": 'QUESTIONS = 30\nMODES = ("dense", "bm25", "hybrid")',
}


def run(name: str, tmp_path) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []) and name in PARAMETERS:
            cell.source = PARAMETERS[name]
    NotebookClient(notebook, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                     + str(output.get("data", {}).get("text/markdown", ""))
                     for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.name)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [index for index, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert dirty == [], f"{path.name}: clear the outputs of cells {dirty} before committing"


def test_retrieval_evaluation_plots_hit_at_k_and_lists_misses(tmp_path):
    notebook = run("retrieval_evaluation.ipynb", tmp_path)

    text = outputs(notebook)
    assert "30 questions" in text and "'hybrid': {1:" in text
    assert any("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs)
    assert "perguntas sem o trecho certo no top 5 (hybrid)" in text


def test_ingestion_walkthrough_shows_chunks_and_answers(tmp_path):
    text = outputs(run("ingestion_walkthrough.ipynb", tmp_path))

    assert "planilha-treino-iniciante.xlsx: " in text and "aula-01-tecnica-do-supino.srt: " in text
    assert "chunks" in text and "[1] " in text


def test_prompt_iteration_compares_server_and_process(tmp_path, monkeypatch):
    with rag_server_on_echo_model(tmp_path / "rag", delay=0.0) as (url, _):
        monkeypatch.setenv("RAG_SERVER_URL", url)
        notebook = run("prompt_iteration.ipynb", tmp_path)

    comparison = (REPO / "data" / "notebooks" / "prompt_comparison.csv").read_text(encoding="utf-8")
    assert comparison.count("servidor,") == 6 and comparison.count("processo,") == 6
    # Through the server the echo model repeats the variant's prompt: the configuration reached the graph.
    assert "Responda em uma frase" in comparison
    assert "| servidor | padrão |" in outputs(notebook)
