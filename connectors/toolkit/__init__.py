"""The connector toolkit: what every source that talks to a server needs, written once.

Import from the modules themselves (this package imports nothing, so that the CLI can
use :mod:`~connectors.toolkit.credentials` without loading an HTTP stack):

- :mod:`~connectors.toolkit.settings`: ``settings_with_defaults`` (defaults and durations
  for settings that did not go through config validation), ``DISABLED``/``is_disabled``
  (the words that turn a setting off).
- :mod:`~connectors.toolkit.credentials`: ``collect_secrets`` (the one list of values that
  can authenticate: secret settings, header values, ``user:pass@`` URLs, the Basic and
  API-key ``Authorization`` forms in base64), ``scrub`` with the one mask ``MASK``, and
  ``redact_url``.
- :mod:`~connectors.toolkit.failures`: ``RequestFailed`` (one failed request, with a
  ``kind`` and whether it is ``fatal``), ``error_reason`` and ``is_dns_error`` (reading a
  driver's exception), ``check_failure`` (the ``pmrecon check`` lines for a failed first
  request, from a table of fixes by kind), ``short`` and ``major``.
- :mod:`~connectors.toolkit.retry`: ``RetryPolicy``, the one retry policy (connection
  errors and transient statuses, never a read timeout), and ``TRANSIENT_STATUS``.
- :mod:`~connectors.toolkit.http`: ``HttpClient`` (a requests session with auth, TLS and
  the retry policy; bounded reads, a whole-answer deadline, same-origin redirects only,
  every failure a one-line ``RequestFailed`` with secrets scrubbed) and its ``Answer``.
- :mod:`~connectors.toolkit.recording`: ``QueryRecorder``, the numbered
  :class:`~pmrecon.model.QueryRecord` of every request a collect or check sent.

Connectors depend on this package, on :mod:`connectors.base` and on pmrecon's leaf
modules (model, errors, settings_schema); never on the config, analysis or report.
"""
