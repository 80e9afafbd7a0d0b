"""Selection and type conformance compiled once per stream, applied in one pass per record.

The SDK walks the schema for every record twice (``pop_deselected_record_properties``, then
``conform_record_data_types``): about 90 function calls per order. Here the same rules are
compiled once per (schema, selection mask), an ``ObjectConformer`` per object schema, so a
record whose keys are all known costs one C-level ``dict`` copy plus the handful of fields that
need work (booleans, nested objects and arrays, deselected fields). The output is the SDK's, key
for key:

- deselected properties are removed (top level and nested objects, as the SDK prunes them);
- unknown properties are removed (and reported) unless the object allows
  ``additionalProperties``;
- nested objects and uniform arrays are conformed recursively;
- boolean-only properties become ``value != 0`` (``None`` stays ``None``).

NaN and infinities, which the SDK turns into ``None``, cannot reach this point: the tap parses
pages with the shared client's ``body.decode_page``, which reads them as ``None``.

``CompiledConformance`` is the stream side: it puts the compiled pass in place of the SDK's two
walks (``Stream._generate_record_messages``, listed in ``sdk_private``).
"""

from __future__ import annotations

import typing as t

from singer_sdk import Stream
from singer_sdk import singerlib as singer
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import (
    _is_exclusive_boolean_type,
    is_object_type,
    is_uniform_list,
)
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from singer_sdk.singerlib import SelectionMask

    Breadcrumb = tuple[str, ...]

#: Field actions.
_DROP, _BOOL, _OBJECT, _ARRAY, _PRUNE = range(5)


def _to_bool(value: t.Any) -> t.Any:
    return None if value is None else value != 0


class ObjectConformer:
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
            item_conformer = ObjectConformer(items, None) if is_object_type(items) else None
            item_bool = _is_exclusive_boolean_type(items)
            if item_conformer is None and not item_bool:
                return None
            return (_ARRAY, (item_conformer, item_bool))
        if is_object_type(prop) and "properties" in prop:
            return (_OBJECT, ObjectConformer(prop, mask, crumb))
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
        for key, conformer in self.objects:
            value = out.get(key)
            if isinstance(value, dict):
                out[key] = conformer.apply(value, _join(path, key), unmapped)
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
    arg: tuple[ObjectConformer | None, bool],
    path: str,
    unmapped: list[str],
) -> list[t.Any]:
    item_conformer, item_bool = arg
    out = []
    for item in values:
        if item_conformer is not None and isinstance(item, dict):
            out.append(item_conformer.apply(item, path, unmapped))
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
    conformer = ObjectConformer(schema, mask)

    def conform(record: dict[str, t.Any]) -> tuple[dict[str, t.Any], list[str]]:
        unmapped: list[str] = []
        return conformer.apply(record, None, unmapped), unmapped

    return conform


class CompiledConformance(Stream):
    """A stream whose records are selected and conformed by ``compile_conformer``.

    The SDK's per-record walk is replaced by the same rules compiled once per schema and
    selection; a ``TYPE_CONFORMANCE_LEVEL`` other than ``RECURSIVE`` falls back to the SDK's.
    """

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE

    def _record_conformer(self) -> Callable[[dict], tuple[dict, list[str]]]:
        """The compiled selection + conformance for the current schema and selection mask."""
        cached = self.__dict__.get("_conformer")
        if cached is None or cached[0] is not self._mask or cached[1] is not self._input_schema:
            mask = self.mask  # resolves ``_mask`` when not yet done
            cached = (mask, self._input_schema, compile_conformer(self.effective_schema, mask))
            self.__dict__["_conformer"] = cached
            self.__dict__["_unmapped_reported"] = set()
        return cached[2]

    @override
    def _generate_record_messages(self, record: dict) -> t.Generator[t.Any, None, None]:
        """The SDK's method with its two per-record schema walks replaced by one compiled pass.

        Same output as ``pop_deselected_record_properties`` then ``conform_record_data_types``
        at ``RECURSIVE`` (tests compare both); unknown properties are reported once per set.
        """
        if self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.RECURSIVE:
            yield from super()._generate_record_messages(record)
            return
        record, unmapped = self._record_conformer()(record)
        if unmapped:
            reported = self.__dict__["_unmapped_reported"]
            names = tuple(unmapped)
            if names not in reported:
                reported.add(names)
                self.logger.warning(
                    "Properties %s were present in the '%s' stream but not found in catalog "
                    "schema. Ignoring.",
                    names,
                    self.name,
                )
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )
