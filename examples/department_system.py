"""A department's own back-office system working its items through onething's Camunda 7 API.

Most departments decide their item in their own system (税务系统, the bank's core system, ...).
onething hands such an item out as an *external task*; the department's system fetches it,
does the work and reports the result back, over the external-task calls of Camunda 7.20's
REST reference under ``/engine-rest``. Any Camunda 7 worker runs unchanged; this one is plain
``httpx`` so that every request is visible:

1. sign in at ``/api/auth/token`` as ``system.<department>`` (a system account bound to one
   department: it sees and locks only that department's topics);
2. ``POST /engine-rest/external-task/fetchAndLock``: lock up to ``--max-tasks`` tasks of the
   topic for ``--lock-ms``; ``asyncResponseTimeout`` makes the server hold the request open
   until a task appears (long polling), so an idle worker costs one request every 30 s;
3. do the work on the variables the server sent (the item's view of the case data);
4. ``POST /engine-rest/external-task/{id}/complete`` with the result as typed variables
   (``{"name": {"value": ..., "type": "String"}}``), or ``/failure`` with the retries left and
   a ``retryTimeout`` when the work broke (at 0 retries the task becomes an incident that a
   supervisor hands to a clerk), or ``/bpmnError`` when the department refuses the item (the
   diagram's error boundary event takes over).

A system also tells a waiting case that something happened in its own world (the hospital
issued the 出生医学证明): ``POST /engine-rest/message`` with the message name and the case's
code (办件编码) as business key, its data as typed process variables (``--send-message``).

Start the app (``make run``), then for example::

    .venv/bin/python examples/department_system.py --department tax --max-seconds 60
    .venv/bin/python examples/department_system.py --department health \
        --send-message birth_certificate_issued --business-key CODE --set birth_certificate_no=N440123456

Test options: ``--fail-first N`` fails the first N attempts, ``--fail-rate`` fails at random,
``--refuse CODE`` answers every task with a BPMN error, ``--work-ms`` makes the work take time.
Each outcome is printed as one line: ``completed|failed|bpmn-error|refused <task id> ...``,
or ``correlated|not-correlated <message> <business key> ...``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

# A typed variable as Camunda writes it: {"value": ..., "type": "String", "valueInfo": {}}.
Variables = dict[str, dict[str, Any]]
LONG_POLL_MS = 30_000  # how long the server may hold an empty fetchAndLock open (default)


class WorkFailed(Exception):
    """The work broke (the back-office database was down, say): report a failure, retry later."""


class Refused(Exception):
    """The department refuses the item: a BPMN error the diagram routes (error boundary event)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def string(value: str) -> dict[str, Any]:
    """A Camunda typed String value."""
    return {"value": value, "type": "String"}


def value_of(variables: Variables, name: str) -> Any:
    """The plain value of a typed variable the server sent (None when it did not send it)."""
    typed = variables.get(name)
    return typed.get("value") if typed else None


def digits(seed: str, count: int) -> str:
    """``count`` decimal digits derived from ``seed``: the same case always gets the same number."""
    number = int(hashlib.sha256(seed.encode("utf-8")).hexdigest(), 16)
    return str(number)[-count:].rjust(count, "0")


# -- the work each department's system does -------------------------------------------------
def register_taxpayer(task: dict[str, Any]) -> Variables:
    """税务系统: confirm the new taxpayer; since 三证合一 the taxpayer number is the credit code."""
    variables: Variables = task.get("variables") or {}
    company = value_of(variables, "company_name")
    if not company:
        raise WorkFailed("no company_name in the task's variables")
    uscc = value_of(variables, "uscc")
    number = str(uscc) if uscc else "91" + digits(f"{company}/{task['businessKey']}", 16)
    return {"tax_registration_no": string(number)}


def open_bank_account(task: dict[str, Any]) -> Variables:
    """The bank's core system: open the company's basic deposit account."""
    variables: Variables = task.get("variables") or {}
    company = value_of(variables, "company_name")
    if not company:
        raise WorkFailed("no company_name in the task's variables")
    return {"bank_account_no": string("6222" + digits(f"{company}/{task['businessKey']}", 15))}


def acknowledge(_task: dict[str, Any]) -> Variables:
    """Any other department: the system has taken the item over; nothing to report back."""
    return {}


@dataclass(frozen=True)
class Work:
    """What a department's system reads from the case and the function that does the work."""

    reads: tuple[str, ...]
    do: Callable[[dict[str, Any]], Variables]


# By department key (a department's topics default to its key; ``--topic`` picks another).
WORK: dict[str, Work] = {
    "tax": Work(("company_name", "uscc", "company_type", "legal_rep_name"), register_taxpayer),
    "bank": Work(("company_name", "legal_rep_name", "bank_name"), open_bank_account),
}


# -- the worker loop ------------------------------------------------------------------------
@dataclass
class Options:
    """The command line, typed."""

    base_url: str
    department: str
    topic: str
    worker_id: str
    max_tasks: int
    lock_ms: int
    retries: int
    retry_ms: int
    fail_first: int
    fail_rate: float
    refuse: str | None
    work_ms: int
    long_poll_ms: int
    once: bool
    max_seconds: float | None
    password: str
    message: str | None
    business_key: str | None
    values: dict[str, str]


def sign_in(options: Options) -> httpx.Client:
    """A client of ``/engine-rest`` carrying the bearer token of the department's system account."""
    answer = httpx.post(
        f"{options.base_url}/api/auth/token",
        data={"username": f"system.{options.department}", "password": options.password},
        timeout=30,
    )
    answer.raise_for_status()
    return httpx.Client(
        base_url=f"{options.base_url}/engine-rest",
        headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
        # a long poll is held open up to --long-poll-ms: read longer than that
        timeout=httpx.Timeout(30, read=options.long_poll_ms / 1000 + 30),
    )


def fetch_and_lock(client: httpx.Client, options: Options, wait_ms: int) -> list[dict[str, Any]]:
    """Lock up to ``max_tasks`` tasks of the topic, waiting up to ``wait_ms`` for one to appear."""
    work = WORK.get(options.department)
    body = {
        "workerId": options.worker_id,
        "maxTasks": options.max_tasks,
        "usePriority": True,
        "asyncResponseTimeout": wait_ms,
        "topics": [
            {
                "topicName": options.topic,
                "lockDuration": options.lock_ms,
                "variables": list(work.reads) if work else None,
            }
        ],
    }
    answer = client.post("/external-task/fetchAndLock", json=body)
    answer.raise_for_status()
    tasks: list[dict[str, Any]] = answer.json()
    return tasks


class Attempts:
    """Decides which attempts fail on purpose (``--fail-first``, ``--fail-rate``)."""

    def __init__(self, fail_first: int, fail_rate: float) -> None:
        self.left_to_fail = fail_first
        self.fail_rate = fail_rate

    def should_fail(self) -> bool:
        """True when this attempt is to fail."""
        if self.left_to_fail > 0:
            self.left_to_fail -= 1
            return True
        return self.fail_rate > 0 and random.random() < self.fail_rate


def handle(client: httpx.Client, options: Options, task: dict[str, Any], attempts: Attempts) -> str:
    """Do one locked task's work and report the outcome; the printed line."""
    task_id = task["id"]
    key = task.get("businessKey")
    worker = {"workerId": options.worker_id}
    try:
        if options.work_ms:
            time.sleep(options.work_ms / 1000)
        if options.refuse:
            raise Refused(options.refuse, f"{options.department} refuses the item")
        if attempts.should_fail():
            raise WorkFailed("the back-office system is unavailable (simulated)")
        work = WORK.get(options.department)
        result = (work.do if work else acknowledge)(task)
    except Refused as refusal:
        answer = client.post(
            f"/external-task/{task_id}/bpmnError",
            json={**worker, "errorCode": refusal.code, "errorMessage": str(refusal)},
        )
        outcome = f"bpmn-error {task_id} {key} {refusal.code}"
    except WorkFailed as failure:
        # Camunda's convention: the task has no retries (null) until it first fails; the
        # worker says how many are left. At 0 the task becomes an incident.
        retries = (task["retries"] if task.get("retries") is not None else options.retries) - 1
        answer = client.post(
            f"/external-task/{task_id}/failure",
            json={
                **worker,
                "errorMessage": str(failure),
                "errorDetails": f"{type(failure).__name__}: {failure}",
                "retries": max(retries, 0),
                "retryTimeout": options.retry_ms,
            },
        )
        outcome = f"failed {task_id} {key} retries={max(retries, 0)}"
    else:
        answer = client.post(f"/external-task/{task_id}/complete", json={**worker, "variables": result})
        shown = " ".join(f"{name}={typed['value']}" for name, typed in result.items())
        outcome = f"completed {task_id} {key} {shown}".rstrip()
    if answer.status_code != 204:
        # e.g. 400: the lock expired and another worker holds the task now
        return f"refused {task_id} {key} {answer.status_code} {answer.text}"
    return outcome


def send_message(client: httpx.Client, options: Options) -> tuple[bool, str]:
    """Deliver ``--send-message`` to the one case waiting for it; whether it was taken, and the line.

    Camunda's answer when no case (or more than one) waits for the message: 400 with
    ``{"type": "RestException", "message": "Cannot correlate message ..."}``.
    """
    body = {
        "messageName": options.message,
        "businessKey": options.business_key,
        "processVariables": {name: string(value) for name, value in options.values.items()},
        "resultEnabled": True,
    }
    answer = client.post("/message", json=body)
    if answer.status_code != 200:
        return (
            False,
            f"not-correlated {options.message} {options.business_key} {answer.status_code} {answer.text}",
        )
    kinds = ",".join(result["resultType"] for result in answer.json())
    return True, f"correlated {options.message} {options.business_key} {kinds}"


def run(options: Options) -> int:
    """Send ``--send-message``; else fetch, work and report until ``--once`` or ``--max-seconds`` end it."""
    if options.message:
        with sign_in(options) as client:
            taken, line = send_message(client, options)
        print(line, flush=True)
        return 0 if taken else 1
    deadline = time.monotonic() + options.max_seconds if options.max_seconds else None
    attempts = Attempts(options.fail_first, options.fail_rate)
    client = sign_in(options)
    try:
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000) if deadline else options.long_poll_ms
            if left_ms <= 0:
                return 0
            try:
                tasks = fetch_and_lock(client, options, min(options.long_poll_ms, left_ms))
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 401:
                    raise
                client.close()
                client = sign_in(options)  # the token expired: sign in again
                continue
            except httpx.TransportError as exc:
                print(f"server unreachable ({type(exc).__name__}); retrying in 1 s", file=sys.stderr)
                time.sleep(1)
                continue
            for task in tasks:
                print(handle(client, options, task, attempts), flush=True)
            if options.once:
                return 0
    finally:
        client.close()


def parse(argv: Sequence[str] | None = None) -> Options:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--department", default="tax", help="department key; signs in as system.<department>")
    parser.add_argument("--topic", help="topic to fetch (default: the department key)")
    parser.add_argument("--worker-id", help="lock owner (default: <department>-worker-<pid>)")
    parser.add_argument("--max-tasks", type=int, default=1)
    parser.add_argument("--lock-ms", type=int, default=60_000, help="lockDuration of each fetched task")
    parser.add_argument("--retries", type=int, default=3, help="attempts before a task becomes an incident")
    parser.add_argument("--retry-ms", type=int, default=5_000, help="retryTimeout after a failure")
    parser.add_argument("--fail-first", type=int, default=0, help="fail the first N attempts (tests)")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="fail this share of attempts (tests)")
    parser.add_argument("--refuse", metavar="CODE", help="answer every task with this BPMN error code")
    parser.add_argument("--work-ms", type=int, default=0, help="how long the work takes (demos, tests)")
    parser.add_argument(
        "--long-poll-ms", type=int, default=LONG_POLL_MS, help="asyncResponseTimeout of each fetchAndLock"
    )
    parser.add_argument("--once", action="store_true", help="one fetchAndLock round, then exit")
    parser.add_argument("--max-seconds", type=float, help="stop after this long")
    parser.add_argument("--password", default="demo")
    parser.add_argument(
        "--send-message", metavar="NAME", help="correlate this message instead of working tasks"
    )
    parser.add_argument("--business-key", help="the waiting case's code (办件编码) for --send-message")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a String process variable of the message",
    )
    args = parser.parse_args(argv)
    return Options(
        base_url=args.base_url.rstrip("/"),
        department=args.department,
        topic=args.topic or args.department,
        worker_id=args.worker_id or f"{args.department}-worker-{os.getpid()}",
        max_tasks=args.max_tasks,
        lock_ms=args.lock_ms,
        retries=args.retries,
        retry_ms=args.retry_ms,
        fail_first=args.fail_first,
        fail_rate=args.fail_rate,
        refuse=args.refuse,
        work_ms=args.work_ms,
        long_poll_ms=args.long_poll_ms,
        once=args.once,
        max_seconds=args.max_seconds,
        password=args.password,
        message=args.send_message,
        business_key=args.business_key,
        values=dict(pair.split("=", 1) for pair in args.set),
    )


if __name__ == "__main__":
    sys.exit(run(parse()))
