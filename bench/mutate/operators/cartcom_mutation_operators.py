"""Mutation operators for `make mutate` that cosmic-ray's core set lacks.

- ``SkipCall``: a call made for its effect is skipped (``session.put(...)`` becomes ``pass``):
  the "skipped write" of the issue 26 audit. Log lines are left alone (their text is not data).
- ``SkipStore``: a write into a mapping or a running total is skipped (``state[key] = value``,
  ``count += 1`` become ``pass``).
- ``ReplaceInWithNotIn`` / ``ReplaceNotInWithIn``: a membership test is flipped.
"""

from __future__ import annotations

from cosmic_ray.operators.operator import Example, Operator
from parso.python.tree import ExprStmt, Keyword, PythonNode
from parso.python.tree import Operator as Op

_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical"}
_LOGGERS = {"log", "logger", "logging", "_log", "LOG", "LOGGER"}


def _pass_like(node):
    """A ``pass`` leaf carrying ``node``'s leading whitespace, so the indentation holds."""
    return Keyword("pass", node.start_pos, node.get_first_leaf().prefix)


def _is_statement(node) -> bool:
    """``node`` is the whole of a simple statement (not part of a larger expression)."""
    parent = node.parent
    return parent is not None and parent.type == "simple_stmt" and parent.children[0] is node


def _is_log_call(node) -> bool:
    """``log.info(...)``, ``self.logger.warning(...)`` and the like."""
    names = [
        child.children[1].value
        for child in node.children[1:]
        if child.type == "trailer" and child.children[0].value == "."
    ]
    first = node.children[0]
    head = first.value if first.type == "name" else ""
    if not names or names[-1] not in _LOG_METHODS:
        return False
    owner = names[-2] if len(names) >= 2 else head
    return owner in _LOGGERS


class SkipCall(Operator):
    """A call statement (``f(x)``, ``obj.save(x)``) becomes ``pass``."""

    def mutation_positions(self, node):
        if (
            node.type in ("atom_expr", "power")
            and _is_statement(node)
            and node.children[-1].type == "trailer"
            and node.children[-1].children[0].value == "("
            and node.children[0].type != "keyword"
            and not _is_log_call(node)
        ):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node, index):
        assert index == 0
        return _pass_like(node)

    @classmethod
    def examples(cls):
        return (
            Example("store.put(x)\n", "pass\n"),
            Example("def f():\n    rows.append(1)\n", "def f():\n    pass\n"),
            Example("log.info('x')\nrows.append(1)\n", "log.info('x')\npass\n"),
        )


class SkipStore(Operator):
    """``target[key] = value`` or ``total += n`` becomes ``pass``."""

    def mutation_positions(self, node):
        if not (isinstance(node, ExprStmt) and _is_statement(node)):
            return
        operator = node.children[1]
        target = node.children[0]
        augmented = isinstance(operator, Op) and operator.value not in ("=", ":")
        subscript = (
            target.type in ("atom_expr", "power")
            and target.children[-1].type == "trailer"
            and target.children[-1].children[0].value == "["
        )
        if augmented or (subscript and getattr(operator, "value", None) == "="):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node, index):
        assert index == 0
        return _pass_like(node)

    @classmethod
    def examples(cls):
        return (
            Example("state['x'] = 1\n", "pass\n"),
            Example("n += 1\n", "pass\n"),
            Example("n = 1\n", "n = 1\n"),
        )


class _Membership(Operator):
    """Flip ``in`` and ``not in`` in a comparison."""

    from_text = ""
    to_text = ""

    def _sites(self, node):
        if isinstance(node, PythonNode) and node.type == "comparison":
            for child in node.children[1::2]:
                text = child.get_code().strip()
                if " ".join(text.split()) == self.from_text:
                    yield child

    def mutation_positions(self, node):
        for child in self._sites(node):
            yield (child.start_pos, child.end_pos)

    def mutate(self, node, index):
        child = list(self._sites(node))[index]
        prefix = child.get_first_leaf().prefix
        position = node.children.index(child)
        node.children[position] = Keyword(self.to_text, child.start_pos, prefix)
        return node


class ReplaceInWithNotIn(_Membership):
    """``a in b`` becomes ``a not in b``."""

    from_text = "in"
    to_text = "not in"

    @classmethod
    def examples(cls):
        return (Example("x in y", "x not in y"),)


class ReplaceNotInWithIn(_Membership):
    """``a not in b`` becomes ``a in b``."""

    from_text = "not in"
    to_text = "in"

    @classmethod
    def examples(cls):
        return (Example("x not in y", "x in y"),)


_OPERATORS = {
    op.__name__: op for op in (SkipCall, SkipStore, ReplaceInWithNotIn, ReplaceNotInWithIn)
}


class OperatorProvider:
    """The ``cartcom/...`` operators, found by cosmic-ray through an entry point."""

    def __iter__(self):
        return iter(_OPERATORS)

    def __getitem__(self, name):
        return _OPERATORS[name]
