"""`make test-k8s` exactly as typed in the fresh checkout: the Kubernetes tests run from a clone (CRDs
from kube/crds/, helm, etcd and kube-apiserver from ~/.cache/ferry/bin or built there), and the
target's last line is the machine-readable summary docs/deploy.md promises."""

from __future__ import annotations

import re

import pytest

from fresh_checkout import Checkout

pytestmark = pytest.mark.kafka  # the chart's proxy command runs against the sandbox's real Kafka


def test_make_test_k8s_ends_with_the_apply_summary(fresh_checkout: Checkout) -> None:
    result = fresh_checkout.run("make test-k8s", timeout=3600)
    out = result.stdout
    assert result.returncode == 0, f"make test-k8s failed:\n{out[-6000:]}\n{result.stderr[-3000:]}"
    last = out.rstrip().splitlines()[-1]
    match = re.fullmatch(r"k8s_apply objects=(\d+) rejected=0 charts=2 lint=ok", last)
    assert match, last
    assert int(match.group(1)) >= 40, last  # charts' objects, rendered/argocd/, the Strimzi option's
