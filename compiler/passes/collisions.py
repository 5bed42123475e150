"""Pass `collisions`: no two legacy topics of one cluster differ only by '.' versus '_'.

Kafka maps '.' to '_' in metric names, so it refuses to create a topic whose name collides
that way with an existing one (Kafka 4.3.1 `Topic.hasCollision`). Two such legacy names on one
cluster mean that one of them does not exist there: a misspelling that would mirror nothing.
(New names on a target are checked by `uniqueness`, `new-topic-collides`.)

Passing::

    topics: {ad.clicks: ads.click.recorded.v1, ad-impressions: ads.impression.served.v1}

Failing::

    topics: {ad.clicks: ads.click.recorded.v1, ad_clicks: ads.click.counted.v1}  # legacy-topic-collides
    # or ad.clicks in one spec and ad_clicks in another, both from legacy-ads
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, Position
from ..kafka_names import collision_key
from ..spec import Specs
from . import Pass

ID = "collisions"


def run(specs: Specs) -> Iterator[Diagnostic]:
    first: dict[tuple[str, str], tuple[str, Position]] = {}  # (cluster, collision key) -> name, where
    for mig in specs.migrations:
        for legacy in sorted(mig.model.topics, key=lambda t: mig.key_at("topics", t)):
            key = (mig.model.source, collision_key(legacy))
            pos = mig.key_at("topics", legacy)
            if key not in first:
                first[key] = (legacy, pos)
                continue
            other, other_pos = first[key]
            if other != legacy:
                yield Diagnostic(
                    pos,
                    "legacy-topic-collides",
                    f"legacy topics {legacy!r} and {other!r} on {mig.model.source!r} differ only by '.' versus "
                    "'_'; Kafka never lets both exist on one cluster (their metric names collide), so one "
                    "of them is misspelt: check the cluster's topic list and fix the name",
                    related=((other_pos, f"{other!r}"),),
                )


PASS = Pass(ID, run)
