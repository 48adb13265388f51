"""A relay process killed (SIGKILL) between sending and recording: at most a duplicate with the same key."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

from rightsizer.cli import main

from helpers import AT
from localserver import LocalServer, QuietHandler
from test_evaluate_cli import write_inputs

RIGHTSIZER = str(Path(sys.executable).parent / "rightsizer")


class KillingWebhook(LocalServer):
    """Receives notices; on the first one it kills the sender before answering."""

    def __init__(self):
        self.received: list[tuple[str, dict]] = []
        self.victim: int | None = None
        fake = self

        class H(QuietHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.received.append((self.headers["Idempotency-Key"], body))
                if fake.victim is not None:
                    os.kill(fake.victim, signal.SIGKILL)  # the relay dies before it can record the result
                    fake.victim = None
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        super().__init__(H)
        self.hook = self.url + "/hook"


def test_killed_relay_resends_with_the_same_key_and_then_never_again(tmp_path, capsys):
    hook = KillingWebhook().start()
    inv, samples = write_inputs(tmp_path)
    cfg = tmp_path / "rs.toml"
    cfg.write_text(f'[[notifiers]]\nname = "hook"\ntype = "webhook"\nurl = "{hook.hook}"\n'
                   '[departments."市档案馆"]\nchannels = ["hook"]\n', encoding="utf-8")
    db = str(tmp_path / "rs.db")
    common = ["--config", str(cfg), "--db", db]
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(), *common]) == 0
    assert main(["sweep", *common, "--now", AT.isoformat()]) == 0
    capsys.readouterr()
    t0 = AT.isoformat()
    proc = subprocess.Popen([RIGHTSIZER, "deliver", *common, "--now", t0], stdout=subprocess.PIPE, text=True)
    hook.victim = proc.pid  # the relay needs far longer than this to start up and send
    assert proc.wait(30) == -signal.SIGKILL, proc.stdout.read()
    assert len(hook.received) == 1
    # a new relay at once: the lease still holds, nothing is sent twice meanwhile
    assert subprocess.run([RIGHTSIZER, "deliver", *common, "--now", t0], capture_output=True, text=True,
                          check=True).stdout.startswith("sent 0,")
    later = AT.replace(minute=10).isoformat()  # after the 300 s lease
    out = subprocess.run([RIGHTSIZER, "deliver", *common, "--now", later], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("sent 1,")
    keys = [k for k, _ in hook.received]
    assert keys == [keys[0]] * 2 and urllib.parse.unquote(keys[0]).startswith("平大数据调〔2026〕1号")
    out = subprocess.run([RIGHTSIZER, "deliver", *common, "--now", AT.replace(hour=5).isoformat()],
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("sent 0,") and len(hook.received) == 2  # a restart does not resend
    hook.stop()
