"""Weak passwords are refused by ``POST /api/accounts`` and ``onething user add``; the CLI
prompts on a terminal, reads ``--password-stdin`` for scripts, and warns about ``--password``."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import pytest

from tests.api.support import LiveServer, onething_command

WEAK = ["password", "12345678", " " * 8]


@pytest.mark.parametrize("password", WEAK)
def test_the_api_refuses_a_weak_password_with_the_reason(server: LiveServer, password: str) -> None:
    with server.as_user("admin") as admin:
        answer = admin.post(
            "/api/accounts", json={"username": "weak.user", "password": password, "role": "applicant"}
        )
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["detail"]
    assert (problem["where"], problem["rule"]) == ("password", "strength")
    assert "密码过于常见" in problem["message"] and "too common" in problem["message_en"]


def user_add(
    server: LiveServer, name: str, *options: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``onething user add NAME --role applicant OPTIONS`` against the server's database."""
    command = [*onething_command(), "user", "--db", server.settings.database_url, "add", name]
    return subprocess.run(
        [*command, "--role", "applicant", *options],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def signs_in(server: LiveServer, username: str, password: str) -> bool:
    """Whether the API gives the account a token for the password."""
    with server.client() as anonymous:
        answer = anonymous.post("/api/auth/token", data={"username": username, "password": password})
    return answer.status_code == 200


def test_user_add_reads_password_stdin_and_refuses_a_weak_one(server: LiveServer) -> None:
    weak = user_add(server, "script.weak", "--password-stdin", stdin="12345678\n")
    assert weak.returncode == 1
    assert "密码过于常见或容易猜到" in weak.stderr and "too common" in weak.stderr

    made = user_add(server, "script.user", "--password-stdin", stdin="a-long-passphrase\n")
    assert made.returncode == 0, made.stderr
    assert "--password" not in made.stderr
    assert signs_in(server, "script.user", "a-long-passphrase")


def test_password_on_the_command_line_still_works_but_warns(server: LiveServer) -> None:
    made = user_add(server, "argv.user", "--password", "wang-passphrase")
    assert made.returncode == 0, made.stderr
    assert "进程列表" in made.stderr and "process list" in made.stderr
    assert signs_in(server, "argv.user", "wang-passphrase")


def converse(command: list[str], answers: list[str], prompts: list[str]) -> tuple[int, str]:
    """Run a command on a terminal of its own, typing each answer after its prompt appears."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: becomes the command, with the terminal as its controlling tty
        os.execv(command[0], command)
    seen = b""
    try:
        for prompt, answer in zip(prompts, answers, strict=True):
            deadline = time.monotonic() + 60
            while prompt.encode() not in seen:
                assert time.monotonic() < deadline, seen.decode(errors="replace")
                ready, _, _ = select.select([terminal], [], [], 1)
                if ready:
                    seen += os.read(terminal, 4096)
            seen = seen.split(prompt.encode(), 1)[1]
            os.write(terminal, answer.encode() + b"\n")
        while True:
            ready, _, _ = select.select([terminal], [], [], 60)
            try:
                chunk = os.read(terminal, 4096) if ready else b""
            except OSError:  # the command ended and closed the terminal
                chunk = b""
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(terminal)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_user_add_prompts_twice_on_a_terminal(server: LiveServer) -> None:
    command = [*onething_command(), "user", "--db", server.settings.database_url, "add"]
    prompts = ["密码 (password): ", "再次输入 (again): "]
    status, output = converse(
        [*command, "typed.differ", "--role", "applicant"], ["a-long-passphrase", "a-long-passphras"], prompts
    )
    assert status == 2 and "两次输入的密码不一致" in output
    status, output = converse(
        [*command, "typed.user", "--role", "applicant"], ["a-long-passphrase", "a-long-passphrase"], prompts
    )
    assert status == 0, output
    assert "a-long-passphrase" not in output  # not echoed
    assert signs_in(server, "typed.user", "a-long-passphrase")
