"""Password policy: long enough, and not common or easy to guess.

Length alone let ``password``, ``12345678`` and eight spaces through. Strength is
estimated with zxcvbn (Dropbox's estimator, ported to Python; it ships the common-password
and word frequency lists, keyboard patterns, repeats, sequences and dates): a password
needs score 3, about 10^8 guesses or more, which with argon2 hashing and the sign-in
throttle is out of reach online and costly offline. The username and the product's own
words count as known to the attacker. Only the first ``ESTIMATE_CHARS`` characters are
estimated (zxcvbn's time grows with the length; a long password whose start is strong is
strong), and the demo accounts' documented password is never checked here: demo accounts
are made by code (engine.accounts.ensure_demo_accounts), not through this policy.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

from engine.errors import Problem

MIN_LENGTH = 8
MAX_LENGTH = 1024
MIN_SCORE = 3
ESTIMATE_CHARS = 72
PRODUCT_WORDS = ("onething",)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def password_problems(password: str, username: str = "") -> list[Problem]:
    """What is wrong with a new password (empty when it may be used)."""
    if not (MIN_LENGTH <= len(password) <= MAX_LENGTH) or not _encodable(password):
        return [
            Problem(
                f"密码长度须为 {MIN_LENGTH}-{MAX_LENGTH} 个字符",
                where="password",
                rule="length",
                message_en=f"password: {MIN_LENGTH} to {MAX_LENGTH} characters",
            )
        ]
    known = [word for word in (username, *username.replace("@", ".").split("."), *PRODUCT_WORDS) if word]
    estimate = zxcvbn(password[:ESTIMATE_CHARS], user_inputs=known)
    if estimate["score"] >= MIN_SCORE:
        return []
    warning = str(estimate["feedback"].get("warning") or "it is easy to guess")
    return [
        Problem(
            "密码过于常见或容易猜到，请使用更长、更少见的密码（例如几个不相关的词）",
            where="password",
            rule="strength",
            message_en=f"password too common or easy to guess ({warning.rstrip('.')}); "
            "use a longer, less common one, such as a few unrelated words",
        )
    ]
