"""pmrecon's one exception tree, and the exit codes the CLI maps it to.

Every error a user can cause or meet is a :class:`PmreconError`. The CLI prints
its message on one line (no traceback unless ``--debug``) and exits with the
class's ``exit_code``. Driver errors are wrapped at the connector boundary with
``raise ConnectorError("what, where, how to fix") from exc``.
"""

from __future__ import annotations

from typing import Any

import click

#: Documented exit codes (README, "Exit codes").
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_SOURCE = 3
EXIT_EVIDENCE = 4
EXIT_RENDER = 5
EXIT_CONFLICT = 6
EXIT_DEGRADED = 7
EXIT_INCIDENT = 8
EXIT_INTERRUPTED = 130


class PmreconError(click.ClickException):
    """Base class: a problem pmrecon can explain in one line."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str) -> None:
        # One line, always: a multi-line driver message would break the contract.
        super().__init__(" ".join(str(message).split()))

    def show(self, file: Any = None) -> None:
        click.echo(f"pmrecon: error: {self.format_message()}", err=True, file=file)


class UsageError(PmreconError):
    """A bad command-line value (time form, window, option)."""

    exit_code = EXIT_USAGE


class ConfigError(PmreconError):
    """The configuration file is missing, unreadable or invalid."""

    exit_code = EXIT_USAGE


class ConnectorError(PmreconError):
    """A data source could not be reached or answered with an error."""

    exit_code = EXIT_SOURCE


class ConnectorNotFound(ConfigError):
    """A configured connector name is not registered."""


class ConnectorUnavailable(ConfigError):
    """A connector is registered but its Python dependency is not installed."""


class EvidenceError(PmreconError):
    """An evidence bundle is missing, unreadable, of an unknown schema or tampered with."""

    exit_code = EXIT_EVIDENCE


class RenderError(PmreconError):
    """A template failed to render or the output could not be written."""

    exit_code = EXIT_RENDER


class OutputError(RenderError):
    """The output directory cannot be written."""


class MergeConflict(PmreconError):
    """A rebuild met a human edit of a line pmrecon also changed."""

    exit_code = EXIT_CONFLICT
