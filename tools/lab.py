#!/usr/bin/env python
"""`make lab`: register the project's Jupyter kernel and start JupyterLab on nbs/, bound to 127.0.0.1 with a token.

The kernel `scoliosis-xray` (the name every notebook's metadata gives) runs this virtual environment's Python with the
checkout first on PYTHONPATH; it is registered inside the environment (`--prefix`), not in your home folder.
Prints the URL to open; stop JupyterLab with Ctrl-C."""
import argparse, os, secrets, socket, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL = 'scoliosis-xray'

def register_kernel(prefix=sys.prefix):
    "Install the `scoliosis-xray` kernel spec under `prefix`/share/jupyter/kernels; returns its folder."
    from ipykernel.kernelspec import install
    return install(kernel_name=KERNEL, display_name=KERNEL, prefix=str(prefix), env={'PYTHONPATH': str(ROOT)})

def lab_command(root, port, token, *extra):
    "The `jupyter lab` command line: loopback only, a token, no browser opened, the given port and nothing else."
    return [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}',
            '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}',
            *(['--allow-root'] if hasattr(os, 'geteuid') and os.geteuid() == 0 else []), *extra]   # containers run as root

def _port(want):
    with socket.socket() as s:
        try: s.bind(('127.0.0.1', want))
        except OSError: s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--port', type=int, default=8888, help='port to listen on (a free one if it is taken; default 8888)')
    ap.add_argument('--root', default=str(ROOT / 'nbs'), help='folder JupyterLab opens (default: nbs/)')
    ap.add_argument('--register-only', action='store_true', help='register the kernel and exit')
    a = ap.parse_args()
    try: import jupyterlab, ipywidgets  # noqa: F401
    except ImportError as e: sys.exit(f'lab: {e.name} is not installed: run `make lab` (or pip install -e ".[lab]")')
    print(f'kernel {KERNEL}: {register_kernel()}')
    if a.register_only: return
    port, token = _port(a.port), os.environ.get('JUPYTER_TOKEN') or secrets.token_hex(24)
    print(f'\nJupyterLab on {a.root}\n  open  http://127.0.0.1:{port}/lab?token={token}\n  stop  Ctrl-C\n', flush=True)
    cmd = lab_command(a.root, port, token)
    os.execv(cmd[0], cmd)

if __name__ == '__main__': main()
