"""What the real test servers need on this machine, made in one place, and how to remove it.

Elasticsearch refuses to run as root. When the tests, the benchmark or the demo-bundle script
run as root (CI, these machines), every node runs as an unprivileged system user:
``$PMRECON_ES_USER``, default ``pmrecon-es``. Whoever starts a node first creates that user
through :func:`ensure_es_user`, and hands the node's folders to it through
:func:`hand_to_es_user`; nothing else creates it, so the order in which tests, benchmark and
scripts run does not matter. As an ordinary user the node runs as that user and no account is
needed.

What earlier runs leave on the machine, and :func:`clean` (``scripts/test --fresh``) removes:

- the Elasticsearch user (refused while it still runs processes, or when the name is not one
  pmrecon created);
- under ``${PMRECON_CACHE:-~/.cache/pmrecon}``: the unpacked Elasticsearch and OpenSearch
  distributions and the benchmark's server data (the downloaded zips and the Maven plugin
  repository stay);
- ``pmrecon-*`` folders in the temporary directory that no process uses any more.

Run as a script (standard library only: it works before ``.venv`` exists)::

    python3 tests/infra/machine.py ensure   # create the Elasticsearch user now; print it
    python3 tests/infra/machine.py clean    # remove what earlier runs left (see above)

Exit codes: 0 done, 2 refused (the line on stderr says why and what to do).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

DEFAULT_ES_USER = "pmrecon-es"
#: Written in the account's comment field: only accounts carrying it are ever deleted.
ACCOUNT_COMMENT = "pmrecon test servers"
#: Every scratch folder pmrecon's tests, benchmark and scripts create starts with this.
SCRATCH_PREFIX = "pmrecon-"
#: A scratch folder younger than this may belong to a run that is still setting up.
STALE_AFTER_S = 300.0

_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# useradd exit codes: 9 name in use (someone created it meanwhile), 1 and 10 the password or
# group file was locked by another account tool.
_USERADD_IN_USE, _USERADD_BUSY = 9, (1, 10)


class MachineError(RuntimeError):
    """The machine cannot be prepared or cleaned; the message says why and what to do."""


def es_user() -> str:
    """The unprivileged account Elasticsearch nodes run as (``$PMRECON_ES_USER``)."""
    name = os.environ.get("PMRECON_ES_USER") or DEFAULT_ES_USER
    if not _USER_NAME.fullmatch(name):
        raise MachineError(
            f"PMRECON_ES_USER={name!r} is not a valid account name: use lower-case letters, "
            "digits, '-' or '_' (at most 32), e.g. pmrecon-es"
        )
    return name


def cache_root() -> Path:
    """Where big downloads and server data are cached (``$PMRECON_CACHE``)."""
    root = os.environ.get("PMRECON_CACHE") or os.path.join(Path.home(), ".cache", "pmrecon")
    return Path(root)


def es_cache() -> Path:
    """Elasticsearch distributions: zips, unpacked dirs, Maven plugins (scripts/fetch-elasticsearch)."""
    return cache_root() / "elasticsearch"


def bench_cache() -> Path:
    """The benchmark's loaded server data (bench/servers.py)."""
    return cache_root() / "bench"


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """An exclusive lock shared by every process using the same cache."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _lookup(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _group_exists(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def ensure_es_user() -> pwd.struct_passwd | None:
    """The account Elasticsearch runs as, created if missing; None when not root (no account needed)."""
    if os.geteuid() != 0:
        return None
    name = es_user()
    found = _lookup(name)
    if found is not None:
        return found
    if shutil.which("useradd") is None:
        raise MachineError(
            f"Elasticsearch cannot run as root and user {name!r} is missing: "
            "install useradd (Debian package passwd) or create the user yourself"
        )
    with _locked("accounts"):
        for attempt in range(20):
            found = _lookup(name)
            if found is not None:
                return found
            cmd = ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent"]
            cmd += ["--shell", "/usr/sbin/nologin", "--comment", ACCOUNT_COMMENT]
            if _group_exists(name):  # left by an account removed by hand
                cmd += ["--gid", name]
            proc = subprocess.run([*cmd, name], capture_output=True, text=True)
            if proc.returncode in (0, _USERADD_IN_USE):
                continue  # the lookup decides, whoever created it
            if proc.returncode not in _USERADD_BUSY:
                break
            time.sleep(0.05 * (attempt + 1))
        found = _lookup(name)
    if found is None:
        raise MachineError(
            f"could not create user {name!r} for Elasticsearch (useradd exit "
            f"{proc.returncode}: {proc.stderr.strip()}); create it with "
            f"`useradd --system --no-create-home --shell /usr/sbin/nologin {name}`"
        )
    return found


def hand_to_es_user(path: Path) -> None:
    """Give a node's folder (and all it holds) to the Elasticsearch user, readable by all."""
    os.chmod(path, 0o755)  # mkdtemp makes it 0700: the node's user must enter it
    user = ensure_es_user()
    if user is None:
        return
    os.chown(path, user.pw_uid, user.pw_gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.chown(os.path.join(root, n), user.pw_uid, user.pw_gid, follow_symlinks=False)


# -- clean: what scripts/test --fresh removes ---------------------------------------------------


def _processes() -> Iterator[tuple[int, Path]]:
    """Every readable process id with its /proc folder."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            yield int(entry.name), entry


def _pids_of(uid: int) -> list[int]:
    pids = []
    for pid, proc in _processes():
        with contextlib.suppress(OSError):
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("Uid:"):
                    if int(line.split()[1]) == uid:
                        pids.append(pid)
                    break
    return pids


def _paths_in_use() -> set[str]:
    """Working dirs and open files of every process we may look at."""
    used: set[str] = set()
    for _, proc in _processes():
        links = [proc / "cwd", proc / "root"]
        with contextlib.suppress(OSError):
            links += list((proc / "fd").iterdir())
        for link in links:
            with contextlib.suppress(OSError):
                used.add(os.readlink(link))
    return used


def stale_scratch_dirs(tmp: Path, now: float | None = None) -> list[Path]:
    """``pmrecon-*`` folders in ``tmp`` that no process uses and nobody touched for a while."""
    now = time.time() if now is None else now
    used = _paths_in_use()
    stale = []
    for d in sorted(tmp.glob(SCRATCH_PREFIX + "*")):
        if not d.is_dir() or d.is_symlink() or now - d.lstat().st_mtime < STALE_AFTER_S:
            continue
        inside = str(d) + os.sep
        if not any(u == str(d) or u.startswith(inside) for u in used):
            stale.append(d)
    return stale


def _our_account(user: pwd.struct_passwd) -> bool:
    # Earlier versions created the account without a comment: the name and home tell it then.
    return user.pw_gecos == ACCOUNT_COMMENT or (
        user.pw_name.startswith(SCRATCH_PREFIX) and user.pw_dir == "/nonexistent"
    )


def _removable_user() -> pwd.struct_passwd | None:
    """The Elasticsearch account if it exists and may go; raises if it must stay."""
    if os.geteuid() != 0:
        return None
    name = es_user()
    user = _lookup(name)
    if user is None:
        return None
    if not _our_account(user):
        raise MachineError(
            f"user {name!r} was not created by pmrecon (comment {user.pw_gecos!r}, home "
            f"{user.pw_dir}): refusing to delete it; set PMRECON_ES_USER to another name"
        )
    pids = _pids_of(user.pw_uid)
    if pids:
        shown = " ".join(map(str, pids[:8])) + (" ..." if len(pids) > 8 else "")
        raise MachineError(
            f"user {name!r} still runs {len(pids)} process(es) (pid {shown}): stop those "
            "Elasticsearch nodes first, or set PMRECON_ES_USER to another name"
        )
    return user


def clean(say: Callable[[str], None] = print) -> None:
    """Remove what earlier runs left on the machine (see the module docstring)."""
    user = _removable_user()  # refuses before anything is removed
    if user is not None:
        with _locked("accounts"):
            proc = subprocess.run(["userdel", user.pw_name], capture_output=True, text=True)
        if proc.returncode != 0 and _lookup(user.pw_name) is not None:
            raise MachineError(
                f"userdel {user.pw_name} failed (exit {proc.returncode}: "
                f"{proc.stderr.strip()}); remove it by hand"
            )
        # The JVM keeps its perf counters in /tmp whatever TMPDIR says.
        shutil.rmtree(f"/tmp/hsperfdata_{user.pw_name}", ignore_errors=True)
        say(f"removed user {user.pw_name}")
    unpacked: list[Path] = []
    for product in ("elasticsearch", "opensearch"):
        folder = cache_root() / product
        unpacked += [*sorted(folder.glob(f"{product}-*")), *sorted(folder.glob(".tmp-*"))]
    for d in [*unpacked, bench_cache()]:
        if d.is_dir() and not d.is_symlink():
            shutil.rmtree(d)
            say(f"removed {d}")
    for d in stale_scratch_dirs(Path(tempfile.gettempdir())):
        shutil.rmtree(d, ignore_errors=True)
        say(f"removed {d}")


def main(argv: list[str]) -> int:
    """``ensure`` or ``clean``; one line on stderr and exit 2 when refused."""
    if argv not in (["ensure"], ["clean"]):
        print("usage: python3 tests/infra/machine.py ensure|clean", file=sys.stderr)
        return 2
    try:
        if argv == ["clean"]:
            clean()
        else:
            user = ensure_es_user()
            print(f"{user.pw_name} {user.pw_uid}" if user else "not root: no account needed")
    except (MachineError, OSError) as e:
        print(f"machine.py {argv[0]}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
