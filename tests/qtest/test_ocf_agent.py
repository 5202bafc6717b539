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
  - notify, as Pacemaker sends it (OCF_RESKEY_CRM_meta_notify_*,
    CRM_meta_on_node): the post-start of the peer's instance on a side
    that failed over runs the re-protection script with this side's QMP
    socket and the reprotect_args file; pre-start, this node's own start,
    an unpromoted side or no reprotect_args run nothing; a failing script
    fails the notify (a stand-in script records its arguments here:
    test_reprotect.py checks the real script's QMP, tests/ha/
    test_ha_qemu.py the whole re-protection through this notify);
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


def notify_env(d, on, started, kind='post', op='start', **over):
    env = env_for(d, **over)
    env.update({'OCF_RESKEY_CRM_meta_on_node': on,
                'OCF_RESKEY_CRM_meta_notify_type': kind,
                'OCF_RESKEY_CRM_meta_notify_operation': op,
                'OCF_RESKEY_CRM_meta_notify_start_uname': started,
                'OCF_RESKEY_CRM_meta_notify_promoted_uname': on})
    return env


def test_notify_reprotects():
    d = tmpdir('cqo')
    args_files(d)
    rec = os.path.join(d, 'calls')
    script = os.path.join(d, 'reprotect.py')
    with open(script, 'w') as f:
        f.write('import os, sys\n'
                f'open({rec!r}, "a").write(" ".join(sys.argv[1:]) + "\\n")\n'
                'print("colo-reprotect: step 6 migrate done")\n'
                'sys.exit(int(os.environ.get("FAIL", "0")))\n')
    os.chmod(script, 0o755)
    rargs = os.path.join(d, 'reprotect.args')
    with open(rargs, 'w') as f:
        f.write('# colo-reprotect.py arguments\n--migrate\nunix:/x\n')
    base = dict(reprotect_args=rargs, reprotect_script=script)
    calls = lambda: open(rec).read().splitlines() \
        if os.path.exists(rec) else []        # noqa: E731
    # b starts as the secondary (primary_node=a), then fails over
    env = notify_env(d, 'b', 'a', primary_node='a', **base)
    try:
        check_eq(agent('start', env).returncode, 0, 'start')
        # an unpromoted side does not re-protect (the peer's job)
        check_eq(agent('notify', env).returncode, 0, 'notify unpromoted')
        check_eq(calls(), [], 'no re-protection from a secondary')
        check_eq(agent('promote', env).returncode, 0, 'promote (failover)')
        check_eq(agent('monitor', env).returncode, 8, 'serving alone')
        for what, e in (
                ('pre-start', notify_env(d, 'b', 'a', kind='pre',
                                         primary_node='a', **base)),
                ('post-stop', notify_env(d, 'b', 'a', op='stop',
                                         primary_node='a', **base)),
                ('own start', notify_env(d, 'b', 'b', primary_node='a',
                                         **base)),
                ('no reprotect_args', notify_env(d, 'b', 'a',
                                                 primary_node='a'))):
            r = agent('notify', e)
            check_eq(r.returncode, 0, f'{what} rc ({r.stderr})')
            check_eq(calls(), [], f'{what}: nothing run')
        r = agent('notify', env)
        check_eq(r.returncode, 0, f'post-start of a: rc ({r.stderr})')
        qmp = os.path.join(d, 'state', 'qmp.sock')
        check_eq(calls(), [f'--proxy-qmp {qmp} --migrate unix:/x'],
                 'the script ran once with this side\'s QMP and the file')
        check('re-protecting' in r.stderr and 'step 6' in r.stderr,
              r.stderr)
        env['FAIL'] = '1'
        r = agent('notify', env)
        check_eq(r.returncode, 1, f'failing script: rc ({r.stderr})')
        check('keeps serving alone' in r.stderr, r.stderr)
    finally:
        check_eq(agent('stop', env).returncode, 0, 'stop')


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
               test_promote_refused_without_quorum, test_notify_reprotects,
               test_installed])
