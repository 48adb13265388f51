"""``sweep``, ``deliver`` and ``notices``: the notices' life, from the command line.

An operator at the command line is a viewer like one at the console
(:class:`~rightsizer.lifecycle.Viewer`, role ``operator``, named by ``--actor``): the same
actions of :mod:`rightsizer.jobs.actions`, the same audit rows, the same view of a notice.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..format import count
from .common import add_common, calendar_of, emit, now_of, open_store, parse_date, parse_time, settings_of, warn


def cmd_sweep(args) -> int:
    from ..jobs import notices

    s = settings_of(args)
    r = notices.sweep(open_store(args, s), s, calendar_of(s), now_of(args, s))
    for i in r.issued:
        extra = f" (follow-up of {i.follows})" if i.follows else ""
        print(f"issued {i.number} to {i.department}: {count(i.items, 'finding')}{extra} -> {', '.join(i.channels) or 'HELD'}"
              f"  （已发出，{i.items} 项{'，补充通知' if i.follows else ''}{'' if i.channels else '，暂缓：部门未配置渠道'}）")
    for number in r.closed:
        print(f"closed {number}  （已办结）")
    if r.not_issued:
        print(f"no new notice today: {r.not_issued}")
    if r.calendar_warning:
        warn([r.calendar_warning])
    print(f"{count(len(r.issued), 'notice')} issued; {count(r.rectified, 'finding')} rectified (verified), "
          f"{r.resolved} resolved by themselves; {count(r.reminded, 'reminder')}, {r.overdue} overdue and escalated  （发出通知 {len(r.issued)} 份；"
          f"核实整改 {r.rectified} 项，自行消除 {r.resolved} 项；提醒 {r.reminded} 次，逾期督办 {r.overdue} 份）")
    return 0


def cmd_deliver(args) -> int:
    from ..jobs import relay

    s = settings_of(args)
    fixed = parse_time(args.now, s, "--now")
    r = relay.deliver(open_store(args, s), s, calendar_of(s), (lambda: fixed) if fixed else (lambda: datetime.now(s.tz)))
    print(f"sent {r.sent}, retry later {r.retried}, deferred by rate limits {r.deferred}, dead {r.dead}  "
          f"（已发送 {r.sent}，待重试 {r.retried}，限流顺延 {r.deferred}，投递失败 {r.dead}）")
    if r.taken_over:
        warn(["this relay stalled past its lease and another relay took its deliveries over; it stopped "
               "(raise [notices] lease_seconds if sends are slow)（本次投递超过租期，已由另一投递进程接管并停止）"])
    return 0


def cmd_notices(args) -> int:
    from .. import tables
    from ..errors import StateError
    from ..jobs import actions, views
    from ..lifecycle import Viewer

    s = settings_of(args)
    store, cmd = open_store(args, s), args.notices_command
    now = now_of(args, s)
    who = getattr(args, "actor", None) or getattr(args, "approver", None)
    operator = Viewer(who or "cli", "operator", signs_as=who)
    if cmd == "exempt":
        until = parse_date(args.until, "--until")
        scope, target = ("server", args.server) if args.server else ("system", args.system)
        eid = actions.exempt(store, operator, now, scope, target, args.reason, until,
                             department=getattr(args, "department", None))
        print(f"豁免 #{eid}：{'服务器' if scope == 'server' else '系统'} {target}，至 {until}（{args.approver}）：{args.reason}")
    elif cmd == "unexempt":
        e = actions.unexempt(store, operator, now, args.id)
        print(f"豁免 #{e.id}（{e.target}）已撤销；下次 sweep 时其问题回到原通知")
    elif cmd == "exemptions":
        rows, _ = views.exemptions(store, operator)
        print(tables.exemptions_table(sorted(rows, key=lambda r: r.id), now.date()))
    elif cmd == "list":
        rows = views.notices(store, operator, args.department, args.state, now.date() if args.overdue else None)
        emit(args.format, rows, lambda rs: [r.to_json(s.tz) for r in rs], lambda rs: tables.notices_table(rs, s.tz))
    elif cmd == "show":
        emit(args.format, views.notice(store, operator, args.id), lambda v: v.to_json(s.tz),
             lambda v: tables.notice_text(v, s.tz))
    elif cmd == "pdf":
        view = views.notice(store, operator, args.id)
        if view.pdf is None:
            raise StateError(f"{view.notice.number} 没有 PDF（在生成 PDF 之前发出的通知）")
        target = Path(args.out or view.pdf.name)
        target.write_bytes(view.pdf.content)
        print(f"{view.notice.number}：{target}")
    elif cmd == "resend":
        channels = actions.resend(store, operator, now, args.id, args.channel)
        print(f"已重新排队：{', '.join(channels)}（同一幂等键，由 deliver 发送）")
    else:
        t = actions.transition(store, operator, now, args.id, cmd, args.note or "")
        if t.old == t.new:
            print(f"{t.number}：已记录签收，状态仍为 {t.new.label}（{t.new.value}）")
        else:
            print(f"{t.number}：{t.old.label} -> {t.new.label}（{t.old.value} -> {t.new.value}）")
    return 0


def register(sub) -> None:
    from ..lifecycle import NoticeState

    sw = sub.add_parser("sweep", help="issue notices for new findings; verify, remind, escalate the open ones")
    add_common(sw, now=True)
    sw.set_defaults(func=cmd_sweep)

    dv = sub.add_parser("deliver", help="run the outbox relay once: send what is due")
    add_common(dv, now=True)
    dv.set_defaults(func=cmd_deliver)

    no = sub.add_parser("notices", help="rectification notices (整改通知)").add_subparsers(dest="notices_command",
                                                                                        required=True)
    ex = no.add_parser("exempt", help="exempt a server or a system from notices until a date")
    who = ex.add_mutually_exclusive_group(required=True)
    who.add_argument("--server", help="server id")
    who.add_argument("--system", help="system name (every server of it)")
    ex.add_argument("--reason", required=True, help="e.g. 容灾备机, 考试季系统")
    ex.add_argument("--approver", required=True)
    ex.add_argument("--until", required=True, help="last day the exemption holds (YYYY-MM-DD), not in the past")
    ex.add_argument("--department", help="whose system (--system): required when several departments have one "
                    "of that name")
    add_common(ex, now=True)
    ex.set_defaults(func=cmd_notices)
    for name, text in (("list", "notices, with their items counted by state"),
                       ("exemptions", "all exemptions: live, expired, revoked"),
                       ("show", "one notice: each item's state, events, deliveries, text"),
                       ("ack", "record that the department acknowledged (does not close it)"),
                       ("withdraw", "withdraw a notice issued in error (its findings come through again)"),
                       ("resend", "queue a notice's dead deliveries again (same idempotency key)"),
                       ("unexempt", "revoke an exemption"),
                       ("pdf", "write the notice as sent (红头 PDF) to a file")):
        c = no.add_parser(name, help=text)
        if name not in ("list", "exemptions"):
            c.add_argument("id", type=int, help="exemption id" if name == "unexempt" else "notice id (see list)")
        if name in ("ack", "withdraw", "resend", "unexempt"):
            c.add_argument("--actor", required=True, help="who (recorded with the action)")
        if name in ("ack", "withdraw"):
            c.add_argument("--note", help="why")
        if name == "resend":
            c.add_argument("--channel", help="only this channel's dead deliveries")
        if name == "list":
            c.add_argument("--department", help="only this department's notices")
            c.add_argument("--state", "--status", dest="state", choices=[x.value for x in NoticeState],
                           help="only notices in this state")
            c.add_argument("--overdue", action="store_true", help="only open notices past their due date")
        if name in ("list", "show"):
            c.add_argument("--format", choices=("table", "json"), default="table")
        if name == "pdf":
            c.add_argument("--out", help="file to write (default: the notice's number.pdf here)")
        add_common(c, now=name not in ("show", "pdf"))
        c.set_defaults(func=cmd_notices)
