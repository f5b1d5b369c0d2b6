"""Password configuration of the ISC simulator: policies, sync groups, dictionary, org config, policy holders.

Policy objects (``PasswordPolicyV3Dto``) are the truth for what a source enforces. A source's
effective policy for an identity is: its sync group's policy; else the first policy holder of the
source with ``identityAttr`` selectors that all match the identity's attributes; else the policy
whose ``sourceIds`` contains the source; else the default policy. Everything here is mutated only
under the simulator's state lock.
"""

import time
import uuid

from .policy import normalize_policy
from .seed import SyncGroup, build_sync_groups, derived_id

SEED_TIME = 1672531200  # 2023-01-01T00:00:00Z: the creation time of every seeded policy

# DTO integer fields and their defaults (the DTO's "By default is equals to ...")
DTO_INTS = {
    'firstExpirationReminder': 0, 'accountIdMinWordLength': -1, 'accountNameMinWordLength': -1, 'minAlpha': 0,
    'minCharacterTypes': -1, 'maxLength': 0, 'minLength': 0, 'maxRepeatedChars': -1, 'minLower': 0, 'minNumeric': 0,
    'minSpecial': 0, 'minUpper': 0, 'passwordExpiration': 90,
}
DTO_BOOLS = ('defaultPolicy', 'enablePasswdExpiration', 'requireStrongAuthn', 'requireStrongAuthOffNetwork',
             'requireStrongAuthUntrustedGeographies', 'useAccountAttributes', 'useDictionary', 'useIdentityAttributes',
             'validateAgainstAccountId', 'validateAgainstAccountName')
READ_ONLY = ('id', 'dateCreated', 'lastUpdated', 'created', 'modified')
# DTO field -> the IdentityIQ key of PasswordInfo.policies (policy.py)
ISC_KEYS = {
    'minLength': 'passwordMinLength', 'maxLength': 'passwordMaxLength', 'minAlpha': 'passwordMinAlpha',
    'minNumeric': 'passwordMinNumeric', 'minUpper': 'passwordMinUpper', 'minLower': 'passwordMinLower',
    'minSpecial': 'passwordMinSpecial', 'minCharacterTypes': 'passwordMinCharType',
    'maxRepeatedChars': 'passwordRepeatedChar',
}
INT_MAX = 2 ** 31 - 1
ORG_DEFAULTS = {'customInstructionsEnabled': False, 'digitTokenEnabled': False, 'digitTokenDurationMinutes': 5,
                'digitTokenLength': 6}
ORG_RANGES = {'digitTokenDurationMinutes': (1, 60), 'digitTokenLength': (6, 18)}
DICTIONARY_MAX_LINES = 2500
DICTIONARY_MAX_CHARS = 128


class Invalid(ValueError):
    """A request the configuration refuses: ``str(exc)`` is the 400 text, ``field`` the field it names."""


def iso(timestamp):
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(timestamp)) + '.%03dZ' % (int(timestamp * 1000) % 1000)


def dto_from_isc(isc_policy):
    """DTO constraint fields from a seed policy keyed by the IdentityIQ names (unset keys keep the defaults)."""
    dto = {}
    for field, key in ISC_KEYS.items():
        if isc_policy.get(key):
            dto[field] = isc_policy[key]
    return dto


def isc_from_dto(dto):
    """The IdentityIQ-keyed policy (policy.py) of a DTO: values <= 0 are unset."""
    return {key: dto[field] for field, key in ISC_KEYS.items() if isinstance(dto.get(field), int) and dto[field] > 0}


def clean_policy(body, existing=None):
    """Validate a PasswordPolicyV3Dto request body; return the full stored object (PUT replaces everything)."""
    if not isinstance(body, dict):
        raise Invalid('The request body must be a JSON object (a PasswordPolicyV3Dto).')
    for key in body:
        if key not in DTO_INTS and key not in DTO_BOOLS and key not in READ_ONLY + ('name', 'description', 'sourceIds'):
            raise Invalid("Unknown field '%s' in the password policy." % key)
    name = body.get('name')
    if not isinstance(name, str) or not name.strip():
        raise Invalid("Field 'name' is required and must be a non-empty string.")
    if body.get('description') is not None and not isinstance(body['description'], str):
        raise Invalid("Field 'description' must be a string or null.")
    policy = {'name': name.strip(), 'description': body.get('description')}
    for field, default in DTO_INTS.items():
        value = body.get(field)
        if value is None:
            value = default
        elif isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= INT_MAX:
            raise Invalid("Illegal value for '%s': it must be an integer from -1 to %d (-1 or 0 = not set)." % (field, INT_MAX))
        policy[field] = value
    if policy['minCharacterTypes'] > 4:
        raise Invalid("Illegal value for 'minCharacterTypes': at most 4 character types exist.")
    if policy['maxLength'] > 0 and policy['minLength'] > policy['maxLength']:
        raise Invalid("Illegal value for 'maxLength': it is smaller than minLength (%d)." % policy['minLength'])
    for field in DTO_BOOLS:
        value = body.get(field)
        if value is not None and not isinstance(value, bool):
            raise Invalid("Illegal value for '%s': it must be a boolean." % field)
        policy[field] = bool(value)
    if policy['defaultPolicy'] != bool(existing and existing['defaultPolicy']):
        raise Invalid("Illegal value for 'defaultPolicy': only the tenant's default policy has it, and it keeps it.")
    source_ids = body.get('sourceIds')
    if source_ids is None:
        source_ids = []
    if not isinstance(source_ids, list) or not all(isinstance(s, str) for s in source_ids):
        raise Invalid("Field 'sourceIds' must be a list of source id strings.")
    policy['sourceIds'] = list(dict.fromkeys(source_ids))
    return policy


class PasswordConfig:
    """The tenant's password configuration, built from the seed and changed through the API."""

    def __init__(self, world, seed_data):
        self.world = world
        self.seed_data = seed_data
        self.policies = {}        # id -> stored PasswordPolicyV3Dto (dict, insertion order = list order)
        self.selectors = {}       # source id -> [(policy id, [{'name', 'value'}])]
        self.dictionary = None    # the uploaded text, None when never uploaded
        self.org_config = None    # None when never created
        self.reset()

    # -- seed -------------------------------------------------------------------------------
    def reset(self):
        """Back to the seed's configuration (sync groups included)."""
        build_sync_groups(self.world, self.seed_data)
        self.policies = {}
        self.selectors = {}
        self.dictionary = self.seed_data.get('password_dictionary')
        if self.dictionary is not None:
            parse_dictionary(self.dictionary)  # a bad seed dictionary is a startup error (Invalid is a ValueError)
        org = self.seed_data.get('password_org_config')
        self.org_config = None
        if org is not None:
            self.org_config = clean_org_config(org, dict(ORG_DEFAULTS))
        default = normalize_policy(self.seed_data.get('default_policy'), 'default_policy')
        self._seed_policy(derived_id('policy', 'default'), 'Default Policy', default, [], default=True)
        for source in self.world.sources.values():
            if source.has_policy:
                self._seed_policy(derived_id('policy', 'source:' + source.name), '%s policy' % source.name,
                                  source.own_policy, [source.id])
        for group in self.world.sync_groups:
            self._seed_policy(group.policy_id, group.name, group.policy, [s.id for s in group.sources])

    def _seed_policy(self, policy_id, name, isc_policy, source_ids, default=False):
        body = dto_from_isc(isc_policy)
        body.update({'name': name, 'sourceIds': source_ids, 'defaultPolicy': default,
                     'description': 'Seeded by the ISC simulator.'})
        if policy_id in self.policies:
            raise ValueError('seed: two policies share the id %s' % policy_id)
        if self.find_policy_by_name(name):
            raise ValueError('seed: two policies are named %r' % name)
        policy = clean_policy(body, {'defaultPolicy': default})
        self._store(policy_id, policy, SEED_TIME, SEED_TIME)

    def _store(self, policy_id, policy, created, updated):
        for other in self.policies.values():  # a source is linked (without selectors) to one policy only
            if other.get('id') != policy_id:
                other['sourceIds'] = [s for s in other['sourceIds'] if s not in policy['sourceIds']]
        policy = dict({'id': policy_id}, **policy)
        policy.update({'dateCreated': int(created * 1000), 'lastUpdated': int(updated * 1000),
                       'created': iso(created), 'modified': iso(updated)})
        self.policies[policy_id] = policy
        return policy

    # -- lookups ----------------------------------------------------------------------------
    def find_policy_by_name(self, name, but=None):
        for policy in self.policies.values():
            if policy['name'].lower() == name.lower() and policy['id'] != but:
                return policy
        return None

    def default_policy(self):
        for policy in self.policies.values():
            if policy['defaultPolicy']:
                return policy
        return None

    def linked_policy(self, source):
        for policy in self.policies.values():
            if source.id in policy['sourceIds']:
                return policy
        return None

    def effective_dto(self, source, identity=None):
        """The PasswordPolicyV3Dto that governs ``identity``'s accounts on ``source`` (see the module doc)."""
        group = source.sync_group
        if group is not None and group.policy_id in self.policies:
            return self.policies[group.policy_id]
        if identity is not None:
            for policy_id, attrs in self.selectors.get(source.id, []):
                if policy_id in self.policies and all(identity.attributes.get(a['name']) == a['value'] for a in attrs):
                    return self.policies[policy_id]
        return self.linked_policy(source) or self.default_policy() or {}

    def effective(self, source, identity=None):
        """The effective policy keyed by the IdentityIQ names (what policy.py checks and renders)."""
        return isc_from_dto(self.effective_dto(source, identity))

    def dictionary_words(self):
        return parse_dictionary(self.dictionary)[1] if self.dictionary else []

    def dictionary_violations(self, password, source, identity):
        """A rule violation when the effective policy uses the dictionary and a word occurs in the password."""
        if not self.effective_dto(source, identity).get('useDictionary'):
            return []
        lowered = password.lower()
        if any(word.lower() in lowered for word in self.dictionary_words()):
            return ['Password contains a word of the password dictionary']
        return []

    # -- policies -----------------------------------------------------------------------------
    def create_policy(self, body):
        policy = clean_policy(body)
        self._check_policy(policy)
        now = time.time()
        return self._store(uuid.uuid4().hex, policy, now, now)

    def replace_policy(self, policy_id, body):
        existing = self.policies[policy_id]
        policy = clean_policy(body, existing)
        self._check_policy(policy, policy_id)
        return self._store(policy_id, policy, existing['dateCreated'] / 1000.0, time.time())

    def _check_policy(self, policy, policy_id=None):
        if self.find_policy_by_name(policy['name'], but=policy_id):
            raise Invalid("Illegal value for 'name': a password policy named '%s' already exists." % policy['name'])
        unknown = [s for s in policy['sourceIds'] if s not in self.world.sources_by_id]
        if unknown:
            raise Invalid("Illegal value for 'sourceIds': unknown source id(s) %s." % ', '.join(unknown))

    def delete_policy(self, policy_id):
        policy = self.policies[policy_id]
        if policy['defaultPolicy']:
            raise Invalid("The default password policy '%s' cannot be deleted." % policy['name'])
        for group in self.world.sync_groups:
            if group.policy_id == policy_id:
                raise Invalid("The password policy '%s' is used by the password sync group '%s' (%s); change or delete "
                              "the group first." % (policy['name'], group.name, group.id))
        del self.policies[policy_id]
        for source_id, holders in list(self.selectors.items()):
            self.selectors[source_id] = [h for h in holders if h[0] != policy_id]

    # -- sync groups --------------------------------------------------------------------------
    def find_group(self, group_id):
        for group in self.world.sync_groups:
            if group.id == group_id:
                return group
        return None

    def _clean_group(self, body, group_id=None):
        if not isinstance(body, dict):
            raise Invalid('The request body must be a JSON object (a PasswordSyncGroup).')
        for key in body:
            if key not in ('id', 'name', 'passwordPolicyId', 'sourceIds', 'created', 'modified'):
                raise Invalid("Unknown field '%s' in the password sync group." % key)
        name = body.get('name')
        if not isinstance(name, str) or not name.strip():
            raise Invalid("Field 'name' is required and must be a non-empty string.")
        for group in self.world.sync_groups:
            if group.name.lower() == name.strip().lower() and group.id != group_id:
                raise Invalid("Illegal value for 'name': a password sync group named '%s' already exists." % group.name)
        policy_id = body.get('passwordPolicyId')
        if not isinstance(policy_id, str) or not policy_id:
            raise Invalid("Field 'passwordPolicyId' is required and must be a string.")
        if policy_id not in self.policies:
            raise Invalid("Illegal value for 'passwordPolicyId': no password policy has the id '%s'." % policy_id)
        ids = body.get('sourceIds')
        if not isinstance(ids, list) or not all(isinstance(s, str) for s in ids):
            raise Invalid("Field 'sourceIds' is required and must be a list of source id strings.")
        ids = list(dict.fromkeys(ids))
        unknown = [s for s in ids if s not in self.world.sources_by_id]
        if unknown:
            raise Invalid("Illegal value for 'sourceIds': unknown source id(s) %s." % ', '.join(unknown))
        if len(ids) < 2:
            raise Invalid("Illegal value for 'sourceIds': a password sync group needs at least two sources.")
        members = [self.world.sources_by_id[s] for s in ids]
        for source in members:
            if source.sync_group is not None and source.sync_group.id != group_id:
                raise Invalid("Illegal value for 'sourceIds': source '%s' (%s) is already in the password sync group "
                              "'%s'; a source may be in one group only." % (source.name, source.id, source.sync_group.name))
        return name.strip(), policy_id, members

    def create_group(self, body):
        name, policy_id, members = self._clean_group(body)
        now = iso(time.time())
        group = SyncGroup(str(uuid.uuid4()), name, policy_id, {}, members, now, now)
        for source in members:
            source.sync_group = group
        self.world.sync_groups.append(group)
        return group

    def replace_group(self, group, body):
        name, policy_id, members = self._clean_group(body, group.id)
        for source in group.sources:
            source.sync_group = None
        group.name, group.policy_id, group.sources, group.modified = name, policy_id, members, iso(time.time())
        for source in members:
            source.sync_group = group
        return group

    def delete_group(self, group):
        """Members become independent; the group's policy is assigned to them directly (as ISC documents)."""
        self.world.sync_groups.remove(group)
        for source in group.sources:
            source.sync_group = None
        policy = self.policies.get(group.policy_id)
        if policy is not None:
            ids = [s.id for s in group.sources]
            for other in self.policies.values():
                other['sourceIds'] = [s for s in other['sourceIds'] if s not in ids]
            policy['sourceIds'] = list(dict.fromkeys(policy['sourceIds'] + ids))

    # -- policy holders of a source -------------------------------------------------------------
    def holders(self, source):
        """The PasswordPolicyHoldersDto of a source: its direct link (or group/default policy), then the selectors."""
        linked = self.policies.get(source.sync_group.policy_id) if source.sync_group else None
        linked = linked or self.linked_policy(source) or self.default_policy()
        items = [{'policyId': linked['id'], 'policyName': linked['name'], 'selectors': None}] if linked else []
        for policy_id, attrs in self.selectors.get(source.id, []):
            if policy_id in self.policies:
                items.append({'policyId': policy_id, 'policyName': self.policies[policy_id]['name'],
                              'selectors': {'identityAttr': [dict(a) for a in attrs]}})
        return items

    def set_holders(self, source, body):
        if not isinstance(body, list):
            raise Invalid('The request body must be a JSON array of password policy holders '
                          '({policyId, policyName, selectors}).')
        direct, selected = None, []
        for index, item in enumerate(body):
            where = 'item %d' % index
            if not isinstance(item, dict):
                raise Invalid('%s of the request body must be an object.' % where)
            for key in item:
                if key not in ('policyId', 'policyName', 'selectors'):
                    raise Invalid("Unknown field '%s' in %s." % (key, where))
            policy_id = item.get('policyId')
            if not isinstance(policy_id, str) or policy_id not in self.policies:
                raise Invalid("Illegal value for 'policyId' in %s: no password policy has the id %r." % (where, policy_id))
            if item.get('policyName') is not None and not isinstance(item['policyName'], str):
                raise Invalid("Illegal value for 'policyName' in %s: it must be a string." % where)
            selectors = item.get('selectors')
            if selectors is None:
                if direct is not None:
                    raise Invalid("Illegal value for 'selectors': only one holder may have null selectors "
                                  "(the policy of the whole source).")
                direct = policy_id
                continue
            attrs = selectors.get('identityAttr') if isinstance(selectors, dict) else None
            if (not isinstance(attrs, list) or not attrs or set(selectors) - {'identityAttr'}
                    or not all(isinstance(a, dict) and set(a) == {'name', 'value'} and isinstance(a['name'], str)
                               and isinstance(a['value'], str) for a in attrs)):
                raise Invalid("Illegal value for 'selectors' in %s: it must be null or {\"identityAttr\": "
                              "[{\"name\": \"...\", \"value\": \"...\"}, ...]} with at least one attribute." % where)
            selected.append((policy_id, [{'name': a['name'], 'value': a['value']} for a in attrs]))
        for policy in self.policies.values():
            policy['sourceIds'] = [s for s in policy['sourceIds'] if s != source.id]
        if direct is not None:
            self.policies[direct]['sourceIds'].append(source.id)
        self.selectors[source.id] = selected
        return self.holders(source)

    # -- dictionary and org config ----------------------------------------------------------------
    def set_dictionary(self, text):
        parse_dictionary(text)
        created = self.dictionary is None
        self.dictionary = text
        return created

    def snapshot(self):
        """Everything, for ``GET /__sim/password-config``."""
        world = self.world
        return {
            'policies': [dict(p) for p in self.policies.values()],
            'syncGroups': [g.to_api() for g in world.sync_groups],
            'holders': {s.name: self.holders(s) for s in world.sources.values()},
            'effective': {s.name: self.effective_dto(s).get('id') for s in world.sources.values()},
            'dictionary': self.dictionary,
            'orgConfig': dict(self.org_config) if self.org_config is not None else None,
        }


def clean_org_config(body, base):
    """Validate a PasswordOrgConfig body and merge it into ``base`` (a partial update)."""
    if not isinstance(body, dict):
        raise Invalid('The request body must be a JSON object (a PasswordOrgConfig).')
    merged = dict(base)
    for key, value in body.items():
        if key not in ORG_DEFAULTS:
            raise Invalid("Unknown field '%s' in the password org config." % key)
        if key in ORG_RANGES:
            low, high = ORG_RANGES[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise Invalid("Illegal value for '%s': it must be an integer from %d to %d inclusive." % (key, low, high))
        elif not isinstance(value, bool):
            raise Invalid("Illegal value for '%s': it must be a boolean." % key)
        merged[key] = value
    return merged


def parse_dictionary(text):
    """Return (locale or None, words) of a dictionary file, or raise Invalid naming the broken limit."""
    if not isinstance(text, str):
        raise Invalid("The password dictionary must be UTF-8 text (multipart part 'file').")
    locale, words = None, []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith('#'):
            if len(line) > DICTIONARY_MAX_CHARS:
                raise Invalid('Password dictionary line %d is longer than %d characters.' % (number, DICTIONARY_MAX_CHARS))
            continue
        if locale is None and not words and stripped.startswith('locale='):
            locale = stripped[len('locale='):]
            continue
        if len(line) > DICTIONARY_MAX_CHARS:
            raise Invalid('Password dictionary line %d is longer than %d characters (the limit per line).'
                          % (number, DICTIONARY_MAX_CHARS))
        if line[0].isspace() or any(c.isspace() for c in stripped):
            raise Invalid('Password dictionary line %d must be one word without whitespace.' % number)
        words.append(stripped)
        if len(words) > DICTIONARY_MAX_LINES:
            raise Invalid('The password dictionary has more than %d word lines (the limit; comment, empty and locale '
                          'lines do not count).' % DICTIONARY_MAX_LINES)
    return locale, words
