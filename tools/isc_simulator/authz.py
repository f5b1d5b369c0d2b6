"""Authorization as SailPoint documents it: scopes, token types and user levels per operation (issue 25).

The rights come from the collection's table (plugins/module_utils/rights_table.py, generated from the
official documents by tools/least_privilege.py), matched by path template, so a new route is covered
without a line here. A token needs any one of the scopes its scheme lists (``sp:scopes:all`` grants them
all); an operation without ``applicationAuth`` takes user tokens (PATs) only; and where levels are listed,
the identity behind the token must hold one of them (ISC_FACTS §11.3).
"""

import ast
import os
import re

ALL_SCOPES = 'sp:scopes:all'
TABLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     'plugins', 'module_utils', 'rights_table.py')


def _load_rights(path):
    """RIGHTS from the table file without importing the collection (the simulator runs without Ansible): the
    value of its one assignment, a literal. (runpy.run_path is fooled by ansible-test's import hooks.)"""
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), path)
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'RIGHTS')
    return ast.literal_eval(node.value)


RIGHTS = _load_rights(TABLE)

# Where one document's security differs from every other version of the same operation, the simulator
# follows the others: the beta document lists only userAuth for GET /sources, v3, v2024, v2025 and v1 take
# API clients too (and the collection reads source names with one). test_sim_authz.py checks it is still so.
DOCUMENT_SLIPS = {('GET', '/beta/sources'): 'applicationAuth'}


def _pattern(path):
    return re.compile('^' + re.sub(r'\\\{[^/]*?\\\}', '[^/]+', re.escape(path)) + '$')


_ROUTES = [(method, _pattern(path), path, entry) for (method, path), entry in RIGHTS.items()]


def operation_of(method, path):
    """(documented path, rights entry) of a request, or (None, None) when no document has it."""
    for known, pattern, documented, entry in _ROUTES:
        if known == method and pattern.match(path):
            return documented, entry
    return None, None


def client_rights(spec, client_type):
    """The rights a seed gives an API client or PAT: ``scope`` (a list, default sp:scopes:all as ISC's
    default), and how its user levels are found: ``user_levels`` a list, or ``unchecked``; unset: a PAT
    has its identity's capabilities, an API client its ``owner``'s (unchecked without an owner)."""
    scope = spec.get('scope', [ALL_SCOPES])
    if not isinstance(scope, list) or not all(isinstance(s, str) and s for s in scope):
        raise ValueError('api client %s: scope must be a list of scope names' % spec.get('client_id'))
    levels = spec.get('user_levels')
    if not (levels is None or levels == 'unchecked' or (isinstance(levels, list) and all(isinstance(v, str) for v in levels))):
        raise ValueError('api client %s: user_levels must be a list of levels or "unchecked"' % spec.get('client_id'))
    owner = spec.get('owner')
    if owner is not None and client_type != 'client':
        raise ValueError('api client %s: owner is for API clients (a PAT has its user)' % spec.get('client_id'))
    return {'scope': list(scope), 'levels': levels, 'owner': owner}


def levels_of(world, client):
    """The user levels of the identity behind a token, or None when they are not checked."""
    rights = client.rights
    if rights['levels'] == 'unchecked':
        return None
    if rights['levels'] is not None:
        return rights['levels']
    who = client.user if client.type == 'pat' else rights['owner']
    if who is None:
        return None
    ident = world.identities.get(who)
    return list(ident.capabilities) if ident is not None else []


def check(world, client, method, path):
    """None when the token may call ``method path``; else the 403 (ISC's error shape) naming the missing right."""
    from .state import forbidden  # here: state.py builds the world through seed.py, which reads client_rights
    documented, entry = operation_of(method, path)
    if entry is None:
        return None  # not a documented operation: the route answers (404, 405) as before
    what = '%s %s' % (method, documented)
    security = dict(entry['security'])
    if (method, documented) in DOCUMENT_SLIPS:
        security.setdefault(DOCUMENT_SLIPS[(method, documented)], security.get('userAuth', []))
    levels = entry['levels']
    level_text = ' of an identity with the %s user level' % ' or '.join(levels) if levels else ''
    if client.type != 'pat' and 'applicationAuth' not in security:
        return forbidden('%s needs a user token: a personal access token (PAT)%s. API client (client credentials) '
                         'tokens are refused.' % (what, level_text))
    wanted = security.get('userAuth' if client.type == 'pat' else 'applicationAuth') or []
    granted = client.rights['scope']
    if wanted and ALL_SCOPES not in granted and not set(wanted) & set(granted):
        return forbidden('%s needs the scope %s; the token of %s has %s.'
                         % (what, ' or '.join(wanted), client.client_id, ' '.join(granted) or 'no scope'))
    held = levels_of(world, client)
    if levels and held is not None and not set(levels) & set(held):
        whose = "'%s'" % (client.user if client.type == 'pat' else client.rights['owner'])
        return forbidden('%s needs a user token%s; %s does not have it (user levels: %s).'
                         % (what, level_text, whose, ', '.join(held) or 'none'))
    return None
