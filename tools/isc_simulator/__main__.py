"""Command line: ``python -m tools.isc_simulator [options]`` (see README.md)."""

import argparse
import os
import signal
import sys
import threading

from .seed import DEFAULT_SEED
from .server import Simulator


def _positive(kind):
    def convert(text):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError('must be >= 0')
        return value
    return convert


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tools.isc_simulator',
                                     description='Local SailPoint ISC password-management simulator.')
    parser.add_argument('--host', default='127.0.0.1', help='address to bind (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=int(os.environ.get('PORT') or 8089),
                        help='port (default: env PORT or 8089; 0 picks a free port)')
    parser.add_argument('--port-file', help='write the chosen port number to this file once listening')
    parser.add_argument('--seed', default=DEFAULT_SEED, help='seed YAML file (default: the package seed.yaml)')
    parser.add_argument('--fleet-size', type=_positive(int), default=0,
                        help='add N generated service accounts spread over the seed fleet sources')
    parser.add_argument('--token-ttl', type=float, default=749, help='token lifetime in seconds (default 749)')
    parser.add_argument('--rate-limit', type=_positive(int), default=100,
                        help='requests per client_id per API version per window (default 100; 0 disables)')
    parser.add_argument('--rate-window', type=float, default=10, help='rate-limit window in seconds (default 10)')
    parser.add_argument('--completion-delay', type=_positive(float), default=1.0,
                        help='seconds from IN_PROGRESS to the terminal state (default 1.0)')
    parser.add_argument('--latency', type=_positive(float), default=0.0, help='seconds added to every API response')
    parser.add_argument('--faults', help='YAML fault configuration file')
    parser.add_argument('--time-scale', type=_positive(float), default=1.0,
                        help="multiplies ISC's retry schedule for stuck changes (default 1.0)")
    parser.add_argument('--tls-cert', help='PEM certificate: serve HTTPS')
    parser.add_argument('--tls-key', help='PEM private key for --tls-cert')
    parser.add_argument('--idle-exit', type=_positive(float), default=None,
                        help='exit after this many seconds without a request (default: never)')
    parser.add_argument('--key-grace', type=_positive(float), default=600,
                        help='seconds a rotated-out publicKeyId stays accepted (default 600; 0 = stale at once)')
    parser.add_argument('--policy-rejection', choices=('async', 'submit'), default='async',
                        help='policy violations: accept then FAILED (async, default) or 400 at submit')
    parser.add_argument('--unknown-object-status', type=int, choices=(400, 404), default=400,
                        help='status for an unknown userName/sourceName/userId (default 400 = 400.1.404)')
    parser.add_argument('--pat-query-info', choices=('forbid', 'allow'), default='forbid',
                        help='PAT tokens on query-password-info: 403 (forbid, default) or allowed')
    parser.add_argument('--sync-failure', choices=('partial', 'atomic'), default='partial',
                        help='a failing sync-group member: others still change (partial, default) or none do')
    parser.add_argument('--unknown-request-status', type=int, choices=(404, 400), default=404,
                        help='status read of an unknown or forgotten request id: 404 (default) or 400 = 400.1.404')
    parser.add_argument('--sync-fanout', choices=('submit', 'completion'), default='submit',
                        help='when a change reads its sync group: when set-password is accepted, or when it completes')
    parser.add_argument('--log-requests', action='store_true', help='write an access log to stderr')
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error('--tls-cert and --tls-key go together')
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        sim = Simulator(seed_path=args.seed, token_ttl=args.token_ttl, rate_limit=args.rate_limit,
                        rate_window=args.rate_window, completion_delay=args.completion_delay, latency=args.latency,
                        faults=args.faults, time_scale=args.time_scale, tls_cert=args.tls_cert, tls_key=args.tls_key,
                        port=args.port, host=args.host, fleet_size=args.fleet_size, idle_exit=args.idle_exit,
                        key_grace=args.key_grace, policy_rejection=args.policy_rejection,
                        unknown_object_status=args.unknown_object_status, pat_query_info=args.pat_query_info,
                        sync_failure=args.sync_failure, log_requests=args.log_requests,
                        unknown_request_status=args.unknown_request_status, sync_fanout=args.sync_fanout)
        base_url = sim.start()
    except (OSError, ValueError) as exc:
        sys.stderr.write('isc simulator: %s\n' % exc)
        return 2
    if args.port_file:
        tmp = args.port_file + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as handle:
            handle.write('%d\n' % sim.port)
        os.replace(tmp, args.port_file)

    def on_signal(_signum, _frame):
        threading.Thread(target=sim.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print('ISC simulator listening on %s' % base_url, flush=True)
    while not sim.wait(0.5):
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
