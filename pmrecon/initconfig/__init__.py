"""``pmrecon init``: a working, commented ``pmrecon.yaml`` from what the servers hold.

The servers are only read (:mod:`connectors.prometheus.discover`,
:mod:`connectors.elasticsearch.discover`); :mod:`.metrics` and :mod:`.logs` choose the
settings and say why; :mod:`.render` writes them as YAML with a comment above each
choice. Everything is inspected before anything is written, and the file appears whole
or not at all: an existing file is kept unless ``force``.

Secrets never enter the file: a credential is read from an environment variable for the
inspection and written as ``${VAR}``, the form the config expands.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pmrecon.errors import OutputError, UsageError
from pmrecon.model import Window

from .plan import SourcePlan

__all__ = ["Auth", "InitRequest", "InitResult", "SourcePlan", "init_config"]


@dataclass(frozen=True)
class Auth:
    """How to authenticate to one server: the names of the environment variables that hold
    the secrets (never the secrets), a user name, a CA bundle."""

    token_env: str | None = None  # bearer token (Prometheus) or API key (Elasticsearch)
    username: str | None = None
    password_env: str | None = None
    ca_file: str | None = None

    def secret_vars(self) -> list[str]:
        """The names of the variables holding secrets."""
        return [v for v in (self.token_env, self.password_env) if v]

    def settings(self, env: Mapping[str, str], token_key: str) -> dict[str, Any]:
        """The settings to inspect with, secrets read from ``env``."""
        out: dict[str, Any] = {}
        if self.token_env:
            out[token_key] = _read(env, self.token_env)
        if self.username:
            out["username"] = self.username
            out["password"] = _read(env, self.password_env) if self.password_env else ""
        if self.ca_file:
            out["tls"] = {"ca_file": self.ca_file, "verify": True}
        return out

    def written(self, token_key: str) -> dict[str, Any]:
        """The same settings as the file holds them: ``${VAR}`` for each secret."""
        out: dict[str, Any] = {}
        if self.token_env:
            out[token_key] = f"${{{self.token_env}}}"
        if self.username:
            out["username"] = self.username
            if self.password_env:
                out["password"] = f"${{{self.password_env}}}"
        if self.ca_file:
            out["tls"] = {"ca_file": str(Path(self.ca_file).resolve())}
        return out


def _read(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise UsageError(f"environment variable {name} is not set; export it, then run init again")
    return value


@dataclass(frozen=True)
class InitRequest:
    """What to inspect and where to write."""

    prometheus: str
    elasticsearch: str | None = None
    index: str = "logs-*"
    out: Path = Path("pmrecon.yaml")
    force: bool = False
    window: Window | None = None  # the range inspected (default: the last hour)
    prometheus_auth: Auth = field(default_factory=Auth)
    elasticsearch_auth: Auth = field(default_factory=Auth)


@dataclass(frozen=True)
class InitResult:
    """The file written, its sources and what could not be decided."""

    path: Path
    sources: list[str]
    undecided: list[str]
    text: str


def init_config(
    request: InitRequest, env: Mapping[str, str] | None = None, now: dt.datetime | None = None
) -> InitResult:
    """Inspect the servers, then write the config; an existing file is refused unless ``force``."""
    from connectors.prometheus.discover import PrometheusInventory

    from .logs import plan_logs
    from .metrics import plan_metrics
    from .render import render

    env = os.environ if env is None else env
    now = now or dt.datetime.now(dt.timezone.utc)
    _refuse_existing(request.out, request.force)
    window = request.window or Window(now - dt.timedelta(hours=1), now)
    prom_auth = request.prometheus_auth
    inv = PrometheusInventory(
        request.prometheus, prom_auth.settings(env, "bearer_token"), window.start, window.end
    )
    version = inv.version()
    plans = plan_metrics(inv)
    for plan in plans:
        _add_auth(plan, prom_auth.written("bearer_token"))
    header = [
        f"Written by `pmrecon init` on {now:%Y-%m-%d %H:%M} UTC from what the servers held "
        f"from {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC:",
        f"  Prometheus {version or '(version not served)'} at {inv.shown_url}",
    ]
    if request.elasticsearch:
        from connectors.elasticsearch.discover import LogInventory

        es_auth = request.elasticsearch_auth
        logs = LogInventory(request.elasticsearch, es_auth.settings(env, "api_key"), request.index)
        try:
            log_plans = plan_logs(logs, window.start, window.end, _metric_identity(plans))
            version = logs.version()
        finally:
            logs.close()
        for plan in log_plans:
            _add_auth(plan, es_auth.written("api_key"))
        plans += log_plans
        header.append(
            f"  Elasticsearch {version or '(version not known)'} at {logs.shown_url}, index {request.index}"
        )
    header += [
        "Each choice says why above it; 'NOT DECIDED' marks what init could not tell.",
        "Next: `pmrecon check`, then `pmrecon build --from … --to …`. Every other key keeps "
        "its default: `pmrecon config example` lists them all.",
    ]
    text = render(header, plans)
    _write(request.out, text, request.force)
    return InitResult(
        request.out,
        [p.name for p in plans],
        [f"{p.name}: {u}" for p in plans for u in p.undecided],
        text,
    )


def _metric_identity(plans: list[SourcePlan]) -> list[str]:
    """The labels naming a service in the metrics source's plan (none without one)."""
    for plan in plans:
        labels = plan.settings.get("service_label")
        if labels:
            return [labels] if isinstance(labels, str) else [str(x) for x in labels]
    return []


def _add_auth(plan: SourcePlan, written: dict[str, Any]) -> None:
    """Put the credentials right after the address, as a person would write them."""
    if not written:
        return
    keys = list(plan.settings)
    at = keys.index("url" if "url" in keys else "hosts") + 1
    items = list(plan.settings.items())
    plan.settings = dict(items[:at] + list(written.items()) + items[at:])


def _refuse_existing(path: Path, force: bool) -> None:
    """Stop before any request when the file cannot be written as asked."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"folder {parent} does not exist; create it or choose another --out")
    if force:
        if path.exists() and not path.is_file():
            raise OutputError(f"{path} exists and is not a regular file; choose another --out")
        return
    if path.exists() or path.is_symlink():
        raise OutputError(
            f"{path} already exists; pass --force to replace it, or choose another --out"
        )


def _write(path: Path, text: str, force: bool) -> None:
    """Write ``text`` whole: a temporary file beside ``path``, then renamed (``force``) or
    linked, which fails rather than replace a file that appeared meanwhile."""
    from pmrecon.fsutil import atomic_write

    _refuse_existing(path, force)
    parent = path.parent
    try:
        if force:
            atomic_write(path, text)
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)  # a config, not a secret (mkstemp makes it 0600)
            os.link(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except FileExistsError:
        raise OutputError(
            f"{path} already exists; pass --force to replace it, or choose another --out"
        ) from None
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}; choose another --out"
        ) from None
