"""Read a Dockerfile, and do what a build of it would do, on this machine, without a container
engine: the tests' stand-in for ``docker build`` + ``docker run``.

``parse`` gives the instructions (continuation lines joined, comments dropped, ``--flags``
split off). ``FakeRoot.build`` runs every stage into one folder standing for the image's
root filesystem: ``WORKDIR``/``ENV`` as written, ``COPY`` from the repository into the folder,
``RUN`` lines through ``sh -c`` exactly as written, with every ``ENV`` value that is an absolute
path moved under the folder. So a RUN line must name container paths only through ``ENV``
variables or relative to ``WORKDIR`` (``build`` refuses a literal absolute path), and
``COPY --from`` must copy a path to itself (every stage shares the one folder).
``FakeRoot.command`` is the ENTRYPOINT (exec form) with its container paths moved the same way.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: What the images' .dockerignore files keep out of the build context, mirrored for COPY.
IGNORED = shutil.ignore_patterns("build", "target", "*.egg-info", "__pycache__", "*.pyc")


@dataclass(frozen=True)
class Instruction:
    keyword: str          # upper case: FROM, RUN, COPY, ...
    args: str             # the rest, flags removed
    flags: tuple[str, ...]
    stage: int            # 0 for the first FROM's stage


def parse(text: str) -> list[Instruction]:
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue  # a comment, also inside a continued instruction
        if not line and not pending:
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending.strip():
        logical.append(pending)
    out: list[Instruction] = []
    stage = -1
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: list[str] = []
        rest = rest.strip()
        while keyword in ("RUN", "COPY", "ADD", "FROM") and rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(keyword, rest, tuple(flags), stage))
    return out


def env_pairs(args: str) -> dict[str, str]:
    """``ENV K=V K2="V 2"`` (the key=value form only)."""
    pairs = {}
    for word in shlex.split(args):
        key, sep, value = word.partition("=")
        assert sep, f"ENV {args!r}: write ENV KEY=VALUE"
        pairs[key] = value
    return pairs


def exec_form(instructions: Sequence[Instruction], keyword: str) -> list[str]:
    """The last ENTRYPOINT or CMD; it must be the exec (JSON) form."""
    found = [i for i in reversed(instructions) if i.keyword == keyword]
    assert found, f"no {keyword}"
    last = found[0]
    value = json.loads(last.args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"{keyword} is not exec form"
    return value


def final_stage(instructions: Sequence[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


_ABSOLUTE = re.compile(r"(?:^|[\s=\"'])/(?!dev/null)")


class FakeRoot:
    """A folder standing for an image's root filesystem."""

    def __init__(self, root: Path, context: Path) -> None:
        self.root = root.resolve()
        self.context = context.resolve()

    def path(self, container_path: str) -> Path:
        assert container_path.startswith("/"), container_path
        return self.root / container_path.lstrip("/")

    def move(self, value: str) -> str:
        """A container path (or a ':' list of them, or KEY=path) as a path under the root."""
        if value.startswith("/"):
            return ":".join(str(self.path(part)) if part.startswith("/") else part for part in value.split(":"))
        key, sep, rest = value.partition("=")
        if sep and rest.startswith("/"):
            return f"{key}={self.move(rest)}"
        return value

    def stage_env(self, instructions: Sequence[Instruction], stage: int) -> dict[str, str]:
        env: dict[str, str] = {}
        for ins in instructions:
            if ins.stage == stage and ins.keyword == "ENV":
                env.update({k: self.move(v) for k, v in env_pairs(ins.args).items()})
        return env

    def build(self, instructions: Sequence[Instruction], base_env: Mapping[str, str], timeout: float = 900) -> None:
        workdir = "/"
        env: dict[str, str] = {}
        for ins in instructions:
            if ins.keyword == "FROM":
                workdir, env = "/", {}
            elif ins.keyword == "WORKDIR":
                assert ins.args.startswith("/"), f"WORKDIR {ins.args}: give an absolute path"
                workdir = ins.args
                self.path(workdir).mkdir(parents=True, exist_ok=True)
            elif ins.keyword == "ENV":
                env.update({k: self.move(v) for k, v in env_pairs(ins.args).items()})
            elif ins.keyword == "ARG":  # a build argument in its stage, at its default (no --build-arg here)
                name, has_default, default = ins.args.partition("=")
                if has_default:
                    env[name] = self.move(default)
            elif ins.keyword == "COPY":
                self._copy(ins, workdir)
            elif ins.keyword == "RUN":
                assert not _ABSOLUTE.search(ins.args), f"RUN {ins.args!r}: name container paths through ENV"
                done = subprocess.run(["sh", "-c", ins.args], cwd=self.path(workdir), env={**base_env, **env},
                                      capture_output=True, text=True, timeout=timeout)
                assert done.returncode == 0, f"RUN {ins.args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            elif ins.keyword in ("ADD", "SHELL", "ONBUILD"):
                raise AssertionError(f"{ins.keyword} is not emulated: use COPY / exec form")

    def _copy(self, ins: Instruction, workdir: str) -> None:
        *sources, dest = shlex.split(ins.args)
        if any(f.startswith("--from=") for f in ins.flags):
            assert sources == [dest], f"COPY {ins.flags} {ins.args}: copy a path to itself across stages"
            assert self.path(dest).exists(), f"COPY --from: {dest} was not built"
            return
        (source,) = sources
        target = self.path(dest if dest.startswith("/") else f"{workdir.rstrip('/')}/{dest}")
        origin = self.context / source
        assert origin.exists(), f"COPY {source}: not in the build context"
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=IGNORED, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target if not dest.endswith("/") else target / origin.name)

    def command(self, argv: Sequence[str]) -> list[str]:
        return [self.move(arg) for arg in argv]


def snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    """Every file under ``folder`` with its size and mtime: compare two to see nothing was written."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime)
            for p in sorted(folder.rglob("*"))}


def clean_env(path_first: Sequence[Path] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PATH"] = os.pathsep.join([*(str(p) for p in path_first), env.get("PATH", "")])
    return env
