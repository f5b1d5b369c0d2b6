# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names of the ISC operations the client performs.

Each name is the key of its operation in the API layout table (api.py), the word error messages and
hints use for it (errors.py) and its key in the client's stats. It lives in a file of its own because
errors.py needs the names and api.py needs errors.py; import it through api.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

OP_TOKEN = 'oauth-token'
OP_QUERY = 'query-password-info'
OP_SET = 'set-password'
OP_STATUS = 'password-change-status'
OP_DIGIT = 'generate-digit-token'
OP_SYNC_GROUPS = 'list-password-sync-groups'
OP_SOURCES = 'list-sources'
