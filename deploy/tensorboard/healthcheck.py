"""Container health check: exit 0 if TensorBoard answers on 127.0.0.1:$PORT, 1 otherwise (Docker HEALTHCHECK, ECS)."""
import json, os, sys, urllib.request

try:
    with urllib.request.urlopen(f"http://127.0.0.1:{os.environ.get('PORT', '6006')}/data/environment", timeout=4) as r:
        json.load(r)
except Exception as e:
    print(f'unhealthy: {e}', file=sys.stderr)
    sys.exit(1)
