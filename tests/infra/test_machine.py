"""What the real servers need on the machine, made in one place (tests/infra/machine.py), and a
run that leaves nothing behind and passes in any order (tests/infra/run_guard.py).

The account tests create throw-away accounts (``pmrecon-t<random>``) and delete them: the
``pmrecon-es`` account of the other runs on this machine is never touched.
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra import es, machine

ROOT = Path(__file__).resolve().parents[2]

as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="accounts are only created when running as root"
)


# -- the run guard: --reverse, and nothing left in the temporary directory --------------------


def run_pytest(tmp_path: Path, source: str, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    """A separate pytest run of ``source`` with the run guard, its TMPDIR inside ``tmp_path``."""
    (tmp_path / "test_inner.py").write_text(source, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["TMPDIR"] = str(tmp)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.infra.run_guard", "-p", "no:cacheprovider"]
        + ["-q", "-c", str(tmp_path / "pytest.ini"), str(tmp_path / "test_inner.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    return proc, tmp


ORDER = """
import os
from pathlib import Path

def record(name):
    with open(Path(os.environ["ORDER_FILE"]), "a") as f:
        f.write(name + "\\n")

def test_first():
    record("first")

def test_second():
    record("second")

def test_third():
    record("third")
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [((), ["first", "second", "third"]), (("--reverse",), ["third", "second", "first"])],
)
def test_reverse_runs_the_tests_backwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], expected: list[str]
) -> None:
    order = tmp_path / "order.txt"
    monkeypatch.setenv("ORDER_FILE", str(order))
    proc, _ = run_pytest(tmp_path, ORDER, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert order.read_text().split() == expected


def test_a_run_that_leaves_a_folder_fails_and_names_it(tmp_path: Path) -> None:
    leak = "import tempfile\n\ndef test_leak():\n    tempfile.mkdtemp(prefix='pmrecon-leak-')\n"
    proc, tmp = run_pytest(tmp_path, leak)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    assert "left 1 temporary folder(s) behind" in proc.stdout
    assert "pmrecon-leak-" in proc.stdout
    assert list(tmp.iterdir()) == [], "the run's temporary directory must be removed anyway"


def test_a_clean_run_passes_and_leaves_nothing(tmp_path: Path) -> None:
    tidy = (
        "import os, shutil, tempfile\n\n"
        "def test_tidy():\n"
        "    d = tempfile.mkdtemp(prefix='pmrecon-tidy-')\n"
        "    assert os.path.basename(os.path.dirname(d)).startswith('pmrecon-run-')\n"
        "    assert os.environ['TMPDIR'] == os.path.dirname(d)\n"
        "    shutil.rmtree(d)\n"
    )
    proc, tmp = run_pytest(tmp_path, tidy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "temporary folder" not in proc.stdout
    assert list(tmp.iterdir()) == []


def test_a_run_without_a_session_leaves_nothing(tmp_path: Path) -> None:
    proc, tmp = run_pytest(tmp_path, "def test_nothing():\n    pass\n", "--help")
    assert proc.returncode == 0 and "--reverse" in proc.stdout, proc.stderr
    assert list(tmp.iterdir()) == []


# -- folders of a node that could not start ----------------------------------------------------


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def refuse(path: Path) -> None:
    raise OSError(f"chown {path}: refused")


def test_a_node_that_fails_before_starting_leaves_no_folder(
    tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "elasticsearch-9.9.9"
    (dist / "config").mkdir(parents=True)
    monkeypatch.setattr(es, "ensure_distribution", lambda version: dist)
    monkeypatch.setattr(es, "find_java_home", lambda major: "/nonexistent-jdk")
    monkeypatch.setattr(machine, "hand_to_es_user", refuse)
    node = es.ElasticsearchNode("9.9.9")
    with pytest.raises(OSError, match="refused"):
        node.start()
    assert list(private_tmp.iterdir()) == []
    assert not node.running


def test_a_benchmark_data_dir_that_fails_leaves_no_folder(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import servers

    monkeypatch.setattr(machine, "hand_to_es_user", refuse)
    with pytest.raises(OSError, match="refused"):
        servers._es_data_dir(None)
    assert list(private_tmp.iterdir()) == []


# -- the Elasticsearch account -----------------------------------------------------------------


def _delete_account(name: str) -> None:
    subprocess.run(["userdel", name], capture_output=True)
    subprocess.run(["groupdel", name], capture_output=True)


@pytest.fixture
def new_es_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A PMRECON_ES_USER that does not exist yet (deleted again afterwards), a private cache."""
    name = f"pmrecon-t{secrets.token_hex(4)}"
    monkeypatch.setenv("PMRECON_ES_USER", name)
    monkeypatch.setenv("PMRECON_CACHE", str(tmp_path / "cache"))
    try:
        yield name
    finally:
        _delete_account(name)


def test_the_user_name_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PMRECON_ES_USER", raising=False)
    assert machine.es_user() == "pmrecon-es"
    monkeypatch.setenv("PMRECON_ES_USER", "pmrecon-es-ci")
    assert machine.es_user() == "pmrecon-es-ci"
    monkeypatch.setenv("PMRECON_ES_USER", "Bad Name;rm")
    with pytest.raises(machine.MachineError, match="PMRECON_ES_USER='Bad Name;rm' is not a valid"):
        machine.es_user()


@as_root
def test_the_benchmark_creates_the_missing_user(new_es_user: str, private_tmp: Path) -> None:
    # The bug of issue 12: the benchmark handed its folder to an account nobody had created yet.
    from bench import servers

    data = servers._es_data_dir(None)
    try:
        user = pwd.getpwnam(new_es_user)
        assert data.parent.parent == private_tmp
        assert data.parent.stat().st_uid == user.pw_uid and data.stat().st_uid == user.pw_uid
        assert user.pw_gecos == machine.ACCOUNT_COMMENT and user.pw_dir == "/nonexistent"
    finally:
        import shutil

        shutil.rmtree(data.parent)


@as_root
def test_two_processes_racing_both_get_the_user(new_es_user: str) -> None:
    argv = [sys.executable, str(ROOT / "tests" / "infra" / "machine.py"), "ensure"]
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    uid = pwd.getpwnam(new_es_user).pw_uid
    assert {out for out, _ in outs} == {f"{new_es_user} {uid}\n"}
    # idempotent: a second call finds it
    assert machine.ensure_es_user().pw_uid == uid  # type: ignore[union-attr]


# -- clean: what `scripts/test --fresh` removes -----------------------------------------------


def _fake_cache(cache: Path) -> dict[str, Path]:
    paths = {
        "unpacked": cache / "elasticsearch" / "elasticsearch-9.9.9" / "bin" / "elasticsearch",
        "partial": cache / "elasticsearch" / ".tmp-9.9.9.abc" / "x",
        "zip": cache / "elasticsearch" / "downloads" / "elasticsearch-9.9.9.zip",
        "maven": cache / "elasticsearch" / "m2" / "org" / "plugin.jar",
        "bench": cache / "bench" / "elasticsearch-abc" / "data" / "x",
        "os_unpacked": cache / "opensearch" / "opensearch-2.9.9" / "bin" / "opensearch",
        "os_zip": cache / "opensearch" / "downloads" / "opensearch-2.9.9.zip",
    }
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    return paths


def test_clean_removes_what_runs_left_and_keeps_downloads(
    tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PMRECON_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PMRECON_ES_USER", f"pmrecon-t{secrets.token_hex(4)}")  # absent
    paths = _fake_cache(tmp_path / "cache")
    old = time.time() - 2 * machine.STALE_AFTER_S
    dirs = {n: private_tmp / n for n in ("pmrecon-es9-old", "pmrecon-new", "pmrecon-busy", "other")}
    for d in dirs.values():
        (d / "logs").mkdir(parents=True)
        if d.name != "pmrecon-new":
            os.utime(d, (old, old))
    busy = subprocess.Popen(["sleep", "60"], cwd=dirs["pmrecon-busy"] / "logs")
    said: list[str] = []
    try:
        machine.clean(said.append)
    finally:
        busy.kill()
        busy.wait()
    assert not paths["unpacked"].exists() and not paths["partial"].parent.exists()
    assert not (tmp_path / "cache" / "bench").exists()
    assert paths["zip"].exists() and paths["maven"].exists()
    assert not paths["os_unpacked"].parent.parent.exists() and paths["os_zip"].exists()
    assert not dirs["pmrecon-es9-old"].exists()
    assert dirs["pmrecon-new"].exists(), "too young: a run may be setting it up"
    assert dirs["pmrecon-busy"].exists(), "a process works in it"
    assert dirs["other"].exists(), "not ours"
    assert f"removed {dirs['pmrecon-es9-old']}" in said


@as_root
def test_clean_removes_the_user_once_no_process_runs_as_it(new_es_user: str) -> None:
    machine.ensure_es_user()
    sleeper = subprocess.Popen(["sleep", "60"], user=new_es_user)
    try:
        with pytest.raises(machine.MachineError, match=r"still runs 1 process\(es\) \(pid \d+\)"):
            machine.clean(lambda line: None)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert pwd.getpwnam(new_es_user)
    said: list[str] = []
    machine.clean(said.append)
    with pytest.raises(KeyError):
        pwd.getpwnam(new_es_user)
    assert said[0] == f"removed user {new_es_user}"


@as_root
def test_clean_refuses_an_account_pmrecon_did_not_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"other-{secrets.token_hex(4)}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--comment", "someone else's", name],
        check=True,
    )
    try:
        monkeypatch.setenv("PMRECON_ES_USER", name)
        monkeypatch.setenv("PMRECON_CACHE", str(tmp_path / "cache"))
        paths = _fake_cache(tmp_path / "cache")
        proc = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "infra" / "machine.py"), "clean"],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2
        assert proc.stderr.startswith(f"machine.py clean: user {name!r} was not created by pmrecon")
        assert proc.stderr.count("\n") == 1
        assert pwd.getpwnam(name)
        assert paths["unpacked"].exists(), "refused before removing anything"
    finally:
        _delete_account(name)
