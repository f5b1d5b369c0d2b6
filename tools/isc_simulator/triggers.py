"""Moments a test chooses: change a password sync group when the Nth request of an operation arrives or is answered.

``PUT /__sim/triggers`` replaces the list; each trigger fires once. A request counts when it reaches its operation
(after authentication, the rate limiter and injected faults). ``moment: before`` fires before the operation runs,
``after`` once it has run and before its answer is sent (so the client reads the answer after the change).
"""

import threading

from .config import Invalid

OPERATIONS = ('query_password_info', 'set_password', 'password_change_status', 'sync_groups', 'sources')


def _clean(item, index):
    if not isinstance(item, dict):
        raise ValueError('triggers[%d] must be an object' % index)
    unknown = set(item) - {'operation', 'count', 'moment', 'sync_group', 'sources'}
    if unknown:
        raise ValueError('triggers[%d]: unknown key(s) %s' % (index, ', '.join(sorted(unknown))))
    if item.get('operation') not in OPERATIONS:
        raise ValueError('triggers[%d].operation must be one of %s' % (index, ', '.join(OPERATIONS)))
    count = item.get('count', 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError('triggers[%d].count must be an integer >= 1' % index)
    moment = item.get('moment', 'after')
    if moment not in ('before', 'after'):
        raise ValueError('triggers[%d].moment must be before or after' % index)
    if not isinstance(item.get('sync_group'), str) or not item['sync_group']:
        raise ValueError('triggers[%d].sync_group must name a password sync group' % index)
    sources = item.get('sources')
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise ValueError('triggers[%d].sources must be a list of source names or ids' % index)
    return {'operation': item['operation'], 'count': count, 'moment': moment, 'sync_group': item['sync_group'],
            'sources': list(sources), 'seen': 0}


class Triggers:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []
        self.fired = []

    def replace(self, body):
        items = (body or {}).get('triggers') if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ValueError('the body must be {"triggers": [...]}')
        clean = [_clean(item, index) for index, item in enumerate(items)]
        with self.lock:
            self.items, self.fired = clean, []

    def snapshot(self):
        with self.lock:
            return {'triggers': [dict(t) for t in self.items], 'fired': [dict(f) for f in self.fired]}

    def hit(self, operation):
        """The triggers the request now reaching ``operation`` sets off (each once)."""
        due = []
        with self.lock:
            for trigger in list(self.items):
                if trigger['operation'] == operation:
                    trigger['seen'] += 1
                    if trigger['seen'] == trigger['count']:
                        self.items.remove(trigger)
                        due.append(trigger)
        return due

    def fire(self, due, moment, state):
        """Apply the triggers of ``due`` whose moment this is: the group's members become ``sources``."""
        for trigger in [t for t in due if t['moment'] == moment]:
            outcome = dict(trigger)
            with state.lock:
                config = state.config
                group = next((g for g in state.world.sync_groups if g.name == trigger['sync_group']), None)
                try:
                    if group is None:
                        raise Invalid('no password sync group is named %r' % trigger['sync_group'])
                    ids = []
                    for ref in trigger['sources']:
                        source = state.world.sources.get(ref) or state.world.sources_by_id.get(ref)
                        if source is None:
                            raise Invalid('unknown source %r' % ref)
                        ids.append(source.id)
                    config.replace_group(group, {'name': group.name, 'passwordPolicyId': group.policy_id, 'sourceIds': ids})
                    outcome['applied'] = True
                except Invalid as exc:
                    outcome['applied'], outcome['error'] = False, str(exc)
            with self.lock:
                self.fired.append(outcome)

    def reset(self):
        with self.lock:
            self.items, self.fired = [], []
