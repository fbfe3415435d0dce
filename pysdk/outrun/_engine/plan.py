"""Deciding a resource's step from its stored state and its new inputs:
pure functions, no I/O, unit-tested on their own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from _outrun import contains_unknowns

CREATE = "create"
UPDATE = "update"
REPLACE = "replace"
SAME = "same"
DELETE = "delete"
IMPORT = "import"


class ProtectedError(Exception):
    """A step would delete or replace a protected resource."""


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The top-level keys whose values differ; a missing key and None are
    the same."""
    keys = []
    get_old = old.get
    for k, v in new.items():
        if get_old(k) != v:
            keys.append(k)
    for k, v in old.items():
        if v is not None and k not in new:
            keys.append(k)
    return keys


def apply_ignore_changes(old_inputs: Mapping[str, Any],
                         news: Mapping[str, Any],
                         ignore: Iterable[str]) -> dict[str, Any]:
    """Returns news with every ignored key set back to its old value (or
    removed, if it had none): a change there is not acted on."""
    out = dict(news)
    for k in ignore:
        if k in old_inputs:
            out[k] = old_inputs[k]
        else:
            out.pop(k, None)
    return out


def decide(old_inputs: Mapping[str, Any], news: Mapping[str, Any],
           diff: Any, *, replace_on_changes: Iterable[str] = (),
           can_update: bool = True) -> tuple[str, list[str], list[str]]:
    """Returns (op, changed keys, keys forcing replacement) for a resource
    that exists.  ``diff`` is the provider's DiffResult or None; when it
    leaves ``changes`` as None the inputs are compared here."""
    replaces: list[str] = []
    if diff is not None and diff.changes is not None:
        changed = (list(dict.fromkeys(list(diff.replaces)
                                      + changed_keys(old_inputs, news)))
                   if diff.changes else [])
        if diff.changes and not changed:
            changed = list(diff.replaces) or ["(provider)"]
        replaces = list(diff.replaces)
    else:
        changed = changed_keys(old_inputs, news)
        if diff is not None:
            replaces = list(diff.replaces)
    if not changed:
        return SAME, [], []
    roc = set(replace_on_changes)
    if "*" in roc:
        roc = set(changed)
    replaces.extend(k for k in changed if k in roc and k not in replaces)
    if replaces or not can_update:
        return REPLACE, changed, replaces or changed
    return UPDATE, changed, []


def has_unknowns(values: Mapping[str, Any]) -> bool:
    return any(contains_unknowns(v) for v in values.values())


def delete_order(states: Mapping[str, Any]) -> list[list[str]]:
    """Groups the keys of states (ResourceState by key) into waves: every
    resource comes after everything in states that depends on it (through
    deps or parent), so each wave can be deleted concurrently.  A cycle
    (which a valid state cannot have) ends up in the last wave."""
    by_urn: dict[str, list[str]] = {}
    for key, st in states.items():
        by_urn.setdefault(st.urn, []).append(key)
    # blockers[k]: how many resources in states depend on k.
    dependents: dict[str, list[str]] = {k: [] for k in states}
    blockers = dict.fromkeys(states, 0)
    for key, st in states.items():
        targets = list(st.deps)
        if st.parent:
            targets.append(st.parent)
        for target in set(targets):
            for tkey in by_urn.get(target, ()):
                if tkey != key:
                    dependents[key].append(tkey)
                    blockers[tkey] += 1
    waves = []
    wave = [k for k, n in blockers.items() if n == 0]
    done = 0
    while wave:
        waves.append(wave)
        done += len(wave)
        nxt = []
        for k in wave:
            for t in dependents[k]:
                blockers[t] -= 1
                if blockers[t] == 0:
                    nxt.append(t)
        wave = nxt
    if done < len(states):
        waves.append([k for k, n in blockers.items() if n > 0])
    return waves
