"""The CI examples work as copied into a fresh repository (issue 18).

The GitHub workflow passes ``actionlint`` (built by scripts/test into the pmrecon cache;
with shellcheck on PATH it also checks every ``run:`` script). The GitLab job uses only
keywords GitLab documents. Both install pmrecon from its repository at a pinned release,
cache pip, commit only the drafts, keep their artifacts small, and the GitLab push keeps
the server's port and skips the pipeline it would start.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pmrecon import __version__

ROOT = Path(__file__).resolve().parents[1]
GITHUB = ROOT / "examples" / "github-actions.yml"
GITLAB = ROOT / "examples" / "gitlab-ci.yml"

#: GitLab's CI/CD YAML syntax reference, https://docs.gitlab.com/ci/yaml/ ("Global
#: keywords", "Header keywords", "Job keywords", and the sub-keys listed under
#: `artifacts`, `cache` and `rules`), as of GitLab 18.
GITLAB_GLOBAL_KEYWORDS = {"default", "include", "stages", "variables", "workflow", "spec"}
GITLAB_JOB_KEYWORDS = {
    "after_script", "allow_failure", "artifacts", "before_script", "cache", "coverage",
    "dast_configuration", "dependencies", "environment", "extends", "hooks", "identity",
    "id_tokens", "image", "inherit", "interruptible", "manual_confirmation", "needs", "pages",
    "parallel", "release", "resource_group", "retry", "rules", "run", "script", "secrets",
    "services", "stage", "tags", "timeout", "trigger", "variables", "when",
}  # fmt: skip
GITLAB_SUBKEYS = {
    "artifacts": {
        "paths", "exclude", "expire_in", "expose_as", "name", "public", "access", "reports",
        "untracked", "when",
    },
    "cache": {"key", "paths", "untracked", "unprotect", "when", "policy", "fallback_keys"},
    "rules": {
        "if", "changes", "exists", "when", "allow_failure", "needs", "variables", "interruptible",
    },
}  # fmt: skip

#: The pinned release: a tag of this version, or a full commit SHA.
PINNED = re.compile(rf"^(v{re.escape(__version__)}|[0-9a-f]{{40}})$")
INSTALL = re.compile(r'install "pmrecon @ git\+\$\{PMRECON_REPO\}@\$\{PMRECON_REF\}"')


def actionlint() -> str | None:
    cache = Path(os.environ.get("PMRECON_CACHE") or Path.home() / ".cache" / "pmrecon")
    built = cache / "go" / "bin" / "actionlint"
    return shutil.which("actionlint") or (str(built) if built.is_file() else None)


def test_the_github_workflow_passes_actionlint() -> None:
    tool = actionlint()
    if tool is None:
        reason = "actionlint is not built: scripts/test builds it into $PMRECON_CACHE/go/bin"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)  # in CI the check must run, never be skipped
        pytest.skip(reason)
    run = subprocess.run(
        [tool, "-no-color", str(GITHUB)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_gitlab_job_uses_only_documented_keywords() -> None:
    data = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    jobs = {k: v for k, v in data.items() if k not in GITLAB_GLOBAL_KEYWORDS}
    assert jobs, "no job in the GitLab example"
    for name, job in jobs.items():
        assert not name.startswith("."), name  # a hidden job would never run
        assert isinstance(job, dict) and "script" in job, name
        unknown = set(job) - GITLAB_JOB_KEYWORDS
        assert not unknown, f"{name}: not a GitLab job keyword: {sorted(unknown)}"
        for key, allowed in GITLAB_SUBKEYS.items():
            values: Any = job.get(key)
            for entry in values if isinstance(values, list) else [values] if values else []:
                extra = set(entry) - allowed
                assert not extra, f"{name}.{key}: not a GitLab keyword: {sorted(extra)}"


def _github() -> dict[str, Any]:
    return yaml.safe_load(GITHUB.read_text(encoding="utf-8"))


def _gitlab_job() -> dict[str, Any]:
    data = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    return data["pmrecon-scan"]


def test_both_install_pmrecon_from_its_repository_at_a_pinned_release() -> None:
    github = _github()
    assert PINNED.match(github["env"]["PMRECON_REF"]), github["env"]["PMRECON_REF"]
    assert github["env"]["PMRECON_REPO"] == "${{ vars.PMRECON_REPO }}"
    gitlab = _gitlab_job()
    assert PINNED.match(gitlab["variables"]["PMRECON_REF"])
    for path in (GITHUB, GITLAB):
        text = path.read_text(encoding="utf-8")
        assert INSTALL.search(text), path.name
        # not from a package index: pmrecon is not published there
        assert not re.search(r"pip install (-\S+ )*pmrecon\b", text), path.name
        assert "CHANGE-ME" in text, "the variable to set is not marked"
    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    assert 'pipx install "git+https://' in readme and f"@v{__version__}" in readme


def test_both_cache_pip() -> None:
    setup = next(
        s for s in _github()["jobs"]["scan"]["steps"] if "setup-python" in s.get("uses", "")
    )
    assert setup["with"]["cache"] == "pip"
    # a fresh repository has no requirements file to key the cache on
    assert setup["with"]["cache-dependency-path"] == ".github/workflows/pmrecon.yml"
    gitlab = _gitlab_job()
    assert gitlab["variables"]["PIP_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/pip"
    assert gitlab["cache"]["paths"] == [".cache/pip"]


def test_artifacts_are_small_no_html_pages() -> None:
    steps = _github()["jobs"]["scan"]["steps"]
    upload = next(s for s in steps if "upload-artifact" in s.get("uses", ""))
    paths = upload["with"]["path"].split()
    gitlab_paths = _gitlab_job()["artifacts"]["paths"]
    for listed in (paths, gitlab_paths):
        assert "scan.json" in listed and "postmortems/*/postmortem.md" in listed
        assert not any(p.endswith("/") or p.endswith(".html") for p in listed), listed


def test_only_changed_drafts_are_committed_without_the_html_pages() -> None:
    for path in (GITHUB, GITLAB):
        text = path.read_text(encoding="utf-8")
        assert "git add --all postmortems" in text, path.name
        assert "':(exclude)postmortems/*/report.html'" in text, path.name
        assert "git diff --cached --quiet" in text, path.name


def test_the_docs_name_the_repository_setting_and_the_network_need() -> None:
    for text in (GITHUB.read_text(encoding="utf-8"), (ROOT / "examples/README.md").read_text()):
        assert "Allow GitHub Actions to create and approve pull requests" in text
        assert "must reach Prometheus and Elasticsearch" in text


def _push_url(repository_url: str) -> str:
    """What the GitLab job sets as the push URL, run by bash with a stand-in git."""
    line = next(c for c in _gitlab_job()["before_script"] if "set-url" in c)
    run = subprocess.run(
        ["bash", "-c", 'git() { printf "%s\\n" "$4"; }; ' + line],
        env={"PATH": os.environ["PATH"], "CI_REPOSITORY_URL": repository_url,
             "PMRECON_PUSH_TOKEN": "glpat-Tok_en-1"},
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return run.stdout.strip()


def test_gitlab_push_url_keeps_the_port_and_the_path() -> None:
    assert (
        _push_url("https://gitlab-ci-token:job-token@git.example.com:8443/root/team/pm.git")
        == "https://pmrecon:glpat-Tok_en-1@git.example.com:8443/root/team/pm.git"
    )
    assert (
        _push_url("http://gitlab-ci-token:job-token@gitlab.local/pm.git")
        == "http://pmrecon:glpat-Tok_en-1@gitlab.local/pm.git"
    )


def test_gitlab_push_skips_the_pipeline_it_would_start() -> None:
    push = next(c for c in _gitlab_job()["script"] if "git push" in c)
    assert "-o ci.skip" in push and "-o merge_request.create" in push
