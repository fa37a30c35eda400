"""The parts of a collect, run on up to ``max_concurrency`` threads with a sequential run's result.

The parts (volume, errors, impacted users, baseline errors, signatures, change events; the
samples once the errors and the signatures are known) share the one client (thread-safe; its
pool holds a connection per thread). Each part keeps its own records and warnings, and numbers
its queries inside a placeholder; they are merged in the sequential order with the ids a
sequential run gives, so the evidence does not depend on the concurrency. Parts after a failed
one stop at their next request; the error raised is the one a sequential run would have met
first. A paged scan (composite, ``search_after``) stays sequential inside its part: each page
needs the previous one's last key.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.toolkit.failures import RequestFailed
from pmrecon.model import Warning

from .queries import Aborted, Queries, Task


@dataclass
class Part:
    """One part of a collect (a few queries); ``run(warnings, done)`` gets the results of the
    parts named in ``after`` from ``done``."""

    name: str
    run: Callable[[list[Warning], dict[str, Any]], Any]
    after: tuple[str, ...] = ()


def resolve_ids(obj: Any, sub: Callable[[str], str]) -> Any:
    """``obj`` with ``sub`` applied to every string in it (lists, dicts and dataclasses are
    changed in place)."""
    if isinstance(obj, str):
        return sub(obj) if "\x00" in obj else obj
    if isinstance(obj, list):
        obj[:] = [resolve_ids(x, sub) for x in obj]
        return obj
    if isinstance(obj, tuple):
        items = tuple(resolve_ids(x, sub) for x in obj)
        return obj if all(a is b for a, b in zip(items, obj)) else type(obj)(items)
    if isinstance(obj, dict):
        for k, v in obj.items():
            obj[k] = resolve_ids(v, sub)
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            old = getattr(obj, f.name)
            new = resolve_ids(old, sub)
            if new is not old:
                setattr(obj, f.name, new)
    return obj


def run_parts(
    parts: list[Part], warnings: list[Warning], queries: Queries, workers: int
) -> dict[str, Any]:
    """Each part's result by name; up to ``workers`` parts at once, with what a sequential run
    gives: the same query ids, records and warnings in the same order, and on failure the
    exception of the first part (in that order) that failed.

    A part runs as soon as the parts it needs are done. Parts before a failed one run to
    their end (a sequential run would have run them, and one of them may fail first); parts
    after it stop at their next request. No worker is left running on return."""
    done: dict[str, Any] = {}
    if workers == 1 or len(parts) <= 1:
        for part in parts:
            done[part.name] = part.run(warnings, done)
        return done
    tasks = [Task(queries.name, i) for i in range(len(parts))]
    failed = _run_on_workers(parts, tasks, done, queries, workers)
    # the parts before the first failure all succeeded: the ids up to it are known
    last = min(failed) if failed else len(parts) - 1
    sub = _renumber(tasks[: last + 1], queries)
    for task in tasks[: last + 1]:
        for rec in task.recorder.records:
            rec.warnings = [sub(w) for w in rec.warnings]
            queries.records.append(rec)
        warnings.extend(resolve_ids(task.warnings, sub))
    if failed:
        exc = failed[last]
        if isinstance(exc, RequestFailed) and "\x00" in str(exc):
            # its message names the query that failed: with the sequential run's id
            named = RequestFailed(sub(str(exc)), exc.kind, exc.fatal, exc.status)
            raise named.with_traceback(exc.__traceback__) from exc.__cause__
        raise exc
    return {name: resolve_ids(result, sub) for name, result in done.items()}


def _run_on_workers(
    parts: list[Part], tasks: list[Task], done: dict[str, Any], queries: Queries, workers: int
) -> dict[int, BaseException]:
    """Run the parts on a pool, each once those it needs are done; their results go into
    ``done``, their exceptions are returned by the part's place."""
    place = {p.name: i for i, p in enumerate(parts)}
    needed = {name for p in parts for name in p.after}
    # what others wait for starts first (error signatures are also the longest part)
    waiting = sorted(range(len(parts)), key=lambda i: (parts[i].name not in needed, i))
    succeeded: set[int] = set()
    failed: dict[int, BaseException] = {}
    queries.abort_after = len(parts)

    def run(i: int) -> Any:
        with queries.running_as(tasks[i]):
            try:
                if i > queries.abort_after:
                    raise Aborted()
                return parts[i].run(tasks[i].warnings, done)
            except BaseException:
                with queries.lock:
                    queries.abort_after = min(queries.abort_after, i)
                raise

    with concurrent.futures.ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix=f"pmrecon-{queries.name}"
    ) as pool:
        running: dict[concurrent.futures.Future[Any], int] = {}
        try:
            while True:
                for i in list(waiting):
                    if i > queries.abort_after:  # a sequential run stops before it
                        waiting.remove(i)
                    elif all(place[name] in succeeded for name in parts[i].after):
                        waiting.remove(i)
                        running[pool.submit(run, i)] = i
                if not running:
                    break
                finished, _ = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for fut in finished:
                    i = running.pop(fut)
                    exc = fut.exception()
                    if exc is None:
                        done[parts[i].name] = fut.result()
                        succeeded.add(i)
                    else:
                        failed[i] = exc
        except BaseException:
            queries.abort_after = -1  # interrupted: every worker stops at its next request
            for fut in running:
                fut.cancel()
            raise
    return failed


def _renumber(tasks: list[Task], queries: Queries) -> Callable[[str], str]:
    """Give the records of ``tasks`` (the parts up to the first failure, or all) the ids of
    a sequential run, from the collect's recorder; the function returned puts them in place
    of the placeholders in any text."""
    final: dict[str, str] = {}
    for task in tasks:
        for rec in task.recorder.records:
            placeholder, rec.id = rec.id, queries.recorder.next_id()
            final[placeholder] = rec.id
    token = re.compile(re.escape(f"{queries.name}:q") + "\x00" + r"\d+\.\d+" + "\x00")

    def sub(text: str) -> str:
        return token.sub(lambda m: final[m.group(0)], text)

    return sub
