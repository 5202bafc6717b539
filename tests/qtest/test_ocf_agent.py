#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_ocf_agent - contrib/ocf/colo-proxy, the Pacemaker resource agent.

  - ocf-tester (Debian's resource-agents) passes: meta-data against
    ra-api-1.dtd, validate-all, start/stop/monitor, the promotable
    sequence (promote = a secondary fails over, demote = restarted as a
    fresh secondary), each twice;
  - missing or wrong parameters: validate-all (and start) exit with
    OCF_ERR_CONFIGURED (6) and say which parameter;
  - promote without quorum (colo-quorum provider=manual, x-quorate off):
    refused with colo-quorum's reason, the side stays unpromoted;
  - the agent is installed by 'meson install' (ninja install).

colo-proxy runs with stream netdevs on unix sockets: no root needed, but
ocf-tester's permission check needs root (it warns otherwise).
"""

import os
import shutil
import subprocess

from coloqtest import *

AGENT = os.path.join(source_dir(), 'contrib', 'ocf', 'colo-proxy')


def args_files(d, quorate=True):
    q = 'on' if quorate else 'off'
    for role, frame in (('primary', 'mode=primary,driver=exec,exec=true'),
                        ('secondary', 'mode=secondary')):
        with open(os.path.join(d, f'{role}.args'), 'w') as f:
            f.write('# colo-proxy arguments, one per line\n'
                    '-netdev\n'
                    f'stream,id=hn0,server=on,addr.type=unix,'
                    f'addr.path={d}/net.sock\n'
                    '-object\n'
                    f'colo-frame,id=colo0,{frame}\n'
                    '-object\n'
                    f'colo-quorum,id=q0,netdev=hn0,provider=manual,'
                    f'x-quorate={q}\n')


def env_for(d, **over):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith('OCF_RESKEY_'):
            del env[k]
    params = {'primary_node': 'no-such-node',
              'primary_args': os.path.join(d, 'primary.args'),
              'secondary_args': os.path.join(d, 'secondary.args'),
              'state_dir': os.path.join(d, 'state'),
              'binary': proxy_binary()}
    params.update(over)
    for k, v in params.items():
        if v is not None:
            env[f'OCF_RESKEY_{k}'] = v
    return env


def agent(action, env):
    return subprocess.run([AGENT, action], env=env, capture_output=True,
                          text=True, timeout=60)


def test_ocf_tester():
    if not shutil.which('ocf-tester'):
        raise Skip('needs ocf-tester (apt-get install resource-agents)')
    d = tmpdir('cqo')
    os.chmod(d, 0o755)
    args_files(d)
    cmd = ['ocf-tester', '-n', 'colo']
    for k, v in env_for(d).items():
        if k.startswith('OCF_RESKEY_'):
            cmd += ['-o', f'{k[len("OCF_RESKEY_"):]}={v}']
    r = subprocess.run(cmd + [AGENT], capture_output=True, text=True,
                       timeout=180)
    log(r.stdout[-3000:] + r.stderr[-2000:])
    check_eq(r.returncode, 0, 'ocf-tester exit code')
    check('passed all tests' in r.stdout, 'ocf-tester verdict')


def test_missing_parameters():
    d = tmpdir('cqo')
    args_files(d)
    r = agent('validate-all', env_for(d, primary_node=None,
                                      secondary_args=None))
    check_eq(r.returncode, 6, f'validate-all rc ({r.stderr})')
    check('missing parameters: primary_node, secondary_args' in r.stderr,
          r.stderr)
    r = agent('start', env_for(d, primary_args=os.path.join(d, 'nope')))
    check_eq(r.returncode, 6, f'start rc ({r.stderr})')
    check('primary_args' in r.stderr and 'no such file' in r.stderr,
          r.stderr)
    r = agent('validate-all', env_for(d, binary='/nonexistent/colo-proxy'))
    check_eq(r.returncode, 5, f'missing binary rc ({r.stderr})')
    # a probe where nothing is configured: not running, not an error
    r = agent('monitor', env_for(d, primary_node=None))
    check_eq(r.returncode, 7, f'probe rc ({r.stderr})')
    with open(os.path.join(d, 'secondary.args'), 'a') as f:
        f.write('-qmp\nunix:/tmp/x\n')
    r = agent('validate-all', env_for(d))
    check_eq(r.returncode, 6, f'-qmp in args rc ({r.stderr})')
    check('-qmp is set by the agent' in r.stderr, r.stderr)


def test_promote_refused_without_quorum():
    d = tmpdir('cqo')
    args_files(d, quorate=False)
    env = env_for(d)
    try:
        check_eq(agent('start', env).returncode, 0, 'start')
        check_eq(agent('monitor', env).returncode, 0, 'unpromoted')
        r = agent('promote', env)
        check_eq(r.returncode, 1, f'promote rc ({r.stderr})')
        check('refused' in r.stderr and 'not quorate' in r.stderr, r.stderr)
        check_eq(agent('monitor', env).returncode, 0, 'still unpromoted')
    finally:
        check_eq(agent('stop', env).returncode, 0, 'stop')
    check_eq(agent('monitor', env).returncode, 7, 'stopped')


def test_installed():
    d = tmpdir('cqi')
    r = subprocess.run(['meson', 'install', '-C', build_dir(), '--destdir',
                        d, '--no-rebuild', '--quiet'], capture_output=True,
                       text=True, timeout=120)
    check_eq(r.returncode, 0, f'meson install: {r.stderr[-500:]}')
    found = [os.path.join(root, f) for root, _, files in os.walk(d)
             for f in files if root.endswith('ocf/resource.d/colo-proxy')]
    check_eq(len(found), 1, f'installed agent {found}')
    check(os.access(found[0], os.X_OK), 'agent executable')


if __name__ == '__main__':
    run_tests([test_ocf_tester, test_missing_parameters,
               test_promote_refused_without_quorum, test_installed])
