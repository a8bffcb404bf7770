"""The local Bedrock Runtime stub in its own process, with a control channel for fault scripts.

    .venv/bin/python -m benchmarks.stub_server

starts ``bedrock_platform_devtools.bedrock_stub.BedrockStub`` (default success, answering at once) on a free port and
a control server on another, prints ``READY <endpoint url> CONTROL <port>`` and serves until SIGTERM.
The stub's script API only exists in its own process, so benchmark workers drive it over the control
port: one line per connection, one JSON line back.

* ``reset``: forget recorded calls and scripts (every request then gets the default success).
* ``throttle <rate> <count> <seed>``: reset, then queue ``count`` outcomes matched by every request,
  each ThrottlingException with probability ``rate`` (seeded), else the default success.
* ``hang <seconds> <count> [match]``: reset, then queue ``count`` answers delayed by ``seconds`` for
  every request, or only for targets containing ``match`` (the others answer at once).
* ``last``: ``{"target", "body"}`` of the last Converse request received.
* ``stats``: ``{"calls", "pending", "connections"}``.
"""

from __future__ import annotations

import json
import random
import signal
import socketserver
import sys
import threading
from typing import Any

from bedrock_platform_devtools.bedrock_stub import BedrockStub, Fault


class _Control(socketserver.StreamRequestHandler):
    server: _ControlServer

    def handle(self) -> None:
        words = self.rfile.readline().decode().split()
        try:
            reply = self.server.execute(words)
        except Exception as exc:  # report, never crash the control server
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        self.wfile.write(json.dumps(reply).encode() + b"\n")


class _ControlServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, stub: BedrockStub) -> None:
        self.stub = stub
        super().__init__(("127.0.0.1", 0), _Control)

    def execute(self, words: list[str]) -> dict[str, Any]:
        stub = self.stub
        match words:
            case ["reset"]:
                stub.reset()
            case ["throttle", rate, count, seed]:
                rng = random.Random(int(seed))
                stub.reset()
                stub.script(
                    None,
                    [
                        Fault.throttling() if rng.random() < float(rate) else Fault.success()
                        for _ in range(int(count))
                    ],
                )
            case ["hang", seconds, count, *match]:
                stub.reset()
                stub.script(match[0] if match else None, [Fault.hang(float(seconds))] * int(count))
            case ["last"]:
                converse = [c for c in stub.calls if c.operation == "Converse"]
                if not converse:
                    return {"error": "no Converse call recorded"}
                return {"target": converse[-1].target, "body": converse[-1].body}
            case ["stats"]:
                return {
                    "calls": len(stub.calls),
                    "pending": stub.pending_faults,
                    "connections": stub.connections_accepted,
                }
            case _:
                return {"error": f"unknown command {' '.join(words)!r}"}
        return {"ok": True}


def main() -> int:
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    with BedrockStub(default_latency_ms=0) as stub:
        control = _ControlServer(stub)
        thread = threading.Thread(target=control.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        thread.start()
        print(f"READY {stub.endpoint_url} CONTROL {control.server_address[1]}", flush=True)
        while not done.wait(1.0):
            pass
        control.shutdown()
        control.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
