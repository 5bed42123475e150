"""How to reach the clusters the specs name, with which credentials.

Order of precedence for each cluster:
1. a connections file (`--connections`, the `clusters` section of `.ferry/sandbox.json`):
   `{NAME: {bootstrap, security_protocol, sasl_mechanism, sasl_username, sasl_password}}`;
2. the spec's bootstrap list and security, with credentials from the environment
   (`FERRY_<NAME>_USERNAME` / `FERRY_<NAME>_PASSWORD`, NAME upper-cased, '-' -> '_') or from
   the files of the cluster's Secret mounted at `$FERRY_SECRETS_DIR/<secret>/{username,password}`
   (default `/etc/ferry/secrets`, where Kubernetes mounts it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..conventions import SECRETS_ROOT
from ..errors import CompilerError
from ..models import Cluster


class ClusterConnectionError(CompilerError):
    """A cluster cannot be reached as configured (named, with what to fix)."""


@dataclass(frozen=True)
class Connection:
    cluster: str
    config: dict[str, str]

    @property
    def bootstrap(self) -> str:
        return self.config["bootstrap.servers"]


def _env_key(cluster: str, what: str) -> str:
    return f"FERRY_{cluster.upper().replace('-', '_')}_{what}"


def _from_spec(name: str, cluster: Cluster, env: Mapping[str, str]) -> Connection:
    sec = cluster.security
    config = {"bootstrap.servers": ",".join(cluster.bootstrap), "security.protocol": sec.protocol.value}
    if sec.uses_sasl:
        user, password = env.get(_env_key(name, "USERNAME")), env.get(_env_key(name, "PASSWORD"))
        if user is None or password is None:
            base = Path(env.get("FERRY_SECRETS_DIR", SECRETS_ROOT)) / str(sec.secret)
            try:
                user = (base / "username").read_text().strip()
                password = (base / "password").read_text().strip()
            except OSError as exc:
                raise ClusterConnectionError(
                    f"cluster {name!r} needs SASL credentials: set {_env_key(name, 'USERNAME')} and "
                    f"{_env_key(name, 'PASSWORD')}, or mount Secret {sec.secret!r} at {base} ({exc.strerror})"
                ) from exc
        assert sec.sasl_mechanism is not None  # the spec model refuses SASL without a mechanism
        config.update(
            {"sasl.mechanism": sec.sasl_mechanism.value, "sasl.username": user, "sasl.password": password}
        )
    return Connection(name, config)


class Connections:
    """Connections by cluster name, resolved on first use (only clusters a check touches
    need credentials)."""

    def __init__(
        self, clusters: Mapping[str, Cluster], connections_file: Path | None = None,
        env: Mapping[str, str] | None = None,
    ):
        self._clusters = clusters
        self._env = os.environ if env is None else env
        self._cache: dict[str, Connection] = {}
        self._overrides: dict[str, dict[str, Any]] = {}
        self._file = connections_file
        if connections_file is not None:
            try:
                loaded: Any = json.loads(connections_file.read_text())["clusters"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ClusterConnectionError(
                    f"{connections_file}: cannot read connections ({exc}); expected JSON with a "
                    "`clusters` section like .ferry/sandbox.json"
                ) from exc
            if not isinstance(loaded, dict) or not all(isinstance(o, dict) for o in loaded.values()):
                raise ClusterConnectionError(
                    f"{connections_file}: `clusters` must map each cluster name to an object "
                    '({"bootstrap": "host:port", …}) like .ferry/sandbox.json'
                )
            self._overrides = loaded

    def get(self, name: str) -> Connection:
        if name not in self._cache:
            if name in self._overrides:
                o = self._overrides[name]
                needed = ["bootstrap", *(["sasl_username", "sasl_password"] if o.get("sasl_mechanism") else [])]
                missing = [key for key in needed if not isinstance(o.get(key), str) or not o[key]]
                if missing:  # names the keys only: never a value, which may be a password
                    raise ClusterConnectionError(
                        f"{self._file}: cluster {name!r} has no {', '.join(f'`{k}`' for k in missing)} "
                        "(a non-empty string each); add it, as in .ferry/sandbox.json"
                    )
                config = {
                    "bootstrap.servers": o["bootstrap"],
                    "security.protocol": o.get("security_protocol", "PLAINTEXT"),
                }
                if o.get("sasl_mechanism"):
                    config.update(
                        {"sasl.mechanism": o["sasl_mechanism"], "sasl.username": o["sasl_username"],
                         "sasl.password": o["sasl_password"]}
                    )
                self._cache[name] = Connection(name, config)
            else:
                self._cache[name] = _from_spec(name, self._clusters[name], self._env)
        return self._cache[name]
