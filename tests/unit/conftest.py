# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.sailpoint_isc.passwords`` importable under plain pytest.

ansible-test runs the unit tests from a real ``ansible_collections/sailpoint_isc/passwords``
tree, so nothing is needed there. From the git checkout (whose root is the collection root)
this puts a temporary ``ansible_collections/sailpoint_isc/passwords`` symlink on sys.path.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile


def _collection_importable():
    try:
        import ansible_collections.sailpoint_isc.passwords.plugins  # noqa: F401
        return True
    except ImportError:
        return False


def _link_collection():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parts = root.split(os.sep)
    if len(parts) >= 3 and parts[-3] == 'ansible_collections':
        sys.path.insert(0, os.sep.join(parts[:-3]) or os.sep)
        return
    base = tempfile.mkdtemp(prefix='isc-unit-')
    ns = os.path.join(base, 'ansible_collections', 'sailpoint_isc')
    os.makedirs(ns)
    os.symlink(root, os.path.join(ns, 'passwords'))
    sys.path.insert(0, base)
    atexit.register(shutil.rmtree, base, True)


if not _collection_importable():
    for name in [m for m in sys.modules if m == 'ansible_collections' or m.startswith('ansible_collections.')]:
        del sys.modules[name]
    _link_collection()
