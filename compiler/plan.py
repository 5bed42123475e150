"""`ferry plan`: what a change to specs/ does, compared with the committed rendered/.

Pure: two rendered trees (path -> text) in, a list of changes out, then words for a
reviewer. It reads the rendered files themselves (route files, MM2 properties), so the
plan describes exactly what Argo CD and the proxy will pick up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from proxy.routetable import RouteFileError, RouteTable, parse_route_file


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)


def _routes(files: dict[str, str]) -> dict[str, RouteTable | str]:
    out: dict[str, RouteTable | str] = {}
    for rel, text in files.items():
        m = re.fullmatch(r"proxy/(.+)\.routes\.json", rel)
        if m:
            try:
                out[m.group(1)] = parse_route_file(text, rel)
            except RouteFileError as exc:
                out[m.group(1)] = str(exc)
    return out


def _properties(text: str) -> dict[str, str]:
    props = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "!")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        props[key.strip()] = re.sub(r"\\(.)", r"\1", value.strip())
    return props


@dataclass(frozen=True)
class FlowState:
    renames: dict[str, str]
    groups: set[str]


def _flows(files: dict[str, str]) -> dict[str, FlowState]:
    out = {}
    for rel, text in files.items():
        m = re.fullmatch(r"mm2/(.+)--(.+)\.properties", rel)
        if not m:
            continue
        props = _properties(text)
        flow = f"{m.group(1)}->{m.group(2)}"
        renames = dict(
            pair.split(":", 1) for pair in props.get("replication.policy.ferry.renames", "").split(",") if pair
        )
        groups = {
            re.sub(r"\\(.)", r"\1", g.strip()) for g in props.get(f"{flow}.groups", "").split(",") if g.strip()
        }
        out[f"{m.group(1)} -> {m.group(2)}"] = FlowState(renames, groups)
    return out


def _where(table: RouteTable, cluster: str | None) -> str:
    return "refused (fence)" if cluster is None else cluster


def _rule_state(table: RouteTable) -> dict[str, tuple[str | None, str]]:
    return {r.match: (r.cluster if r.action == "route" else None, f"{r.entry}, {r.migration}") for r in table.rules}


def plan_changes(old: dict[str, str], new: dict[str, str]) -> list[Section]:
    sections: list[Section] = []
    old_routes, new_routes = _routes(old), _routes(new)
    for gw in sorted(set(old_routes) | set(new_routes)):
        a, b = old_routes.get(gw), new_routes.get(gw)
        sec = Section(f"gateway {gw}")
        if isinstance(a, str):
            sec.lines.append(f"! the committed route file is unreadable ({a}); it is replaced")
            a = None
        if a is None and isinstance(b, RouteTable):
            sec.lines.append(
                f"+ new gateway listening on {b.listen}; unmatched clients go to {b.default_cluster}; "
                f"{len(b.rules)} rule(s)"
            )
        elif b is None and isinstance(a, RouteTable):
            sec.lines.append(f"- gateway removed: clients bootstrapping through {gw} will fail to connect")
        elif isinstance(a, RouteTable) and isinstance(b, RouteTable):
            if a.default_cluster != b.default_cluster:
                sec.lines.append(f"~ unmatched clients move: {a.default_cluster} -> {b.default_cluster}")
            ra, rb = _rule_state(a), _rule_state(b)
            for match in sorted(set(ra) | set(rb)):
                if match not in ra:
                    cluster, who = rb[match]
                    sec.lines.append(f"+ client ids `{match}` ({who}) now {_where(b, cluster)}")
                elif match not in rb:
                    cluster, who = ra[match]
                    sec.lines.append(
                        f"- client ids `{match}` ({who}) no longer have a rule: they go to {b.default_cluster}"
                    )
                elif ra[match][0] != rb[match][0]:
                    verb = "fenced" if rb[match][0] is None else "flipped"
                    sec.lines.append(
                        f"~ {verb}: client ids `{match}` ({rb[match][1]}): "
                        f"{_where(a, ra[match][0])} -> {_where(b, rb[match][0])}"
                    )
            for name in sorted(set(a.clusters) | set(b.clusters)):
                if name in a.clusters and name in b.clusters and a.clusters[name] != b.clusters[name]:
                    sec.lines.append(f"~ cluster {name} endpoints change: {', '.join(b.clusters[name].bootstrap)}")
        if sec.lines:
            sections.append(sec)

    old_flows, new_flows = _flows(old), _flows(new)
    for flow in sorted(set(old_flows) | set(new_flows)):
        was, now = old_flows.get(flow), new_flows.get(flow)
        sec = Section(f"mirroring {flow}")
        if was is None and now is not None:
            sec.lines.append(f"+ new MirrorMaker 2 flow: {len(now.renames)} topic(s), {len(now.groups)} group(s)")
        if now is None and was is not None:
            sec.lines.append("- MirrorMaker 2 flow removed: mirroring and offset sync stop for all its topics")
        before = was or FlowState({}, set())
        after = now or FlowState({}, set())
        for legacy in sorted(set(before.renames) | set(after.renames)):
            if legacy not in before.renames:
                sec.lines.append(f"+ mirror topic {legacy} -> {after.renames[legacy]}")
            elif legacy not in after.renames:
                sec.lines.append(f"- stop mirroring {legacy} -> {before.renames[legacy]}")
            elif before.renames[legacy] != after.renames[legacy]:
                sec.lines.append(f"~ topic {legacy} renamed to {after.renames[legacy]} (was {before.renames[legacy]})")
        for group in sorted(after.groups - before.groups):
            sec.lines.append(f"+ sync offsets of group {group}")
        for group in sorted(before.groups - after.groups):
            sec.lines.append(f"- stop syncing offsets of group {group} (its migration completed or was removed)")
        if sec.lines:
            sections.append(sec)

    other = sorted(
        rel for rel in set(old) ^ set(new) if not rel.startswith(("proxy/", "mm2/"))
    )
    if other:
        sections.append(Section("other rendered files", [("+ " if r in new else "- ") + r for r in other]))
    return sections


def format_plan(sections: list[Section], fmt: str = "text") -> str:
    if fmt == "markdown":
        if not sections:
            return "### ferry plan\n\nNo changes: `rendered/` already matches `specs/`.\n"
        out = ["### ferry plan", ""]
        for sec in sections:
            out.append(f"#### {sec.title}")
            out.extend(f"- {line}" for line in sec.lines)
            out.append("")
        return "\n".join(out)
    if not sections:
        return "No changes: rendered/ already matches specs/.\n"
    out = []
    for sec in sections:
        out.append(f"{sec.title}:")
        out.extend(f"  {line}" for line in sec.lines)
    return "\n".join(out) + "\n"
