"""HTTP operations on the password configuration (config.py): who may call what, and the answers."""

import json
import re

from .config import ORG_DEFAULTS, Invalid, clean_org_config, iso, parse_dictionary
from .state import Reply, _bool_param, _int_param, _unescape, bad_request, forbidden, not_found

EXPERIMENTAL_VERSIONS = ('v2024', 'v2025', 'v1')
EXPERIMENTAL_TEXT = "This endpoint is experimental and requires the header 'X-SailPoint-Experimental: true'."
OPERATIONS = ('password_policies', 'sync_groups', 'password_dictionary', 'password_org_config',
              'source_password_policies')
ADMIN = ('ORG_ADMIN',)
SOURCE_LEVELS = ('ORG_ADMIN', 'SOURCE_ADMIN', 'SOURCE_SUBADMIN', 'ROLE_SUBADMIN')
_NAME_EQ = re.compile(r'^\s*name\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$')


def experimental_missing(version, headers):
    """The 400 for a missing ``X-SailPoint-Experimental: true`` where ``version`` requires it, else None."""
    if version in EXPERIMENTAL_VERSIONS and (headers.get('X-SailPoint-Experimental') or '').strip().lower() != 'true':
        return bad_request(EXPERIMENTAL_TEXT)
    return None


def user_token_refusal(state, client, what, levels=ADMIN, clients_allowed=False):
    """None when ``client`` may do ``what``; else the 403 saying which kind of token is needed."""
    if client.type != 'pat':
        if clients_allowed:
            return None
        return forbidden('%s needs a user token: a personal access token (PAT) of an identity with the %s user level. '
                         'API client (client credentials) tokens are refused.' % (what, ' or '.join(levels)))
    ident = state.world.identities.get(client.user)
    if ident is None or not set(levels) & set(ident.capabilities):
        return forbidden('%s needs a user token of an identity with the %s user level; the personal access token of '
                         "'%s' does not have it." % (what, ' or '.join(levels), client.user))
    return None


def handle(state, client, operation, method, version, ident, query, body, headers, parse_form):
    """Answer one request of an operation in OPERATIONS (called with the parsed path groups)."""
    try:
        with state.lock:
            if operation == 'password_policies':
                return _policies(state, client, method, version, ident, query, body, headers)
            if operation == 'sync_groups':
                return _groups(state, client, method, ident, query, body)
            if operation == 'password_dictionary':
                return _dictionary(state, client, method, body, headers, parse_form)
            if operation == 'password_org_config':
                return _org_config(state, client, method, body)
            return _holders(state, client, method, ident, query, body)
    except Invalid as exc:
        return bad_request(str(exc), '400.1.3 Illegal value' if str(exc).startswith('Illegal value') else
                           '400.1 Bad Request Content')


def _json(body):
    if not body or not body.strip():
        raise Invalid('A JSON request body is required.')
    try:
        return json.loads(body.decode('utf-8'))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid('The request body is not valid JSON: %s' % exc) from None


def _page(query, items, name_of=None):
    """limit/offset/count, and ``filters=name eq "x"`` when ``name_of`` is given."""
    try:
        limit = _int_param(query, 'limit', 250, 0, 250)
        offset = _int_param(query, 'offset', 0, 0, None)
        count = _bool_param(query, 'count')
    except ValueError as exc:
        return bad_request(str(exc), '400.1.3 Illegal value')
    text = (query.get('filters') or [''])[0]
    if text.strip() and name_of is not None:
        match = _NAME_EQ.match(text)
        if not match:
            return bad_request("Illegal value for query parameter 'filters': %r. The simulator understands only "
                               'name eq "x" here.' % text, '400.1.3 Illegal value')
        wanted = _unescape(match.group(1))
        items = [i for i in items if name_of(i) == wanted]
    headers = {'X-Total-Count': str(len(items))} if count else {}
    return Reply(200, items[offset:offset + limit], headers)


def _policies(state, client, method, version, ident, query, body, headers):
    config = state.config
    missing = experimental_missing(version, headers)
    if missing:
        return missing
    if method != 'GET':
        refusal = user_token_refusal(state, client, 'Writing password policies')
        if refusal:
            return refusal
    if ident is None:
        if method == 'GET':
            return _page(query, [_render(p, version) for p in config.policies.values()], lambda p: p['name'])
        return Reply(200, _render(config.create_policy(_json(body)), version))
    if ident not in config.policies:
        return not_found("Password policy '%s' was not found." % ident)
    if method == 'GET':
        return Reply(200, _render(config.policies[ident], version))
    if method == 'PUT':
        return Reply(200, _render(config.replace_policy(ident, _json(body)), version))
    config.delete_policy(ident)
    return Reply(204)


def _render(policy, version):
    """A stored policy as ``version`` shows it: v3 and beta type dateCreated/lastUpdated as date-time strings,
    v2024, v2025 and v1 as epoch milliseconds."""
    shown = dict(policy)
    if version in ('v3', 'beta'):
        for field in ('dateCreated', 'lastUpdated'):
            shown[field] = iso(shown[field] / 1000.0) if shown[field] is not None else None
    return shown


def _groups(state, client, method, ident, query, body):
    config = state.config
    if method != 'GET':
        refusal = user_token_refusal(state, client, 'Writing password sync groups')
        if refusal:
            return refusal
    if ident is None:
        if method == 'GET':
            return _page(query, [g.to_api() for g in state.world.sync_groups], lambda g: g['name'])
        return Reply(200, config.create_group(_json(body)).to_api())
    group = config.find_group(ident)
    if group is None:
        text = "Password sync group '%s' was not found." % ident
        return not_found(text) if method != 'DELETE' else state._unknown(text)  # no 404 in DELETE's spec
    if method == 'GET':
        return Reply(200, group.to_api())
    if method == 'PUT':
        return Reply(200, config.replace_group(group, _json(body)).to_api())
    config.delete_group(group)
    return Reply(204)


def _dictionary(state, client, method, body, headers, parse_form):
    refusal = user_token_refusal(state, client, 'The password dictionary (read and write)')
    if refusal:
        return refusal
    config = state.config
    if method == 'GET':
        if config.dictionary is None:
            return not_found('No password dictionary has been uploaded.')
        return Reply(200, config.dictionary, {'Content-Type': 'text/plain;charset=utf-8'})
    ctype = headers.get('Content-Type') or ''
    if not ctype.lower().startswith('multipart/form-data'):
        raise Invalid("The password dictionary must be sent as multipart/form-data with the file in the part 'file'.")
    try:
        form = parse_form(ctype, body or b'')
    except UnicodeDecodeError:
        raise Invalid('The password dictionary must contain UTF-8 characters only.') from None
    except ValueError as exc:
        raise Invalid('The multipart body could not be parsed: %s' % exc) from None
    if 'file' not in form:
        raise Invalid("The multipart body has no part named 'file'.")
    parse_dictionary(form['file'])
    return Reply(201 if config.set_dictionary(form['file']) else 200)


def _org_config(state, client, method, body):
    config = state.config
    if method == 'GET':
        return Reply(200, dict(config.org_config if config.org_config is not None else ORG_DEFAULTS))
    refusal = user_token_refusal(state, client, 'Writing the password org config', clients_allowed=True)
    if refusal:
        return refusal
    data = _json(body)
    if method == 'POST':
        if config.org_config is not None:
            raise Invalid('The password org config already exists; change it with PUT.')
        config.org_config = clean_org_config(data, ORG_DEFAULTS)
    else:
        config.org_config = clean_org_config(data, config.org_config if config.org_config is not None else ORG_DEFAULTS)
    return Reply(200, dict(config.org_config))


def _holders(state, client, method, ident, query, body):
    source = state.world.sources_by_id.get(ident)
    if method == 'GET':
        refusal = user_token_refusal(state, client, 'Reading the password policies of a source', SOURCE_LEVELS)
    else:
        refusal = user_token_refusal(state, client, 'Changing the password policies of a source', SOURCE_LEVELS,
                                     clients_allowed=True)
    if refusal:
        return refusal
    if source is None:
        return not_found("Source '%s' was not found." % ident)
    if method == 'GET':
        return _page(query, state.config.holders(source))
    return Reply(200, state.config.set_holders(source, _json(body)))
