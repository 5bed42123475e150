"""Command lines for the JVMs the sandbox starts (broker, storage tool, later MirrorMaker 2)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sandbox.jars import LOG4J2_CONFIG

# Tuned for start-up on a small machine (2 cores), not for throughput. The serial collector
# spares the GC threads; C1-only JIT (TieredStopAtLevel=1) roughly halves the time two brokers
# need to become ready side by side (measured ~6.3 s -> ~3.5 s, format included). Benchmarks
# should pass their own options.
SANDBOX_JVM_OPTIONS: tuple[str, ...] = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)


def classpath(entries: Sequence[Path | str]) -> str:
    """Join classpath entries; a directory of jars is given as ``<dir>/*``."""
    return os.pathsep.join(str(e) for e in entries)


def java_command(
    java: str,
    main_class: str,
    args: Sequence[str],
    *,
    classpath_entries: Sequence[Path | str],
    heap: str,
    log_file: Path,
    console_level: str = "WARN",
    jvm_options: Sequence[str] = SANDBOX_JVM_OPTIONS,
) -> list[str]:
    """``java`` with Ferry's log4j2 config: full log to ``log_file``, ``console_level`` to stdout."""
    return [
        java,
        f"-Xmx{heap}",
        *jvm_options,
        f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
        f"-Dferry.log.file={log_file}",
        f"-Dferry.log.console.level={console_level}",
        "-cp",
        classpath(classpath_entries),
        main_class,
        *args,
    ]
