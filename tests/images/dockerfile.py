"""What a Dockerfile installs, read from the Dockerfile itself, so that the image environments built here
(``environments``) cannot drift from the images.

``dockerfile-parse`` splits the file into instructions; this module follows ARG and ENV values through the
stages and picks out the Python installs (``pip install``, ``uv pip install``), the Debian packages
(``apt-get install``), the files copied in, and the final stage's environment and command.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

# Variables that a base image sets and the Dockerfile uses: the official Airflow image's AIRFLOW_VERSION is its tag.
BASE_IMAGE_ENV = {
    "apache/airflow": lambda tag: {"AIRFLOW_VERSION": tag.split("-")[0]},
}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Install:
    """One ``pip install`` or ``uv pip install`` as the image runs it."""

    tool: str  # "pip" or "uv"
    args: tuple[str, ...]  # everything after "install"
    workdir: str  # the image's working directory at that point


@dataclass(frozen=True)
class Copy:
    """``COPY`` from the build context (the repository), with Docker's rules: a folder's contents go to
    ``dest``; a file goes into ``dest`` when that is a folder (a trailing ``/``, or several sources)."""

    sources: tuple[str, ...]
    dest: str  # absolute path in the image
    into_folder: bool

    def targets(self) -> list[tuple[str, str]]:
        """(source in the repository, path in the image) for each source."""
        return [(s, f"{self.dest}/{Path(s).name}" if self.into_folder else self.dest) for s in self.sources]


@dataclass
class ImageRecipe:
    dockerfile: Path
    base_images: list[str] = field(default_factory=list)
    copies: list[Copy] = field(default_factory=list)
    installs: list[Install] = field(default_factory=list)
    system_packages: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # the final stage's ENV
    command: list[str] = field(default_factory=list)  # the final stage's CMD


def _expand(text: str, variables: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)


def _commands(shell: str) -> list[list[str]]:
    """A RUN line's commands: the words of each part between ``&&``, ``||`` and ``;``."""
    commands, current = [], []
    for word in shlex.split(shell, comments=False):
        if word in ("&&", "||", ";"):
            commands.append(current)
            current = []
        else:
            current.append(word)
    return [c for c in [*commands, current] if c]


def _assignments(value: str) -> dict[str, str]:
    """``ENV``/``ARG`` bodies: ``K=V K2="V 2"`` or the old ``K V`` form."""
    words = shlex.split(value)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(w.split("=", 1) if "=" in w else (w, None) for w in words)


def read(dockerfile: Path) -> ImageRecipe:
    """The recipe of an image, every stage's installs in build order (a multi-stage build's final stage copies
    the environment the earlier stages installed)."""
    recipe = ImageRecipe(dockerfile)
    global_args: dict[str, str] = {}
    variables: dict[str, str] = {}
    workdir = "/"
    in_stage = False
    with open(dockerfile, "rb") as file:
        structure = DockerfileParser(fileobj=file).structure
    for instruction in structure:
        kind, value = instruction["instruction"], instruction["value"]
        if kind == "ARG":
            for name, default in _assignments(value).items():
                known = global_args if not in_stage else variables
                if default is not None:
                    known[name] = _expand(default, {**global_args, **variables})
                elif in_stage and name in global_args:
                    variables[name] = global_args[name]
        elif kind == "FROM":
            image = _expand(value.split()[0], global_args)
            recipe.base_images.append(image)
            in_stage, workdir = True, "/"
            variables = {}
            name, _, tag = image.partition(":")
            variables.update(BASE_IMAGE_ENV.get(name, lambda _tag: {})(tag))
            recipe.env = {}
            recipe.command = []
        elif kind == "ENV":
            for name, setting in _assignments(value).items():
                variables[name] = recipe.env[name] = _expand(setting or "", variables)
        elif kind == "WORKDIR":
            workdir = str(Path(workdir, _expand(value, variables)))
        elif kind == "COPY":
            words = [w for w in shlex.split(_expand(value, variables)) if not w.startswith("--chown")]
            if any(w.startswith("--from") for w in words):
                continue  # from another stage or image: nothing of the repository
            *sources, dest = [w for w in words if not w.startswith("--")]
            into_folder = dest.endswith("/") or len(sources) > 1
            recipe.copies.append(Copy(tuple(sources), str(Path(workdir, dest)), into_folder))
        elif kind == "RUN":
            for command in _commands(_expand(value, variables)):
                _pick(command, workdir, recipe)
        elif kind == "CMD":
            recipe.command = json.loads(value) if value.startswith("[") else shlex.split(value)
    return recipe


def _pick(command: list[str], workdir: str, recipe: ImageRecipe) -> None:
    name = Path(command[0]).name
    if name in ("pip", "pip3") and command[1:2] == ["install"]:
        recipe.installs.append(Install("pip", tuple(command[2:]), workdir))
    elif name == "uv" and command[1:3] == ["pip", "install"]:
        recipe.installs.append(Install("uv", tuple(command[3:]), workdir))
    elif name.startswith("python") and command[1:4] == ["-m", "pip", "install"]:
        recipe.installs.append(Install("pip", tuple(command[4:]), workdir))
    elif name == "apt-get" and "install" in command:
        recipe.system_packages += [w for w in command[command.index("install") + 1 :] if not w.startswith("-")]
