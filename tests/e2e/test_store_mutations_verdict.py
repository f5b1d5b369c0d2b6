"""stores/mutations.py counts a mutation as killed only when a test of its selection failed.

pytest exits 1 for a failed test, but also when a fixture broke (errors only), and 2 when a test file could
not be collected: neither says anything about the mutation, so both are an ERROR. The verdict is read from
pytest's summary line, checked here on summaries as pytest prints them and on real runs of tiny test files.
"""

import importlib.util
import os

import pytest

_SPEC = importlib.util.spec_from_file_location(
    'store_mutations', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'stores', 'mutations.py'))
mutations = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(mutations)


@pytest.mark.parametrize('returncode, output, expected', [
    (1, '..F\n!!! stopping after 1 failures !!!\n1 failed, 2 passed, 40 deselected in 12.50s', 'killed'),
    (1, '1 failed, 3 passed in 65.43s (0:01:05)', 'killed'),
    (1, 'EF\n1 failed, 1 error in 0.50s', 'killed'),
    (1, 'E\nERROR test_x.py::test_it - RuntimeError: setup\n40 deselected, 1 error in 0.30s', 'ERROR rc=1 (40 deselected, 1 error)'),
    (2, 'E\n!!! Interrupted: 1 error during collection !!!\n1 error in 0.20s', 'ERROR rc=2 (1 error)'),
    (1, 'Traceback (most recent call last):\nKeyboardInterrupt', 'ERROR rc=1 (no summary)'),
    (4, "ERROR: Wrong expression passed to '-k': vault_file and", 'ERROR rc=4 (no summary)'),
    (0, '....\n4 passed, 40 deselected, 2 warnings in 9.00s', 'SURVIVED'),
    (5, '44 deselected in 0.10s', 'NO TEST SELECTED'),
], ids=['failed', 'failed-long-run', 'failed-and-error', 'fixture-error', 'collection-error', 'no-summary',
        'usage-error', 'passed', 'none-selected'])
def test_only_a_failed_test_is_a_kill(returncode, output, expected):
    assert mutations.verdict(returncode, output) == expected


TINY = {
    'failed': ('def test_it():\n    assert 1 == 2\n', 'killed'),
    'fixture-error': ('import pytest\n\n\n@pytest.fixture\ndef broken():\n    raise RuntimeError("setup")\n\n\n'
                      'def test_it(broken):\n    pass\n', 'ERROR rc=1 (1 error)'),
    'collection-error': ('import no_such_module_here\n\n\ndef test_it():\n    pass\n', 'ERROR rc=2 (1 error)'),
}


@pytest.mark.parametrize('case', sorted(TINY))
def test_verdict_of_a_real_pytest_run(tmp_path, case):
    """The command mutations.py runs, on a tiny test file: what pytest really prints gives the same verdict."""
    source, expected = TINY[case]
    (tmp_path / 'test_tiny.py').write_text(source)
    assert mutations.verdict(*mutations.run_tests(str(tmp_path), 'test_tiny.py', 'test_it')) == expected
