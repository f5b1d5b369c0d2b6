"""One-line mutations of the Vault file store (and of the import playbook), each of which a test must catch.

    python tests/e2e/stores/mutations.py [NAME ...]

For every mutation: copy the checkout (without .venv and build/) to a scratch directory, change one
line of plugins/action/vault_file_store.py (or of the file the entry names) there, run the tests named
for it, and expect one of them to FAIL: a mutation is killed only when pytest exits 1 and its summary
counts a failed test. Exit code 1 with errors only (a fixture that broke), 2 (a collection error), 3, 4
or a timeout say nothing about the mutation: they are reported as ERROR, with pytest's counts.
The working tree is never touched. Prints one line per mutation and exits non-zero when a mutation
survived (its tests passed), was not killed for another reason (ERROR, no test selected) or did not
apply (the line it changes is gone: update this table).
Not part of `make test` (about 15 s per mutation); run it after changing the store or the suite.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
STORE = 'plugins/action/vault_file_store.py'
CONTRACT = 'tests/e2e/test_store_contract.py'
UNIT = 'tests/e2e/test_vault_file_store_internals.py'
IMPORT_PLAYBOOK = 'playbooks/import_store.yml'

# name: (rule, line as it is, line mutated, test file, pytest -k expression[, file mutated, STORE when absent])
MUTATIONS = {
    'escrow-over-other-attempt': (
        'pending never replaces the pending of another attempt',
        "            elif held[0] != record['attempt']:",
        "            elif False:",
        CONTRACT, 'vault_file and test_refuses_a_different_pending_and_changes_nothing'),
    'one-attempt-two-passwords': (
        'an attempt has one password',
        "            elif held[1] != record['password']:",
        "            elif False:",
        CONTRACT, 'vault_file and test_refuses_a_different_pending_and_changes_nothing'),
    'all-or-nothing': (
        'a refused escrow changes nothing at all',
        "        problems = pending_conflicts(accounts, records)",
        "        problems = pending_conflicts(accounts, records[:1])",
        CONTRACT, 'vault_file and test_refuses_a_different_pending_and_changes_nothing'),
    'reescrow-rewrites': (
        'a re-escrow of the same attempt changes nothing',
        "                if 'pending' in entry and entry.get('pending_attempt') == record['attempt']:",
        "                if False:",
        CONTRACT, 'vault_file and test_escrow_and_idempotent_reescrow'),
    'settle-any-attempt': (
        'commit and discard settle only the attempt they name',
        "                    (entry.get('pending_attempt') or LEGACY_ATTEMPT) != record['attempt']:",
        "                    False:",
        CONTRACT, 'vault_file and (test_commit_settles_only_its_attempt or test_discard_settles_only_its_attempt)'),
    'check-only-listed-keys': (
        'check lists every pending key of the store, not only the keys the run names',
        "                pending = pending_attempts(accounts)",
        "                pending = pending_attempts(dict((k, accounts[k]) for k in args['keys'] if k in accounts))",
        CONTRACT, 'vault_file and test_check_lists_every_pending_key_of_the_namespace'),
    'key-loses-account-id': (
        'keys are kept exactly, odd characters included',
        "    return dict((k, v.get('pending_attempt') or LEGACY_ATTEMPT) for k, v in accounts.items() if 'pending' in v)",
        "    return dict((k.split('#')[0], v.get('pending_attempt') or LEGACY_ATTEMPT) for k, v in accounts.items() "
        "if 'pending' in v)",
        CONTRACT, 'vault_file and test_odd_characters_in_keys'),
    'escrow-visible-to-consumers': (
        'consumers only ever see current',
        "                entry.update(pending=record['password'], pending_attempt=record['attempt'], pending_since=now)",
        "                entry.update(pending=record['password'], pending_attempt=record['attempt'], pending_since=now, "
        "current=record['password'])",
        CONTRACT, 'vault_file and test_consumers_see_only_current'),
    'lease-not-exclusive': (
        'a lease of another live run is refused',
        "            if held and held.get('run_id') not in (run_id, replaces or None):",
        "            if False:",
        CONTRACT, 'vault_file and test_lease_acquire_refuse_replace_release'),
    'lease-never-replaced': (
        'the lease of the run named by replaces is taken over',
        "            if held and held.get('run_id') not in (run_id, replaces or None):",
        "            if held and held.get('run_id') not in (run_id,):",
        CONTRACT, 'vault_file and test_lease_acquire_refuse_replace_release'),
    'lease-released-by-anyone': (
        'lease_release removes only this run\'s lease',
        "                if not held or held.get('run_id') != run_id:",
        "                if not held:",
        CONTRACT, 'vault_file and test_lease_acquire_refuse_replace_release'),
    'not-durable': (
        'what a run wrote is there for the next run',
        "                self._save(vault, key, path, data)  # fsynced before the task returns",
        "                self._save(vault, key, path + '.new', data)",
        CONTRACT, 'vault_file and test_durable_across_runs'),
    'legacy-pending-dropped': (
        'a pending of a version 1 store is kept and belongs to the attempt "legacy"',
        "                entry['pending_attempt'] = LEGACY_ATTEMPT",
        "                entry.pop('pending')",
        UNIT, 'test_version_1_store_is_read_and_its_pending_is_legacy'),
    're-keyed-by-first-vault-id': (
        'the store is re-encrypted with the vault id that opened it (finding 12)',
        "        return data, (vault_id, secret)",
        "        return data, first",
        UNIT, 'test_store_is_re_encrypted_with_the_vault_id_that_opened_it'),
    # ---- previous password, retention (rules 10, 11)
    'commit-forgets-previous': (
        'a commit keeps the password it replaces as previous',
        "        entry.update(previous=entry['current'], previous_since=now)",
        "        pass",
        CONTRACT, 'vault_file and test_commit_keeps_the_previous_password'),
    'retention-zero-still-keeps': (
        'with retention 0 a commit keeps no previous',
        "    if keep_previous_days > 0 and _text(entry.get('current')) and entry['current'] != password:",
        "    if _text(entry.get('current')) and entry['current'] != password:",
        CONTRACT, 'vault_file and test_retention_zero_keeps_no_previous'),
    'retention-never-drops': (
        'every write drops the previous passwords that are old enough',
        "        if 'previous' in entry and _age_seconds(entry.get('previous_since'), now) >= keep_previous_days * 86400:",
        "        if False:",
        CONTRACT, 'vault_file and test_an_old_previous_is_dropped_by_the_next_write'),
    'retention-drops-young-ones': (
        'a previous younger than the retention stays',
        "        if 'previous' in entry and _age_seconds(entry.get('previous_since'), now) >= keep_previous_days * 86400:",
        "        if 'previous' in entry:",
        CONTRACT, 'vault_file and test_an_old_previous_is_dropped_by_the_next_write'),
    'retention-in-hours': (
        'retention is counted in days',
        "        if 'previous' in entry and _age_seconds(entry.get('previous_since'), now) >= keep_previous_days * 86400:",
        "        if 'previous' in entry and _age_seconds(entry.get('previous_since'), now) >= keep_previous_days * 3600:",
        UNIT, 'test_retention_drops_a_previous_once_it_is_keep_days_old'),
    'retention-zero-keeps-older': (
        'a commit with retention 0 leaves no previous behind, not even an older one',
        "    elif keep_previous_days <= 0:",
        "    elif False:",
        UNIT, 'test_commit_with_retention_zero_keeps_no_previous'),
    'negative-retention-accepted': (
        'a negative retention is refused',
        "        if args['keep_previous_days'] < 0:",
        "        if False:",
        UNIT, 'test_negative_retention_is_refused'),
    'read-previous-shown': (
        'read_previous answers are hidden from output like the other reads',
        "        if op.startswith('read_'):",
        "        if op in ('read_pending', 'read_current'):",
        CONTRACT, 'vault_file and test_no_password_in_output'),
    'previous-visible-to-consumers': (
        'consumers read current, never previous',
        "                    (k, accounts[k]['current']) for k in args['keys'] if 'current' in accounts.get(k, {}))}",
        "                    (k, accounts[k].get('previous', accounts[k]['current'])) for k in args['keys'] "
        "if 'current' in accounts.get(k, {}))}",
        CONTRACT, 'vault_file and test_consumers_see_only_current'),
    # ---- import (rule 12)
    'import-over-a-different-current': (
        'import refuses a key holding a different current',
        "            if _text(entry.get('current')) and entry['current'] != record['password']:",
        "            if False:",
        CONTRACT, 'vault_file and test_import_refuses_a_different_current_and_changes_nothing'),
    'import-not-all-or-nothing': (
        'a refused import changes nothing at all',
        "    problems = import_conflicts(accounts, records, overwrite)",
        "    problems = import_conflicts(accounts, records[:1], overwrite)",
        CONTRACT, 'vault_file and test_import_refuses_a_different_current_and_changes_nothing'),
    'import-two-passwords-one-key': (
        'import refuses two passwords for one key',
        "            if key in seen and seen[key] != record['password']:",
        "            if False:",
        CONTRACT, 'vault_file and test_import_refuses_a_different_current_and_changes_nothing'),
    'import-overwrite-ignored': (
        'overwrite: true replaces a different current',
        "            if 'pending' in entry or overwrite:",
        "            if 'pending' in entry:",
        CONTRACT, 'vault_file and test_import_refuses_a_different_current_and_changes_nothing'),
    'import-touches-pending': (
        'import never touches a key holding a pending',
        "            if 'pending' in entry:",
        "            if False:",
        CONTRACT, 'vault_file and test_import_sets_current_only_where_a_key_has_none'),
    'reimport-rewrites': (
        'importing the same password again changes nothing',
        "            elif entry.get('current') == record['password']:",
        "            elif False:",
        CONTRACT, 'vault_file and test_import_sets_current_only_where_a_key_has_none'),
    'import-mapping-ignored': (
        'the module takes an import mapping as passwords',
        "    for key, password in sorted((args.get('passwords') or {}).items()):",
        "    for key, password in []:",
        UNIT, 'test_import_takes_records_and_a_mapping'),
    'check-mode-import-writes': (
        'an import in check mode writes nothing, not even a new store directory',
        "            if self._task.check_mode:  # what a real run would do to a new store, written nowhere",
        "            if False:",
        UNIT, 'test_check_mode_import_into_a_new_store_writes_nothing'),
    # ---- playbooks/import_store.yml
    'playbook-overwrite-dropped': (
        'the playbook passes import_store_overwrite to the store',
        '            service_account_rotation_store_overwrite: "{{ import_store_overwrite | default(false) | bool }}"',
        '            service_account_rotation_store_overwrite: false',
        CONTRACT, 'vault_file and test_import_store_playbook and not refuses', IMPORT_PLAYBOOK),
    'playbook-keeps-store-lease': (
        'the playbook gives the store lease back however the import ends',
        '            service_account_rotation_store_op: lease_release',
        '            service_account_rotation_store_op: check',
        CONTRACT, 'vault_file and test_import_store_playbook and not refuses', IMPORT_PLAYBOOK),
    'playbook-empty-source-accepted': (
        'the playbook refuses a key with an empty source, naming it',
        "          {%-   elif not source | trim %}",
        "          {%-   elif false %}",
        CONTRACT, 'test_import_store_playbook_refuses_bad_input_and_a_running_rotation', IMPORT_PLAYBOOK),
    'playbook-plain-text-accepted': (
        'the playbook refuses a passwords file that is not vault-encrypted',
        "        that: (import_store_raw.content | b64decode).startswith('$ANSIBLE_VAULT;')",
        "        that: true",
        CONTRACT, 'test_import_store_playbook_refuses_bad_input_and_a_running_rotation', IMPORT_PLAYBOOK),
    'playbook-ignores-rotation-lease': (
        'the playbook refuses while a rotation holds the state directory',
        '        ledger_path: "{{ service_account_rotation_ledger_path }}"\n        state: acquired',
        '        ledger_path: "{{ service_account_rotation_ledger_path }}.elsewhere"\n        state: acquired',
        CONTRACT, 'test_import_store_playbook_refuses_bad_input_and_a_running_rotation', IMPORT_PLAYBOOK),
}


def copy_checkout(target):
    def ignore(directory, names):
        top = os.path.abspath(directory) == REPO
        return [n for n in names if (top and n in ('.venv', 'build', '.git')) or n in ('__pycache__', '.pytest_cache')]
    shutil.copytree(REPO, target, ignore=ignore, symlinks=True)


# pytest's summary line, as tools/test_all.sh reads it: "1 failed, 3 passed, 40 deselected in 12.50s"
SUMMARY = re.compile(r'^(=+ )?([0-9]+ [a-z]+(, )?)+ in [0-9.]+s')


def summary_counts(output):
    """The counts of pytest's last summary line ({'failed': 1, 'passed': 3, 'error': 1}); {} when it printed none."""
    for line in reversed(output.splitlines()):
        if SUMMARY.match(line.strip()):
            return dict((word[:-1] if word in ('errors', 'warnings') else word, int(count))
                        for count, word in re.findall(r'([0-9]+) ([a-z]+)', line.split(' in ')[0]))
    return {}


def verdict(returncode, output):
    """'killed' only when a test of the selection failed; an error is not a kill."""
    counts = summary_counts(output)
    if returncode == 1 and counts.get('failed', 0) > 0:
        return 'killed'
    if returncode == 0:
        return 'SURVIVED'
    if returncode == 5:
        return 'NO TEST SELECTED'
    return 'ERROR rc=%d (%s)' % (returncode, ', '.join('%d %s' % (n, word) for word, n in counts.items()) or 'no summary')


def run_tests(tree, test_file, selection):
    """pytest on the tests of test_file that selection picks, in tree: (exit code, output)."""
    result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-x', '-p', 'no:cacheprovider', '--color=no',
                             os.path.join(tree, test_file), '-k', selection],
                            cwd=tree, capture_output=True, text=True, timeout=900, check=False)
    return result.returncode, result.stdout + result.stderr


def run(name):
    rule, before, after, test_file, selection = MUTATIONS[name][:5]
    mutated = MUTATIONS[name][5] if len(MUTATIONS[name]) > 5 else STORE
    scratch = tempfile.mkdtemp(prefix='isc-mutant-')
    try:
        tree = os.path.join(scratch, 'passwords')
        copy_checkout(tree)
        path = os.path.join(tree, mutated)
        with open(path) as handle:
            text = handle.read()
        # whole lines only (a "before" of two lines names one of them in context)
        if ('\n' + text + '\n').count('\n' + before + '\n') != 1:
            return 'NOT APPLIED', rule
        text = ('\n' + text + '\n').replace('\n' + before + '\n', '\n' + after + '\n')[1:-1]
        with open(path, 'w') as handle:
            handle.write(text)
        try:
            return verdict(*run_tests(tree, test_file, selection)), rule
        except subprocess.TimeoutExpired:
            return 'ERROR timeout', rule
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(names):
    bad = 0
    for name in names or sorted(MUTATIONS):
        outcome, rule = run(name)
        bad += outcome != 'killed'
        print('%-32s %-12s %s' % (name, outcome, rule), flush=True)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
