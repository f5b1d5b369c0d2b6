"""Fixtures for the ISC simulator tests."""

import os

import jsonschema
import pytest

from tools.isc_simulator import Simulator

from . import helpers
from .helpers import REPO, Api, SPEC_FILES, response_schema

# The official OpenAPI documents the schema checks read: the copies vendored in tests/spec first
# (see its README); ISC_OPENAPI_DIR or ../shared/isc-openapi only when a document is missing there.
VENDORED_SPEC_DIR = os.path.join(REPO, 'tests', 'spec')
FALLBACK_SPEC_DIR = helpers.OPENAPI_DIR


def in_ci():
    """CI=true (as .ci/run sets it): checks that cannot run must fail, not skip."""
    return os.environ.get('CI', '').strip().lower() in ('true', '1', 'yes')


def skip_or_fail(reason):
    """Skip with ``reason`` on a developer machine; fail with it in CI (CI=true)."""
    if in_ci():
        pytest.fail('CI=true, so this check may not be skipped: ' + reason, pytrace=False)
    pytest.skip(reason)


def _spec_dir():
    for folder in (VENDORED_SPEC_DIR, FALLBACK_SPEC_DIR):
        if all(os.path.isfile(os.path.join(folder, name)) for name in SPEC_FILES.values()):
            return folder
    return None


SPEC_DIR = _spec_dir()
# helpers.load_spec (and test_sim_flows, which imports OPENAPI_DIR after this conftest ran) read from here
helpers.OPENAPI_DIR = SPEC_DIR or VENDORED_SPEC_DIR


@pytest.fixture(name='skip_or_fail')
def skip_or_fail_fixture():
    """``skip_or_fail(reason)``: a skip outside CI, a failure with CI=true."""
    return skip_or_fail


@pytest.fixture
def make_sim():
    """Factory: ``make_sim(**kwargs)`` -> started Simulator (stopped at teardown). Fast defaults for tests."""
    started = []

    def factory(**kwargs):
        kwargs.setdefault('completion_delay', 0.2)
        kwargs.setdefault('rate_limit', 100000)
        sim = Simulator(**kwargs)
        sim.start()
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim):
    return make_sim()


@pytest.fixture
def api(sim):
    return Api(sim.base_url)


@pytest.fixture
def make_api():
    def factory(sim, **kwargs):
        return Api(sim.base_url, **kwargs)
    return factory


@pytest.fixture(scope='session')
def openapi():
    """A validator function; skips (fails with CI=true) when the official OpenAPI documents are missing."""
    if SPEC_DIR is None:
        skip_or_fail('official ISC OpenAPI documents not found: looked in %s (vendored) and %s (ISC_OPENAPI_DIR or '
                     '../shared/isc-openapi) for %s' % (VENDORED_SPEC_DIR, FALLBACK_SPEC_DIR,
                                                        ', '.join(sorted(SPEC_FILES.values()))))

    def validate(resp, version, operation):
        listed, schema = response_schema(version, operation, resp.status_code)
        assert str(resp.status_code) in listed, '%s %s: status %s not in the spec (%s)' % (
            version, operation, resp.status_code, sorted(listed))
        assert resp.headers['Content-Type'].startswith('application/json')
        body = resp.json()
        if schema is not None:
            jsonschema.validate(body, schema)
        return body
    return validate
