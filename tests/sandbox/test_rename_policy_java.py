"""Runs the rename policy's JUnit suite (kafka/rename-policy) through Maven.

The same as: mvn -q -f kafka/rename-policy/pom.xml test
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

from sandbox import jars


def test_rename_policy_junit_suite_passes() -> None:
    jars.require_tool("java")
    jars.require_tool("mvn")
    pom = jars.POLICY_DIR / "pom.xml"
    reports = jars.POLICY_DIR / "target" / "surefire-reports"
    outputs = []
    for command in jars.maven_attempts(["test"], pom):
        result = subprocess.run(command, cwd=jars.REPO_ROOT, capture_output=True, text=True, timeout=600)
        outputs.append(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}")
        if result.returncode == 0:
            break
    else:
        raise AssertionError("JUnit suite failed:\n" + "\n\n".join(outputs)[-6000:])

    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in reports.glob("TEST-*.xml"):
        suite = ET.parse(report).getroot()
        for key in totals:
            totals[key] += int(suite.get(key, 0))
    assert totals["tests"] >= 50, totals
    assert totals["failures"] == totals["errors"] == totals["skipped"] == 0, totals
