"""The built collection artifact, installed the way users install it, driven the way AWX drives it.

The collection is built with ``ansible-galaxy collection build`` and installed from the tarball
into a scratch collections path; every playbook here sees only that path (no symlink to the
checkout), so a file missing from the artifact fails these tests. The connection comes only from
the environment that the AWX credential type in ``extensions/awx/credential_type.yml`` injects: the
test renders its injectors the way AWX does, so it also proves that file works.
"""

import datetime
import glob
import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from conftest import BIN, REPO, write_playbook

AWX_DIR = os.path.join(REPO, 'extensions', 'awx')
CREDENTIAL_TYPE = os.path.join(AWX_DIR, 'credential_type.yml')
NEW_PASSWORD = 'Artifact-7q2Lm9xP'  # meets My-AD's policy in the simulator seed
CLIENT = {'base_url': None, 'client_id': 'demo-client-id', 'client_secret': 'demo-client-secret'}
VAULT_PASSWORD = 'e2e-vault-password-not-a-secret-of-the-service'

# Must never be in the artifact (developer tooling, local state).
NOT_SHIPPED = ('tools/', 'tests/simulator/', 'tests/e2e/', '.venv/', 'build/', 'benchmarks/', '.ci/',
               '.benchmarks/', 'Makefile', 'requirements-dev.txt')
# Must be in it (user-facing material besides the plugins).
SHIPPED = ('docs/quick-start.md', 'docs/awx.md', 'extensions/awx/credential_type.yml',
           'extensions/awx/survey.example.json', 'extensions/awx/container_group_pod_spec.yml',
           'extensions/ee/execution-environment.yml',
           'examples/ci/github-actions.yml', 'examples/ci/gitlab-ci.yml',
           'meta/execution-environment.yml', 'requirements.txt', 'meta/runtime.yml',
           'plugins/modules/isc_set_password.py', 'roles/service_account_rotation/tasks/main.yml')


# --------------------------------------------------------------------------------------------
# AWX's handling of a custom credential type, reproduced: validation when the type is saved, and
# injection when a job starts (inputs left empty are undefined, file injectors become private
# files whose paths are reachable as tower.filename.<name>).

class _Namespace:
    pass


def load_credential_type():
    with open(CREDENTIAL_TYPE) as handle:
        return yaml.safe_load(handle)


def awx_validate(credential_type):
    """What AWX checks when the credential type is created; raises on a problem."""
    fields = [f['id'] for f in credential_type['inputs']['fields']]
    assert set(credential_type['inputs'].get('required', [])) <= set(fields)
    namespace = dict((name, 'EXAMPLE') for name in fields)
    namespace['tower'] = _Namespace()
    namespace['tower'].filename = _Namespace()
    for label in credential_type['injectors'].get('file', {}):
        assert label.startswith('template.'), 'use the multi-file syntax (template.<name>)'
        setattr(namespace['tower'].filename, label.split('.', 1)[1], 'EXAMPLE_FILENAME')
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for kind, injector in credential_type['injectors'].items():
        assert kind in ('env', 'extra_vars', 'file')
        for key, template in injector.items():
            if kind == 'env':
                assert not key.startswith('ANSIBLE_') and key.replace('_', 'A').isalnum()
            env.from_string(template).render(namespace)  # StrictUndefined: unknown field -> error


def awx_inject(credential_type, inputs, private_dir):
    """The environment a job gets from a credential with these inputs."""
    namespace = dict((k, v) for k, v in inputs.items() if v not in (None, ''))
    namespace['tower'] = _Namespace()
    env = ImmutableSandboxedEnvironment()
    for label, template in credential_type['injectors'].get('file', {}).items():
        fd, path = tempfile.mkstemp(dir=private_dir)
        with os.fdopen(fd, 'w') as handle:
            handle.write(env.from_string(template).render(**namespace))
        if not hasattr(namespace['tower'], 'filename'):
            namespace['tower'].filename = _Namespace()
        setattr(namespace['tower'].filename, label.split('.', 1)[1], path)
    return dict((name, env.from_string(template).render(**namespace))
                for name, template in credential_type['injectors'].get('env', {}).items())


# --------------------------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope='module')
def artifact():
    """Build the collection and install the tarball into a scratch collections path."""
    root = tempfile.mkdtemp(prefix='isc-artifact-')
    collections = os.path.join(root, 'collections')
    # Only the scratch path: with the checkout on ANSIBLE_COLLECTIONS_PATH (as `make` sets it),
    # ansible-galaxy would find the collection "already installed" and install nothing.
    env = dict(os.environ, ANSIBLE_HOME=os.path.join(root, 'ansible-home'), HOME=root, ANSIBLE_COLLECTIONS_PATH=collections,
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path',
                    os.path.join(root, 'dist'), REPO], check=True, capture_output=True, env=env)
    [tarball] = glob.glob(os.path.join(root, 'dist', 'sailpoint_isc-passwords-*.tar.gz'))
    # as AWX installs it without Galaxy (docs/awx.md): the tarball in the project's collections/, named by the
    # shipped requirements.tarball.yml used as collections/requirements.yml, installed from the project root
    with open(os.path.join(REPO, 'extensions', 'awx', 'project', 'collections', 'requirements.tarball.yml')) as handle:
        requirements = yaml.safe_load(handle)
    [entry] = requirements['collections']
    assert entry['type'] == 'file' and re.match(r'^collections/sailpoint_isc-passwords-[0-9.]+\.tar\.gz$', entry['name'])
    entry['name'] = 'collections/' + os.path.basename(tarball)  # the version built here
    project = os.path.join(root, 'project')
    os.makedirs(os.path.join(project, 'collections'))
    shutil.copy(tarball, os.path.join(project, 'collections'))
    with open(os.path.join(project, 'collections', 'requirements.yml'), 'w') as handle:
        yaml.safe_dump(requirements, handle)
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '-p', collections,
                    '-r', 'collections/requirements.yml'], check=True, capture_output=True, env=env, cwd=project)
    yield {'tarball': tarball, 'collections': collections}
    shutil.rmtree(root, ignore_errors=True)


def job_env(workdir, collections, credential_env):
    """A job's environment: only the installed artifact, connection only from the credential."""
    env = dict((k, v) for k, v in os.environ.items()
               if not k.startswith(('SAIL_', 'ANSIBLE_', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')))
    env.update(
        ANSIBLE_COLLECTIONS_PATH=collections,
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false',
        ANSIBLE_HOME=os.path.join(workdir, 'ansible-home'),
        ANSIBLE_LOCAL_TEMP=os.path.join(workdir, 'ansible-tmp'),
        ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_STDOUT_CALLBACK='default',
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
        XDG_CACHE_HOME=os.path.join(workdir, 'cache'),
        HOME=workdir,
        PATH=BIN + os.pathsep + os.environ.get('PATH', ''),
    )
    env.update(credential_env)
    return env


def run_playbook(workdir, env, playbook, extra_vars=None, vault=False):
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', playbook]
    if extra_vars:
        path = os.path.join(workdir, 'extra-vars.json')
        with open(path, 'w') as handle:
            json.dump(extra_vars, handle)
        cmd += ['-e', '@' + path]
    if vault:
        path = os.path.join(workdir, 'vault-pass')
        with open(path, 'w') as handle:
            handle.write(VAULT_PASSWORD + '\n')
        cmd += ['--vault-password-file', path]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False)


def sha(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


# --------------------------------------------------------------------------------------------
# the credential type file and the artifact

def test_credential_type_is_what_awx_accepts_and_injects(workdir):
    ct = load_credential_type()
    awx_validate(ct)
    assert set(ct) == {'name', 'description', 'kind', 'inputs', 'injectors'}  # awx.awx.credential_type options
    fields = dict((f['id'], f) for f in ct['inputs']['fields'])
    assert fields['client_secret'].get('secret') is True
    assert not any(f.get('secret') for name, f in fields.items() if name != 'client_secret')
    assert set(ct['inputs']['required']) == {'base_url', 'client_id', 'client_secret'}

    minimal = awx_inject(ct, {'base_url': 'https://acme.api.identitynow.com', 'client_id': 'id',
                              'client_secret': 's3cret', 'ca_cert': '', 'ca_path': ''}, workdir)
    assert minimal == {'SAIL_BASE_URL': 'https://acme.api.identitynow.com', 'SAIL_CLIENT_ID': 'id',
                       'SAIL_CLIENT_SECRET': 's3cret', 'REQUESTS_CA_BUNDLE': ''}
    with_path = awx_inject(ct, {'base_url': 'u', 'client_id': 'i', 'client_secret': 's',
                                'ca_path': '/etc/pki/tls/certs/ca-bundle.crt'}, workdir)
    assert with_path['REQUESTS_CA_BUNDLE'] == '/etc/pki/tls/certs/ca-bundle.crt'
    with_cert = awx_inject(ct, {'base_url': 'u', 'client_id': 'i', 'client_secret': 's',
                                'ca_cert': 'PEM TEXT\n', 'ca_path': '/ignored'}, workdir)
    with open(with_cert['REQUESTS_CA_BUNDLE']) as handle:
        assert handle.read() == 'PEM TEXT\n'


def test_artifact_holds_user_material_and_no_developer_tooling(artifact):
    with tarfile.open(artifact['tarball']) as tar:
        names = tar.getnames()
    leaked = sorted(n for n in names for bad in NOT_SHIPPED if n == bad.rstrip('/') or n.startswith(bad))
    assert not leaked, 'developer files in the artifact: %s' % leaked[:20]
    missing = [n for n in SHIPPED if n not in names]
    assert not missing, 'missing from the artifact: %s' % missing


# --------------------------------------------------------------------------------------------
# the installed artifact against the simulator, connected only through the credential's env

SET_PASSWORD_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Rotate Abby.Smith on My-AD (connection from SAIL_* only)
      sailpoint_isc.passwords.isc_set_password:
        user_name: Abby.Smith
        source_name: My-AD
        password: "{{ new_password }}"
        wait: true
        wait_timeout: 60
        poll_interval: 1
      register: change
      no_log: true
    - name: Where the module came from
      ansible.builtin.debug:
        msg: "state={{ change.state }} changed={{ change.changed }}"
"""


def test_installed_artifact_sets_password_with_credential_env(artifact, simulator, workdir):
    before = simulator.accounts(userName='Abby.Smith', sourceName='My-AD')[0]['passwordSha256']
    credential_env = awx_inject(load_credential_type(), dict(CLIENT, base_url=simulator.base_url), workdir)
    env = job_env(workdir, artifact['collections'], credential_env)

    listing = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'list', 'sailpoint_isc.passwords'],
                             env=env, capture_output=True, text=True, check=False)
    assert artifact['collections'] in listing.stdout and REPO not in listing.stdout, listing.stdout

    play = write_playbook(workdir, 'set_password.yml', SET_PASSWORD_PLAY)
    result = run_playbook(workdir, env, play, {'new_password': NEW_PASSWORD})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert 'state=FINISHED changed=True' in result.stdout
    assert NEW_PASSWORD not in result.stdout + result.stderr

    after = simulator.accounts(userName='Abby.Smith', sourceName='My-AD')[0]['passwordSha256']
    assert after != before and after == sha(NEW_PASSWORD)


def _self_signed(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'isc-simulator-test')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode('ascii')
    paths = {'cert': os.path.join(directory, 'sim-cert.pem'), 'key': os.path.join(directory, 'sim-key.pem')}
    with open(paths['cert'], 'w') as handle:
        handle.write(cert_pem)
    with open(paths['key'], 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return paths, cert_pem


INFO_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Query Abby.Smith over TLS
      sailpoint_isc.passwords.isc_password_info:
        user_name: Abby.Smith
        source_name: My-AD
        max_retries: 0
      register: info
    - name: Show the identity
      ansible.builtin.debug:
        msg: "identity={{ info.identity_id }}"
"""


def test_credential_ca_certificate_reaches_the_modules(artifact, simulator_factory, workdir):
    paths, cert_pem = _self_signed(workdir)
    sim = simulator_factory('--tls-cert', paths['cert'], '--tls-key', paths['key'])
    base_url = sim.base_url.replace('http://', 'https://')
    ct = load_credential_type()
    play = write_playbook(workdir, 'info.yml', INFO_PLAY)

    untrusted = run_playbook(workdir, job_env(workdir, artifact['collections'],
                                              awx_inject(ct, dict(CLIENT, base_url=base_url), workdir)), play)
    assert untrusted.returncode != 0 and 'certificate' in untrusted.stdout, untrusted.stdout[-3000:]

    trusted_env = awx_inject(ct, dict(CLIENT, base_url=base_url, ca_cert=cert_pem), workdir)
    trusted = run_playbook(workdir, job_env(workdir, artifact['collections'], trusted_env), play)
    assert trusted.returncode == 0, trusted.stdout[-4000:] + trusted.stderr[-2000:]
    assert 'identity=2c918085744fec4301746f9a5bce4605' in trusted.stdout


# --------------------------------------------------------------------------------------------
# the AWX project playbook with the survey's defaults, as a job template would run it

def test_awx_project_playbook_with_survey_defaults(artifact, simulator, workdir):
    project = os.path.join(workdir, 'project')
    shutil.copytree(os.path.join(AWX_DIR, 'project'), project)
    with open(os.path.join(AWX_DIR, 'survey.example.json')) as handle:
        survey = json.load(handle)
    extra_vars = dict((q['variable'], q['default']) for q in survey['spec'])
    assert extra_vars['service_account_rotation_force'] == 'false'  # a survey answer is a string
    state_dir = os.path.join(workdir, 'state')
    extra_vars.update(rotation_state_dir=state_dir, service_account_rotation_poll_interval=1)
    with open(os.path.join(project, 'accounts.yml')) as handle:
        accounts = yaml.safe_load(handle)['service_account_rotation_accounts']
    before = dict(((a['sourceName'], a['userName']), a['passwordSha256']) for a in simulator.accounts())

    credential_env = awx_inject(load_credential_type(), dict(CLIENT, base_url=simulator.base_url), workdir)
    env = job_env(workdir, artifact['collections'], credential_env)
    result = run_playbook(workdir, env, os.path.join(project, 'rotate_service_accounts.yml'), extra_vars, vault=True)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]

    after = dict(((a['sourceName'], a['userName']), a['passwordSha256']) for a in simulator.accounts())
    for account in accounts:
        pair = (account['source_name'], account['user_name'])
        assert after[pair] != before[pair], pair

    # The JUnit report in the shape GitLab's junit reports and the GitHub JUnit actions read.
    root = ET.parse(os.path.join(state_dir, 'report.xml')).getroot()
    assert root.tag == 'testsuites'
    suites = root.findall('testsuite')
    assert len(suites) == 1 and suites[0].get('name')
    cases = suites[0].findall('testcase')
    assert sorted(c.get('name') for c in cases) == sorted('%s/%s' % (a['source_name'], a['user_name'])
                                                          for a in accounts)
    assert all(c.get('classname') for c in cases)
    assert int(root.get('tests')) == int(suites[0].get('tests')) == len(cases)
    assert int(suites[0].get('failures')) == sum(1 for c in cases if c.find('failure') is not None) == 0
    with open(os.path.join(state_dir, 'report.json')) as handle:
        assert json.load(handle)['totals'] == {'rotated': len(accounts)}


def test_job_template_example_sets_the_execution_environment_and_its_instance_group_only(workdir):
    """extensions/awx/job_template.example.yml against stand-ins of the awx.awx modules (issue 24): the rotation
    template names the execution environment and the instance group, and never falls back to another group."""
    from test_shards import run_workflow_example
    settings = {'awx_organization': 'Default', 'awx_project': 'iam-automation', 'awx_inventory': 'localhost-only',
                'awx_vault_credential': 'isc-rotation-vault', 'awx_execution_environment': 'sailpoint-isc-passwords-ee',
                'awx_instance_group': 'isc-rotation', 'isc_base_url': 'https://acme.api.identitynow.com',
                'isc_client_id': 'client-1', 'isc_client_secret': 'secret-1'}
    example = os.path.join(REPO, 'extensions', 'awx', 'job_template.example.yml')
    result, calls = run_workflow_example(workdir, settings, playbook=example)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    [rotation] = [t for t in calls['job_template'] if t['playbook'] == 'rotate_service_accounts.yml']
    assert rotation['execution_environment'] == 'sailpoint-isc-passwords-ee'
    assert rotation['instance_groups'] == ['isc-rotation'] and rotation['prevent_instance_group_fallback'] is True
    assert rotation['allow_simultaneous'] is False
