"""Every test's fixtures, loaded as plugins from tests/support/ (tests/ is on ``pythonpath``).

tests/unit: pure logic, scripted backends, in-process loopback sockets; no model, engine or child
process (tests/unit/test_structure.py checks). tests/integration: real llama.cpp, llama-server,
vLLM, the Godot web runtime, child processes.
"""

pytest_plugins = [
    "support.fixtures",
    "support.arena_sockets",
    "support.llama_server_fixture",
    "support.vllm_fixture",
    "support.godot_harness",
]
