"""The world moves under a rotation: ``POST /__sim/world`` changes what ISC knows, at once (a test picks the moment).

One body, one move (``{"move": ...}``):
  rename-account  ``userName, sourceName, accountId?`` -> ``newAccountId?``, ``newAccountName?`` (a native rename)
  move-account    ``userName, sourceName, accountId?`` -> ``toUserName`` (the account correlates to another identity)
  delete-source   ``sourceName``: the source and every account on it go (and it leaves its sync group)
  source-features ``sourceName, features``: the source's features now (without ``PASSWORD`` set-password is refused)
  api-client      ``clientId`` with ``scope`` (its rights now, for the tokens it already holds too) and/or
                  ``revoked: true`` (its tokens stop working and it gets no new one; ``false`` lets it back in)
A change request already accepted completes as it would have (ISC dispatched it to the connector). Every move is
undone by ``POST /__sim/reset {"state": true}``. Answers ``{"moved": <what changed>}``.
"""

import secrets

from .state import Reply

MOVES = ('rename-account', 'move-account', 'delete-source', 'source-features', 'api-client')


def world_move(state, data):
    """The reply to POST /__sim/world (ValueError: 400 naming the field)."""
    if not isinstance(data, dict) or data.get('move') not in MOVES:
        raise ValueError('the body must be {"move": one of %s, ...}' % ', '.join(MOVES))
    with state.lock:
        state.settle()
        handler = globals()['_' + data['move'].replace('-', '_')]
        moved, undo = handler(state, data)
        state._deleted.append(undo)  # pylint: disable=protected-access  # reset_state runs the undo steps
    return Reply(200, {'moved': moved})


def _text(data, key, required=True):
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError('%s must be a non-empty string' % key)
    return value


def _account(world, data):
    ident = world.identities.get(_text(data, 'userName'))
    source = world.sources.get(_text(data, 'sourceName'))
    if ident is None or source is None:
        raise ValueError('unknown userName or sourceName')
    wanted = _text(data, 'accountId', required=False)
    found = [a for a in ident.accounts.get(source.id, []) if wanted in (None, a.account_id, a.account_name)]
    if len(found) != 1:
        raise ValueError('%s has %d matching accounts on %s: name one with accountId' % (ident.name, len(found), source.name))
    return ident, source, found[0]


def _rename_account(state, data):
    world = state.world
    _ident, _source, account = _account(world, data)
    before = (account.account_id, account.account_name)
    new_id = _text(data, 'newAccountId', required=False) or account.account_id
    new_name = _text(data, 'newAccountName', required=False) or account.account_name
    account.account_id, account.account_name = new_id, new_name

    def undo():
        account.account_id, account.account_name = before
    return account.to_sim(), undo


def _move_account(state, data):
    world = state.world
    ident, source, account = _account(world, data)
    target = world.identities.get(_text(data, 'toUserName'))
    if target is None or target is ident:
        raise ValueError('toUserName must name another identity')
    ident.accounts[source.id].remove(account)
    target.accounts.setdefault(source.id, []).append(account)
    account.identity = target

    def undo():
        target.accounts[source.id].remove(account)
        ident.accounts[source.id].append(account)
        account.identity = ident
    return account.to_sim(), undo


def _delete_source(state, data):
    world = state.world
    source = world.sources.get(_text(data, 'sourceName'))
    if source is None:
        raise ValueError('unknown sourceName')
    gone = [a for a in world.accounts if a.source is source]
    before = (dict(world.sources), dict(world.sources_by_id), list(world.accounts), source.sync_group,
              [(i, i.accounts.get(source.id)) for i in world.identities.values() if source.id in i.accounts])
    group = source.sync_group
    del world.sources[source.name]
    del world.sources_by_id[source.id]
    world.accounts = [a for a in world.accounts if a.source is not source]
    for ident, _accounts in before[4]:
        del ident.accounts[source.id]
    if group is not None:
        group.sources = [s for s in group.sources if s is not source]
        source.sync_group = None

    def undo():
        world.sources, world.sources_by_id, world.accounts, source.sync_group = before[:4]
        if group is not None and source not in group.sources:
            group.sources.append(source)
        for ident, accounts in before[4]:
            ident.accounts[source.id] = accounts
    return {'source': source.name, 'accounts': [a.to_sim() for a in gone]}, undo


def _source_features(state, data):
    world = state.world
    source = world.sources.get(_text(data, 'sourceName'))
    features = data.get('features')
    if source is None:
        raise ValueError('unknown sourceName')
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise ValueError('features must be a list of feature names')
    before = list(source.features)
    source.features = list(features)

    def undo():
        source.features = before
    return {'source': source.name, 'features': list(features)}, undo


def _api_client(state, data):
    client = state.world.clients.get(_text(data, 'clientId'))
    if client is None:
        raise ValueError('unknown clientId')
    scope, revoked = data.get('scope'), data.get('revoked', False)
    if scope is not None and not (isinstance(scope, list) and all(isinstance(s, str) for s in scope)):
        raise ValueError('scope must be a list of scope names')
    if not isinstance(revoked, bool) or (scope is None and 'revoked' not in data):
        raise ValueError('give scope (a list) and/or revoked (true, or false to let it back in)')
    rights, secret = dict(client.rights), client.secret
    if scope is not None:
        client.rights = dict(rights, scope=list(scope))
    seed_secret = client.__dict__.setdefault('seed_secret', client.secret)
    if revoked:  # no secret matches any more (the token endpoint answers 401) and its tokens stop working
        client.secret = secrets.token_hex(32)
        state.tokens = dict((t, v) for t, v in state.tokens.items() if v[0] is not client)
    elif 'revoked' in data:
        client.secret = seed_secret

    def undo():
        client.rights, client.secret = rights, secret
    return {'clientId': client.client_id, 'scope': client.rights['scope'], 'revoked': revoked}, undo
