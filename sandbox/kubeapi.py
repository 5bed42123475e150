"""A real Kubernetes API server on loopback, for tests that check what Ferry renders for Kubernetes.

``KubeApiServer`` starts ``etcd`` and ``kube-apiserver`` (both built from their Go modules by
``sandbox.gotools``) and nothing else: no controller-manager, no scheduler, no kubelet. That is
all it takes to validate objects the way a cluster does at admission: built-in kinds against
their Go types, custom resources against their CRD's ``openAPIV3Schema``, server-side apply's
field ownership, ``dryRun=All`` so nothing is stored::

    with KubeApiServer(tmp_dir) as server:
        client = server.client()
        client.install_crds(shared_crd_files())
        client.apply(deployment, dry_run=True)   # KubeApiRejected carries the server's message

Everything lives in the caller's ``work_dir``: etcd's data, a throwaway CA with the serving
certificate signed by it (127.0.0.1 and localhost), the service-account signing key, a static
bearer token with ``system:masters`` (authorization is ``AlwaysAllow`` anyway), the logs, and a
``kubeconfig`` that helm or kubectl can use. Ports are free loopback ports chosen at start.
Both processes are sandbox children (``sandbox.processes``): they die with the Python process
that started them, and ``stop()`` ends the API server before its etcd.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import secrets
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ruamel.yaml import YAML

from sandbox import gotools, processes
from sandbox.cluster import allocate_ports
from sandbox.errors import SandboxError, SandboxTimeout, ServiceError
from sandbox.jars import REPO_ROOT
from sandbox.service import tail

#: A cold start takes ~10 s on a quiet 2-core machine (etcd <1 s, the API server's post-start
#: hooks the rest); the bound leaves room for a machine busy with other builds and brokers.
READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 20.0
CRD_ESTABLISHED_TIMEOUT_SECONDS = 60.0
#: Any range works: no Service gets a real address without a kube-proxy. The flag is required.
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/24"
FIELD_MANAGER = "ferry"
#: Upstream Argo CD and Strimzi CRDs, kept beside the checkout (its README.md says which versions).
#: Upstream Argo CD and Strimzi CRDs, unmodified, kept in the repository (kube/crds/README.md):
#: a clean clone anywhere has them.
SHARED_CRD_DIR = REPO_ROOT / "kube" / "crds"

JsonObject = dict[str, Any]


class KubeApiError(SandboxError):
    """A request to the API server failed for a reason other than the object being invalid."""


class KubeApiRejected(KubeApiError):
    """The API server refused an object; ``message`` is the server's own (a ``Status.message``)."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"HTTP {code}{' ' + reason if reason else ''}: {message}")
        self.code = code
        self.reason = reason
        self.message = message


# ---- pure helpers


def api_base_path(api_version: str) -> str:
    """``v1`` -> ``/api/v1``; ``apps/v1`` -> ``/apis/apps/v1``."""
    return f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"


def kubeconfig_text(server: str, ca_file: Path, token_file: Path, name: str = "ferry-test") -> str:
    """A kubeconfig for one cluster and one bearer-token user. JSON strings are YAML scalars."""
    q = json.dumps
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        f"clusters:\n- name: {name}\n  cluster:\n    server: {q(server)}\n"
        f"    certificate-authority: {q(str(ca_file))}\n"
        f"users:\n- name: {name}\n  user:\n    tokenFile: {q(str(token_file))}\n"
        f"contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n"
        f"current-context: {name}\n"
    )


def etcd_command(binary: Path, data_dir: Path, client_port: int, peer_port: int) -> list[str]:
    client = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        str(binary),
        "--name=ferry-test",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=ferry-test={peer}",
        # Test data is thrown away: no fsync saves seconds per start on a shared disk.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def apiserver_command(binary: Path, work_dir: Path, etcd_port: int, secure_port: int) -> list[str]:
    return [
        str(binary),
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        "--bind-address=127.0.0.1",
        # Without it the server would advertise the host's first interface address. A loopback
        # address cannot be published as the `kubernetes` Service's endpoint (the default lease
        # reconciler refuses it at start), and nothing here reaches the server through that
        # Service, so the endpoint reconciler is off.
        "--advertise-address=127.0.0.1",
        "--endpoint-reconciler-type=none",
        f"--secure-port={secure_port}",
        f"--cert-dir={work_dir / 'certs'}",
        f"--tls-cert-file={work_dir / 'serving.crt'}",
        f"--tls-private-key-file={work_dir / 'serving.key'}",
        f"--token-auth-file={work_dir / 'tokens.csv'}",
        "--authorization-mode=AlwaysAllow",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={work_dir / 'service-account.pub'}",
        f"--service-account-signing-key-file={work_dir / 'service-account.key'}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--profiling=false",
    ]


def yaml_documents(path: Path) -> list[JsonObject]:
    """Every non-empty document of a YAML file, as plain dicts and lists."""
    yaml = YAML(typ="safe")  # the C parser when ruamel.yaml.clib is there: 7x faster on the big CRDs
    return [doc for doc in yaml.load_all(path.read_text()) if doc]


#: Server-side apply answers HTTP 500 when the patch does not fit the kind's schema (a wrong type,
#: an undeclared field): the refusal is the client's fault all the same (upstream
#: kubernetes/kubernetes#122480 and #139253, open in v1.37). The message names the field.
TYPED_PATCH_FAILURE = "failed to create typed patch object"


def is_rejection(status: int, message: str) -> bool:
    """Whether an error answer refuses the object itself (as opposed to the server failing)."""
    if 400 <= status < 500:
        return status not in (401, 404, 405, 406, 415)
    return status == 500 and message.startswith(TYPED_PATCH_FAILURE)


def condition_status(obj: Mapping[str, Any], kind: str) -> str | None:
    for condition in obj.get("status", {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def shared_crd_files(directory: Path = SHARED_CRD_DIR) -> list[Path]:
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise KubeApiError(
            f"no CRDs in {directory}: the Kubernetes tests install the upstream CRDs kept in kube/crds/ "
            "(see its README.md); restore them from git"
        )
    return files


# ---- credentials (written once per server, in its work dir)


def write_credentials(work_dir: Path) -> str:
    """A CA, a serving certificate it signs, a service-account key pair and a token file.

    Returns the bearer token. EC P-256 keys: generated in milliseconds, accepted everywhere.
    """
    def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def write(name: str, data: bytes) -> None:
        path = work_dir / name
        path.write_bytes(data)
        path.chmod(0o600)

    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ferry test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    write("ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM))
    write("serving.crt", cert.public_bytes(serialization.Encoding.PEM))
    write("serving.key", pem_key(key))

    sa_key = ec.generate_private_key(ec.SECP256R1())
    write("service-account.key", pem_key(sa_key))
    write(
        "service-account.pub",
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )

    token = secrets.token_hex(24)
    # token,user,uid,"group1,group2"
    write("tokens.csv", f'{token},ferry-test,ferry-test,"system:masters"\n'.encode())
    write("token", token.encode())
    return token


# ---- the client


class KubeClient:
    """Plain HTTPS to one API server: discovery, server-side apply, get. Nothing cached but discovery."""

    def __init__(self, base_url: str, ca_file: Path, token: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._ssl = ssl.create_default_context(cafile=str(ca_file))
        # apiVersion -> kind -> (plural, namespaced)
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        query: Mapping[str, str] | None = None,
    ) -> tuple[int, JsonObject]:
        """(HTTP status, decoded JSON body). Never raises for an HTTP error status; KubeApiError when unreachable."""
        url = self.base_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout, context=self._ssl) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except (urllib.error.URLError, OSError) as error:
            raise KubeApiError(f"{method} {self.base_url}{path}: the API server did not answer ({error})") from None
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {"message": raw.decode(errors="replace")}
        return status, decoded if isinstance(decoded, dict) else {"items": decoded}

    # -- discovery

    def _discover(self, api_version: str) -> dict[str, tuple[str, bool]]:
        status, body = self.request("GET", api_base_path(api_version))
        if status == 404:
            return {}
        if status != 200:
            raise KubeApiError(f"discovery of {api_version} failed: HTTP {status} {body.get('message', '')}")
        kinds = {}
        for resource in body.get("resources", []):
            if "/" not in resource["name"]:  # subresources (status, scale) share their parent's kind
                kinds[resource["kind"]] = (resource["name"], bool(resource["namespaced"]))
        return kinds

    def resource_of(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) of a kind; asks the server again once if it did not know it."""
        known = self._resources.get(api_version, {})
        if kind not in known:
            known = self._resources[api_version] = self._discover(api_version)
        if kind not in known:
            raise KubeApiError(
                f"the API server serves no kind {kind} in {api_version}: is its CRD installed and Established?"
            )
        return known[kind]

    def object_path(self, obj: Mapping[str, Any]) -> str:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        name = (obj.get("metadata") or {}).get("name")
        if not (isinstance(api_version, str) and isinstance(kind, str) and isinstance(name, str) and name):
            raise KubeApiError("an object needs apiVersion, kind and metadata.name to be applied")
        plural, namespaced = self.resource_of(api_version, kind)
        base = api_base_path(api_version)
        if namespaced:
            namespace = obj["metadata"].get("namespace") or "default"
            base += f"/namespaces/{urllib.parse.quote(namespace)}"
        return f"{base}/{plural}/{urllib.parse.quote(name)}"

    # -- objects

    def apply(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str = FIELD_MANAGER
    ) -> JsonObject:
        """Server-side apply ``obj`` (strict field validation). Returns the object as the server has it.

        ``dry_run=True`` runs every admission and validation step and stores nothing.
        KubeApiRejected when the server refuses the object, with its message.
        """
        query = {"fieldManager": field_manager, "force": "true", "fieldValidation": "Strict"}
        if dry_run:
            query["dryRun"] = "All"
        path = self.object_path(obj)
        # JSON is YAML: the apply content type takes either.
        body = json.dumps(obj).encode()
        status, answer = self.request(
            "PATCH", path, body=body, content_type="application/apply-patch+yaml", query=query
        )
        if status in (200, 201):
            return answer
        if answer.get("kind") == "Status" and is_rejection(status, str(answer.get("message", ""))):
            raise KubeApiRejected(status, str(answer.get("reason", "")), str(answer.get("message", "")))
        raise KubeApiError(f"PATCH {path}: HTTP {status} {answer.get('message', answer)}")

    def get(self, obj: Mapping[str, Any]) -> JsonObject | None:
        status, answer = self.request("GET", self.object_path(obj))
        if status == 404:
            return None
        if status != 200:
            raise KubeApiError(f"GET {self.object_path(obj)}: HTTP {status} {answer.get('message', '')}")
        return answer

    def install_crds(self, files: Iterable[Path], timeout: float = CRD_ESTABLISHED_TIMEOUT_SECONDS) -> list[str]:
        """Apply every CRD in ``files`` for real and wait until each is Established. Returns their names."""
        crds = [doc for path in files for doc in yaml_documents(path)]
        for crd in crds:
            if crd.get("kind") != "CustomResourceDefinition":
                raise KubeApiError(f"install_crds was given a {crd.get('kind')}, not a CustomResourceDefinition")
        # An unchanged CRD comes back Established from the apply itself: no need to ask again.
        waiting = [crd for crd in crds if condition_status(self.apply(crd), "Established") != "True"]
        names = [crd["metadata"]["name"] for crd in crds]
        deadline = time.monotonic() + timeout
        while waiting:
            waiting = [crd for crd in waiting if condition_status(self.get(crd) or {}, "Established") != "True"]
            if not waiting:
                break
            if time.monotonic() > deadline:
                pending = ", ".join(crd["metadata"]["name"] for crd in waiting)
                raise SandboxTimeout(f"CRDs not Established after {timeout:.0f} s: {pending}")
            time.sleep(0.2)
        # Discovery learnt about them now; forget what was asked before.
        self._resources.clear()
        return names


# ---- the server


class KubeApiServer:
    """etcd and kube-apiserver on loopback, with everything they need in ``work_dir``."""

    def __init__(self, work_dir: Path, *, etcd: Path | None = None, apiserver: Path | None = None) -> None:
        self.work_dir = Path(work_dir).absolute()
        self._etcd_binary = etcd
        self._apiserver_binary = apiserver
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None
        self._token: str | None = None
        self.secure_port = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.secure_port}"

    @property
    def ca_file(self) -> Path:
        return self.work_dir / "ca.crt"

    @property
    def kubeconfig(self) -> Path:
        return self.work_dir / "kubeconfig"

    @property
    def etcd_log(self) -> Path:
        return self.work_dir / "etcd.log"

    @property
    def apiserver_log(self) -> Path:
        return self.work_dir / "kube-apiserver.log"

    @property
    def pids(self) -> list[int]:
        """etcd's and the API server's process ids, of those started."""
        return [p.pid for p in (self._etcd, self._apiserver) if p is not None]

    @property
    def is_running(self) -> bool:
        return all(p is not None and p.poll() is None for p in (self._etcd, self._apiserver))

    def client(self, timeout: float = 30.0) -> KubeClient:
        if self._token is None:
            raise KubeApiError("the API server is not started: call start() first")
        return KubeClient(self.url, self.ca_file, self._token, timeout)

    def start(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Start etcd, then the API server; return once ``/readyz`` says ok. ServiceError if either fails."""
        etcd_binary = self._etcd_binary or gotools.ensure_tool("etcd")
        apiserver_binary = self._apiserver_binary or gotools.ensure_tool("kube-apiserver")
        # The time to start counts from here: on a fresh machine building the two binaries takes
        # minutes (once; cached after), which is not the servers being slow to start.
        deadline = time.monotonic() + timeout
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._token = write_credentials(self.work_dir)
        ports = allocate_ports(["etcd-client", "etcd-peer", "apiserver"])
        self.secure_port = ports["apiserver"]
        try:
            self._etcd = processes.spawn(
                etcd_command(etcd_binary, self.work_dir / "etcd", ports["etcd-client"], ports["etcd-peer"]),
                output=self.etcd_log,
                cwd=self.work_dir,
            )
            self._wait_for_etcd(ports["etcd-client"], deadline)
            self._apiserver = processes.spawn(
                apiserver_command(apiserver_binary, self.work_dir, ports["etcd-client"], self.secure_port),
                output=self.apiserver_log,
                cwd=self.work_dir,
            )
            self._wait_for_readyz(deadline)
        except BaseException:
            self.stop()
            raise
        self.kubeconfig.write_text(kubeconfig_text(self.url, self.ca_file, self.work_dir / "token"))
        self.kubeconfig.chmod(0o600)

    def _wait_for_etcd(self, port: int, deadline: float) -> None:
        url = f"http://127.0.0.1:{port}/health"
        while True:
            self._check_alive(self._etcd, "etcd", self.etcd_log)
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if json.loads(response.read()).get("health") == "true":
                        return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise SandboxTimeout(f"etcd did not report healthy at {url} in time.\n{tail(self.etcd_log)}")
            time.sleep(0.1)

    def _wait_for_readyz(self, deadline: float) -> None:
        client = self.client(timeout=5.0)
        last = ""
        while True:
            self._check_alive(self._apiserver, "kube-apiserver", self.apiserver_log)
            try:
                status, body = client.request("GET", "/readyz")
                if status == 200:
                    return
                last = f"HTTP {status} {body.get('message', '')}".strip()
            except KubeApiError as error:
                last = str(error)
            if time.monotonic() > deadline:
                raise SandboxTimeout(
                    f"kube-apiserver was not ready at {self.url}/readyz in time (last answer: {last}).\n"
                    f"{tail(self.apiserver_log)}"
                )
            time.sleep(0.25)

    @staticmethod
    def _check_alive(proc: subprocess.Popen[bytes] | None, name: str, log: Path) -> None:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"{name} exited with code {proc.returncode} while starting.\n--- {log}\n{tail(log)}")

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """The API server first (it writes to etcd until it goes), then etcd. Safe to call twice."""
        if self._apiserver is not None:
            processes.terminate(self._apiserver, timeout)
            self._apiserver = None
        if self._etcd is not None:
            processes.terminate(self._etcd, timeout)
            self._etcd = None

    def __enter__(self) -> KubeApiServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def apply_all(client: KubeClient, objects: Sequence[Mapping[str, Any]], *, dry_run: bool = True) -> list[str]:
    """Apply each object; returns one line per rejection (``Kind/name: message``), empty when all passed."""
    rejected = []
    for obj in objects:
        try:
            client.apply(obj, dry_run=dry_run)
        except KubeApiRejected as error:
            name = (obj.get("metadata") or {}).get("name")
            rejected.append(f"{obj.get('kind')}/{name}: {error.message}")
    return rejected
