"""Helpers shared by the tests that drive the command line: the command run in this process, and the shape of an
expected failure."""
import contextlib, io, subprocess

def cli(*args):
    """`scoliosis-xray ARGS` in this process (`scoliosis_xray.cli.main`, the function the console script calls), with
    stdout and stderr captured: the same parsing, checks and messages without a new interpreter's start-up cost. Used
    for refusals and `--help`; runs that a user would interrupt or that depend on the process (umask, names that are
    not UTF-8, kills) go through the console script."""
    from scoliosis_xray.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: rc = main([str(a) for a in args])
        except SystemExit as e: rc = e.code if isinstance(e.code, int) else 1
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())

def one_line_error(r, cmd, contains):
    "An expected failure: exit status 2, no traceback, the last line `scoliosis-xray CMD: error: ...` holding `contains`."
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert 'Traceback' not in r.stderr, r.stderr[-3000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f'scoliosis-xray {cmd}: error: ') and contains in last, last
    return last
