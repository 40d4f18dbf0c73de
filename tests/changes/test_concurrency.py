"""PostgreSQL, real threads: two tabs starting the same draft make one draft; a double click on
Submit makes one submitted request and one event."""

import threading

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.changes import services
from app.changes.models import ChangeRequest, ChangeStatus, ChangeType
from app.errors import DomainError
from app.events.models import OutboxEvent
from app.extensions import db
from tests.changes.conftest import draft_of

pytestmark = pytest.mark.postgresql


def race(app, work, count: int) -> list:
    outcomes, barrier, lock = [], threading.Barrier(count), threading.Lock()

    def run(n: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                outcome = work(n)
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                outcome = type(error).__name__
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == count, "a thread did not finish"
    return outcomes


def test_two_tabs_starting_a_draft_make_one(app, admin):
    user_id = admin.id

    def start(_: int) -> int:
        user = db.session.get(User, user_id)
        return services.start_or_resume_draft(user.account, ChangeType.ADDRESS, user).id

    ids = race(app, start, 4)
    assert len(set(ids)) == 1
    assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == 1


def test_a_double_submit_makes_one_request(app, admin):
    draft_id, user_id = draft_of(ChangeType.ADDRESS, admin).id, admin.id

    def submit(_: int) -> str:
        change = db.session.get(ChangeRequest, draft_id)
        return services.submit(change, db.session.get(User, user_id), None).status.value

    outcomes = race(app, submit, 4)
    assert sorted(outcomes) == ["ChangeRequestStateError"] * 3 + ["submitted"]
    db.session.expire_all()
    assert db.session.get(ChangeRequest, draft_id).status == ChangeStatus.SUBMITTED
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent).where(
        OutboxEvent.event_type == "change_request.submitted")) == 1
