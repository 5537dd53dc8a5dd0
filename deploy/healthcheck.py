"""Docker HEALTHCHECK: exit 0 when GET /healthz on this container answers 200."""

import os
import sys
import urllib.error
import urllib.request

port = os.environ.get("CLASSBRIDGE_PORT", "8080")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except (urllib.error.URLError, OSError):
    sys.exit(1)
