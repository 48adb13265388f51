"""Notifiers against local servers: signatures, error codes, size limits, SMTP, and no secret leaks."""
from __future__ import annotations

import email
import socket
from email import policy

import pytest

from notifiers import build
from notifiers.base import NotifierConfigError
from rightsizer.errors import ConfigError
from notifiers.base import Attachment, Message

from fake_im import FakeIM

SECRETS = {"RS_DT_TOKEN": "dt-token-Zq81", "RS_DT_SECRET": "dt-secret-Kp27", "RS_WC_KEY": "wc-key-Mm55",
           "RS_FS_HOOK": "fs-hook-Yt09", "RS_FS_SECRET": "fs-secret-Hh44", "RS_WH_SECRET": "wh-secret-Qa61",
           "RS_SMTP_PASSWORD": "smtp-pass-Lx73"}


@pytest.fixture
def secrets(monkeypatch):
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    return SECRETS


@pytest.fixture
def im(secrets):
    with FakeIM(dingtalk=(secrets["RS_DT_TOKEN"], secrets["RS_DT_SECRET"]), wecom_key=secrets["RS_WC_KEY"],
                feishu=(secrets["RS_FS_HOOK"], secrets["RS_FS_SECRET"]),
                webhook_secret=secrets["RS_WH_SECRET"]) as fake:
        yield fake


def blocks(base: str) -> dict[str, dict]:
    return {
        "dingtalk": {"name": "edu-dt", "type": "dingtalk", "url": f"{base}/dingtalk/robot/send",
                     "access_token": {"env": "RS_DT_TOKEN"}, "secret": {"env": "RS_DT_SECRET"}},
        "wecom": {"name": "edu-wc", "type": "wecom", "url": f"{base}/wecom/cgi-bin/webhook/send",
                  "key": {"env": "RS_WC_KEY"}},
        "feishu": {"name": "edu-fs", "type": "feishu", "url": f"{base}/feishu/open-apis/bot/v2/hook",
                   "hook": {"env": "RS_FS_HOOK"}, "secret": {"env": "RS_FS_SECRET"}},
        "webhook": {"name": "centre", "type": "webhook", "url": f"{base}/webhook", "secret": {"env": "RS_WH_SECRET"}},
    }


# keys are Chinese notice numbers: any header that carries one must cope
MSG = Message(key="平大数据调〔2026〕12号:notice:edu-dt", subject="平大数据调〔2026〕12号 整改通知",
              text="请于2026年10月16日前完成核减。", markdown="### 整改通知\n请于**2026年10月16日**前完成核减。",
              link="https://rightsizer.example/notices/12")

RATE = {"dingtalk": 130101, "wecom": 45009, "feishu": 11232}
CONFIG = {"dingtalk": [310000, 460101], "wecom": [93000], "feishu": [19021, 19024]}


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "feishu", "webhook"])
def test_signed_message_is_accepted(im, kind):
    r = build(blocks(im.url)[kind]).send(MSG)
    assert r.ok, r.detail
    platform, body = im.received[-1]
    assert platform == kind
    assert "2026年10月16日" in json_text(body)


def json_text(body) -> str:
    import json
    return json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "feishu"])
def test_rate_limit_code_in_a_200_is_a_retry_after_the_window(im, kind):
    im.force.append((kind, RATE[kind]))
    r = build(blocks(im.url)[kind]).send(MSG)
    assert not r.ok and r.recoverable and r.retry_after_seconds == 60
    assert str(RATE[kind]) in r.detail
    assert not im.received


@pytest.mark.parametrize("kind,code", [(k, c) for k, cs in CONFIG.items() for c in cs])
def test_configuration_codes_fail_permanently(im, kind, code):
    im.force.append((kind, code))
    r = build(blocks(im.url)[kind]).send(MSG)
    assert not r.ok and not r.recoverable and str(code) in r.detail and "configuration error" in r.detail


@pytest.mark.parametrize("kind", ["dingtalk", "feishu", "webhook"])
def test_a_wrong_secret_is_refused_by_the_platform_and_not_retried(im, kind, monkeypatch):
    env = {"dingtalk": "RS_DT_SECRET", "feishu": "RS_FS_SECRET", "webhook": "RS_WH_SECRET"}[kind]
    monkeypatch.setenv(env, "not-the-secret")
    r = build(blocks(im.url)[kind]).send(MSG)
    assert not r.ok and not r.recoverable
    assert not im.received


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "feishu", "webhook"])
def test_server_errors_and_outages_are_recoverable(im, kind):
    im.force.append((kind, {"http": 503}))
    r = build(blocks(im.url)[kind]).send(MSG)
    assert not r.ok and r.recoverable and "503" in r.detail
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    r = build(blocks(dead)[kind]).send(MSG)
    assert not r.ok and r.recoverable and "network error" in r.detail


def test_long_notices_are_split_into_numbered_parts_each_ending_with_the_number(im):
    lines = [f"{i}. **web-服务器-{i:04d}**（智慧教育平台）：核减 CPU；16核/64GiB → 4核/16GiB" for i in range(1, 601)]
    long = Message(key="k", subject="平大数据调〔2026〕12号 关于核减政务云服务器资源的整改通知", text="x",
                   markdown="\n".join(lines), link="https://rightsizer.example/notices/12")
    for kind, limit in (("wecom", 4096), ("dingtalk", 18000), ("feishu", 18000)):
        before = len(im.received)
        assert build(blocks(im.url)[kind]).send(long).ok
        got = im.received[before:]
        assert len(got) > 1
        texts = [b["markdown"]["content"] if kind == "wecom" else b["markdown"]["text"] if kind == "dingtalk"
                 else b["content"]["post"]["zh_cn"]["content"][0][0]["text"] for _, b in got]
        n = len(texts)
        for i, t in enumerate(texts, 1):
            assert len(t.encode()) <= limit
            assert t.endswith(f"（第{i}/{n}部分，平大数据调〔2026〕12号，完整通知见 https://rightsizer.example/notices/12）")
        sent_lines = [ln for t in texts for ln in t.split("\n\n（第")[0].split("\n")]
        assert sent_lines == lines  # nothing cut, nothing repeated, in order


def test_config_errors_name_the_field_not_the_secret(secrets):
    with pytest.raises(NotifierConfigError, match="unknown type 'sms'"):
        build({"name": "x", "type": "sms"})
    with pytest.raises(NotifierConfigError, match=r"access_token: Field required"):
        build({"name": "x", "type": "dingtalk"})
    with pytest.raises(ConfigError, match=r"notifiers\.x\.key: environment variable RS_NOT_SET is not set"):
        build({"name": "x", "type": "wecom", "key": {"env": "RS_NOT_SET"}})


# -- email against a real SMTP server (aiosmtpd) ---------------------------------------------


class Handler:
    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        if address.startswith("busy@"):
            return "450 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


class Auth:
    def __init__(self, user, password):
        self.user, self.password = user, password

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        ok = auth_data.login.decode() == self.user and auth_data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


@pytest.fixture
def smtp(secrets):
    from aiosmtpd.controller import Controller

    handler = Handler()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(handler, hostname="127.0.0.1", port=port, authenticator=Auth("rs", secrets["RS_SMTP_PASSWORD"]),
                     auth_require_tls=False)
    ctl.start()
    try:
        yield handler, port
    finally:
        ctl.stop()


def mail_block(port, password_env="RS_SMTP_PASSWORD"):
    return {"name": "mail", "type": "email", "host": "127.0.0.1", "port": port, "security": "none", "username": "rs",
            "password": {"env": password_env}, "sender": "平度市大数据发展中心 <rightsizer@example.gov.cn>",
            "timeout_seconds": 5}


def test_email_text_html_attachment_and_stable_message_id(smtp):
    handler, port = smtp
    msg = Message(key="notice-12:email", subject="平大数据调〔2026〕12号 关于核减云服务器资源的整改通知",
                  text="市教育和体育局：\n请于2026年10月16日前完成核减。", html="<p>请于<b>2026年10月16日</b>前完成核减。</p>",
                  recipients=("it@edu.example.gov.cn",), message_id="<notice-12.edu@rightsizer.example>",
                  attachments=(Attachment("服务器清单.xlsx", b"PK\x03\x04fake",
                                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),))
    n = build(mail_block(port))
    assert n.send(msg).ok and n.send(msg).ok  # a retry of the same delivery
    assert len(handler.messages) == 2
    parsed = [email.message_from_bytes(c, policy=policy.default) for _, c in handler.messages]
    assert {p["Message-ID"] for p in parsed} == {"<notice-12.edu@rightsizer.example>"}  # the receiver can dedupe
    p = parsed[0]
    assert p["Subject"] == msg.subject
    assert "2026年10月16日" in p.get_body(("plain",)).get_content()
    assert "<b>2026年10月16日</b>" in p.get_body(("html",)).get_content()
    att = next(p.iter_attachments())
    assert att.get_filename() == "服务器清单.xlsx" and att.get_content() == b"PK\x03\x04fake"


def test_email_partial_refusal_reports_each_recipient(smtp):
    handler, port = smtp
    msg = Message(key="k", subject="s", text="t", message_id="<k@rs>",
                  recipients=("it@edu.example.gov.cn", "nobody@edu.example.gov.cn", "busy@edu.example.gov.cn"))
    r = build(mail_block(port)).send(msg)
    assert not r.ok and r.recoverable  # the 450 is worth retrying (the relay retries only the refused)
    assert r.refused == ["busy@edu.example.gov.cn", "nobody@edu.example.gov.cn"]
    assert r.accepted == ["it@edu.example.gov.cn"]
    assert handler.messages[0][0] == ["it@edu.example.gov.cn"]
    only_bad = Message(key="k", subject="s", text="t", message_id="<k@rs>", recipients=("nobody@x.example",))
    r = build(mail_block(port)).send(only_bad)
    assert not r.ok and not r.recoverable and r.refused == ["nobody@x.example"]


def test_email_wrong_password_is_permanent(smtp, monkeypatch):
    _, port = smtp
    monkeypatch.setenv("RS_SMTP_PASSWORD", "wrong-pass-Vv11")
    r = build(mail_block(port)).send(Message(key="k", subject="s", text="t", message_id="<k@rs>",
                                             recipients=("it@edu.example.gov.cn",)))
    assert not r.ok and not r.recoverable and "authentication failed" in r.detail


# -- the shared assertion: no notifier leaks a secret ------------------------------------------


def test_no_notifier_leaks_a_secret_into_a_result_or_the_log(im, smtp, caplog, capsys):
    _, port = smtp
    results = []
    for kind, block in blocks(im.url).items():
        for forced in ([RATE[kind]] if kind in RATE else []) + CONFIG.get(kind, []) + [{"http": 500}, {"http": 400}]:
            im.force.append((kind, forced))
            results.append(build(block).send(MSG))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    results += [build(b).send(MSG) for b in blocks(dead).values()]
    mail = mail_block(port)
    results.append(build(mail).send(Message(key="k", subject="s", text="t", message_id="<k@rs>",
                                            recipients=("nobody@x.example",))))
    results.append(build({**mail, "port": 1}).send(Message(key="k", subject="s", text="t", message_id="<k@rs>",
                                                           recipients=("a@x.example",))))
    assert len(results) == 22 and not any(r.ok for r in results)
    text = "\n".join(r.detail for r in results) + caplog.text + "".join(capsys.readouterr())
    for secret in SECRETS.values():
        assert secret not in text


def test_a_notice_reaches_a_real_smtp_server_with_html_and_the_xlsx_server_list(smtp, tmp_path):
    import io

    from openpyxl import load_workbook

    from notifiers.render import render
    from rightsizer.jobs import notices, relay
    from rightsizer.calendar import WorkCalendar
    from rightsizer.settings import parse_settings
    from rightsizer.db import Store

    from helpers import AT
    from test_outbox import EDU, LOW, run

    handler, port = smtp
    s = parse_settings({"notifiers": [mail_block(port)],
                        "departments": {EDU: {"channels": ["mail"], "emails": ["it@edu.example.gov.cn"]}}})
    store = Store.open(f"sqlite:///{tmp_path / 'rs.db'}")
    run(store, s, [("e1", EDU, LOW)])
    notices.issue(store, s, AT)
    report = relay.deliver(store, s, WorkCalendar(), lambda: AT, notifiers={"mail": build(mail_block(port))})
    assert report.sent == 1
    (rcpts, raw), = handler.messages
    assert rcpts == ["it@edu.example.gov.cn"]
    m = email.message_from_bytes(raw, policy=policy.default)
    assert m["Subject"].startswith("平大数据调〔2026〕1号 关于核减政务云服务器资源的整改通知")
    assert "<small>e1</small>" in m.get_body(("html",)).get_content()
    pdf, att = list(m.iter_attachments())
    assert pdf.get_filename() == "平大数据调〔2026〕1号.pdf" and pdf.get_content().startswith(b"%PDF")
    assert att.get_filename() == "平大数据调〔2026〕1号-服务器清单.xlsx"
    ws = load_workbook(io.BytesIO(att.get_content())).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[2][:5] == ("序号", "系统", "服务器名称", "服务器ID", "问题")
    assert rows[3][3] == "e1" and rows[3][4] == "核减 CPU、核减 内存、核减 硬盘" and rows[4][0] == "合计"  # one row


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made here (no network, no openssl binary)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return d / "cert.pem", d / "key.pem"


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_verifies_the_server_certificate(tls_files, secrets, security):
    import ssl

    from aiosmtpd.controller import Controller

    cert, key = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    handler = Handler()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kw = {"tls_context": ctx, "require_starttls": True} if security == "starttls" else {"ssl_context": ctx}
    ctl = Controller(handler, hostname="127.0.0.1", port=port, authenticator=Auth("rs", secrets["RS_SMTP_PASSWORD"]),
                     # aiosmtpd does not count implicit TLS as TLS for AUTH; the transport is TLS all the same
                     auth_require_tls=security == "starttls", **kw)
    ctl.start()
    try:
        block = {**mail_block(port), "security": security, "ca_file": str(cert)}
        msg = Message(key="k", subject="s", text="t", message_id="<k@rs>", recipients=("it@edu.example.gov.cn",))
        r = build(block).send(msg)
        assert r.ok, r.detail
        assert len(handler.messages) == 1
        untrusted = build({**block, "ca_file": ""}).send(msg)  # the system CAs do not know this certificate
        assert not untrusted.ok and "SSL" in untrusted.detail
    finally:
        ctl.stop()


# -- issue 9 point 10: email serves the centre's channels with a recipient list of its own --------


def _centre_config(port, to):
    block = {**mail_block(port), "name": "centre-mail", **({"to": to} if to is not None else {})}
    return {"notifiers": [{**mail_block(port), "name": "edu-mail"}, block],
            "departments": {"市教育和体育局": {"channels": ["edu-mail"], "emails": ["xxzx@edu.example.gov.cn"]}},
            "notices": {"cc_channels": ["centre-mail"], "operator_channels": ["centre-mail"],
                        "escalation_channels": ["centre-mail"]}}


def test_an_email_centre_channel_without_recipients_is_a_configuration_error(tmp_path, capsys):
    from rightsizer.cli import main
    from rightsizer.settings import parse_settings

    with pytest.raises(ConfigError) as err:
        parse_settings(_centre_config(25, None))
    text = "\n".join(err.value.problems)
    assert "notices.cc_channels: email channel 'centre-mail' has no recipients of its own" in text
    assert "notices.operator_channels: email channel 'centre-mail'" in text
    assert "notices.escalation_channels: email channel 'centre-mail' has no `to` list and 市教育和体育局 has no " \
           "head_emails" in text
    bad_dept = _centre_config(25, ["ops@bigdata.example.gov.cn"])
    bad_dept["departments"]["市教育和体育局"]["emails"] = []
    with pytest.raises(ConfigError, match="departments.市教育和体育局.emails: empty, but its channel 'edu-mail' is email"):
        parse_settings(bad_dept)
    # check-config says so too (before, it said OK and every copy went dead unsent)
    cfg = tmp_path / "rs.toml"
    cfg.write_text('[[notifiers]]\nname = "centre-mail"\ntype = "email"\nhost = "127.0.0.1"\n'
                   'sender = "rs@example.gov.cn"\n[notices]\ncc_channels = ["centre-mail"]\n', encoding="utf-8")
    assert main(["check-config", str(cfg)]) == 2
    assert "has no recipients of its own" in capsys.readouterr().err


def test_the_centres_copy_and_alerts_reach_the_email_channels_own_list(smtp, tmp_path):
    from rightsizer.calendar import WorkCalendar
    from rightsizer.db import Store
    from rightsizer.jobs import notices, relay
    from rightsizer.jobs.notices import alert
    from rightsizer.settings import parse_settings
    from helpers import AT
    from test_outbox import LOW, Clock, run

    handler, port = smtp
    s = parse_settings(_centre_config(port, ["ops@bigdata.example.gov.cn", "archive@bigdata.example.gov.cn"]))
    store = Store.open(f"sqlite:///{tmp_path / 'rs.db'}")
    run(store, s, [("e1", "市教育和体育局", LOW)])
    notices.issue(store, s, AT)
    with store.begin() as c:
        alert(c, s, AT, "测试告警", "test", subject="测试告警")
    rep = relay.deliver(store, s, WorkCalendar(), Clock(AT))
    assert rep.sent == 3 and rep.dead == 0
    to = sorted(tuple(rcpts) for rcpts, _ in handler.messages)
    assert to == [("ops@bigdata.example.gov.cn", "archive@bigdata.example.gov.cn")] * 2 + [("xxzx@edu.example.gov.cn",)]
