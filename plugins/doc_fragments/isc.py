# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options every module shares; their defaults are plugins/module_utils/api.py's (test_api.py checks)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Connection, authentication, rate limiting and token reuse, shared by every module.
    DOCUMENTATION = r"""
options:
  base_url:
    description:
      - The tenant API root, for example V(https://acme.api.identitynow.com).
      - Give the root only, without an API version segment such as C(/v2024); O(api_version)
        selects the version. A trailing slash is ignored.
      - If not set, the E(SAIL_BASE_URL) environment variable is used (the official SDK's name).
      - Mutually exclusive with O(tenant). If O(tenant) is given and O(base_url) only came from
        E(SAIL_BASE_URL), O(tenant) wins.
    type: str
  tenant:
    description:
      - Tenant name; the API root becomes C(https://<tenant>.api.identitynow.com).
      - Mutually exclusive with O(base_url).
    type: str
  client_id:
    description:
      - Client ID of an ISC API client (or personal access token) used with the OAuth 2
        client-credentials grant at C(<base_url>/oauth/token).
      - If not set, the E(SAIL_CLIENT_ID) environment variable is used.
    type: str
  client_secret:
    description:
      - Secret of O(client_id).
      - If not set, the E(SAIL_CLIENT_SECRET) environment variable is used.
    type: str
  access_token:
    description:
      - A ready bearer token. It is used as is, is not cached and is not refreshed; when ISC
        refuses it the task fails.
      - Takes precedence over O(client_id) and O(client_secret).
    type: str
  api_version:
    description:
      - API layout to call.
      - V(v2024) uses C(/v2024/query-password-info) and so on; V(v2025), V(v3) and V(beta) likewise.
      - V(v1) uses SailPoint's per-resource paths such as C(/query-password-info/v1), where SailPoint
        now adds new work (the year versions are frozen).
      - V(v3) has no digit-token operation. Reading the policy holders of a source needs V(v2025) or
        V(v1); changing them needs V(v2024), V(v2025) or V(v1).
      - "The modules send the header C(X-SailPoint-Experimental: true) exactly where SailPoint's documents
        require it: the digit token and the password policies on V(v2024), V(v2025) and V(v1)."
    type: str
    choices: [v2024, v2025, v3, beta, v1]
    default: v2024
  validate_certs:
    description:
      - Whether to check the TLS certificate of the ISC API. Setting V(false) prints a warning.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file or directory of CA certificates to trust instead of the system store.
    type: path
  timeout:
    description:
      - Seconds to wait for ISC to answer one HTTP request.
    type: int
    default: 30
  rate_limit:
    description:
      - Client-side request budget per O(rate_window), shared by all requests of one task
        (including the items of a batch).
      - ISC allows 100 requests per client ID and API version per 10 seconds. Tasks running in
        parallel (several hosts or forks) each have their own budget; lower this value in that
        case. A 429 from ISC is always honoured by waiting for its C(Retry-After).
      - With O(client_id) and O(client_secret), each task hands its recent request times on to the
        next task of the play through a small file in C(~/.cache/sailpoint_isc/limiter) (start times
        only, no token or secret), also with O(token_cache=false).
    type: int
    default: 100
  rate_window:
    description:
      - Length in seconds of the window O(rate_limit) applies to.
    type: int
    default: 10
  max_retries:
    description:
      - How many times a request that is safe to repeat is retried after a connection error or
        an HTTP 5xx, with exponential backoff and jitter. V(0) disables these retries.
      - A set-password request is never repeated once it may have reached ISC; see
        the notes on outcome-unknown failures in the module documentation.
    type: int
    default: 5
  token_cache:
    description:
      - Where OAuth tokens are cached so that the tasks of a play share one token instead of
        fetching one per task.
      - A directory (default C(~/.cache/sailpoint_isc/tokens)), or a file path ending in
        C(.json). V(false) disables the cache (each task then fetches its own token).
      - Every cache file of the collection (tokens, the limiter's hand-over files, set-password
        fingerprints) lives under C(~/.cache/sailpoint_isc), or C($XDG_CACHE_HOME/sailpoint_isc) when
        E(XDG_CACHE_HOME) is set to an absolute path.
      - The cache holds one entry per base URL, client ID and secret, named by a SHA-256 digest
        over the base URL, the client ID and an HMAC of the secret. The entry holds the token's
        expiry time and the token itself encrypted with Fernet (AES-128-CBC with HMAC-SHA256)
        under a key derived from O(client_secret) with HKDF-SHA256, so no token is readable from
        the file without the secret. The directory is created mode 0700, files are written mode
        0600 through an atomic rename.
      - A token is renewed when less than 60 seconds of its life remain, and once when ISC
        answers 401.
      - Not used with O(access_token). The cache lives where the module runs (usually the
        controller, with C(delegate_to=localhost) or a local connection).
    type: raw
notes:
  - >-
    All modules of this collection form the action group C(sailpoint_isc.passwords.isc), so
    connection options can be set once per play with
    C(module_defaults) and the key C(group/sailpoint_isc.passwords.isc).
  - >-
    The modules call the ISC API from where they run; usually run them on the controller
    with C(delegate_to=localhost) or C(connection=local).
  - >-
    Each module runs pipelined whatever the play's C(pipelining) setting (its action plugin turns it on for the task),
    because its arguments carry secrets (O(client_secret), passwords) that Ansible would otherwise write to a
    temporary file with the module. Where Ansible cannot pipeline (C(ANSIBLE_KEEP_REMOTE_FILES), C(become_method=su),
    C(async), a connection without pipelining) the task fails naming the setting, and nothing is sent.
requirements:
  - requests
  - cryptography
"""

    # Attribute descriptions; modules state their support levels.
    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: all
  action_group:
    description: Use C(group/sailpoint_isc.passwords.isc) in C(module_defaults) to set connection options once.
    support: full
    membership:
      - sailpoint_isc.passwords.isc
"""

    # A module that only reads: check mode changes nothing about what it does.
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    details: Runs normally in check mode; it only reads.
  diff_mode:
    support: none
"""

    # The role's controller-side helpers that only read (rotation_accounts_file, rotation_preflight, rotation_settings).
    CONTROLLER_READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: Reads only, in check mode too.
  diff_mode:
    support: none
    description: Nothing to show.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
"""

    # The batch options of isc_set_password, isc_password_info and isc_password_status.
    BATCH = r"""
options:
  workers:
    description: How many items of the batch form are processed concurrently (all under the same rate limit).
    type: int
    default: 4
  fail_on_item_error:
    description:
      - In the batch form, whether the task fails when at least one item failed.
      - Either way every item is attempted and reported with its own C(failed) and C(msg).
    type: bool
    default: true
"""
