"""Credentials by shape: find them in any text, and mask them wherever text is shown.

The shapes are detect-secrets' detector plugins (AWS keys, GitHub/GitLab/Slack/Stripe/…
tokens, JWTs, PEM private keys, `scheme://user:password@host`, …), so new shapes arrive
with the library. Three small detectors of our own fill gaps the library leaves for what a
Kafka spec holds: user-info without a scheme (`user:password@host:9092` in a bootstrap
list), the opaque token after `Bearer`, and a password assignment (`password="…"`, as in a
JAAS login string); plus GitHub's fine-grained `github_pat_` tokens, which detect-secrets
1.5 does not know yet. Left out on purpose (`_LEFT_OUT`): the public-IP, Artifactory and
vendor keyword detectors; and the entropy and keyword detectors, which are not regex plugins
(topic names and hashes are not credentials; keys are judged by `passes/secrets.py`).

Cost: a text that holds no credential costs one search per pattern (~40; joined into one
alternation they are slower in Python's engine), most of them a substring search for a
literal every match contains (`_needle`); only a hit runs the plugin's own logic (which
names the secret and applies its checks, such as a JWT's decodable header).

`redact` is the one place diagnostics pass through (`Diagnostic.__post_init__`): a message
that quotes a value can never carry the credential into a CI log, whatever pass wrote it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
import types
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

MASK = "****"

# What documentation writes where a password goes (`user:password@host`, `password="<secret>"`,
# a value masked by us): not a credential, so prose that explains the rule passes.
_PLACEHOLDER = re.compile(r"(\*+|x+|password|passwd|pass|pwd|secret|<[^>]*>|\$\{[^}]*\}|\{\{.*\}\})", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    kind: str  # what it is, in words: `GitHub Token`, `JSON Web Token`, …
    secret: str  # the credential itself (the part that is masked)
    start: int  # index of `secret` in the text searched


def _own_detectors() -> list[Any]:
    from detect_secrets.plugins.base import RegexBasedDetector

    class UserInfoDetector(RegexBasedDetector):
        """`user:password@host` without a scheme (the library needs `://`), as in a
        bootstrap entry or a comma-separated host list."""

        secret_type = "user:password in a host address"
        # Each pattern here starts with a literal and checks what comes before it by a
        # lookbehind: Python's engine then jumps between occurrences of the literal instead of
        # trying the pattern at every character (40x faster on a spec's text).
        denylist = (re.compile(r":(?<=[^\s:/@,;\[\](){}'\"=]:)(?<!mailto:)([^\s/@,;'\"]+)@(?=[\w\[])"),)

        def analyze_string(self, string: str) -> Generator[str, None, None]:
            yield from (s for s in super().analyze_string(string) if not _PLACEHOLDER.fullmatch(s))

    class BearerDetector(RegexBasedDetector):
        """An opaque bearer token (a JWT is the library's JwtTokenDetector); a token has a digit,
        so `Bearer authentication` in prose is not one."""

        secret_type = "Bearer token"
        denylist = (
            re.compile(r"earer(?<=[Bb]earer)\s+(?=[A-Za-z0-9._~+/=-]*[0-9])([A-Za-z0-9._~+/=-]{8,})"),
            re.compile(r"EARER(?<=BEARER)\s+(?=[A-Za-z0-9._~+/=-]*[0-9])([A-Za-z0-9._~+/=-]{8,})"),
        )

    class PasswordAssignmentDetector(RegexBasedDetector):
        """`password="…"` / `password=…`, as in a Kafka JAAS login string."""

        secret_type = "password assignment"
        denylist = (
            re.compile(r"""ass(?<=[Pp]ass)(?:word|wd)?\s*=\s*(?:"([^"\s]+)"|([^"\s;,]+))"""),
            re.compile(r"""ASS(?<=PASS)(?:WORD|WD)?\s*=\s*(?:"([^"\s]+)"|([^"\s;,]+))"""),
        )

        def analyze_string(self, string: str) -> Generator[str, None, None]:
            yield from (s for s in super().analyze_string(string) if not _PLACEHOLDER.fullmatch(s))

    class GitHubFineGrainedDetector(RegexBasedDetector):
        """GitHub fine-grained personal access tokens (`github_pat_…`)."""

        secret_type = "GitHub Token"
        denylist = (re.compile(r"github_pat_[A-Za-z0-9_]{22,}"),)

    return [UserInfoDetector(), BearerDetector(), PasswordAssignmentDetector(), GitHubFineGrainedDetector()]


# detect-secrets plugins that do not find credentials in a spec: bootstrap addresses are public
# IPs; Artifactory's `AP[0-9A-F]` + 8 letters is any capitalised word (`APACsettlements`); and
# the vendor keyword detectors (Cloudant, IBM, SoftLayer) look for `<vendor>_key = …` in code,
# which in a spec is a key `passes/secrets.py` judges, at ~60% of the whole scan's time.
# Module of detect-secrets' `plugins` package -> the detector class it defines; those modules
# are not imported at all.
_LEFT_OUT = {
    "ip_public": "IPPublicDetector", "artifactory": "ArtifactoryDetector",
    "cloudant": "CloudantDetector", "ibm_cos_hmac": "IbmCosHmacDetector",
    "ibm_cloud_iam": "IbmCloudIamDetector", "softlayer": "SoftlayerDetector",
}


class _RequestsOnFirstUse(types.ModuleType):
    """Stands in for `requests` while detect-secrets is imported. Every plugin module of
    detect-secrets imports `requests`, only to verify a found secret online, which Ferry never
    does; importing it is ~0.12 s, a fifth of compiling the seed org. The plugins keep this
    module as their `requests`; the first attribute they read imports the real one and is
    served from it, so nothing behaves differently. (The standard library's `LazyLoader` does
    not help here: on Python 3.11 `import requests` reads `__spec__` and that loads it.)"""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get("requests") is self:  # pragma: no cover - removed once the plugins are in
            del sys.modules["requests"]
        return getattr(importlib.import_module("requests"), name)


@contextmanager
def _requests_on_first_use() -> Iterator[None]:
    if "requests" in sys.modules:
        yield
        return
    stand_in = _RequestsOnFirstUse("requests")
    sys.modules["requests"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("requests") is stand_in:
            del sys.modules["requests"]


@cache
def _detectors() -> list[Any]:
    """One instance of every plugin we use, imported on first use: every regex detector module
    of detect-secrets' `plugins` package but the left-out ones (what the library's own
    `get_mapping_from_secret_type_to_class` lists, without importing the modules we leave out)."""
    with _requests_on_first_use():
        from detect_secrets import plugins as package
        from detect_secrets.core.plugins.util import get_plugins_from_module
        from detect_secrets.plugins.base import RegexBasedDetector

        by_kind: dict[str, type[Any]] = {}
        for info in pkgutil.iter_modules(package.__path__):
            if info.name not in _LEFT_OUT:
                module = importlib.import_module(f"{package.__name__}.{info.name}")
                found: list[type[Any]] = list(get_plugins_from_module(module))
                by_kind.update((cls.secret_type, cls) for cls in found)
    plugins = [
        cls()
        for _, cls in sorted(by_kind.items())
        if issubclass(cls, RegexBasedDetector) and cls.__name__ not in _LEFT_OUT.values()
    ]
    return plugins + _own_detectors()


_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_+/=.-]*")
_PEM_END = re.compile(r"-----END[A-Z0-9 ]*-----|END[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-*")


@cache
def _needle(pattern: re.Pattern[str]) -> tuple[str, bool]:
    """The longest run of literal characters every match of `pattern` contains (`-us` in
    Mailchimp's `[0-9a-z]{32}-us[0-9]{1,2}`), and whether the pattern ignores case (the run
    is then lowercase); `("", …)` when there is none. Read from the pattern's top-level
    sequence, where every item is part of every match; anything else (a group, a class, a
    repeat, an assertion) only ends a run. A text without the needle cannot match: one C
    substring search instead of a regex search that tries the pattern at every character
    (patterns that start with a class, or ignore case, get no fast literal scan from Python's
    engine: at 10x the seed org they were 80% of the scan)."""
    try:
        parsed = re._parser.parse(pattern.pattern, pattern.flags)  # type: ignore[attr-defined]
        literal = re._parser.LITERAL  # type: ignore[attr-defined]
        items = list(parsed)
        folded = bool(parsed.state.flags & re.IGNORECASE)
    except (AttributeError, TypeError, ValueError, re.error):  # pragma: no cover - other internals: no needle
        return "", False
    best, run = "", ""
    for op, arg in [*items, (None, None)]:
        if op is literal:
            run += chr(arg)
            continue
        best, run = max(best, run, key=len), ""
    return (best.lower() if folded else best), folded


def _could_match(pattern: re.Pattern[str], text: str, lowered: str | None) -> bool:
    """False only when `pattern` cannot match `text` (its needle is absent). `lowered` is the
    text in lowercase when the text is ASCII, else None: for ASCII text, ignoring case is
    ASCII case (the non-ASCII letters `re` equates with `k`, `s` or `i` cannot occur)."""
    needle, folded = _needle(pattern)
    if not needle:
        return True
    if folded:
        return lowered is None or needle in lowered
    return needle in text


def _spans(plugin: Any, text: str, lowered: str | None) -> Iterator[tuple[int, int]]:
    """Where `plugin` finds a credential in `text`: the plugin names the secrets (and applies
    its own checks); its patterns give their places."""
    if not any(_could_match(p, text, lowered) and p.search(text) for p in plugin.denylist):
        return  # the common case: a substring search or a regex search per pattern, no plugin logic
    secrets = set(plugin.analyze_string(text))
    if not secrets:
        return
    for pattern in plugin.denylist:
        for m in pattern.finditer(text):
            # A captured secret inside the match (`://user:(password)@`) is the secret; a group at
            # the match's start is a prefix alternation (`(ghp|gho)_…`): the match is the secret.
            inner = [i for i in range(1, pattern.groups + 1) if m.group(i) in secrets and m.start(i) > m.start()]
            if inner:
                yield m.span(inner[0])
            elif m.group(0) in secrets or m.group(1 if pattern.groups else 0) in secrets:
                yield m.span()


def find(text: str) -> list[Found]:
    """Every credential in `text`, leftmost (then longest) first. Findings may overlap: a JWT
    after `Bearer` is both a JSON Web Token and a Bearer token."""
    found: list[Found] = []
    lowered = text.lower() if text.isascii() else None
    for plugin in _detectors():
        for start, match_end in _spans(plugin, text, lowered):
            end = match_end
            if plugin.secret_type == "Private Key":  # the marker line is the match; hide the key too
                tail = _PEM_END.search(text, match_end)
                end = tail.end() if tail else len(text)
            # A token goes on as far as its characters do (the JWT pattern stops lazily
            # before the signature; a fixed-length pattern may stop inside a longer token).
            end = _TOKEN_TAIL.match(text, end).end()  # type: ignore[union-attr]  # matches empty
            found.append(Found(plugin.secret_type, text[start:end], start))
    found.sort(key=lambda f: (f.start, -len(f.secret)))
    return found


def kinds(found: Iterable[Found]) -> str:
    """`GitHub Token` or `GitHub Token and JSON Web Token`."""
    names = list(dict.fromkeys(f.kind for f in found))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _masked(text: str, found: list[Found]) -> Iterator[str]:
    at = 0
    for f in found:  # sorted by start; an overlap extends the masked stretch
        if f.start >= at:
            yield text[at:f.start]
            yield MASK
        at = max(at, f.start + len(f.secret))
    yield text[at:]


def redact(text: str) -> str:
    """`text` with every credential replaced by `****` (`user:****@host`, `Bearer ****`)."""
    found = find(text)
    return "".join(_masked(text, found)) if found else text
