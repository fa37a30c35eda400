"""YAML from files people hand to pmrecon: bounded in size, expansion and depth, no duplicate keys.

``yaml.safe_load`` builds no dangerous object, but it happily reads a FIFO forever, takes
a 50 MB file whole, lets nine lines of aliases ("billion laughs") expand to billions of
values once the tree is walked, and keeps the last of two equal keys without a word.
:func:`read_regular_file` and :func:`load` refuse all of these up front, in well under a
second, with a message that names the line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

#: A config is a few kB (the documented example is 12 kB); a megabyte is surely a mistake.
MAX_BYTES = 1 << 20
#: Values (scalars, lists, mappings) once every alias is expanded; the example holds ~500.
MAX_VALUES = 100_000
#: Levels of nesting, aliases expanded; the deepest documented key (a query DSL) needs ~10.
MAX_DEPTH = 64

_MERGE_TAG = "tag:yaml.org,2002:merge"
REGULAR = "a regular file"
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFile(OSError):
    """The path names a folder, FIFO, device or socket: reading it could block or never end."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"it is {kind}, not a regular file")
        self.kind = kind


class TooLarge(OSError):
    """The file holds more bytes than allowed."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"it holds {size} bytes, more than the limit of {limit}")
        self.size = size
        self.limit = limit


class YamlRefused(ValueError):
    """The text is not YAML pmrecon accepts; the message starts "is not valid YAML" or "is refused"."""


def file_kind(mode: int) -> str:
    """What an ``st_mode`` names, in words: "a regular file", "a folder", "a FIFO (named pipe)"…"""
    if stat.S_ISREG(mode):
        return REGULAR
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular_file(path: Path, limit: int = MAX_BYTES) -> bytes:
    """The bytes of ``path``: a regular file of at most ``limit`` bytes, else an OSError saying why.

    :class:`NotRegularFile` and :class:`TooLarge` come before a byte is read: opening a
    FIFO would wait for a writer, and ``/dev/zero`` would never end.
    """
    kind = file_kind(os.stat(path).st_mode)
    if kind != REGULAR:
        raise NotRegularFile(kind)
    # O_NONBLOCK: should the path become a FIFO after the stat, opening it still returns.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        kind = file_kind(info.st_mode)
        if kind != REGULAR:
            raise NotRegularFile(kind)
        if info.st_size > limit:
            raise TooLarge(info.st_size, limit)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(1 << 16, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # a file still growing, or one whose size stat does not tell
                raise TooLarge(total, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


# libyaml composes the node graph in C (a 1 MB file in a fraction of a second); the checks
# below run on that graph before any Python object is built from it.
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):
    """The safe loader; :func:`load` checks its node graph before constructing anything."""


def load(text: str) -> Any:
    """The one YAML document in ``text`` (None when empty), or a one-line :class:`YamlRefused`.

    Refused: invalid YAML, a key twice in one mapping (the YAML spec forbids it; PyYAML
    would keep the last), an alias inside the collection it names, more than
    :data:`MAX_VALUES` values or :data:`MAX_DEPTH` levels once aliases are expanded.
    """
    return load_with_positions(text)[0]


def load_with_positions(text: str) -> tuple[Any, dict[str, tuple[int, int]]]:
    """:func:`load`, with where each key is written: dotted key → (line, column), from 1.

    Keys are named as :mod:`pmrecon.config` names them in its messages: ``a.b`` for a
    mapping's key (the position of the key), ``a.b[2]`` for a list's item. A node reached
    again through an alias is not walked again, so the map stays as small as the file.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_graph(loader, node)
        return loader.construct_document(node), _positions(loader, node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise YamlRefused(f"is not valid YAML{_at(mark)}: {problem}") from None
    except RecursionError:
        # the pure-Python composer, without libyaml, on deep nesting
        raise YamlRefused(
            f"is refused: it is nested more than {MAX_DEPTH} levels deep; flatten it"
        ) from None
    finally:
        loader.dispose()


def _positions(loader: Any, root: yaml.Node) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    seen: set[int] = set()
    stack: list[tuple[str, yaml.Node]] = [("", root)]
    while stack:
        path, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                key = f"{path}.{key_node.value}" if path else str(key_node.value)
                out.setdefault(key, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
                stack.append((key, value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                key = f"{path}[{index}]"
                out.setdefault(key, (item.start_mark.line + 1, item.start_mark.column + 1))
                stack.append((key, item))
    return out


def _at(mark: Any, column: bool = True) -> str:
    if mark is None:
        return ""
    return f" at line {mark.line + 1}" + (f", column {mark.column + 1}" if column else "")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_graph(loader: Any, root: yaml.Node) -> None:
    """Duplicate keys, recursion, expanded size and depth, in one pass over the unique nodes.

    An alias is the same node object as its anchor, so sizes are counted once per node and
    summed per reference: nine lines of aliases that expand to 10^9 values cost nine steps.
    Iterative, so a deep file cannot exhaust Python's stack here.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()  # on the path from the root: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        key = id(node)
        kids = _children(node)
        if closing:
            open_nodes.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_VALUES:
                raise YamlRefused(
                    f"is refused{_at(node.start_mark, column=False)}: it holds more than "
                    f"{MAX_VALUES:,} values once its aliases are expanded (a 'billion laughs'?); "
                    f"write the values out or use fewer aliases"
                )
            if depth[key] > MAX_DEPTH:
                raise YamlRefused(
                    f"is refused{_at(node.start_mark, column=False)}: it is nested more than "
                    f"{MAX_DEPTH} levels deep once its aliases are expanded; flatten it"
                )
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise YamlRefused(
                f"is refused{_at(node.start_mark, column=False)}: an alias refers to a "
                f"collection that contains it (endless recursion); remove that alias"
            )
        if isinstance(node, yaml.MappingNode):
            _check_duplicate_keys(loader, node)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)


def _check_duplicate_keys(loader: Any, node: yaml.MappingNode) -> None:
    """Refuse a key written twice; keys equal once read count (``true``/``yes``, ``1``/``0x1``).

    Keys brought in by a merge (``<<: *defaults``) may be overridden: that is what merges
    are for. Checked on the graph as written, before construction flattens merges.
    """
    seen: dict[Any, Any] = {}
    for key_node, _value in node.value:
        if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
            continue
        key = loader.construct_object(key_node)
        try:
            first = seen.get(key)
        except TypeError:  # unhashable: construction reports it
            continue
        if first is not None:
            raise YamlRefused(
                f"is not valid YAML{_at(key_node.start_mark)}: duplicate key {key!r} "
                f"(first at line {first.line + 1}); keep only one of the two"
            )
        seen[key] = key_node.start_mark
