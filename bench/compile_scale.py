"""Time validate+render on a synthetic org at the seed's scale and at 10x, and validate on two
adversarial orgs.

Seed scale (the talk): 13 clusters, ~1,100 topics, ~2,000 consumer groups with client-id
patterns. The baseline measured in the same run is the seed-scale time, so the output also
gives the growth ratio (10x data / seed time; ~10 means linear).

Adversarial profiles, each the seed's clusters and policy with one hostile shape and nothing
else (so the figure is the shape's own cost, not the seed's again):

* shared_prefix: one team adds 2,500 consumer groups whose 5,000 client-id patterns all
  start with one long literal prefix (`ads.realtime-bidding-auction-worker.`) and differ
  only after the first wildcard, so bucketing by literal prefix alone puts them in one
  bucket (validate + render; the org is valid).
* misspelt: 2,000 topics moved from one legacy cluster and 2,000 consumer groups each
  reading a misspelt one of them, so every one gets a "did you mean" (validate only: the
  org is invalid by design; all 2,000 unknown-topic errors must be reported).

    python bench/compile_scale.py            # prints per-stage timings and, last:
    compile_scale seed_s=<float> x10_s=<float> shared_prefix_s=<float> misspelt_s=<float>
    python bench/compile_scale.py --stages   # first, where the 10x run's time goes (one more run)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compiler.render import render_specs
from compiler.validate import validate_specs

LEGACY_CLUSTERS = 12
TEAMS_PER_X = 110
TOPICS_PER_TEAM = 10
GROUPS_PER_TEAM = 18  # 110 * 18 = 1,980 groups at seed scale
PRODUCERS_PER_TEAM = 2


def write_org(root: Path, scale: int) -> dict[str, int]:
    (root / "migrations").mkdir(parents=True)
    lines = ["clusters:"]
    for c in range(LEGACY_CLUSTERS):
        lines += [f"  legacy-{c}:", "    role: legacy", "    region: r1", f"    bootstrap: [l{c}-1:9092, l{c}-2:9092]"]
    lines += ["  governed:", "    role: target", "    region: r1", "    bootstrap: [g-1:9094, g-2:9094]",
              "    security: {protocol: SASL_SSL, sasl_mechanism: SCRAM-SHA-512, secret: kafka-governed-mm2}",
              "gateways:"]
    for c in range(LEGACY_CLUSTERS):
        lines += [f"  gw-{c}:", f"    listen: 0.0.0.0:{9200 + c}", f"    default_cluster: legacy-{c}"]
    (root / "clusters.yaml").write_text("\n".join(lines) + "\n")
    (root / "policy.yaml").write_text(
        "topic_names: {pattern: '^[a-z][a-z0-9]*\\.[a-z][a-z0-9-]*\\.[a-z]+\\.v[0-9]+$'}\n"
        "client_ids: {pattern: '^(?P<team>[a-z][a-z0-9]*)\\.(?P<service>[a-z][a-z0-9-]*)"
        "\\.(?P<instance>[a-z0-9-]+)$'}\n"
    )
    teams = TEAMS_PER_X * scale
    counts = {"topics": 0, "groups": 0, "patterns": 0}
    att = "      attestations: {idempotent: {by: a@x, ref: T-1}, unordered_ok: {by: a@x, ref: T-1}}"
    for t in range(teams):
        team = f"team{t}"
        c = t % LEGACY_CLUSTERS
        out = [f"team: {team}", "owners: [owner@example.com]", f"source: legacy-{c}", "target: governed",
               f"gateway: gw-{c}", "status: active", "topics:"]
        topics = [f"t{t}-events-{i}" for i in range(TOPICS_PER_TEAM)]
        for i, legacy in enumerate(topics):
            out.append(f"  {legacy}: {team}.entity{i}.created.v1")
        counts["topics"] += len(topics)
        out.append("consumer_groups:")
        for g in range(GROUPS_PER_TEAM):
            cut = g % 2 == 0
            out += [f"  {team}-group-{g}:", f"    topics: [{topics[g % TOPICS_PER_TEAM]}]",
                    f"    client_ids: ['{team}.consumer{g}.*', '{team}.consumer{g}-canary.?']"]
            if cut:
                out += ["    cutover: true", att.replace("      ", "    ", 1)]
            counts["groups"] += 1
            counts["patterns"] += 2
        out.append("producers:")
        for p in range(PRODUCERS_PER_TEAM):
            out += [f"  producer-{p}:", f"    topics: [{topics[p]}]", f"    client_ids: ['{team}.producer{p}.*']"]
            counts["patterns"] += 1
        d = root / "migrations" / team
        d.mkdir()
        (d / "events.yaml").write_text("\n".join(out) + "\n")
    return counts


SHARED_PREFIX = "ads.realtime-bidding-auction-worker."
SHARED_PREFIX_GROUPS = 2_500  # two patterns each: 5,000 patterns with one literal prefix
MISSPELT_TEAMS = 200  # x 10 topics = 2,000 known topics on one source, x 10 misspelt reads


def write_shared_prefix(root: Path) -> dict[str, int]:
    counts = write_org(root, 0)
    topics = [f"ads-bids-{i}" for i in range(TOPICS_PER_TEAM)]
    out = ["team: ads", "owners: [owner@example.com]", "source: legacy-0", "target: governed",
           "gateway: gw-0", "status: active", "topics:"]
    out += [f"  {legacy}: ads.bids{i}.placed.v1" for i, legacy in enumerate(topics)]
    out.append("consumer_groups:")
    for g in range(SHARED_PREFIX_GROUPS):
        # `*` then a distinct literal tail, and `?` then a distinct literal tail: the literal
        # prefixes are all equal, the tails tell them apart.
        out += [f"  ads-bidder-{g}:", f"    topics: [{topics[g % TOPICS_PER_TEAM]}]",
                f"    client_ids: ['{SHARED_PREFIX}*-shard{g:04d}', '{SHARED_PREFIX}?-replica{g:04d}']"]
    (root / "migrations" / "ads").mkdir()
    (root / "migrations" / "ads" / "bidding.yaml").write_text("\n".join(out) + "\n")
    counts["topics"] += len(topics)
    counts["groups"] += SHARED_PREFIX_GROUPS
    counts["patterns"] += 2 * SHARED_PREFIX_GROUPS
    return counts


def misspell(word: str, k: int) -> str:
    """A typical typo of `word`: a dropped, doubled or swapped letter (varies with k)."""
    i = k % (len(word) - 1)
    match k % 3:
        case 0:
            return word[:i] + word[i + 1 :]
        case 1:
            return word[:i] + word[i] + word[i:]
        case _:
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def write_misspelt(root: Path) -> dict[str, int]:
    counts = write_org(root, 0)
    for t in range(MISSPELT_TEAMS):
        team = f"typo{t}"
        topics = [f"typo{t}-clicks-{i}" for i in range(TOPICS_PER_TEAM)]
        out = [f"team: {team}", "owners: [owner@example.com]", "source: legacy-0", "target: governed",
               "gateway: gw-0", "status: active", "topics:"]
        out += [f"  {legacy}: {team}.click{i}.seen.v1" for i, legacy in enumerate(topics)]
        out.append("consumer_groups:")
        for g in range(len(topics)):
            wrong = f"typo{t}-{misspell('clicks', t * TOPICS_PER_TEAM + g)}-{g}"
            out += [f"  {team}-group-{g}:", f"    topics: [{wrong}]", f"    client_ids: ['{team}.reader{g}.*']"]
        (root / "migrations" / team).mkdir()
        (root / "migrations" / team / "clicks.yaml").write_text("\n".join(out) + "\n")
        counts["topics"] += len(topics)
        counts["groups"] += len(topics)
        counts["patterns"] += len(topics)
        counts["misspelt"] = counts.get("misspelt", 0) + len(topics)
    return counts


def timed(root: Path) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    result = validate_specs(root)
    t1 = time.perf_counter()
    assert result.ok and result.specs is not None, [str(d) for d in result.diagnostics[:5]]
    files = render_specs(result.specs)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(files)


def cpu_note(started: float) -> str:
    """This process's CPU time since `started`: on a shared machine the wall-clock figures
    include waiting for a core, this does not (compare the two to see how loaded it was)."""
    return f"[cpu {time.process_time() - started:.2f}s]"


def timed_invalid(root: Path, expected: int) -> float:
    t0 = time.perf_counter()
    result = validate_specs(root)
    elapsed = time.perf_counter() - t0
    unknown = [d for d in result.diagnostics if d.code == "unknown-topic"]
    others = [str(d) for d in result.diagnostics if d.code != "unknown-topic" and d.is_error]
    assert len(unknown) == expected and not others, others[:5]
    unhelped = [str(d) for d in unknown if "did you mean" not in d.message]
    assert not unhelped, unhelped[:3]
    return elapsed


def stages(root: Path) -> str:
    """One validate + render split by stage (what validate_specs and render_specs do, step by step)."""
    from compiler.cycles import no_cycle_collection
    from compiler.loader import load_specs
    from compiler.passes import semantic_passes
    from compiler.schema import build_specs

    times: dict[str, float] = {}
    with no_cycle_collection():
        t = time.perf_counter()
        tree = load_specs(root)
        times["load"] = time.perf_counter() - t
        t = time.perf_counter()
        specs, _ = build_specs(tree)
        times["schema+secrets"] = time.perf_counter() - t
        assert specs is not None
        for p in semantic_passes():
            t = time.perf_counter()
            list(p.run(specs))
            times[p.id] = time.perf_counter() - t
    t = time.perf_counter()
    render_specs(specs)
    times["render"] = time.perf_counter() - t
    return ", ".join(f"{k} {v:.2f}s" for k, v in times.items())


def main() -> None:
    if "--stages" in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "specs"
            write_org(root, 10)
            validate_specs(root)  # imports and caches warm, as in the x10 figure below
            print(f"x10 stages: {stages(root)}")
    figures = {}
    for label, scale in (("seed", 1), ("x10", 10)):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "specs"
            counts = write_org(root, scale)
            cpu = time.process_time()
            v, r, n = timed(root)
            figures[label] = v + r
            print(
                f"{label:>4}: {counts['topics']} topics, {counts['groups']} groups, {counts['patterns']} patterns, "
                f"13 clusters -> validate {v:.2f}s + render {r:.2f}s = {v + r:.2f}s ({n} files) {cpu_note(cpu)}"
            )
    print(f"growth x10/seed = {figures['x10'] / figures['seed']:.1f} (10.0 = linear)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "specs"
        counts = write_shared_prefix(root)
        cpu = time.process_time()
        v, r, n = timed(root)
        figures["shared_prefix"] = v + r
        print(
            f"shared_prefix: {counts['patterns']} patterns starting {SHARED_PREFIX!r} in one spec "
            f"({counts['groups']} groups) -> validate {v:.2f}s + render {r:.2f}s = {v + r:.2f}s ({n} files) "
            f"{cpu_note(cpu)}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "specs"
        counts = write_misspelt(root)
        cpu = time.process_time()
        v = timed_invalid(root, counts["misspelt"])
        figures["misspelt"] = v
        print(
            f"misspelt: {counts['misspelt']} misspelt topic reads against "
            f"{MISSPELT_TEAMS * TOPICS_PER_TEAM} topics moved from legacy-0 -> validate {v:.2f}s "
            f"({counts['misspelt']} unknown-topic errors, each with a suggestion) {cpu_note(cpu)}"
        )
    print(
        f"compile_scale seed_s={figures['seed']:.3f} x10_s={figures['x10']:.3f} "
        f"shared_prefix_s={figures['shared_prefix']:.3f} misspelt_s={figures['misspelt']:.3f}"
    )


if __name__ == "__main__":
    main()
