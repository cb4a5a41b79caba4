"""The project's own test bed: real registries on loopback holding images built by umoci and skopeo.

``tests/conftest.py`` turns it into the session fixture ``testbed``; ``build.py`` also runs on its own
(``python -m tests.testbed.build``) for bench/. Nothing here talks to anything but 127.0.0.1.
"""

from tests.testbed.bed import BASIC_CREDENTIALS, TOKEN_CREDENTIALS, Testbed, start_testbed
from tests.testbed.build import WHITEOUT_ABSENT, WHITEOUT_PRESENT, BuiltImages, LayoutImage, ensure_images
from tests.testbed.common import TestbedError, unavailable_reason

__all__ = [
    "BASIC_CREDENTIALS",
    "TOKEN_CREDENTIALS",
    "WHITEOUT_ABSENT",
    "WHITEOUT_PRESENT",
    "BuiltImages",
    "LayoutImage",
    "Testbed",
    "TestbedError",
    "ensure_images",
    "start_testbed",
    "unavailable_reason",
]
