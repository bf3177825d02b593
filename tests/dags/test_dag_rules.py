"""House rules every DAG file must follow."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
# Tasks that only judge their input: a retry cannot fix bad input.
NO_RETRY_TASKS = {"validate_request", "plan_review"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) >= len(DAG_FILES) >= 1


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_one_dag_per_file_named_after_it(dagbag, path):
    ids = [d for d, dag in dagbag.dags.items() if Path(dag.fileloc).resolve() == path.resolve()]
    assert ids == [path.stem]


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_doc_md_is_the_module_docstring(dagbag, path):
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring and len(docstring) > 80
    assert dagbag.dags[path.stem].doc_md.strip() == docstring.strip()


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_parse_time_under_two_seconds(path):
    # A fresh interpreter measures the file's own imports, as the dag-processor pays them.
    code = (
        "import time, runpy, airflow.sdk; t=time.perf_counter(); "
        f"runpy.run_path({str(path)!r}); print(time.perf_counter()-t)"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    elapsed = float(out.stdout.strip().splitlines()[-1])
    assert elapsed < 2.0, f"{path.name} took {elapsed:.2f}s to parse (total {time.perf_counter() - started:.1f}s)"


def test_dag_level_rules(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags and "kyc" in dag.tags, dag_id
        assert dag.owner not in ("", "airflow"), dag_id
        assert dag.catchup is False, dag_id


def test_task_retry_rules(dagbag):
    from airflow.providers.standard.operators.hitl import HITLOperator

    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            where = f"{dag_id}.{task.task_id}"
            if isinstance(task, HITLOperator):
                # A review try that ends without a recorded answer asks the reviewer again: never stuck.
                assert task.retries >= 1 and task.retry_exponential_backoff, f"{where}: a review must ask again"
                continue
            if task.task_id in NO_RETRY_TASKS:
                assert task.retries == 0, f"{where} judges input: it must not retry"
                continue
            assert task.retries >= 1, f"{where} calls outside: it must retry"
            assert task.retry_exponential_backoff and task.retry_exponential_backoff > 1, f"{where}: no exponential backoff"
            assert task.max_retry_delay and task.max_retry_delay <= timedelta(hours=1), f"{where}: unbounded backoff"


def test_dag_files_do_no_io_or_heavy_imports_at_top_level():
    heavy = {"sqlalchemy", "aiohttp", "redis", "requests", "psycopg", "lxml", "numpy", "rapidfuzz"}
    for path in DAG_FILES:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in heavy for n in names), f"{path.name} imports {names} at parse time"


#: Modules a DAG file must not pull in when it is parsed, directly or through an operator's constructor.
HEAVY_AT_PARSE = ("sqlalchemy", "aiohttp", "redis", "psycopg", "lxml", "numpy", "rapidfuzz", "kyc_core.store")


_PROBE = """
import json, runpy, sys
import airflow.sdk

heavy, ours, found = {heavy!r}, {ours!r}, set()


class Watch:
    # Records heavy modules whose importing frame is our code (Airflow's own imports are its business).
    def find_spec(self, name, path=None, target=None):
        if any(name == h or name.startswith(h + ".") for h in heavy):
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
                frame = frame.f_back
            if frame is not None and any(frame.f_code.co_filename.startswith(o) for o in ours):
                found.add(name)
        return None


sys.meta_path.insert(0, Watch())
runpy.run_path({path!r})
print(json.dumps(sorted(found)))
"""


def heavy_modules_loaded_by(path: Path, ours: tuple[str, ...] = ()) -> list[str]:
    """Heavy modules that our code (DAG file, kyc_airflow, kyc_core) imports while a fresh interpreter runs it."""
    import json

    import kyc_airflow
    import kyc_core

    roots = (str(path), str(Path(kyc_airflow.__file__).parent), str(Path(kyc_core.__file__).parent), *ours)
    code = _PROBE.format(heavy=HEAVY_AT_PARSE, ours=roots, path=str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_parsing_a_dag_file_imports_nothing_heavy(path):
    # Workers re-parse the file for every task: operator constructors must keep their imports for execute().
    assert heavy_modules_loaded_by(path) == []


def test_the_parse_check_sees_an_import_inside_an_operator_constructor(tmp_path):
    dag_file = tmp_path / "kyc_heavy_probe.py"
    dag_file.write_text(
        "from airflow.sdk import BaseOperator, dag\n"
        "class Probe(BaseOperator):\n"
        "    def __init__(self, **kwargs):\n"
        "        import kyc_core.store.models  # noqa: F401\n"
        "        super().__init__(**kwargs)\n"
        "@dag(dag_id='kyc_heavy_probe', schedule=None)\n"
        "def probe():\n"
        "    Probe(task_id='p')\n"
        "probe()\n"
    )
    loaded = heavy_modules_loaded_by(dag_file)
    assert "kyc_core.store.models" in loaded
