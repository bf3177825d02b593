"""The import rules of the README's Architecture section, enforced on the source tree (imports inside functions too)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: kyc_core's packages by layer: a package imports only packages of lower layers (and its own modules).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "settings", "countries"),
    ("store", "sources", "screening"),
    ("resilience", "policy"),
    ("lists", "scoring", "registry", "customers"),
    ("resolution", "decision", "notify"),
    ("onboarding", "rescreen", "cases", "monitoring", "watch"),
    ("perpetual",),
    ("cli",),
)
#: What each distribution may import of the others (kyc_core's `kyc` CLI finds the development commands by name).
DISTRIBUTIONS = {
    "kyc_core": {"forbidden": ("airflow", "kyc_airflow", "kyc_dev")},
    "kyc_airflow": {"forbidden": ("kyc_dev",)},
    "kyc_dev": {"forbidden": ("kyc_airflow", "airflow")},
}
SOURCES = {"kyc_core": REPO / "include" / "kyc_core", "kyc_airflow": REPO / "plugins" / "kyc_airflow",
           "kyc_dev": REPO / "devtools" / "kyc_dev"}


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def violations(sources: dict[str, Path], layers=LAYERS, distributions=DISTRIBUTIONS) -> list[str]:
    """Every import that breaks the rules, as `file:line imports module (why)`."""
    rank = {package: level for level, group in enumerate(layers) for package in group}
    found = []
    for dist, root in sources.items():
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root)
            own = rel.parts[0].removesuffix(".py") if dist == "kyc_core" else None
            for line, module in _imports(path):
                top = module.split(".")[0]
                where = f"{dist}/{rel}:{line} imports {module}"
                if top in distributions[dist]["forbidden"]:
                    found.append(f"{where} ({dist} must not depend on {top})")
                elif dist == "kyc_core" and top == "kyc_core" and module.count(".") >= 1:
                    target = module.split(".")[1]
                    if target == own or own not in rank:
                        if own not in rank:
                            found.append(f"{where} (kyc_core.{own} has no layer: add it to the README and LAYERS)")
                        continue
                    if target not in rank:
                        found.append(f"{where} (kyc_core.{target} has no layer)")
                    elif rank[target] >= rank[own]:
                        found.append(f"{where} (layer {rank[own]} may not import layer {rank[target]})")
    return found


def test_the_tree_follows_the_layers():
    assert violations(SOURCES) == []


def test_every_package_has_a_layer():
    packages = {p.name.removesuffix(".py") for p in SOURCES["kyc_core"].iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name not in ("__init__.py", "__main__.py"))}
    assert packages <= {name for group in LAYERS for name in group}


def test_a_forbidden_import_is_named(tmp_path):
    core = tmp_path / "kyc_core"
    (core / "store").mkdir(parents=True)
    (core / "onboarding").mkdir()
    (core / "store" / "models.py").write_text("def f():\n    from kyc_core.onboarding.pipeline import assess_customer\n")
    (core / "onboarding" / "pipeline.py").write_text("from kyc_core.store.models import Base\nimport airflow.sdk\n")
    found = violations({"kyc_core": core})
    assert any("store/models.py:2 imports kyc_core.onboarding.pipeline (layer 1 may not import layer 5)" in f for f in found)
    assert any("onboarding/pipeline.py:2 imports airflow.sdk (kyc_core must not depend on airflow)" in f for f in found)
    assert not any("pipeline.py:1" in f for f in found)


def test_the_readme_states_the_layers():
    readme = (REPO / "README.md").read_text()
    for group in LAYERS:
        assert " · ".join(f"`{p}`" for p in group) in readme, group
