"""Fixtures for the ISC simulator tests."""

import os

import jsonschema
import pytest

from tools.isc_simulator import Simulator

from .helpers import OPENAPI_DIR, Api, SPEC_FILES, response_schema


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
    """Skips when the official OpenAPI folder is missing; returns a validator function."""
    missing = [f for f in SPEC_FILES.values() if not os.path.isfile(os.path.join(OPENAPI_DIR, f))]
    if missing:
        pytest.skip('official ISC OpenAPI documents not found: looked in %s for %s (set ISC_OPENAPI_DIR)'
                    % (OPENAPI_DIR, ', '.join(missing)))

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
