# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dependents preflight and health checks ask once per distinct target (docs/dependents.md): the role's own
expressions (tasks/dependents/preflight.yml, http_health.yml), templated as the role templates them. One stat per
distinct (host, target), its result given to every dependent naming it; one health check per distinct (host, url,
status_code) per pass, its outcome given to every dependent naming it (an app fed by two accounts: one URL, two
dependents). End to end: tests/e2e/test_dependents.py (the health asks of apps fed by two accounts).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.role_tasks import task_expressions

try:  # ansible-core 2.19+: a string is templated only when trusted as a template (the role's files are)
    from ansible.template import trust_as_template
except ImportError:  # older cores template every string
    def trust_as_template(text):
        return text

FAILED_HEALTH = 'failed: Ask each health URL'


def expressions(name):
    """The set_fact expressions and task vars of a task file of the dependents, by name."""
    return task_expressions('dependents', name)


def template(text, **variables):
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(text))


def dep(key, kind, host, **options):
    target = options.get('path') or options.get('environment_file') or options.get('url')
    return dict(options, key=key, type=kind, host=host, id='%s %s:%s' % (kind, host, target))


SHARED = [  # app1 on h1 is fed by two accounts: its secret file and health URL are named by both
    dep('S/a', 'file', 'h1', path='/app1/secret-0'), dep('S/a', 'http_health', 'h1', url='http://h1/health', retries=2),
    dep('S/b', 'file', 'h1', path='/app1/secret-1'), dep('S/b', 'http_health', 'h1', url='http://h1/health', delay=3),
    dep('S/b', 'systemd', 'h2', environment_file='/app2/env'), dep('S/c', 'systemd', 'h2', environment_file='/app2/env'),
    dep('S/c', 'http_health', 'h2', url='http://h2/health'), dep('S/c', 'tasks', 'h2', tasks='/nonexistent/t.yml'),
    dep('S/d', 'http_health', 'down', url='http://down/health'),
]


def stat_targets(planned):
    return template(expressions('preflight.yml')['service_account_rotation__dep_targets'],
                    service_account_rotation__dep_planned=planned)


def preflight_reasons(planned, stat_results):
    exprs = expressions('preflight.yml')
    return template(exprs['service_account_rotation__dep_own'], service_account_rotation__dep_planned=planned,
                    service_account_rotation__dep_no_reuse={}, service_account_rotation__dep_stat={'results': stat_results})


def stat_result(target, exists=True, unreachable=False):
    if unreachable:
        return {'unreachable': True, 'msg': 'Failed to connect', 'service_account_rotation__dep_target': target}
    return {'stat': {'exists': exists}, 'service_account_rotation__dep_target': target}


def test_the_preflight_stats_each_host_and_target_once():
    targets = stat_targets(SHARED)
    assert targets == [{'host': 'h1', 'path': '/app1/secret-0'}, {'host': 'h1', 'path': '/'},
                       {'host': 'h1', 'path': '/app1/secret-1'}, {'host': 'h2', 'path': '/app2/env'},
                       {'host': 'h2', 'path': '/'}, {'host': 'down', 'path': '/'}], targets


def test_each_dependent_gets_the_result_of_its_host_and_target():
    targets = stat_targets(SHARED)
    results = [stat_result(t, exists=t['path'] != '/app2/env', unreachable=t['host'] == 'down') for t in targets]
    reasons = preflight_reasons(SHARED, results)
    assert 'S/a' not in reasons, reasons  # its file and its URL's host are there
    # both accounts whose dependent names the missing environment file are held back by that one stat
    assert reasons['S/b'] == 'dependent systemd: /app2/env does not exist on h2', reasons
    assert reasons['S/c'] == 'dependent systemd: /app2/env does not exist on h2', reasons
    assert reasons['S/d'] == 'dependent http_health: host down is unreachable', reasons
    # the tasks file is still checked per dependent, on the stat of its host
    only_tasks = [d for d in SHARED if d['type'] == 'tasks']
    assert preflight_reasons(only_tasks, [stat_result(t) for t in stat_targets(only_tasks)]) == {
        'S/c': 'dependent tasks: task file /nonexistent/t.yml does not exist'}


def health_checks(deps):
    return template(expressions('http_health.yml')['service_account_rotation__dep_checks'],
                    service_account_rotation__dep_of_type=deps)


def health_outcomes(checks, bad_urls, before=None):
    results = [dict({'service_account_rotation__dep_check': check, 'status': 503 if check['url'] in bad_urls else 200},
                    failed=check['url'] in bad_urls) for check in checks]
    return template(expressions('http_health.yml')['service_account_rotation__dep_outcomes'],
                    service_account_rotation__dep_outcomes=before or {},
                    service_account_rotation__dep_health={'results': results})


def test_a_url_shared_by_two_accounts_is_asked_once_and_both_get_its_outcome():
    health = [d for d in SHARED if d['type'] == 'http_health']
    checks = health_checks(health)
    assert [(c['host'], c['url']) for c in checks] == [('h1', 'http://h1/health'), ('h2', 'http://h2/health'),
                                                       ('down', 'http://down/health')], checks
    shared = checks[0]
    assert shared['deps'] == ['S/a|http_health h1:http://h1/health', 'S/b|http_health h1:http://h1/health'], shared
    # the most patient of the dependents naming it: retries 2 (S/a) and default 5 (S/b) -> 5; delay 1 and 3 -> 3
    assert (shared['status_code'], shared['retries'], shared['delay'], shared['timeout']) == (200, 5, 3, 10), shared
    outcomes = health_outcomes(checks, bad_urls=(), before={'S/a|file h1:/app1/secret-0': 'restarted'})
    assert outcomes == {'S/a|file h1:/app1/secret-0': 'restarted', 'S/a|http_health h1:http://h1/health': 'healthy',
                        'S/b|http_health h1:http://h1/health': 'healthy', 'S/c|http_health h2:http://h2/health': 'healthy',
                        'S/d|http_health down:http://down/health': 'healthy'}, outcomes


def test_a_failing_shared_url_fails_both_dependents():
    checks = health_checks([d for d in SHARED if d['type'] == 'http_health'])
    outcomes = health_outcomes(checks, bad_urls=('http://h1/health',))
    assert outcomes['S/a|http_health h1:http://h1/health'] == FAILED_HEALTH, outcomes
    assert outcomes['S/b|http_health h1:http://h1/health'] == FAILED_HEALTH, outcomes
    assert outcomes['S/c|http_health h2:http://h2/health'] == 'healthy', outcomes


def test_another_host_or_status_code_is_a_check_of_its_own():
    url = 'http://app/health'
    deps = [dep('S/a', 'http_health', 'h1', url=url), dep('S/b', 'http_health', 'h2', url=url),
            dep('S/c', 'http_health', 'h1', url=url, status_code=204), dep('S/d', 'http_health', 'h1', url=url, status_code='200')]
    checks = health_checks(deps)
    assert [(c['host'], c['status_code'], len(c['deps'])) for c in checks] == [('h1', 200, 2), ('h2', 200, 1), ('h1', 204, 1)]
