"""Pass `delivery`: what the policy's `delivery` section renders can be deployed as written.

* `strimzi-needs-username`: with `delivery.mirrormaker: strimzi`, every SASL cluster a flow
  uses names its SASL user in `security.username`. Strimzi's KafkaMirrorMaker2 takes the user
  name as text and only the password from a Secret (`authentication.passwordSecret`), so the
  user name in `security.secret` cannot reach it.
* `argocd-charts-path`: `delivery.argocd.charts_path` is a folder inside the repository
  (relative, no `..`): Argo CD refuses any chart path outside the repository.

Passing::

    # policy: delivery: {mirrormaker: strimzi}
    governed: {security: {protocol: SASL_SSL, sasl_mechanism: SCRAM-SHA-512, secret: mm2, username: mm2}}

Failing::

    # policy: delivery: {mirrormaker: strimzi}
    governed: {security: {protocol: SASL_SSL, sasl_mechanism: SCRAM-SHA-512, secret: mm2}}  # strimzi-needs-username
    # policy: delivery: {argocd: {repo_url: ..., charts_path: ../charts}}                  # argocd-charts-path
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from ..diagnostics import Diagnostic
from ..models import MirrorMakerDeployment
from ..spec import Specs
from . import Pass

ID = "delivery"


def run(specs: Specs) -> Iterator[Diagnostic]:
    delivery = specs.policy.model.delivery
    clusters = specs.clusters.model.clusters
    if delivery.mirrormaker is MirrorMakerDeployment.STRIMZI:
        used = sorted({m.model.source for m in specs.migrations} | {m.model.target for m in specs.migrations})
        for name in used:
            sec = clusters[name].security
            if sec.uses_sasl and sec.username is None:
                yield Diagnostic(
                    specs.clusters.at("clusters", name, "security"),
                    "strimzi-needs-username",
                    f"cluster {name!r} uses SASL and the policy deploys MirrorMaker 2 with Strimzi, which takes "
                    f"the SASL user name as text (only the password comes from Secret {sec.secret!r}): add "
                    f"`username: <the user in {sec.secret}>` under its `security`",
                    related=((specs.policy.at("delivery", "mirrormaker"), "Strimzi chosen"),),
                )
    argo = delivery.argocd
    if argo is not None:
        path = PurePosixPath(argo.charts_path)
        if path.is_absolute() or ".." in path.parts or "\\" in argo.charts_path:
            yield Diagnostic(
                specs.policy.at("delivery", "argocd", "charts_path"),
                "argocd-charts-path",
                f"`charts_path` {argo.charts_path!r} leaves the repository, and Argo CD refuses chart paths "
                "outside it: use the folder of this repository that holds the Ferry charts, relative to its "
                "root, e.g. `charts`",
            )


PASS = Pass(ID, run, requires=("references",))
