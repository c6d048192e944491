"""Naming code so that another process can import it again, and importing it back.

A flow's target and the class of a stored dataclass, model or Enum are recorded as a
reference ``PART:qualname``, where PART is either

- a module name (``myapp.flows``): for modules of a package and modules installed in the
  interpreter (site-packages, the standard library), which every process imports alike; or
- the absolute path of a ``.py`` file (``/srv/app/flows.py``): for code that came from a
  loose file, such as the script run as ``__main__``, a module found only because its
  folder was the working folder or the script's folder, or a file loaded by path
  (``legato run file.py:flow``). Another process imports the file by its path, wherever it
  is started from.

:func:`import_part` imports PART back. A file already imported in this process (as
``__main__`` or under its module name) is reused, so its classes keep their identity.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import sysconfig
import threading
from pathlib import Path
from types import ModuleType

FILE_PREFIX = "legato_user_"  # module names of files loaded by path

_parts: dict[str, str | None] = {}  # module name -> PART (None: no other process can import)
_files: dict[Path, ModuleType] = {}  # resolved file -> module imported from it
_loading = threading.RLock()  # one import of a file at a time: others wait for it whole


def code_ref(module_name: str, qualname: str) -> str | None:
    """``PART:qualname`` naming a module-level object, or None when no other process can
    import it: defined inside a function, or in code that has no file (``python -c``)."""
    if "<locals>" in qualname:
        return None
    part = module_part(module_name)
    return None if part is None else f"{part}:{qualname}"


def module_part(module_name: str) -> str | None:
    """The PART recording ``module_name`` (see the module docstring); cached."""
    if module_name in _parts:
        return _parts[module_name]
    module = sys.modules.get(module_name)
    if module is None:
        return module_name  # not imported here: its name is all there is
    part = _parts[module_name] = _part_of(module_name, module)
    return part


def is_file_part(part: str) -> bool:
    """Whether PART is a file path rather than a module name."""
    return part.endswith(".py") or "/" in part or "\\" in part


def import_part(part: str) -> ModuleType:
    """Import PART (a module name or a file path). Raises ``ImportError`` (a missing
    file is ``FileNotFoundError``'s message in an ``ImportError``) or what the module
    itself raises while it is executed."""
    if is_file_part(part):
        return import_file(Path(part))
    return importlib.import_module(part)


def import_file(path: Path) -> ModuleType:
    """The module of the Python file at ``path``: the one already imported from it in this
    process if any, else the file executed once under a private module name, with its
    folder on ``sys.path`` so its sibling imports work, as with ``python file.py``.

    A file that is not where it was recorded (the code moved to another folder or machine)
    is imported by its module name, which works when its folder is on ``PYTHONPATH``.
    """
    resolved = path.resolve()
    module = _files.get(resolved)
    if module is not None:
        return module
    with _loading:
        module = _files.get(resolved) or _imported_from(resolved)
        if module is None:
            if not resolved.is_file():
                return _import_moved(path)
            module = _execute_file(resolved)
        _files[resolved] = module
        return module


# -- naming -------------------------------------------------------------------------------


def _part_of(module_name: str, module: ModuleType) -> str | None:
    file = getattr(module, "__file__", None)
    spec_name = getattr(getattr(module, "__spec__", None), "name", None)
    if module_name == "__main__" and spec_name and spec_name != "__main__":
        module_name = spec_name  # `python -m pkg.app`: importable by that name
    if file is None:
        return None if module_name == "__main__" else module_name
    if module_name.startswith(FILE_PREFIX) or module_name == "__main__":
        return str(Path(file).resolve())
    if "." in module_name or hasattr(module, "__path__") or not file.endswith(".py"):
        return module_name  # a package's module: its name imports it with its package
    if _is_installed(file):
        return module_name
    return str(Path(file).resolve())  # a loose file: found via the working/script folder


def _install_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    keys = ("stdlib", "platstdlib", "purelib", "platlib")
    return tuple(os.path.join(os.path.realpath(paths[k]), "") for k in keys if k in paths)


def _is_installed(file: str) -> bool:
    real = os.path.realpath(file)
    return any(real.startswith(root) for root in _install_roots())


# -- importing ----------------------------------------------------------------------------


def _imported_from(resolved: Path) -> ModuleType | None:
    """A module of this process imported from ``resolved`` (``__main__`` first)."""
    main = sys.modules.get("__main__")
    candidates = [main] if main is not None else []
    candidates += [m for name, m in list(sys.modules.items()) if name != "__main__"]
    for module in candidates:
        file = getattr(module, "__file__", None)
        if file and os.path.basename(file) == resolved.name and Path(file).resolve() == resolved:
            return module
    return None


def _import_moved(path: Path) -> ModuleType:
    name = path.stem
    if name.isidentifier():
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    raise ImportError(
        f"no such file {path}, and no module {name!r} importable instead; run where that "
        f"file exists, or put the folder holding {path.name} on PYTHONPATH"
    )


def _execute_file(resolved: Path) -> ModuleType:
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    name = f"{FILE_PREFIX}{digest}_{resolved.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ImportError(f"{resolved} is not a Python file")
    module = importlib.util.module_from_spec(spec)
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
