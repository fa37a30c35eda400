"""The documented example config shipped with pmrecon, and what to say when no config is found.

``config/pmrecon.example.yaml`` of the checkout is force-included in the wheel as
``pmrecon/config/pmrecon.example.yaml``; ``pmrecon config example`` prints it, so a user of
an installed pmrecon never needs the checkout to start a config.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .config import DEFAULT_CONFIG_NAME, ENV_CONFIG, Config
from .errors import ConfigError

EXAMPLE_NAME = "pmrecon.example.yaml"

#: What a user types to start a config: written from what the servers hold, or by hand.
START_HINT = (
    "pmrecon init --prometheus URL [--elasticsearch URL] (writes pmrecon.yaml from what the "
    "servers hold), or pmrecon config example > pmrecon.yaml and edit it"
)


def example_config_path() -> Path:
    """The example config: inside the installed package, else the checkout's ``config/``."""
    try:
        packaged = resources.files("pmrecon").joinpath("config").joinpath(EXAMPLE_NAME)
        if packaged.is_file():
            return Path(str(packaged))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    local = Path(__file__).resolve().parents[1] / "config" / EXAMPLE_NAME
    if local.is_file():
        return local
    raise ConfigError(f"the example config {EXAMPLE_NAME} is missing: reinstall pmrecon")


def example_config_text() -> str:
    """The example config's text, every key with its default and what it does."""
    return example_config_path().read_text(encoding="utf-8")


def lookup_description() -> str:
    """Where the command line looks for a config file, in order, as it stands now."""
    env = os.environ.get(ENV_CONFIG)
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return (
        f"--config (not given), ${ENV_CONFIG} ({'= ' + env if env else 'not set'}), "
        f"{local} ({'found' if local.is_file() else 'absent'})"
    )


def no_source_error(config: Config) -> ConfigError:
    """The error for a command that needs sources when the config has none (or there is no config)."""
    if config.path is None:
        return ConfigError(
            f"no config file found (looked at {lookup_description()}); start one with: {START_HINT}"
        )
    return ConfigError(
        f"no source configured in {config.path}: add a 'sources:' section "
        "('pmrecon config example' prints one for each source type)"
    )


__all__ = ["example_config_path", "example_config_text", "lookup_description", "no_source_error"]
