"""What the tests share: fixtures (loaded as plugins by tests/conftest.py's ``pytest_plugins``)
and helpers that test modules import by name (``from support.arena_sockets import TOOLS``)."""
