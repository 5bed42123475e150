"""The jars the sandbox runs: Kafka 4.3.1 from Maven Central, and Ferry's rename policy.

Both come from Maven, run at most once per change:

* ``ensure_kafka_lib()`` copies every runtime jar of ``kafka/runtime/pom.xml`` into
  ``$FERRY_CACHE/kafka-4.3.1/lib`` (default cache ``~/.cache/ferry``). A marker file holding the
  pom's digest says the folder is complete; while it matches, Maven is not run at all. Maven
  tries offline first (``-o``, everything already in ``~/.m2``), then online.
* ``ensure_policy_jar()`` builds ``kafka/rename-policy/target/ferry-rename-policy.jar`` when it
  is missing or older than its pom or any source file.

Concurrent callers (pytest-xdist workers, two shells) serialise on a lock file, and the lib
folder is filled beside its final place and renamed in, so nobody sees half a folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from sandbox.errors import SandboxError

KAFKA_VERSION = "4.3.1"
REPO_ROOT = Path(__file__).resolve().parents[1]
KAFKA_DIR = REPO_ROOT / "kafka"
RUNTIME_POM = KAFKA_DIR / "runtime" / "pom.xml"
POLICY_DIR = KAFKA_DIR / "rename-policy"
POLICY_JAR = POLICY_DIR / "target" / "ferry-rename-policy.jar"
LOG4J2_CONFIG = KAFKA_DIR / "log4j2.properties"

MARKER_NAME = "lib.complete"

# A cold download of ~95 jars (54 MB) takes well under a minute; Maven stuck on a dead network
# should not hang a test session forever.
MAVEN_TIMEOUT_SECONDS = 900


class ToolMissing(SandboxError):
    """java or mvn is not installed where we can find it."""


class BuildError(SandboxError):
    """Maven ran and failed; the message carries the end of its output."""


# ---- pure helpers


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    configured = env.get("FERRY_CACHE")
    # Absolute: the jars' folder goes into child processes' classpaths, which run elsewhere.
    return (Path(configured).expanduser() if configured else Path.home() / ".cache" / "ferry").absolute()


def kafka_home(environ: Mapping[str, str] | None = None) -> Path:
    return cache_root(environ) / f"kafka-{KAFKA_VERSION}"


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def marker_text(pom_digest: str, jar_names: Iterable[str]) -> str:
    """What the marker records: the pom it was made from and the jars it found."""
    names = sorted(jar_names)
    return "\n".join([f"pom-sha256 {pom_digest}", f"jars {len(names)}", *names]) + "\n"


def lib_is_complete(lib_dir: Path, marker: Path, pom_digest: str) -> bool:
    """True when the marker matches this pom and every jar it lists is present."""
    try:
        lines = marker.read_text().splitlines()
    except OSError:
        return False
    if len(lines) < 2 or lines[0] != f"pom-sha256 {pom_digest}":
        return False
    listed = lines[2:]
    if lines[1] != f"jars {len(listed)}" or not listed:
        return False
    return all((lib_dir / name).is_file() for name in listed)


def newest_mtime(paths: Iterable[Path]) -> float:
    return max((p.stat().st_mtime for p in paths), default=0.0)


def policy_sources(policy_dir: Path = POLICY_DIR) -> list[Path]:
    """Files whose change must rebuild the policy jar: the pom and everything under src/main."""
    main = policy_dir / "src" / "main"
    return [policy_dir / "pom.xml", *sorted(p for p in main.rglob("*") if p.is_file())]


def jar_is_stale(jar: Path, sources: Iterable[Path]) -> bool:
    if not jar.is_file():
        return True
    return jar.stat().st_mtime < newest_mtime(sources)


def maven_attempts(goal_args: list[str], pom: Path) -> list[list[str]]:
    """Offline first (no network when ~/.m2 has everything), then online."""
    base = ["mvn", "-B", "-q", "-f", str(pom)]
    return [[*base, "-o", *goal_args], [*base, *goal_args]]


# ---- process IO


def require_tool(name: str) -> str:
    """The path of ``java`` (honouring JAVA_HOME) or ``mvn``; ToolMissing with a hint otherwise."""
    if name == "java" and os.environ.get("JAVA_HOME"):
        candidate = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        hint = {
            "java": "Install a Java 17+ JDK (Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME.",
            "mvn": "Install Apache Maven 3.8+ (Debian: apt-get install maven).",
        }.get(name, "")
        raise ToolMissing(f"'{name}' was not found on PATH. {hint}".strip())
    return found


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_maven(attempts: list[list[str]], what: str) -> None:
    require_tool("java")
    require_tool("mvn")
    failures = []
    for command in attempts:
        try:
            result = subprocess.run(
                command,
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=MAVEN_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            failures.append(f"$ {' '.join(command)}\n(timed out after {MAVEN_TIMEOUT_SECONDS} s)")
            continue
        if result.returncode == 0:
            return
        output = (result.stdout + result.stderr).strip().splitlines()
        failures.append(f"$ {' '.join(command)}\n" + "\n".join(output[-30:]))
    raise BuildError(f"Maven could not {what}:\n\n" + "\n\n".join(failures))


def ensure_kafka_lib() -> Path:
    """The folder of Kafka 4.3.1 runtime jars, downloading them on first use."""
    home = kafka_home()
    lib_dir = home / "lib"
    marker = home / MARKER_NAME
    digest = file_digest(RUNTIME_POM)
    if lib_is_complete(lib_dir, marker, digest):
        return lib_dir
    with _locked(home / ".lock"):
        if lib_is_complete(lib_dir, marker, digest):
            return lib_dir
        staging = home / f"lib.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        goal = [
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        try:
            _run_maven(maven_attempts(goal, RUNTIME_POM), f"fetch Kafka {KAFKA_VERSION} into {lib_dir}")
            jars = [p.name for p in staging.glob("*.jar")]
            if not jars:
                raise BuildError(f"Maven reported success but put no jars in {staging}")
            marker.unlink(missing_ok=True)
            shutil.rmtree(lib_dir, ignore_errors=True)
            staging.rename(lib_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        marker.write_text(marker_text(digest, jars))
    return lib_dir


def ensure_policy_jar() -> Path:
    """Ferry's rename-policy jar, rebuilt when missing or older than its sources."""
    if not jar_is_stale(POLICY_JAR, policy_sources()):
        return POLICY_JAR
    with _locked(POLICY_DIR / "target" / ".build.lock"):
        if jar_is_stale(POLICY_JAR, policy_sources()):
            goal = ["package", "-DskipTests"]
            _run_maven(maven_attempts(goal, POLICY_DIR / "pom.xml"), f"build {POLICY_JAR.name}")
            if not POLICY_JAR.is_file():
                raise BuildError(f"Maven reported success but {POLICY_JAR} does not exist")
            # Maven keeps an up-to-date jar's old mtime; touch it so the staleness check settles.
            POLICY_JAR.touch()
    return POLICY_JAR


if __name__ == "__main__":
    print(ensure_kafka_lib())
    print(ensure_policy_jar())
