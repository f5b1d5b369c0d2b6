"""A tiny local "app" for the dependents tests (test_dependents.py): one process per app.

It reads its password(s) at start, from a config line (password=...) or an environment file (VAR="..."), and is
healthy (GET /health -> 200) only while each matches the simulator's live password hash for its account (read from
/__sim/accounts). Every start appends a line to the app's starts file (restarts per run are counted there), every
GET /health a line to its asks file (how often a run asked it).

  python dep_app.py serve APP_DIR     run the app in the foreground (restart starts it detached)
  python dep_app.py restart APP_DIR   stop the running app and start it again; fails once (exit 1, app left down)
                                      when APP_DIR/fail-next-restart exists, which it removes; a
                                      restart that works appends "<went down> <listens again>" to APP_DIR/restarts
  python dep_app.py reload APP_DIR    the running app reads its secrets again without stopping (SIGHUP; no moment
                                      without an answer), as an app of alternating accounts does (test_alternating.py)

APP_DIR/app.json: {"port", "sim", "secrets": [{"file", "format": "line"|"env"|"login", "source", "user"}], "restart_seconds"}
(how long a restart takes to come up again, beyond the start itself); the format login reads the user name too, from
a line login=<user>:<password> (its secret has no "user").
"""

import hashlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request


def read_login(secret):
    """(user, password) of a secret: the user of app.json, or, format login, the one the file names."""
    if secret['format'] != 'login':
        return secret['user'], read_secret(secret)
    with open(secret['file']) as handle:
        for line in handle:
            if line.startswith('login=') and ':' in line:
                user, _colon, password = line.rstrip('\n')[len('login='):].partition(':')
                return user, password
    return None, None


def read_secret(secret):
    with open(secret['file']) as handle:
        for line in handle:
            line = line.rstrip('\n')
            if secret['format'] == 'line' and line.startswith('password='):
                return line[len('password='):]
            if secret['format'] == 'env' and line.startswith('DB_PASSWORD="') and line.endswith('"'):
                out, text, i = [], line[len('DB_PASSWORD="'):-1], 0
                while i < len(text):  # systemd's double-quoted value: \\ and \" escape
                    if text[i] == '\\' and i + 1 < len(text):
                        i += 1
                    out.append(text[i])
                    i += 1
                return ''.join(out)
    return None


def serve(app_dir):
    config = json.load(open(os.path.join(app_dir, 'app.json')))
    logins = [read_login(s) for s in config['secrets']]
    with open(os.path.join(app_dir, 'starts'), 'a') as handle:
        handle.write('%f\n' % time.time())

    def reload(*_args):
        logins[:] = [read_login(s) for s in config['secrets']]
        with open(os.path.join(app_dir, 'reloads'), 'a') as handle:
            handle.write('%f\n' % time.time())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            with open(os.path.join(app_dir, 'asks'), 'a') as handle:
                handle.write('%f\n' % time.time())
            healthy = True
            for secret, (user, password) in zip(config['secrets'], list(logins)):
                query = urllib.parse.urlencode({'userName': user or '', 'sourceName': secret['source']})
                with urllib.request.urlopen(config['sim'] + '/__sim/accounts?' + query, timeout=10) as resp:
                    rows = json.loads(resp.read())['accounts']
                want = rows[0]['passwordSha256'] if rows else None
                if password is None or hashlib.sha256(password.encode()).hexdigest() != want:
                    healthy = False
            self.send_response(200 if healthy else 503)
            self.end_headers()
            self.wfile.write(b'ok' if healthy else b'wrong password')

        def log_message(self, *args):  # nothing on stderr, nothing in any file
            pass

    with open(os.path.join(app_dir, 'pid'), 'w') as handle:  # before it listens: restart waits for the port
        handle.write('%d %d' % (os.getpid(), start_time(os.getpid())))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', config['port']), Handler)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGHUP, reload)
    server.serve_forever()


def _stat(pid):
    """(state, start time) of pid from /proc/PID/stat (fields 3 and 22), or None once it is gone."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
        return fields[0], int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def start_time(pid):
    """When pid started, or None once it is gone."""
    stat = _stat(pid)
    return stat and stat[1]


def running_pid(app_dir):
    """The pid of the app that APP_DIR/pid names while that very process runs, else None. A pid file alone is not
    enough: after a restart that failed (the app left down) its pid is free, and with pid_max at 32768 and the
    test processes forking all the time another process (of any test) may hold it by the next stop or reload."""
    try:
        pid, started = (int(field) for field in open(os.path.join(app_dir, 'pid')).read().split())
    except (OSError, ValueError):
        return None
    stat = _stat(pid)  # one read: the same process (its start time), still running
    return pid if _runs(stat) and stat[1] == started else None


def stop(app_dir):
    pid = running_pid(app_dir)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        deadline = time.time() + 10
        while time.time() < deadline and alive(pid):
            time.sleep(0.02)
    if running_pid(app_dir) is None:
        try:
            os.unlink(os.path.join(app_dir, 'pid'))
        except OSError:
            pass


def alive(pid):
    """Whether pid still runs: an app whose parent is gone is re-parented to the test process (killer.py's
    subreaper), which reaps it only later, so a zombie counts as gone."""
    return _runs(_stat(pid))


def _runs(stat):
    return bool(stat) and stat[0] not in ('Z', 'X')


def start(app_dir):
    """Start the app detached (its own session, no inherited pipes) and wait until it listens."""
    config = json.load(open(os.path.join(app_dir, 'app.json')))
    env = dict(os.environ)
    env.pop('ISC_E2E_KILL_TAG', None)  # the app is not part of the run a kill test crashes (killer.py)
    subprocess.Popen([sys.executable, os.path.abspath(__file__), 'serve', app_dir], start_new_session=True, env=env,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(('127.0.0.1', config['port']), timeout=1).close()
            return 0
        except OSError:
            time.sleep(0.05)
    return 1


def reload(app_dir):
    """SIGHUP to the running app, and wait until it has read its secrets again. Fails once (exit 1, no signal: the
    app keeps what it read) when APP_DIR/fail-next-restart exists, which it removes."""
    flag = os.path.join(app_dir, 'fail-next-restart')
    if os.path.exists(flag):
        os.unlink(flag)
        sys.stderr.write('the app failed to reload\n')
        return 1
    marker = os.path.join(app_dir, 'reloads')
    before = os.path.getsize(marker) if os.path.exists(marker) else 0
    pid = running_pid(app_dir)
    if pid is None:
        sys.stderr.write('the app does not run: nothing to reload\n')
        return 1
    os.kill(pid, signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline:
        if os.path.exists(marker) and os.path.getsize(marker) > before:
            return 0
        time.sleep(0.02)
    return 1


def restart(app_dir):
    begin = time.time()
    stop(app_dir)
    flag = os.path.join(app_dir, 'fail-next-restart')
    if os.path.exists(flag):
        os.unlink(flag)
        sys.stderr.write('the app failed to start\n')
        return 1
    time.sleep(json.load(open(os.path.join(app_dir, 'app.json'))).get('restart_seconds', 0))  # a slow service
    status = start(app_dir)
    with open(os.path.join(app_dir, 'restarts'), 'a') as handle:  # when it went down and when it listened again
        handle.write('%f %f\n' % (begin, time.time()))
    return status


if __name__ == '__main__':
    ACTION, DIRECTORY = sys.argv[1], os.path.abspath(sys.argv[2])
    if ACTION == 'serve':
        serve(DIRECTORY)
    sys.exit({'restart': restart, 'reload': reload, 'start': start, 'stop': lambda d: stop(d) or 0}[ACTION](DIRECTORY))
