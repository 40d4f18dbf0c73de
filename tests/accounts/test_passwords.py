import pytest

from app.accounts.services import password_problems


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-1", "at least 12"),
        ("x" * 129, "at most 128"),
        ("passwordpassword", "too common"),
        ("Password1234", "too common"),
        ("nora.smith-2026!", "e-mail address"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password, problem):
    assert any(problem in message for message in password_problems(password, "nora.smith@x.test"))


@pytest.mark.parametrize("password", ["demo-password-1", "correct horse battery staple", "é" * 12])
def test_long_uncommon_passwords_are_accepted(password):
    assert password_problems(password, "someone@x.test") == []
