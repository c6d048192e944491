"""Finding a flow again from its target: ``package.module:flow`` or ``path/file.py:flow``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any

from legato.errors import DefinitionError

_found: dict[str, Any] = {}  # target -> flow: a worker loads each target once


def load_target(target: str) -> Any:
    """Import and return the flow named by ``target``; raises ``DefinitionError``.

    The flow is remembered: modules are imported once per process anyway, so a new
    version of the code takes a new process (restart the worker after a deploy).
    """
    flow = _found.get(target)
    if flow is None:
        flow = _found[target] = _load_target(target)
    return flow


def _load_target(target: str) -> Any:
    from legato.engine.definitions import Flow

    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr:
        raise DefinitionError(
            f"target {target!r} must look like path/to/file.py:flow_name or "
            "package.module:flow_name"
        )
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        module = _load_file(Path(module_part), target)
    else:
        try:
            module = importlib.import_module(module_part)
        except ImportError as exc:
            raise DefinitionError(
                f"target {target!r}: cannot import module {module_part!r} ({exc}). "
                "Check the spelling and that it is importable (PYTHONPATH, installed package)."
            ) from None
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            names = sorted(n for n, v in vars(module).items() if isinstance(v, Flow))
            raise DefinitionError(
                f"target {target!r}: {module_part} has no flow named {attr!r}. "
                f"Flows there: {', '.join(names) or 'none'}"
            )
    if not isinstance(obj, Flow):
        raise DefinitionError(
            f"target {target!r}: {attr!r} is a {type(obj).__name__}, not a @flow function"
        )
    if obj.options.target is None and (module_part.endswith(".py") or "/" in module_part):
        obj = obj.with_options(target=f"{Path(module_part).resolve()}:{attr}")
    return obj


_loading = threading.RLock()  # one import of a file at a time: others wait for it whole


def _load_file(path: Path, target: str) -> Any:
    with _loading:
        return _load_file_once(path, target)


def _load_file_once(path: Path, target: str) -> Any:
    resolved = path.resolve()
    if not resolved.is_file():
        raise DefinitionError(f"target {target!r}: no such file {path}")
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    name = f"legato_user_{digest}_{resolved.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise DefinitionError(f"target {target!r}: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    # The file's folder goes on sys.path so its sibling imports work, as with `python file.py`.
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
