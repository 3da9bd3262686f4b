"""The loopback half of .ci/check-dev-ports.py, on made-up `ss` output:
loopback listeners pass, any other address or a missing listener fails and
is named. `just test` runs this file."""
import importlib.util
import os
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("check_dev_ports", os.path.join(HERE, "check-dev-ports.py"))
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

EXPECTED = [("user", 8081), ("user", 9081), ("gateway", 8080)]


def ss(*addresses):
    return "\n".join(f"LISTEN 0      1024   {address}   0.0.0.0:*" for address in addresses) + "\n"


class DevListeners(unittest.TestCase):
    def test_loopback_listeners_pass(self):
        found = check.listeners(ss("127.0.0.1:8081", "127.0.0.1:9081", "[::1]:8080", "127.0.0.1:8080"))
        self.assertEqual(check.listener_problems(EXPECTED, found), [])

    def test_every_interface_fails_and_is_named(self):
        for address in ["0.0.0.0:9081", "[::]:9081", "*:9081", "192.168.1.5:9081"]:
            with self.subTest(address):
                found = check.listeners(ss("127.0.0.1:8081", address, "127.0.0.1:8080"))
                self.assertEqual(len(check.listener_problems(EXPECTED, found)), 1)
                self.assertIn("user: port 9081 listens on", check.listener_problems(EXPECTED, found)[0])

    def test_a_port_nothing_listens_on_fails(self):
        found = check.listeners(ss("127.0.0.1:8081", "127.0.0.1:9081", "127.0.0.1:18080"))
        self.assertEqual(check.listener_problems(EXPECTED, found), ["gateway: nothing listens on port 8080"])


if __name__ == "__main__":
    unittest.main()
