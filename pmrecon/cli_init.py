"""The ``pmrecon init`` command: parses its options, calls :func:`pmrecon.initconfig.init_config`,
says what it wrote. Registered on the ``pmrecon`` group by :mod:`pmrecon.cli`, which gives it
the shared ``-q``/``-v``/``--debug`` options; kept apart so that ``cli.py`` stays readable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

#: Secret values read for this run; :mod:`pmrecon.cli` scrubs them from what it prints.
secrets: list[str] = []


@click.command("init")
@click.option(
    "--prometheus", "prometheus_url", required=True, metavar="URL", help="Prometheus base URL."
)
@click.option(
    "--elasticsearch", "es_url", default=None, metavar="URL", help="Elasticsearch node URL (logs)."
)
@click.option(
    "--index", default="logs-*", show_default=True, metavar="PATTERN", help="Log index pattern."
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=Path("pmrecon.yaml"),
    show_default=True,
    help="Config file to write.",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@click.option(
    "--from",
    "start",
    default="now-1h",
    show_default=True,
    metavar="TIME",
    help="Start of the range inspected; same forms as build --from.",
)
@click.option(
    "--to", "end", default="now", show_default=True, metavar="TIME", help="End of that range."
)
@click.option(
    "--prometheus-token-env", metavar="VAR", help="Environment variable holding a bearer token."
)
@click.option("--prometheus-user", metavar="NAME", help="Basic-auth user for Prometheus.")
@click.option(
    "--prometheus-password-env", metavar="VAR", help="Environment variable holding its password."
)
@click.option(
    "--elasticsearch-api-key-env", metavar="VAR", help="Environment variable holding an API key."
)
@click.option("--elasticsearch-user", metavar="NAME", help="Basic-auth user for Elasticsearch.")
@click.option(
    "--elasticsearch-password-env", metavar="VAR", help="Environment variable holding its password."
)
@click.option("--ca-file", metavar="FILE", help="CA bundle that signed the servers' certificates.")
@click.pass_obj
def init_command(
    state: Any,
    prometheus_url: str,
    es_url: str | None,
    index: str,
    out: Path,
    force: bool,
    start: str,
    end: str,
    **auth: str | None,
) -> None:
    """Write a commented pmrecon.yaml from what the servers hold (they are only read).

    It reads metric names, labels and histogram buckets, and the log indices' fields and
    level values, then picks the preset, the service and status labels, the latency
    quantiles, the log fields and error levels, with a comment saying why above each.
    Secrets are read from the environment variables named and written as ${VAR}.

    \b
    Examples:
      pmrecon init --prometheus http://prometheus:9090
      pmrecon init --prometheus https://prom.example.com --prometheus-token-env PROM_TOKEN \\
                   --elasticsearch https://es:9200 --elasticsearch-api-key-env ES_API_KEY --index 'logs-*'
      pmrecon init --prometheus http://prometheus:9090 --from now-6h --out ci/pmrecon.yaml --force
    """
    from .initconfig import InitRequest, init_config
    from .timeparse import parse_window

    prometheus_auth = _init_auth(auth, "prometheus", "token")
    elasticsearch_auth = _init_auth(auth, "elasticsearch", "api_key")
    for var in (*prometheus_auth.secret_vars(), *elasticsearch_auth.secret_vars()):
        if os.environ.get(var):
            secrets.append(os.environ[var])
    request = InitRequest(
        prometheus=prometheus_url,
        elasticsearch=es_url,
        index=index,
        out=out,
        force=force,
        window=parse_window(start, end, max_seconds=31 * 86400),
        prometheus_auth=prometheus_auth,
        elasticsearch_auth=elasticsearch_auth,
    )
    result = init_config(request)
    state.say(f"wrote {result.path} (sources: {', '.join(result.sources)})")
    for line in result.undecided:
        state.say(f"not decided, see the comments: {line}")
    state.say(f"next: pmrecon check -c {result.path}")


def _init_auth(options: dict[str, str | None], server: str, secret: str) -> Any:
    """The Auth of ``server`` from init's ``--<server>-…`` options."""
    from .initconfig import Auth

    return Auth(
        options[f"{server}_{secret}_env"],
        options[f"{server}_user"],
        options[f"{server}_password_env"],
        options["ca_file"],
    )
