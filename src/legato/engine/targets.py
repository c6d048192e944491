"""Finding a flow again from its target: ``package.module:flow`` or ``/path/file.py:flow``.

How targets are named (a file's path for code from a loose file, a module name for a
package's module) is :mod:`legato.sources`' rule, shared with stored classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from legato.errors import DefinitionError
from legato.sources import import_part, is_file_part


class Loadable:
    """What a target may name: ``definitions.Flow`` derives from it. Nominal, so this
    module (which ``launch`` imports to resume a run) need not import the definitions
    (which import ``launch``)."""

    __slots__ = ()


_found: dict[str, Any] = {}  # target -> flow: a worker loads each target once


def load_target(target: str) -> Any:
    """Import and return the flow named by ``target``; raises ``DefinitionError`` saying
    what to do when it cannot.

    The flow is remembered: modules are imported once per process anyway, so a new
    version of the code takes a new process (restart the worker after a deploy).
    """
    flow = _found.get(target)
    if flow is None:
        flow = _found[target] = _load_target(target)
    return flow


def _load_target(target: str) -> Any:
    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr:
        raise DefinitionError(
            f"target {target!r} must look like path/to/file.py:flow_name or "
            "package.module:flow_name"
        )
    module = _import(module_part, target)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            names = sorted(n for n, v in vars(module).items() if isinstance(v, Loadable))
            raise DefinitionError(
                f"target {target!r}: {module_part} has no flow named {attr!r}. "
                f"Flows there: {', '.join(names) or 'none'}"
            )
    if not isinstance(obj, Loadable):
        raise DefinitionError(
            f"target {target!r}: {attr!r} is a {type(obj).__name__}, not a @flow function"
        )
    flow: Any = obj  # a definitions.Flow
    if flow.options.target is None and is_file_part(module_part):
        flow = flow.with_options(target=f"{Path(module_part).resolve()}:{attr}")
    return flow


def _import(module_part: str, target: str) -> Any:
    if is_file_part(module_part):
        path = Path(module_part)
        if path.suffix != ".py" and path.exists():
            raise DefinitionError(f"target {target!r}: {path} is not a Python file")
        try:
            return import_part(module_part)
        except ImportError as exc:
            raise DefinitionError(f"target {target!r}: {exc}") from None
    try:
        return import_part(module_part)
    except ImportError as exc:
        top = module_part.split(".")[0]
        missing = getattr(exc, "name", None)
        if missing is not None and missing.split(".")[0] != top:
            raise DefinitionError(
                f"target {target!r}: module {module_part!r} imports {missing!r}, which is "
                f"not installed here ({exc}). Install it where this process runs."
            ) from None
        raise DefinitionError(
            f"target {target!r}: cannot import module {module_part!r} ({exc}). It was "
            f"recorded by a process that could import it; make it importable here: run "
            f"with the folder that holds {top!r} on PYTHONPATH (for example "
            f"`PYTHONPATH=. legato ...` from that folder), or install its package."
        ) from None
