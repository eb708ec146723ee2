"""`agent-arena keys DIR`: CURVE key pairs for the server and one client (docs/security.md)."""

from __future__ import annotations

from pathlib import Path


def keys(directory: str) -> int:
    import zmq.auth

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / "clients").mkdir(exist_ok=True)
    server_pub, server_sec = zmq.auth.create_certificates(out, "server")
    client_pub, _ = zmq.auth.create_certificates(out / "clients", "client")
    (out / "clients" / "client.key_secret").rename(out / "client.key_secret")
    print(f"server secret key: {server_sec}\nauthorised clients dir: {out / 'clients'}\n"
          f"client secret key: {out / 'client.key_secret'}\n"
          f"serve with: agent-arena serve server.auth.mechanism=curve "
          f"server.auth.server_secret_key_file={server_sec} "
          f"server.auth.client_keys_dir={out / 'clients'}")
    return 0
