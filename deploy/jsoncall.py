"""One JSON call over HTTP, for the scripts that drive a running system
through its gateway (`just demo`, `just drill`)."""
import json
import urllib.error
import urllib.request


def send(url, method, body=None, token=None, headers=None, timeout=10):
    """(status, payload): the JSON answer (or its text, if not JSON) with its
    status, error statuses included; (0, why) when no answer came."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text
