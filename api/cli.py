"""The ``onething`` command: serve, worker, validate, demo, account management, the division tree.

The database is ``--db URL`` or ``ONETHING_DATABASE_URL`` (default: an SQLite file in the
working directory); every other setting comes from the ``ONETHING_*`` environment.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from engine.bpmn.deployments import load_departments
from engine.errors import EngineError
from engine.people.accounts import AccountService
from engine.people.actors import Role
from engine.regions.service import Regions
from engine.storage.db import Database
from engine.storage.settings import Settings


def _settings(db: str | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"database_url": db}) if db else settings


def _fail(exc: EngineError, err: TextIO) -> int:
    print(f"错误 (error): {exc.message}", file=err)
    for problem in getattr(exc, "problems", []):
        where = f"{problem.where}: " if problem.where else ""
        english = f" / {problem.message_en}" if problem.message_en else ""
        print(f"  - {where}{problem.message}{english}", file=err)
    return 1


# -- serve and worker --------------------------------------------------------------------
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def _positive(text: str) -> int:
    """A whole number of at least 1 (``--workers``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    """Web app + API + timer worker; ``--demo`` also creates the demo accounts.

    Says a short summary (``api.startup``): database, bundles, demo accounts, address.
    ``--workers N`` serves from N processes on the one address (``api.serving``).
    """
    import uvicorn

    from api.app import create_app
    from api.heap import settle_heap
    from api.logs import configure_logging
    from api.security import signing_key
    from api.serving import HTTP, LOOP, READY_LINE, serve_workers
    from api.startup import (
        SummarizingServer,
        address_line,
        bundles_line,
        database_line,
        demo_accounts_line,
        say,
    )
    from api.worker import start_timer_worker
    from engine.service import Engine

    configure_logging(_LEVELS[args.log_level])
    settings = _settings(args.db)
    engine = Engine(settings)
    try:
        engine.upgrade()
        deployed = engine.deploy_shipped()
        bundles = engine.list_bundles()
        summary = [database_line(settings), bundles_line([b.key for b in bundles], deployed)]
        if args.demo:
            departments = {d for bundle in bundles for d in bundle.departments}
            accounts = AccountService(
                engine.db, departments=load_departments(settings.processes_dir), regions=engine.regions
            )
            engine.regions.ensure_demo_offices()  # two districts of 上海市, 浙江省 at three levels
            accounts.ensure_demo_accounts(departments)  # with those offices' accounts
            summary.append(demo_accounts_line(accounts.demo_usernames(departments)))
        say(summary)
        worker = start_timer_worker(engine)
        try:
            if args.workers > 1:  # web processes of their own; this one supervises and runs the timers
                signing_key(settings)  # made once here, before the workers would race to make it
                say([address_line(args.host, args.port)])
                serve_workers(settings, args.host, args.port, args.workers, _LEVELS[args.log_level])
            else:
                config = uvicorn.Config(
                    create_app(settings, engine),
                    host=args.host,
                    port=args.port,
                    loop=LOOP,
                    http=HTTP,
                    log_config=None,
                    access_log=False,  # our one line per request (api.logs) is the access log
                    server_header=False,
                    timeout_graceful_shutdown=10,
                )

                # Its one web process settles its heap and says so as each of ``--workers N``'s
                # does (``api.heap``, READY_LINE).
                def started(port: int) -> None:
                    settle_heap()
                    say([address_line(args.host, port), READY_LINE])

                server = SummarizingServer(config, started)
                server.run()
                if not server.started:
                    return 1
        finally:
            worker.stop()
    finally:
        engine.close()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """The timer/escalation loop alone, until SIGINT or SIGTERM."""
    from api.logs import configure_logging
    from api.worker import TimerWorker
    from engine.service import Engine

    configure_logging(_LEVELS[args.log_level])
    settings = _settings(args.db)
    engine = Engine(settings)
    try:
        engine.upgrade()
        worker = TimerWorker(engine, settings.worker_interval)

        def stop(_signum: int, _frame: FrameType | None) -> None:
            worker.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        worker.run_forever()
    finally:
        engine.close()
    return 0


# -- validate and demo ---------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    """Check bundle folders or BPMN files; every problem with file and element id."""
    from engine.bpmn.validation.command import run_validate

    return run_validate(args.paths, sys.stdout, args.json)


def cmd_demo(args: argparse.Namespace) -> int:
    """One case of each shipped bundle (or one) end to end with simulated clerks."""
    from engine.demo import run_demo

    return run_demo(args.bundle, args.json, sys.stdout)


# -- accounts ------------------------------------------------------------------------------
def _regions(settings: Settings) -> Regions:
    """The division tree of the database, with the shipped divisions loaded (new codes only)."""
    db = Database(settings.database_url, settings.sqlite_synchronous)
    db.upgrade()
    regions = Regions(db, settings)
    regions.load_shipped(settings.processes_dir / "divisions")
    return regions


def _accounts(args: argparse.Namespace) -> AccountService:
    settings = _settings(args.db)
    regions = _regions(settings)
    return AccountService(regions.db, departments=load_departments(settings.processes_dir), regions=regions)


def _read_password(args: argparse.Namespace) -> str | None:
    """The password from a prompt (twice), a line of stdin (``--password-stdin``, piped) or ``--password``.

    ``--password`` stays for old scripts but warns: the process list and the shell history
    show it to anyone on the machine.
    """
    if args.password is not None:
        print(
            "警告：--password 会出现在进程列表和命令历史中，请改用提示输入或 --password-stdin "
            "(warning: --password shows in the process list and shell history; "
            "use the prompt or --password-stdin)",
            file=sys.stderr,
        )
        return str(args.password)
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码 (password): ")
    second = getpass.getpass("再次输入 (again): ")
    if first != second:
        print("两次输入的密码不一致 (the passwords differ)", file=sys.stderr)
        return None
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    """Create an account."""
    password = _read_password(args)
    if password is None:
        return 2
    service = _accounts(args)
    try:
        view = service.create(
            args.name,
            password,
            args.role,
            args.department or (),
            args.display_name or "",
            args.supervisor,
            division=args.division,
        )
    except EngineError as exc:
        return _fail(exc, sys.stderr)
    finally:
        service.db.dispose()
    departments = f" [{', '.join(view.departments)}]" if view.departments else ""
    division = f" @{view.division}" if view.division else ""
    print(f"已创建 (created): {view.username} ({view.role.value}){departments}{division}")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    """Print every account."""
    service = _accounts(args)
    try:
        views = service.list_accounts()
    finally:
        service.db.dispose()
    if args.json:
        rows = [
            {
                "username": v.username,
                "role": v.role.value,
                "departments": list(v.departments),
                "display_name": v.display_name,
                "supervisor": v.supervisor,
                "active": v.active,
                "division": v.division,
            }
            for v in views
        ]
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    for v in views:
        flags = "" if v.active else "  (已停用 disabled)"
        departments = ",".join(v.departments) or "-"
        division = v.division or "-"
        print(f"{v.username:<40} {v.role.value:<10} {departments:<32} {division:<12} {v.display_name}{flags}")
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    """Set an account's password (its tokens stop working)."""
    password = _read_password(args)
    if password is None:
        return 2
    service = _accounts(args)
    try:
        service.set_password(args.name, password)
    except EngineError as exc:
        return _fail(exc, sys.stderr)
    finally:
        service.db.dispose()
    print(f"已更改密码 (password changed): {args.name}")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    """Disable an account (it can no longer sign in; its tokens stop working)."""
    return _set_active(args, False)


def cmd_user_enable(args: argparse.Namespace) -> int:
    """Enable a disabled account again."""
    return _set_active(args, True)


def _set_active(args: argparse.Namespace, active: bool) -> int:
    service = _accounts(args)
    try:
        service.update(args.name, active=active)
    except EngineError as exc:
        return _fail(exc, sys.stderr)
    finally:
        service.db.dispose()
    print(f"{'已启用 (enabled)' if active else '已停用 (disabled)'}: {args.name}")
    return 0


def cmd_divisions(args: argparse.Namespace) -> int:
    """Print the division tree (or one division's subtree), indented by depth."""
    regions = _regions(_settings(args.db))
    try:
        tree = regions.tree()
        if args.root is not None and not tree.known(args.root):
            print(f"错误 (error): 没有该行政区划 (no division {args.root})", file=sys.stderr)
            return 1
        roots = (args.root,) if args.root is not None else tree.roots()
        rows: list[tuple[int, str]] = []

        def walk(code: str, depth: int) -> None:
            rows.append((depth, code))
            for child in sorted(tree.children(code)):
                walk(child, depth + 1)

        for root in sorted(roots):
            walk(root, 0)
        found = [(depth, division) for depth, code in rows if (division := tree.get(code)) is not None]
        if args.json:
            listed = [
                {
                    "code": d.code,
                    "name": {"zh": d.name_zh, "en": d.name_en},
                    "level": d.level.value,
                    "parent": d.parent,
                }
                for _, d in found
            ]
            json.dump(listed, sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
            return 0
        for depth, d in found:
            print(f"{'  ' * depth}{d.code:<12} {d.level.value:<9} {d.name_zh} ({d.name_en})")
        return 0
    finally:
        regions.db.dispose()


# -- the parser ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="onething", description="高效办成一件事 — BPMN service bundles across departments"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    db_help = "数据库 URL (database URL; default ONETHING_DATABASE_URL or sqlite:///onething.db)"
    log_help = "日志级别 (log level; debug adds SpiffWorkflow's steps, migrations and uvicorn's own lines)"

    serve = commands.add_parser("serve", help="web app + API + timer worker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--db", help=db_help)
    serve.add_argument("--demo", action="store_true", help="create the demo accounts (password 'demo')")
    serve.add_argument("--log-level", choices=sorted(_LEVELS), default="info", help=log_help)
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="web processes sharing the one address (default 1); with PostgreSQL more serve more. "
        "This process supervises them and runs the timer worker once for all",
    )
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser("worker", help="the timer/escalation worker alone")
    worker.add_argument("--db", help=db_help)
    worker.add_argument("--log-level", choices=sorted(_LEVELS), default="info", help=log_help)
    worker.set_defaults(handler=cmd_worker)

    validate = commands.add_parser("validate", help="check bundle folders or BPMN files")
    validate.add_argument("paths", nargs="+", metavar="PATH")
    validate.add_argument("--json", action="store_true", help="machine-readable report")
    validate.set_defaults(handler=cmd_validate)

    demo = commands.add_parser("demo", help="run the shipped bundles' examples end to end")
    demo.add_argument("--bundle", metavar="KEY")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(handler=cmd_demo)

    password_help = "deprecated (the process list shows it); prompted for when absent"  # noqa: S105
    user = commands.add_parser("user", help="manage accounts")
    user.add_argument("--db", help=db_help)
    users = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = users.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--department", action="append", metavar="D", help="a department key (repeat for more)")
    add.add_argument("--display-name")
    add.add_argument("--supervisor", action="store_true", help="a clerk who handles complaints (督办)")
    add.add_argument(
        "--division",
        metavar="CODE",
        help="行政区划代码 (division code: a clerk's or system's office, an analyst's or admin's reach)",
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin (scripts)")
    add.add_argument("--password", help=password_help)
    add.set_defaults(handler=cmd_user_add)
    listing = users.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_user_list)
    passwd = users.add_parser("passwd", help="set an account's password")
    passwd.add_argument("name")
    passwd.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    passwd.add_argument("--password", help=password_help)
    passwd.set_defaults(handler=cmd_user_passwd)
    disable = users.add_parser("disable", help="disable an account")
    disable.add_argument("name")
    disable.set_defaults(handler=cmd_user_disable)
    enable = users.add_parser("enable", help="enable a disabled account")
    enable.add_argument("name")
    enable.set_defaults(handler=cmd_user_enable)

    divisions = commands.add_parser("divisions", help="list the division tree (行政区划)")
    divisions.add_argument("--db", help=db_help)
    divisions.add_argument("root", nargs="?", metavar="CODE", help="only this division and below")
    divisions.add_argument("--json", action="store_true")
    divisions.set_defaults(handler=cmd_divisions)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``onething`` console script; the exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
