"""The layer rule: no quantkit module imports a layer above its own (imports read with ast, lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import quantkit

PACKAGE = Path(quantkit.__file__).resolve().parent

#: Tiers, bottom to top. A module may import its own unit and units of lower tiers only; units of one
#: tier are siblings and never import each other (except the foundation's single modules). The exchange is reached over the network (by URL),
#: so only the top tier (the command line and the package's re-exports) imports it.
TIERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "config", "schema", "symbols", "_private"}),  # foundation (+ top-level _helpers.py)
    frozenset({"datafiles"}),
    frozenset({"exchange", "feed", "store"}),
    frozenset({"ingest", "analytics", "argtypes"}),  # argtypes: the command-line option types (cli, reports, dashboard)
    frozenset({"backtest", "alerts"}),
    frozenset({"dashboard", "reports"}),
    frozenset({"cli", "__init__", "__main__"}),
)
TOP = len(TIERS) - 1
ONLY_FROM_TOP = frozenset({"exchange"})


def unit_of(module: str) -> str:
    """The layer unit of a dotted quantkit module name (``quantkit.feed.client`` -> ``feed``)."""
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "__init__"
    return "_private" if name.startswith("_") and name not in {"__init__", "__main__"} else name


def tier_of(unit: str) -> int:
    """The tier index of a unit (a new unit must be placed in TIERS)."""
    for i, tier in enumerate(TIERS):
        if unit in tier:
            return i
    raise AssertionError(f"quantkit.{unit} is not placed in a tier of tests/test_layers.py::TIERS")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute quantkit module) for every import in a file, including imports inside functions."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
            else:
                base = []
            module = ".".join(base + ([node.module] if node.module else []))
            if module == "quantkit" or (node.module is None):
                found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, module))
    return [(line, m) for line, m in found if m.startswith("quantkit.")]


def test_no_module_imports_a_higher_layer() -> None:
    """exchange -> feed -> ingest -> store -> analytics -> dashboard/backtest/reports: imports only point down."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        own = unit_of(module)
        own_tier = tier_of(own)
        for line, target in imports_of(path):
            unit = unit_of(target)
            if unit == own:
                continue
            tier = tier_of(unit)
            if unit in ONLY_FROM_TOP and own_tier != TOP:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} (only the CLI imports the exchange)")
            elif (tier > own_tier or (tier == own_tier and tier != 0)) and own_tier != TOP:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({own}, tier {own_tier}) imports {target} (tier {tier})")
    assert not bad, "\n".join(bad)


def test_the_rule_sees_violations(tmp_path: Path) -> None:
    """The import reader finds relative, absolute and function-level imports (so the rule cannot pass vacuously)."""
    ingest = PACKAGE / "ingest" / "ingestor.py"
    targets = {m for _, m in imports_of(ingest)}
    assert any(unit_of(m) == "feed" for m in targets) and any(unit_of(m) == "store" for m in targets)
    assert not any(unit_of(m) == "exchange" for p in (PACKAGE / "ingest").rglob("*.py") for _, m in imports_of(p))
