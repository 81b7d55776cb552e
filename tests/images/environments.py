"""Each image's Python environment, built here from exactly the Dockerfile's install lines (``dockerfile``).

There is no Docker engine on these machines, so the images cannot be built; what runs in them can. For each
Dockerfile this makes a folder laid out as the image's filesystem (the repository's files at the paths the
Dockerfile copies them to), installs the Debian packages its ``apt-get`` line names, and creates a virtual
environment with its ``pip``/``uv pip`` installs, run with the same arguments in the same working directories.

Environments are cached (``OCR_IMAGE_ENV_CACHE``, default ``~/.cache/ocr-ingest/image-envs``) under a key of
the install lines, the files they read (constraints, ``pyproject.toml``) and the Python version: a cached one
only gets the project itself reinstalled (``--no-deps``), a few seconds. What cannot be installed here is
named, not hidden: an install from an index other than PyPI (PaddlePaddle's GPU build) is skipped and
reported in ``ImageEnvironment.skipped``. Differences from the image that remain: the machine's Python 3.11
and Debian 12 instead of the image's base, and pip's download cache (``--no-cache-dir`` is dropped).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.images.dockerfile import ImageRecipe, Install, read

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("OCR_IMAGE_ENV_CACHE", Path.home() / ".cache" / "ocr-ingest" / "image-envs"))
PYPI = ("https://pypi.org/simple", "https://pypi.org/simple/")
_INDEX_OPTIONS = ("--index-url", "-i", "--default-index")


@dataclass
class ImageEnvironment:
    recipe: ImageRecipe
    root: Path  # the image's filesystem, as far as the repository's files go
    venv: Path
    skipped: list[tuple[Install, str]] = field(default_factory=list)

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def path(self, image_path: str) -> Path:
        """Where a path of the image is here."""
        return self.root / image_path.lstrip("/")

    def env(self, **overrides: str) -> dict[str, str]:
        """The image's ENV (paths of the image's venv pointed here), nothing of this checkout on the path."""
        env = {
            "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.root / "home"),
            "LANG": "C.UTF-8",
            **{k: v for k, v in self.recipe.env.items() if k not in ("PATH", "VIRTUAL_ENV")},
            "VIRTUAL_ENV": str(self.venv),
            **overrides,
        }
        (self.root / "home").mkdir(exist_ok=True)
        return env

    def run(self, *command: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300):
        return subprocess.run(
            list(command), env=env or self.env(), cwd=cwd or self.root / "home", capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip


def build(dockerfile: Path, root: Path) -> ImageEnvironment:
    """The environment of the image ``dockerfile`` builds, its filesystem staged under ``root``."""
    recipe = read(dockerfile)
    _stage(recipe, root)
    _install_system_packages(recipe.system_packages)
    CACHE.mkdir(parents=True, exist_ok=True)
    image = f"{dockerfile.parent.name}-{dockerfile.name.lower()}"
    venv = CACHE / f"{image}-{_key(recipe, root)}"
    environment = ImageEnvironment(recipe, root, venv)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs never build one environment at once
        if (venv / ".complete").exists():
            for install in recipe.installs:
                _reinstall_project(install, environment)
            environment.skipped = [(i, why) for i in recipe.installs if (why := _unreachable(i))]
        else:
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            for install in recipe.installs:
                if why := _unreachable(install):
                    environment.skipped.append((install, why))
                else:
                    _check(_installer(install, environment, install.args), install)
            (venv / ".complete").write_text(str(dockerfile))
            for older in CACHE.glob(f"{image}-*"):  # what an earlier Dockerfile or constraints file made
                if older != venv and older.name.removeprefix(f"{image}-").isalnum():
                    shutil.rmtree(older, ignore_errors=True)
    return environment


def _stage(recipe: ImageRecipe, root: Path) -> None:
    for copy in recipe.copies:
        for source, target in copy.targets():
            here, there = REPO / source, root / target.lstrip("/")
            there.parent.mkdir(parents=True, exist_ok=True)
            if here.is_dir():
                shutil.copytree(here, there, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(here, there)


def _key(recipe: ImageRecipe, root: Path) -> str:
    """What decides the installed packages: the install lines, the staged files they may read other than the
    project's code (constraints, pyproject.toml), and this machine's Python."""
    digest = hashlib.sha256(f"{sys.version_info[:3]}".encode())
    for install in recipe.installs:
        digest.update(repr(install).encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".txt", ".toml")):
        if "ocr_task" not in path.parts and "dags" not in path.parts and "plugins" not in path.parts:
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _unreachable(install: Install) -> str | None:
    args = list(install.args)
    for option in _INDEX_OPTIONS:
        if option in args and args[args.index(option) + 1] not in PYPI:
            return f"from {args[args.index(option) + 1]}, an index this machine cannot reach (only PyPI)"
    return None


def _local(arg: str, install: Install, environment: ImageEnvironment) -> Path | None:
    """The staged folder an argument names (``.``, ``.[cpu]``, ``/opt/ocr-ingest``), or None for a requirement."""
    if not arg.startswith((".", "/")):
        return None
    path = Path(install.workdir, arg.split("[")[0])
    staged = environment.path(str(path))
    return staged if staged.is_dir() else None


def _installer(install: Install, environment: ImageEnvironment, args) -> subprocess.CompletedProcess:
    cwd = environment.path(install.workdir)
    cwd.mkdir(parents=True, exist_ok=True)
    # absolute paths of the image point into the staged filesystem; relative ones resolve from the workdir
    args = [str(environment.path(a)) if a.startswith("/") and environment.path(a).exists() else a for a in args]
    args = [a for a in args if a != "--no-cache-dir"]
    if install.tool == "uv":
        command = [str(Path(sys.executable).parent / "uv"), "pip", "install", "--python", str(environment.bin / "python")]
    else:
        command = [str(environment.bin / "python"), "-m", "pip", "install", "--quiet"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)


def _reinstall_project(install: Install, environment: ImageEnvironment) -> None:
    """A cached environment gets this checkout's code: the local folders of the line, without dependencies."""
    local = [a for a in install.args if _local(a, install, environment)]
    if local:
        again = ["--reinstall"] if install.tool == "uv" else ["--force-reinstall"]
        _check(_installer(install, environment, ["--no-deps", *again, *local]), install)


def _check(result: subprocess.CompletedProcess, install: Install) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{install.tool} pip install {' '.join(install.args)} failed:\n{result.stderr[-4000:]}")


def _install_system_packages(packages: list[str]) -> None:
    if packages:
        subprocess.run([str(REPO / "scripts" / "install_system_packages.sh"), *packages], check=True)
