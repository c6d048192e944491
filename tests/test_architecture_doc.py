"""docs/architecture.md stays a true map: it names every engine module and every store
protocol, so a new module or protocol cannot land without its place on the page."""

from __future__ import annotations

import inspect
from pathlib import Path

import legato.store.base
import legato.store.deployments
import legato.store.run_search
import legato.store.tokens

ROOT = Path(__file__).parents[1]
PAGE = (ROOT / "docs" / "architecture.md").read_text()


def test_every_engine_module_has_its_place_on_the_page() -> None:
    engine = ROOT / "src" / "legato" / "engine"
    missing = [
        path.name
        for path in sorted(engine.glob("*.py"))
        if path.name != "__init__.py" and f"`{path.name}`" not in PAGE
    ]
    assert missing == [], f"describe these modules in docs/architecture.md: {missing}"


def test_every_store_protocol_is_named_on_the_page() -> None:
    modules = (
        legato.store.base,
        legato.store.deployments,
        legato.store.run_search,
        legato.store.tokens,
    )
    protocols = {
        name
        for module in modules
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and name.endswith("Store")
        and getattr(obj, "_is_protocol", False)
        and obj.__module__ == module.__name__
    }
    missing = sorted(p for p in protocols if f"`{p}`" not in PAGE)
    assert protocols and missing == [], f"name these protocols in docs/architecture.md: {missing}"
