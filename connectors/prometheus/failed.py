"""What a failed request means to a part of a collect: the end of the source, or a warning.

A :class:`~connectors.toolkit.failures.RequestFailed` that is fatal (no other request can
succeed: unreachable, refused credentials, not the API) ends the source's collect as a
:class:`~pmrecon.errors.ConnectorError`; any other failure only loses what that request
was for, which a warning says, and the collect goes on.
"""

from __future__ import annotations

from typing import Any

from connectors.toolkit.failures import RequestFailed
from pmrecon.errors import ConnectorError
from pmrecon.model import Warning


def raise_if_fatal(exc: RequestFailed) -> None:
    """``exc`` as a :class:`ConnectorError` when no other request of the source can succeed."""
    if exc.fatal:
        raise ConnectorError(str(exc)) from exc


def warn_unless_fatal(
    exc: RequestFailed, warnings: list[Warning], source: str, text: str, code: str, **params: Any
) -> None:
    """``exc`` as a :class:`ConnectorError` when fatal, else the warning ``text`` (``code``,
    ``params``) appended to ``warnings``."""
    raise_if_fatal(exc)
    warnings.append(Warning(source, text, code=code, params=params))
