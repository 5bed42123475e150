"""The spec contract as pydantic models: `extra="forbid"` (a typo is an error, not a dropped
key) and frozen (validated data is never mutated by later stages).

Field docs become the JSON Schema's descriptions (`ferry schema`), which editors show.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from .characters import TextProblem
from .hostport import check_host_port
from .kafka_names import (
    MAX_ID_LENGTH,
    MAX_TOPIC_NAME_LENGTH,
    check_client_id_pattern,
    check_group_id,
    check_topic_name,
)

# Names are checked by functions whose messages say which character is wrong and where
# (compiler/kafka_names.py); the JSON Schema keeps a pattern so editors flag them too.
TopicName = Annotated[
    str,
    AfterValidator(check_topic_name),
    Field(
        description="A Kafka topic name: letters, digits, '.', '_' and '-', at most 249 characters, not '.' or '..'.",
        json_schema_extra={"pattern": f"^[a-zA-Z0-9._-]{{1,{MAX_TOPIC_NAME_LENGTH}}}$", "not": {"enum": [".", ".."]}},
    ),
]
# Kubernetes object names (DNS-1123 subdomain), used for Secret references.
SecretName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"),
    Field(description="Name of a Kubernetes Secret (never the credential itself)."),
]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
HostPort = Annotated[
    str,
    AfterValidator(check_host_port),
    Field(
        description="host:port, port 1-65535; an IPv6 address in brackets ([::1]:9092).",
        json_schema_extra={"pattern": r"^([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$"},
    ),
]
GroupId = Annotated[
    str,
    AfterValidator(check_group_id),
    Field(
        description="A Kafka consumer group id (no commas or blanks: MM2 takes group lists comma-separated; "
        "no invisible or look-alike characters).",
        json_schema_extra={"pattern": f"^[^,\\s]{{1,{MAX_ID_LENGTH}}}$"},
    ),
]
ClientIdPattern = Annotated[
    str,
    AfterValidator(check_client_id_pattern),
    Field(
        description="A client-id glob: '*' matches any run of characters (also none), '?' "
        "exactly one; every other character matches itself. Printable ASCII, no blanks.",
        json_schema_extra={"pattern": f"^[\\x21-\\x7e]{{1,{MAX_ID_LENGTH}}}$"},
    ),
]


def _non_blank(value: str) -> str:
    if not value.strip():
        raise TextProblem("blank-text", "", f"is blank ({'empty' if not value else 'only blanks'}); "
                          "write it out: this text must say something")
    return value


NonBlank = Annotated[str, AfterValidator(_non_blank), Field(json_schema_extra={"pattern": r"\S"})]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(str, Enum):
    LEGACY = "legacy"
    TARGET = "target"


class SecurityProtocol(str, Enum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(str, Enum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class Security(Strict):
    protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: SaslMechanism | None = Field(
        None, description="Required for SASL_* protocols."
    )
    secret: SecretName | None = Field(
        None,
        description="Kubernetes Secret with keys `username` and `password` that Ferry's "
        "MirrorMaker 2 uses on this cluster. Required for SASL_* protocols.",
    )
    truststore_secret: SecretName | None = Field(
        None, description="Kubernetes Secret with key `ca.crt` (PEM) for SSL/SASL_SSL."
    )
    username: NonBlank | None = Field(
        None,
        description="The SASL user name in `secret`, written out only where a deployment cannot read it "
        "from the Secret: Strimzi's KafkaMirrorMaker2 (`authentication.username`, policy "
        "`delivery.mirrormaker: strimzi`). A user name, never a password.",
    )

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)

    @property
    def uses_tls(self) -> bool:
        return self.protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)

    @model_validator(mode="after")
    def _sasl_complete(self) -> Security:
        if self.uses_sasl and (self.sasl_mechanism is None or self.secret is None):
            missing = " and ".join(
                f"`{k}`" for k, v in (("sasl_mechanism", self.sasl_mechanism), ("secret", self.secret)) if v is None
            )
            raise ValueError(
                f"{self.protocol.value} needs {missing}: add it (`secret` names the Kubernetes Secret "
                "holding MirrorMaker 2's username and password)"
            )
        if not self.uses_sasl and self.sasl_mechanism is not None:
            raise ValueError(
                f"`sasl_mechanism` is set but protocol {self.protocol.value} does not use SASL; "
                "use SASL_PLAINTEXT or SASL_SSL, or drop `sasl_mechanism`"
            )
        return self


class Cluster(Strict):
    role: Role
    region: NonBlank
    bootstrap: list[HostPort] = Field(min_length=1, description="Bootstrap servers, in dial order.")
    security: Security = Security()
    description: str | None = None


class Gateway(Strict):
    listen: HostPort = Field(description="Address the proxy listens on, e.g. 0.0.0.0:9092.")
    default_cluster: Identifier = Field(description="Where clients no rule matches go.")
    replicas: int = Field(2, ge=1, le=100)
    admin_port: int = Field(9100, ge=1, le=65535)


class ClustersSpec(Strict):
    """specs/clusters.yaml — the cluster inventory and the proxy gateways."""

    clusters: dict[Identifier, Cluster] = Field(min_length=1)
    gateways: dict[Identifier, Gateway] = Field(default_factory=dict)


class NamingRule(Strict):
    pattern: NonBlank = Field(description="Python regular expression a name must fully match.")
    example: NonBlank | None = Field(None, description="A conforming example shown in error messages.")
    description: str | None = Field(
        None,
        description="What the pattern asks for, in words (e.g. '<team>.<service>.<instance>, lower case'); "
        "error messages show it instead of the regex.",
    )


class MirrorMakerDefaults(Strict):
    emit_checkpoints_interval_seconds: int = Field(5, ge=1)
    sync_group_offsets_interval_seconds: int = Field(5, ge=1)
    emit_heartbeats_interval_seconds: int = Field(5, ge=1)
    refresh_topics_interval_seconds: int = Field(30, ge=1)
    refresh_groups_interval_seconds: int = Field(30, ge=1)
    offset_flush_interval_seconds: int = Field(
        5, ge=1,
        description="How often MM2 flushes source offsets, and with them the last offset sync: a group "
        "that stopped at the end of a quiet topic gets its exact offset on the target only after this "
        "(Connect's default is 60 s).",
    )
    offset_lag_max: int = Field(
        100, ge=0, description="MM2 `offset.lag.max`: bounds duplicates per partition after a switch."
    )
    replication_factor: int = Field(
        -1, description="Replication factor of created target topics; -1 = the target broker's default."
    )
    tasks_max: int = Field(4, ge=1)


class Images(Strict):
    proxy: NonBlank = "ghcr.io/ferry-dev/ferry-proxy:0.1.0"
    mirrormaker: NonBlank = "ghcr.io/ferry-dev/ferry-mirrormaker2:0.1.0"
    mirrormaker_strimzi: NonBlank = Field(
        "ghcr.io/ferry-dev/ferry-mirrormaker2-strimzi:0.1.0",
        description="Strimzi's Kafka image with the rename policy added (deploy/images/ferry-mirrormaker2-strimzi); "
        "the `spec.image` of rendered KafkaMirrorMaker2 resources.",
    )


class MirrorMakerDeployment(str, Enum):
    DEDICATED = "dedicated"
    STRIMZI = "strimzi"


class ArgoCDDestination(Strict):
    server: NonBlank = Field(
        "https://kubernetes.default.svc", description="The Kubernetes API server Argo CD deploys to."
    )
    namespace: Identifier = Field("ferry", description="The namespace the proxies and MirrorMaker 2 run in.")


class ArgoCD(Strict):
    repo_url: NonBlank = Field(
        description="The Git URL Argo CD reads this repository from (no credentials: Argo CD's repository "
        "Secret holds them)."
    )
    revision: NonBlank = Field("HEAD", description="The branch, tag or commit Argo CD follows (`targetRevision`).")
    namespace: Identifier = Field("argocd", description="Argo CD's namespace, where Applications live.")
    project: Identifier = Field("ferry", description="The AppProject rendered for Ferry's Applications.")
    charts_path: NonBlank = Field(
        "charts", description="Folder of this repository holding the ferry-proxy and ferry-mirrormaker2 charts."
    )
    destination: ArgoCDDestination = ArgoCDDestination()


class Delivery(Strict):
    argocd: ArgoCD | None = Field(
        None, description="Render rendered/argocd/: an AppProject, a root Application and one Application per "
        "gateway and per MirrorMaker 2 flow."
    )
    mirrormaker: MirrorMakerDeployment = Field(
        MirrorMakerDeployment.DEDICATED,
        description="How each flow runs: `dedicated` (charts/ferry-mirrormaker2, connect-mirror-maker on the "
        "rendered properties) or `strimzi` (a rendered Strimzi KafkaMirrorMaker2 resource per flow).",
    )


class Limits(Strict):
    min_replication_factor: int = Field(1, ge=1, description="Lowest replication factor allowed on the target.")


class PolicySpec(Strict):
    """specs/policy.yaml — the governed cluster's conventions."""

    topic_names: NamingRule
    client_ids: NamingRule = Field(
        description="Client-id convention. Named group `team` (required) must equal the spec's team."
    )
    mirrormaker: MirrorMakerDefaults = MirrorMakerDefaults()
    limits: Limits = Limits()
    images: Images = Images()
    delivery: Delivery = Delivery()


class Attestation(Strict):
    by: NonBlank = Field(description="Who attests (e-mail or handle).")
    ref: NonBlank = Field(description="Ticket or document recording the review.")


class Attestations(Strict):
    idempotent: Attestation | None = Field(None, description="Consumers tolerate duplicates.")
    unordered_ok: Attestation | None = Field(
        None, description="Consumers tolerate mirrored and direct messages interleaving."
    )


class RenamedTopic(Strict):
    to: TopicName
    partitions: int | None = Field(None, ge=1, description="Partition count of the legacy topic.")
    replication_factor: int | None = Field(None, ge=1, description="Replication factor of the legacy topic.")
    target_partitions: int | None = Field(None, ge=1)
    target_replication_factor: int | None = Field(None, ge=1)


class ClientEntry(Strict):
    topics: list[TopicName] | None = Field(
        None,
        description="Legacy names of the topics this client uses (moved by this or another "
        "active migration). Default: every topic this migration moves.",
    )
    client_ids: list[ClientIdPattern] = Field(min_length=1)
    cutover: StrictBool = Field(False, description="Route these client ids to the target cluster.")
    fence: StrictBool = Field(False, description="Refuse these client ids at the proxy (a cutover window).")


class ConsumerGroup(ClientEntry):
    attestations: Attestations = Attestations()


class Producer(ClientEntry):
    pass


class Status(str, Enum):
    ACTIVE = "active"
    COMPLETE = "complete"


class MigrationSpec(Strict):
    """specs/migrations/<team>/<name>.yaml — one team's migration."""

    team: Identifier
    owners: list[NonBlank] = Field(min_length=1, description="Who to ask about this migration (e-mail or handle).")
    source: Identifier
    target: Identifier
    gateway: Identifier = Field(description="The proxy gateway these clients bootstrap through.")
    status: Status = Status.ACTIVE
    topics: dict[TopicName, TopicName | RenamedTopic] = Field(
        default_factory=dict, description="Rename map: legacy topic name -> new name."
    )
    consumer_groups: dict[GroupId, ConsumerGroup] = Field(
        default_factory=dict
    )
    producers: dict[Identifier, Producer] = Field(default_factory=dict)
    description: str | None = None

    def renamed(self, legacy: str) -> RenamedTopic:
        value = self.topics[legacy]
        return value if isinstance(value, RenamedTopic) else RenamedTopic(to=value)


SPEC_MODELS: dict[str, type[Strict]] = {
    "clusters": ClustersSpec,
    "policy": PolicySpec,
    "migration": MigrationSpec,
}
