"""Virtual environments: the project's .venv, VIRTUAL_ENV, a venv made for
another Python, and --loop uvloop with and without uvloop installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hostrun import DEADLINE, assert_usage_error, host_env

USES_VPKG = ("import sys\nimport vpkg\n"
             "print(vpkg.WHERE, sys.prefix)\n")


def make_venv(root: Path) -> Path:
    """Creates a virtual environment at root (no pip, it is not needed) and
    returns its site-packages folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", root],
                   check=True, timeout=DEADLINE, capture_output=True)
    version = _cfg_version(root / "pyvenv.cfg")
    site = root / "lib" / f"python{version}" / "site-packages"
    assert site.is_dir(), site
    return site


def _cfg_version(cfg: Path) -> str:
    """major.minor from pyvenv.cfg's 'version = 3.11.7' line."""
    for line in cfg.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return ".".join(value.strip().split(".")[:2])
    raise AssertionError(f"{cfg} names no version")


def add_vpkg(site: Path) -> None:
    """Installs the package vpkg, which only this venv has."""
    (site / "vpkg").mkdir()
    (site / "vpkg" / "__init__.py").write_text(
        f"WHERE = {str(site)!r}\n")


def test_project_venv_is_used(outrun, tmp_path):
    venv = tmp_path / ".venv"
    site = make_venv(venv)
    add_vpkg(site)
    (tmp_path / "main.py").write_text(USES_VPKG)

    proc = outrun("run", tmp_path / "main.py")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{site} {venv}\n"


def test_virtual_env_variable_names_a_venv_elsewhere(outrun, tmp_path):
    venv = tmp_path / "elsewhere" / "env"
    site = make_venv(venv)
    add_vpkg(site)
    app = tmp_path / "app"
    app.mkdir()
    (app / "main.py").write_text(USES_VPKG)

    proc = outrun("run", app / "main.py",
                  env=host_env(VIRTUAL_ENV=str(venv)))

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{site} {venv}\n"


def test_venv_for_another_python_is_a_usage_error(outrun, tmp_path,
                                                  embedded_python):
    venv = tmp_path / ".venv"
    make_venv(venv)
    cfg = venv / "pyvenv.cfg"
    cfg.write_text("".join(
        "version = 3.99.0\n" if line.startswith("version") else line
        for line in cfg.read_text().splitlines(keepends=True)))
    (tmp_path / "main.py").write_text("print('must not run')\n")

    proc = outrun("run", tmp_path / "main.py")

    first = assert_usage_error(proc)
    assert proc.stderr.strip() == first
    assert "3.99" in first
    assert f"Python {embedded_python}" in first
    assert proc.stdout == ""


def test_loop_uvloop_runs_the_program_on_uvloop(outrun, program):
    pytest.importorskip("uvloop")

    proc = outrun("run", "--loop", "uvloop", program("hello.py"))

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["loop"].startswith("uvloop.")


def test_loop_uvloop_without_uvloop_says_how_to_install_it(outrun,
                                                           tmp_path):
    # A project venv without uvloop, and no PYTHONPATH that could lend it
    # one: the situation of a user who has not installed it.
    make_venv(tmp_path / ".venv")
    (tmp_path / "main.py").write_text("print('must not run')\n")

    proc = outrun("run", "--loop=uvloop", tmp_path / "main.py",
                  env=host_env(PYTHONPATH=None))

    first = assert_usage_error(proc)
    assert "uvloop" in first
    assert "pip install uvloop" in first
    assert proc.stdout == ""


# outrun run and the engine's commands pick the same environment ------------

SAYS_WHERE_VPKG_IS = ("import sys\nimport vpkg\n"
                      "print('vpkg from', vpkg.WHERE, file=sys.stderr)\n")


@pytest.mark.parametrize("command", ["preview", "up"])
def test_engine_commands_use_the_venv_folder_as_run_does(outrun, tmp_path,
                                                         command):
    # Only venv/ (no .venv/): layout.c's discovery takes it for
    # `outrun run`; the engine's commands once looked for .venv/ alone
    # and the program's import failed.
    project = tmp_path / "proj"
    project.mkdir()
    site = make_venv(project / "venv")
    add_vpkg(site)
    (project / "__main__.py").write_text(SAYS_WHERE_VPKG_IS)

    run = outrun("run", project)
    engine = outrun(command, "-C", project)

    assert run.returncode == 0, run.stderr
    assert engine.returncode == 0, engine.stderr
    assert f"vpkg from {site}\n" in run.stderr
    assert f"vpkg from {site}\n" in engine.stderr


@pytest.mark.parametrize("folder", [".venv", "venv"])
@pytest.mark.parametrize("command", ["preview", "up", "destroy"])
def test_a_venv_for_another_python_stops_engine_commands_as_run(
        outrun, tmp_path, embedded_python, folder, command):
    project = tmp_path / "proj"
    project.mkdir()
    venv = project / folder
    make_venv(venv)
    cfg = venv / "pyvenv.cfg"
    cfg.write_text("".join(
        "version = 3.99.0\n" if line.startswith("version") else line
        for line in cfg.read_text().splitlines(keepends=True)))
    (project / "__main__.py").write_text("print('must not run')\n")

    run = outrun("run", project)
    engine = outrun(command, "-C", project, "--yes"
                    if command == "destroy" else "--json")

    first = assert_usage_error(run)
    assert "3.99" in first and f"Python {embedded_python}" in first
    assert assert_usage_error(engine) == first
    assert engine.stdout == ""
    assert not (project / ".outrun").exists()
