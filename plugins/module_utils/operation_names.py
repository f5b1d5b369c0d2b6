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

# Password configuration (issue 13). The write operations carry their method in the label a message uses
# ("PUT password-policy"); see client.IscClient.call.
OP_POLICIES = 'password-policies'            # list, create
OP_POLICY = 'password-policy'                # one policy by id: get, replace, delete
OP_SYNC_GROUP = 'password-sync-group'        # one sync group by id (the list and create use OP_SYNC_GROUPS)
OP_DICTIONARY = 'password-dictionary'
OP_ORG_CONFIG = 'password-org-config'
OP_SOURCE_POLICIES = 'source-password-policies'                # GET the policy holders of one source
OP_SOURCE_POLICIES_UPDATE = 'update-source-password-policies'  # PATCH them (served by more versions than GET)

# The operations ISC answers only for a user-context token (a personal access token of an ORG_ADMIN) when
# they write, and for the dictionary also when they read (ISC_FACTS §10).
USER_TOKEN_WRITES = (OP_POLICIES, OP_POLICY, OP_SYNC_GROUPS, OP_SYNC_GROUP, OP_DICTIONARY)
USER_TOKEN_READS = (OP_DICTIONARY, OP_SOURCE_POLICIES)  # the holders' GET: userAuth only in the documents

# A source's own connector configuration and its checks (issue 28). OP_SOURCE is one source by id: GET reads it,
# PATCH (application/json-patch+json) changes it.
OP_SOURCE = 'source'
OP_CHECK_CONNECTION = 'source-check-connection'
OP_TEST_CONFIGURATION = 'source-test-configuration'
# Discovery (issue 26): the reads behind the isc_accounts inventory and isc_account_info (module_utils/discovery.py).
OP_SEARCH = 'search'                    # POST /search/v1 over the identities index (a read: safe to repeat)
OP_ACCOUNTS = 'list-accounts'           # GET /accounts/v1 (uncorrelated accounts, which search never shows)
OP_ACCOUNT_RELOAD = 'reload-account'    # POST /accounts/v1/{id}/reload (aggregate one account now)
OP_MACHINE_ACCOUNTS = 'list-machine-accounts'  # GET /machine-accounts/v1 (user token only, experimental in v1)
USER_TOKEN_READS += (OP_MACHINE_ACCOUNTS,)
