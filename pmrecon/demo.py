"""The demo incident shipped with pmrecon: an evidence bundle built by scripts/make_demo_bundle.py."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def demo_bundle_dir() -> Path:
    """The bundled demo evidence folder (inside the installed package)."""
    return Path(str(resources.files("pmrecon") / "demo_data" / "evidence"))
