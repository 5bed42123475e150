"""The Java clients (kafka-clients 4.3.1) for the client matrix: ``java/MatrixDriver.java``,
compiled once per change against the sandbox's cached Kafka jars, in two variants.

The source launcher (``java File.java``) would compile the driver on every run, about 2.5 s of a
2-core machine's time each; so ``javac`` runs once into ``<cache>/clients/java-<digest>/``
(``sandbox.jars.cache_root()``), the digest covering the source and the jars' folder listing.
The classes are compiled beside their final place and renamed in, so an interrupted build is
never taken for a complete one; two pytest workers serialise on a lock file.

Both variants run the same program; they differ in ``metadata.recovery.strategy``, which decides
what a client does when every broker it knows is unreachable: go back to ``bootstrap.servers``
(``rebootstrap``, the default since Kafka 4.0) or keep trying the brokers it knew (``none``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from buildcache import build_once, run_step
from driver import Driver

from sandbox.jars import ToolMissing, cache_root, ensure_kafka_lib, require_tool

SOURCE = Path(__file__).resolve().parent / "java" / "MatrixDriver.java"
MAIN_CLASS = "MatrixDriver"
#: As the other Java tests run the clients: a short-lived JVM wants a fast start, not peak speed.
JVM_FLAGS = ("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
JAVAC_TIMEOUT_S = 300
STRATEGIES = ("rebootstrap", "none")


def inputs_digest(lib: Path, source: Path = SOURCE) -> str:
    h = hashlib.sha256(source.read_bytes())
    for jar in sorted(p.name for p in lib.glob("*.jar")):
        h.update(b"\0" + jar.encode())
    return h.hexdigest()[:16]


def require_javac() -> str:
    java = Path(require_tool("java")).resolve()
    beside = java.parent / "javac"
    found = str(beside) if os.access(beside, os.X_OK) else shutil.which("javac")
    if found is None:
        raise ToolMissing("'javac' was not found beside java or on PATH; the Java driver of the client matrix "
                          "compiles with it. Install a Java 17+ JDK, not only a JRE "
                          "(Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME.")
    return found


def ensure_compiled(lib: Path) -> Path:
    """The folder holding ``MatrixDriver.class``, compiling it on first use."""
    final = cache_root() / "clients" / f"java-{inputs_digest(lib)}"
    if final.is_dir():
        return final
    javac = require_javac()

    def build(staging: Path) -> None:
        run_step([javac, "-d", str(staging), "-cp", f"{lib}/*", str(SOURCE)], timeout=JAVAC_TIMEOUT_S)

    return build_once(final, ".java.lock", build)


def drivers() -> list[Driver]:
    java = require_tool("java")  # Java 17 is part of the setup: missing it fails, it never skips
    lib = ensure_kafka_lib()
    classes = ensure_compiled(lib)
    argv = [java, *JVM_FLAGS, "-cp", f"{classes}{os.pathsep}{lib}/*", MAIN_CLASS]
    return [Driver(library=f"java ({strategy})", argv=argv, options={"metadata.recovery.strategy": strategy})
            for strategy in STRATEGIES]
