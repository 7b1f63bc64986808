"""Every hook spec is documented the way SOAR's maintainers read it."""

from __future__ import annotations

import inspect

import pytest

from soar_ext import hookspecs

SPECS = [name for name in dir(hookspecs) if name.startswith("soar_")]


def test_all_hooks_lists_every_spec() -> None:
    assert sorted(SPECS) == sorted(hookspecs.ALL_HOOKS)


@pytest.mark.parametrize("name", SPECS)
def test_hook_spec_has_full_docstring(name: str) -> None:
    func = getattr(hookspecs, name)
    doc = inspect.getdoc(func)
    assert doc, f"{name} has no docstring"
    params = [p for p in inspect.signature(func).parameters]
    for param in params:
        assert f":param {param}:" in doc, f"{name}: parameter {param} not documented"
    assert ":return:" in doc, f"{name}: return contract missing"
    assert "None" in doc.split(":return:")[1], f"{name}: what None means is not said"
    assert "Called" in doc, f"{name}: when it is called is not said"


def test_firstresult_hooks_say_so() -> None:
    for name in SPECS:
        opts = getattr(getattr(hookspecs, name), "soar_spec", {})
        if opts.get("firstresult"):
            assert "Stops at first non-None result" in inspect.getdoc(getattr(hookspecs, name))


def test_hook_names_are_prefixed() -> None:
    assert all(name.startswith("soar_") for name in hookspecs.ALL_HOOKS)


def test_hookimpl_is_reexported_from_package_root() -> None:
    import soar_ext

    assert soar_ext.hookimpl is hookspecs.hookimpl


@pytest.mark.parametrize("name", SPECS)
def test_docs_show_each_hook_signature(name: str) -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[1] / "docs" / "hooks.md").read_text(encoding="utf-8")
    sig = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    expected = f"`{name}({params}) -> {sig.return_annotation}`"
    assert expected in docs, f"docs/hooks.md should show {expected}"
