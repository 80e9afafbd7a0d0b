"""House style the models keep: every SDK hook a plugin overrides says so with ``@override``.

An override that loses its base (an SDK rename on upgrade) then shows up in type checkers instead
of silently becoming dead code.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest


def _plugin_modules(package: str) -> list[str]:
    base = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(base.__path__, f"{package}."):
        if "._client" in info.name or info.name.endswith("__main__"):
            continue  # the shared client has no SDK subclasses; __main__ runs the CLI
        names.append(info.name)
    return names


def _sdk_overrides(module_name: str) -> list[tuple[str, object]]:
    module = importlib.import_module(module_name)
    found = []
    for cls in vars(module).values():
        if not inspect.isclass(cls) or cls.__module__ != module_name:
            continue
        sdk_bases = [b for b in cls.__mro__[1:] if b.__module__.startswith("singer_sdk")]
        for attr, value in vars(cls).items():
            function = getattr(value, "fget", None) or getattr(value, "__func__", None) or value
            if attr.startswith("__") or not inspect.isfunction(function):
                continue
            if any(attr in vars(base) for base in sdk_bases):
                found.append((f"{cls.__qualname__}.{attr}", function))
    return found


@pytest.mark.parametrize("package", ["tap_cartcom", "target_cartcom"])
def test_every_sdk_hook_override_is_marked(package):
    overrides = [o for name in _plugin_modules(package) for o in _sdk_overrides(name)]
    assert len(overrides) >= 5, overrides  # the walk found the plugin's sinks and streams
    unmarked = [name for name, function in overrides if not getattr(function, "__override__", 0)]
    assert unmarked == []
