"""Selection and type conformance compiled once per stream, applied in one pass per record.

The SDK walks the schema for every record twice (``pop_deselected_record_properties``, then
``conform_record_data_types``): about 90 function calls per order. Here the same rules are
compiled once per (schema, selection mask) into a plan, so a record whose keys are all known
costs one C-level ``dict`` copy plus the handful of fields that need work (booleans, nested
objects and arrays, deselected fields). The output is the SDK's, key for key:

- deselected properties are removed (top level and nested objects, as the SDK prunes them);
- unknown properties are removed (and reported) unless the object allows
  ``additionalProperties``;
- nested objects and uniform arrays are conformed recursively;
- boolean-only properties become ``value != 0`` (``None`` stays ``None``).

NaN and infinities, which the SDK turns into ``None``, cannot reach this point: the tap parses
pages with ``parse_constant`` mapping them to ``None`` (see ``CartcomStream``).
"""

from __future__ import annotations

import typing as t

from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import (
    _is_exclusive_boolean_type,
    is_object_type,
    is_uniform_list,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from singer_sdk.singerlib import SelectionMask

    Breadcrumb = tuple[str, ...]

#: Field actions.
_DROP, _BOOL, _OBJECT, _ARRAY, _PRUNE = range(5)


def _to_bool(value: t.Any) -> t.Any:
    return None if value is None else value != 0


class Plan:
    """What to do with each key of one object schema (and the selection under it)."""

    __slots__ = (
        "actions",
        "additional",
        "arrays",
        "booleans",
        "breadcrumb",
        "drops",
        "known",
        "mask",
        "objects",
        "open",
        "prunes",
    )

    def __init__(
        self,
        schema: dict[str, t.Any],
        mask: SelectionMask | None,
        breadcrumb: Breadcrumb = (),
    ) -> None:
        """Compile ``schema``; ``mask`` None means no pruning (array items, as in the SDK)."""
        properties: dict[str, t.Any] = schema.get("properties") or {}
        self.known = frozenset(properties)
        self.additional = bool(schema.get("additionalProperties"))
        self.mask = mask
        self.breadcrumb = breadcrumb
        self.actions: dict[str, tuple[int, t.Any]] = {}
        for name, prop in properties.items():
            crumb = (*breadcrumb, "properties", name)
            action = self._compile(prop, mask, crumb)
            if action is not None:
                self.actions[name] = action
        by_kind: dict[int, list[t.Any]] = {kind: [] for kind in range(5)}
        for name, (kind, arg) in self.actions.items():
            by_kind[kind].append(name if kind in (_DROP, _BOOL) else (name, arg))
        # Unknown keys named deselected in the catalog are dropped like known ones.
        self.drops = tuple(by_kind[_DROP]) + tuple(
            _deselected_unknown(mask, breadcrumb, self.known)
        )
        #: Every unknown key is kept (selected object allowing additionalProperties): no check.
        self.open = self.additional and (mask is None or mask[breadcrumb])
        self.booleans = tuple(by_kind[_BOOL])
        self.objects = tuple(by_kind[_OBJECT])
        self.arrays = tuple(by_kind[_ARRAY])
        self.prunes = tuple(by_kind[_PRUNE])

    @staticmethod
    def _compile(
        prop: dict[str, t.Any],
        mask: SelectionMask | None,
        crumb: Breadcrumb,
    ) -> tuple[int, t.Any] | None:
        if mask is not None and not mask[crumb]:
            return (_DROP, None)
        if is_uniform_list(prop):
            items = prop["items"]
            item_plan = Plan(items, None) if is_object_type(items) else None
            item_bool = _is_exclusive_boolean_type(items)
            if item_plan is None and not item_bool:
                return None
            return (_ARRAY, (item_plan, item_bool))
        if is_object_type(prop) and "properties" in prop:
            return (_OBJECT, Plan(prop, mask, crumb))
        if _is_exclusive_boolean_type(prop):
            return (_BOOL, None)
        if mask is not None and _deselected_below(mask, crumb):
            return (_PRUNE, crumb)
        return None

    def apply(self, obj: dict[str, t.Any], path: str | None, unmapped: list[str]) -> dict:
        """A conformed copy of ``obj``; unknown property paths are added to ``unmapped``."""
        if self.open or obj.keys() <= self.known:
            out = dict(obj)
        else:
            out = self._known_only(obj, path, unmapped)
        for key in self.drops:
            out.pop(key, None)
        for key in self.booleans:
            value = out.get(key, True)
            if value.__class__ is not bool and value is not None:
                out[key] = value != 0
        for key, plan in self.objects:
            value = out.get(key)
            if isinstance(value, dict):
                out[key] = plan.apply(value, _join(path, key), unmapped)
        for key, arg in self.arrays:
            value = out.get(key)
            if isinstance(value, list):
                out[key] = _array(value, arg, _join(path, key), unmapped)
        for key, crumb in self.prunes:  # explicit nested deselection, no sub-schema
            value = out.get(key)
            if isinstance(value, dict):
                pop_deselected_record_properties(value, {}, self.mask, crumb)  # type: ignore[arg-type]
        return out

    def _known_only(self, obj: dict[str, t.Any], path: str | None, unmapped: list[str]) -> dict:
        out = {}
        for key, value in obj.items():
            if key in self.known:
                out[key] = value
                continue
            if self.mask is not None and not self.mask[(*self.breadcrumb, "properties", key)]:
                continue  # deselected (the SDK prunes before it conforms)
            if self.additional:
                out[key] = value
            else:
                unmapped.append(key if path is None else f"{path}.{key}")
        return out


def _array(
    values: list[t.Any],
    arg: tuple[Plan | None, bool],
    path: str,
    unmapped: list[str],
) -> list[t.Any]:
    item_plan, item_bool = arg
    out = []
    for item in values:
        if item_plan is not None and isinstance(item, dict):
            out.append(item_plan.apply(item, path, unmapped))
        elif item_bool and item.__class__ is not bool:
            out.append(_to_bool(item))
        else:
            out.append(item)
    return out


def _join(path: str | None, key: str) -> str:
    return key if path is None else f"{path}.{key}"


def _deselected_unknown(
    mask: SelectionMask | None, breadcrumb: Breadcrumb, known: frozenset[str]
) -> list[str]:
    if mask is None:
        return []
    size = len(breadcrumb) + 2
    return [
        crumb[-1]
        for crumb, selected in mask.items()
        if not selected
        and len(crumb) == size
        and crumb[: size - 2] == breadcrumb
        and crumb[-2] == "properties"
        and crumb[-1] not in known
    ]


def _deselected_below(mask: SelectionMask, crumb: Breadcrumb) -> bool:
    size = len(crumb)
    return any(len(k) > size and k[:size] == crumb and not v for k, v in mask.items())


def compile_conformer(
    schema: dict[str, t.Any],
    mask: SelectionMask,
) -> Callable[[dict[str, t.Any]], tuple[dict[str, t.Any], list[str]]]:
    """A function giving a record's selected, conformed copy and its unknown property paths."""
    plan = Plan(schema, mask)

    def conform(record: dict[str, t.Any]) -> tuple[dict[str, t.Any], list[str]]:
        unmapped: list[str] = []
        return plan.apply(record, None, unmapped), unmapped

    return conform
