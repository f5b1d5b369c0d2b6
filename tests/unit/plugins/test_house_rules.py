# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CONTRIBUTING's rules of the house that a machine can check: the direction of imports between the files of
module_utils, and the length of functions."""

from __future__ import annotations

import ast
import glob
import os

import pytest

PLUGINS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLUGINS = os.path.join(PLUGINS, 'plugins')
UTILS = os.path.join(PLUGINS, 'module_utils')
PREFIX = 'ansible_collections.sailpoint_isc.passwords.plugins.module_utils'

# CONTRIBUTING, "Where things go": imports only point down these floors.
FLOORS = (
    ('client',),
    ('api', 'errors', 'auth', 'limiter', 'retry'),
    ('files', 'policy', 'crypto'),
)
# The files that may build or import IscClient: the modules' glue (the resource runner) and the inventory
# plugin's reader (discovery.make_client, for a plugin that has no module). Every other file of module_utils
# (the engines: planning, reach, rotation, password_config, ...) gets its client handed in.
CLIENT_IMPORTERS = ('resource', 'discovery')
# Issue 23 §1: the rotation module is a declaration and a call (its phases live in module_utils/phases.py).
HUB_LIMITS = {'modules/isc_rotation.py': 5}
MAX_FUNCTION_LINES = 80  # docstring aside


def imports(path):
    """The module_utils files a file imports (anywhere in it: a lazy import counts too)."""
    with open(path) as handle:
        tree = ast.parse(handle.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PREFIX:
                found.update(alias.name for alias in node.names)
            elif node.module.startswith(PREFIX + '.'):
                found.add(node.module[len(PREFIX) + 1:].split('.')[0])
        elif isinstance(node, ast.Import):
            found.update(a.name[len(PREFIX) + 1:].split('.')[0] for a in node.names if a.name.startswith(PREFIX + '.'))
    return found


def utils():
    return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(UTILS, '*.py')) if not p.endswith('__init__.py'))


@pytest.mark.parametrize('floor', range(len(FLOORS)))
def test_imports_point_down_the_floors(floor):
    above = set(name for upper in FLOORS[:floor] for name in upper)
    for name in FLOORS[floor]:
        wrong = imports(os.path.join(UTILS, name + '.py')) & above
        assert not wrong, 'module_utils/%s.py imports %s, which sit above it (CONTRIBUTING)' % (name, sorted(wrong))


def test_engines_never_import_the_client():
    importers = [name for name in utils() if 'client' in imports(os.path.join(UTILS, name + '.py'))]
    assert sorted(set(importers) - set(CLIENT_IMPORTERS)) == [], (
        'these files of module_utils import the client; hand them an IscClient instead: %s' % importers)


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in sorted(glob.glob(os.path.join(PLUGINS, '**', '*.py'), recursive=True)):
        where = os.path.relpath(path, PLUGINS)
        with open(path) as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = node.body[0]
                doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
                lines = node.end_lineno - node.lineno + 1 - ((first.end_lineno - first.lineno + 1) if doc else 0)
                if lines > MAX_FUNCTION_LINES:
                    long.append('%s: %s (%d lines)' % (where, node.name, lines))
    assert long == [], 'functions over %d lines (docstring aside): split them: %s' % (MAX_FUNCTION_LINES, long)


def imported_names(path):
    """The names a file imports from module_utils (``from ...module_utils import a, b`` counts two)."""
    with open(path) as handle:
        tree = ast.parse(handle.read())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (node.module + '.').startswith(PREFIX + '.'):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.extend(a.name for a in node.names if a.name.startswith(PREFIX + '.'))
    return names


@pytest.mark.parametrize('where', sorted(HUB_LIMITS))
def test_a_thin_module_imports_few_module_utils_names(where):
    names = imported_names(os.path.join(PLUGINS, where))
    assert len(names) <= HUB_LIMITS[where], (
        '%s imports %d names from module_utils (at most %d): move the work into module_utils, leave the module a '
        'declaration and a call: %s' % (where, len(names), HUB_LIMITS[where], names))
