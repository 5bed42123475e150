"""Which detect-secrets plugins the credential scan uses, and what importing them costs.

`compiler.credentials` imports detect-secrets' plugin modules itself (leaving out the modules of
the detectors it does not use) and lets `requests`, which every plugin module imports only to
verify secrets online, load on first use. Here: the detectors are exactly the library's own
list of regex detectors less the left-out ones, and a fresh process that scans a text has not
imported `requests`, while a plugin that does reach for it gets the real module.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.plugins.base import RegexBasedDetector

from compiler.credentials import _LEFT_OUT, _detectors


def test_the_detectors_are_the_librarys_regex_detectors_less_the_left_out_ones() -> None:
    mapping: dict[str, Any] = get_mapping_from_secret_type_to_class()
    library = {cls for cls in mapping.values() if issubclass(cls, RegexBasedDetector)}
    left_out = {cls for cls in library if cls.__name__ in _LEFT_OUT.values()}
    # every detector left out is still one, defined in the module named for it
    assert {cls.__module__.rsplit(".", 1)[1]: cls.__name__ for cls in left_out} == _LEFT_OUT
    ours = {type(plugin) for plugin in _detectors() if type(plugin).__module__.startswith("detect_secrets.")}
    assert ours == library - left_out


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_scanning_does_not_import_requests_until_a_plugin_uses_it() -> None:
    scan = "from compiler.credentials import find; kinds = [f.kind for f in find('token ghp_' + 'a1' * 18)]"
    assert run(f"import sys; {scan}; print(kinds, 'requests' in sys.modules, 'urllib3' in sys.modules)") == (
        "['GitHub Token'] False False"
    )
    used = "import detect_secrets.plugins.stripe as s, requests; print(s.requests.get is requests.get, type(requests))"
    assert run(f"{scan}; {used}") == "True <class 'module'>"
