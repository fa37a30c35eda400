"""pmrecon: reconstruct an incident from its telemetry and draft the post-mortem.

The library the ``pmrecon`` command wraps (docs/python-api.md)::

    from pmrecon import BuildRequest, Window, build, load_config

    result = build(load_config("pmrecon.yaml"), BuildRequest(window=Window(start, end)))

Each name is imported on first use: ``import pmrecon`` (and so ``pmrecon --help``) loads
neither the connectors nor the analysis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Each public name and the module that defines it.
_EXPORTS = {
    "build": "pmrecon.api",
    "check": "pmrecon.api",
    "BuildRequest": "pmrecon.api",
    "HumanInstants": "pmrecon.api",
    "BuildResult": "pmrecon.result",
    "scan": "pmrecon.scanning",
    "ScanResult": "pmrecon.scanning",
    "Config": "pmrecon.config",
    "load_config": "pmrecon.config",
    "find_config_file": "pmrecon.config",
    "Window": "pmrecon.model",
    "PmreconError": "pmrecon.errors",
}

if TYPE_CHECKING:
    from .api import BuildRequest, HumanInstants, build, check
    from .config import Config, find_config_file, load_config
    from .errors import PmreconError
    from .model import Window
    from .result import BuildResult
    from .scanning import ScanResult, scan


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pmrecon' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the ones not imported yet included."""
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "BuildRequest",
    "BuildResult",
    "Config",
    "HumanInstants",
    "PmreconError",
    "ScanResult",
    "Window",
    "__version__",
    "build",
    "check",
    "find_config_file",
    "load_config",
    "scan",
]
