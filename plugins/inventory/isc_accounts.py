# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: isc_accounts
short_description: The service accounts SailPoint Identity Security Cloud knows, grouped by what needs doing
version_added: 0.2.0
description:
  - One host per account ISC knows on the chosen sources, read with C(POST /search/v1) over the identities
    index (sorted by id and paged with C(searchAfter), 10,000 documents per request), C(GET /sources/v1)
    (each source's C(features)) and C(GET /accounts/v1) (uncorrelated accounts, which search never shows).
  - "Groups: C(due) (ISC's C(passwordLastSet) and the ledger's last rotation both older than O(max_age_days)),
    C(drift) (ISC saw a password change later than the ledger's last rotation, beyond O(drift_tolerance): the
    password escrowed in the store is stale), C(unrotatable) (the source has no C(PASSWORD) feature, the account
    does not support password change, or it is uncorrelated) and C(by_source_<source name>)."
  - An unrotatable account is in neither C(due) nor C(drift); it is listed, never dropped.
  - "Host variables: C(source_name), C(user_name), C(account_id), C(identity_id), C(password_last_set),
    C(last_rotated), C(owner) (the machine account's owner with O(machine_accounts), else the identity's manager),
    C(reason), C(rotation_account) (the item of the service_account_rotation role's accounts list) and C(isc_account)
    (C(account_name), C(account_uuid), C(source_id), C(correlated), C(drift_seconds), C(ledger_key), C(machine_account):
    C(owner), C(subtype), C(environment), C(classification) and C(machine_identity) with O(machine_accounts), else null)."
  - No password, token or secret is read or stored; the inventory cache holds ISC's answers only, and the ledger
    comparison is made again on every run.
  - The host name is C(<source name>/<user name>), with C(#<account id>) when the identity has several accounts
    on that source (the rotation ledger's account key).
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
requirements:
  - requests
  - cryptography
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; the inventory file must name it.
    required: true
    type: str
    choices: [sailpoint_isc.passwords.isc_accounts]
  base_url:
    description:
      - The tenant API root, for example V(https://acme.api.identitynow.com), without an API version segment.
    type: str
    env:
      - name: SAIL_BASE_URL
  tenant:
    description: Tenant name; the API root becomes C(https://<tenant>.api.identitynow.com). Excludes O(base_url).
    type: str
  client_id:
    description: Client ID of an ISC API client with the scopes C(sp:search:read), C(idn:accounts:read), C(idn:sources:read).
    type: str
    env:
      - name: SAIL_CLIENT_ID
  client_secret:
    description: Secret of O(client_id). Best given through the environment (an AWX credential) or vault.
    type: str
    env:
      - name: SAIL_CLIENT_SECRET
  access_token:
    description: A ready bearer token, used as is; takes precedence over O(client_id).
    type: str
  validate_certs:
    description: Whether to check the TLS certificate of the ISC API.
    type: bool
    default: true
  ca_path:
    description: PEM file or directory of CA certificates to trust instead of the system store.
    type: path
  timeout:
    description: Seconds to wait for ISC to answer one HTTP request.
    type: int
    default: 30
  rate_limit:
    description: Client-side request budget per O(rate_window) (ISC allows 100 per client ID and API version per 10 seconds).
    type: int
    default: 100
  rate_window:
    description: Length in seconds of the window O(rate_limit) applies to.
    type: int
    default: 10
  max_retries:
    description: Retries of a request after a connection error or an HTTP 5xx (searches are reads, so they are retried too).
    type: int
    default: 5
  token_cache:
    description: Where OAuth tokens are cached (as the modules' option of that name); V(false) for none.
    type: raw
  sources:
    description: Names of the sources whose accounts are listed. Empty lists the accounts of every source.
    type: list
    elements: str
    default: []
  query:
    description:
      - An extra search query (ISC's search syntax) joined with C(AND) to the sources query, for example
        V(attributes.department:IT) or V(@accounts(passwordLastSet:[* TO now-90d\\])).
    type: str
  max_age_days:
    description: An account whose password is older than this (by ISC and by the ledger) is in the C(due) group.
    type: int
    default: 90
  ledger_path:
    description:
      - The service_account_rotation role's ledger (C(ledger.json) in its state directory), read (never written) to
        find C(last_rotated) and C(drift). Without it there is no C(drift) group and C(last_rotated) is null.
    type: path
  drift_tolerance:
    description: Seconds ISC's C(passwordLastSet) may be later than the ledger's last rotation without being drift.
    type: int
    default: 600
  machine_accounts:
    description:
      - Also read C(GET /machine-accounts/v1) (experimental in v1) and add each machine account's owner, subtype,
        environment and classification to its host (C(isc_account.machine_account)); its owner becomes C(owner).
      - ISC answers it for a user token only, so this needs a personal access token (O(client_id) and O(client_secret)
        of a PAT, or O(access_token)) with the scope C(idn:mis-account:read) besides the three above.
    type: bool
    default: false
"""

EXAMPLES = r"""
# isc_accounts.yml (the file name must end in isc_accounts.yml or isc_accounts.yaml)
plugin: sailpoint_isc.passwords.isc_accounts
sources: [Corp-AD, Corp-LDAP]
max_age_days: 90
ledger_path: ~/.local/state/sailpoint_isc/rotation/acme/all/ledger.json
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/sailpoint_isc/inventory
keyed_groups:
  - key: owner | default('nobody', true)
    prefix: owner
compose:
  age_days: (now(utc=true) - (password_last_set | default('1970-01-01T00:00:00Z', true) | to_datetime('%Y-%m-%dT%H:%M:%S.%fZ'))).days

# ansible-inventory -i isc_accounts.yml --graph due
# Rotate what is due or drifted:
#   service_account_rotation_accounts_from: inventory    (the role's variable; groups due and drift by default)

# Another isc_accounts.yml, with a personal access token: machine-account owner, subtype and environment, and a
# group per environment:
#   plugin: sailpoint_isc.passwords.isc_accounts
#   machine_accounts: true
#   keyed_groups:
#     - key: isc_account.machine_account.environment | default('none', true)
#       prefix: env
"""

import datetime

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import discovery
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import RotationError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import require_rights

HOST_VARS = ('source_name', 'user_name', 'account_id', 'identity_id', 'password_last_set', 'last_rotated', 'owner',
             'reason', 'rotation_account')
DETAIL_VARS = ('account_name', 'account_uuid', 'source_id', 'correlated', 'drift_seconds', 'ledger_key',
               'machine_account')  # in isc_account
CONNECTION = ('base_url', 'tenant', 'client_id', 'client_secret', 'access_token', 'validate_certs', 'ca_path',
              'timeout', 'rate_limit', 'rate_window', 'max_retries', 'token_cache')

display = Display()


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'sailpoint_isc.passwords.isc_accounts'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(('isc_accounts.yml', 'isc_accounts.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        sources = self.get_option('sources') or None
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache')
        machine = self.get_option('machine_accounts')
        answers = None
        if use_cache and cache:
            answers = self._cache.get(cache_key)  # ISC's answers only: the ledger is compared again below
        try:
            if answers is None or (machine and answers.get('machine') is None):
                answers = self._fetch(sources)
                if use_cache:
                    self._cache[cache_key] = answers
            ledger = discovery.load_ledger(self.get_option('ledger_path'))
        except (IscError, RotationError, ValueError) as exc:
            raise AnsibleParserError('sailpoint_isc.passwords.isc_accounts: %s' % exc)
        records = discovery.classify(answers['sources'], answers['identities'], answers['uncorrelated'], ledger,
                                     datetime.datetime.now(datetime.timezone.utc),
                                     self.get_option('max_age_days'), self.get_option('drift_tolerance'), sources)
        if machine:
            discovery.enrich(records, discovery.machine_details(answers['machine']))
        self._populate(records)

    def _fetch(self, sources):
        params = dict((name, self.get_option(name)) for name in CONNECTION)
        client = discovery.make_client(params, warn=display.warning)
        try:
            require_rights(client, 'account-discovery')  # rights.py: before any request but the token's
            if self.get_option('machine_accounts'):
                require_rights(client, 'machine-account-details')
            reader = discovery.Reader(client)
            listed, docs, uncorrelated = discovery.collect(reader, sources, self.get_option('query'))
            machine = reader.machine_accounts([s['id'] for s in listed if s.get('id')]) \
                if self.get_option('machine_accounts') else None
        finally:
            client.close()
        return {'sources': listed, 'identities': docs, 'uncorrelated': uncorrelated, 'machine': machine}

    def _populate(self, records):
        strict = self.get_option('strict')
        compose, groups, keyed = self.get_option('compose'), self.get_option('groups'), self.get_option('keyed_groups')
        for group in discovery.GROUPS:
            self.inventory.add_group(group)
        by_source = {}
        for record in records:
            host = self.inventory.add_host(record['host'])
            for name in HOST_VARS:
                self.inventory.set_variable(host, name, record[name])
            self.inventory.set_variable(host, 'isc_account', dict((name, record[name]) for name in DETAIL_VARS))
            for group in record['groups']:
                self.inventory.add_child(group, host)
            if record['source_name'] not in by_source:
                by_source[record['source_name']] = self.inventory.add_group(
                    self._sanitize_group_name('by_source_' + record['source_name']))
            self.inventory.add_child(by_source[record['source_name']], host)
            if compose or groups or keyed:  # each costs a variable lookup per host: only when asked for
                hostvars = self.inventory.get_host(host).get_vars()
                self._set_composite_vars(compose, hostvars, host, strict=strict)
                self._add_host_to_composed_groups(groups, hostvars, host, strict=strict)
                self._add_host_to_keyed_groups(keyed, hostvars, host, strict=strict)
