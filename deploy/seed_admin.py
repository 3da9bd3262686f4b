"""The seed admin's credentials, for the tools that log in as it (`just demo`,
`just fuzz`, the bench, CI's checks).

The password is the one deploy/secrets.sh made for this installation, in
.secrets/user/admin-password; SWITCHYARD_ADMIN_PASSWORD overrides it, for a
system whose secrets live elsewhere. No password is written in the repository.
"""
import os

EMAIL = "admin@switchyard.local"
PASSWORD_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             ".secrets", "user", "admin-password")


def credentials():
    """(email, password), or SystemExit naming where the password should be."""
    password = os.environ.get("SWITCHYARD_ADMIN_PASSWORD")
    if password:
        return EMAIL, password
    try:
        with open(PASSWORD_FILE) as f:
            return EMAIL, f.read().strip()
    except FileNotFoundError:
        raise SystemExit(f"no {PASSWORD_FILE}: `just dev` and `just up` make it (deploy/secrets.sh); "
                         "or set SWITCHYARD_ADMIN_PASSWORD") from None
