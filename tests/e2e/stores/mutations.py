"""One-line mutations of the Vault file store, each of which a contract case must catch.

    python tests/e2e/stores/mutations.py [NAME ...]

For every mutation: copy the checkout (without .venv and build/) to a scratch directory, change one
line of plugins/action/vault_file_store.py there, run the tests named for it, and expect them to FAIL.
The working tree is never touched. Prints one line per mutation and exits non-zero when a mutation
survived (its tests passed) or did not apply (the line it changes is gone: update this table).
Not part of `make test` (about 15 s per mutation); run it after changing the store or the suite.
"""

import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
STORE = 'plugins/action/vault_file_store.py'
CONTRACT = 'tests/e2e/test_store_contract.py'
UNIT = 'tests/e2e/test_vault_file_store_internals.py'

# name: (rule, line as it is, line mutated, test file, pytest -k expression)
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
        "                if 'pending' in entry:",
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
}


def copy_checkout(target):
    def ignore(directory, names):
        top = os.path.abspath(directory) == REPO
        return [n for n in names if (top and n in ('.venv', 'build', '.git')) or n in ('__pycache__', '.pytest_cache')]
    shutil.copytree(REPO, target, ignore=ignore, symlinks=True)


def run(name):
    rule, before, after, test_file, selection = MUTATIONS[name]
    scratch = tempfile.mkdtemp(prefix='isc-mutant-')
    try:
        tree = os.path.join(scratch, 'passwords')
        copy_checkout(tree)
        path = os.path.join(tree, STORE)
        with open(path) as handle:
            lines = handle.read().split('\n')
        if lines.count(before) != 1:
            return 'NOT APPLIED', rule
        lines[lines.index(before)] = after
        with open(path, 'w') as handle:
            handle.write('\n'.join(lines))
        result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-x', '-p', 'no:cacheprovider',
                                 os.path.join(tree, test_file), '-k', selection],
                                cwd=tree, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode == 1:
            return 'killed', rule
        if result.returncode == 5:
            return 'NO TEST SELECTED', rule
        return ('SURVIVED' if result.returncode == 0 else 'ERROR rc=%d' % result.returncode), rule
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(names):
    bad = 0
    for name in names or sorted(MUTATIONS):
        outcome, rule = run(name)
        bad += outcome != 'killed'
        print('%-28s %-12s %s' % (name, outcome, rule), flush=True)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
