import pytest

from tests.billing.factories import BillingFactory


@pytest.fixture
def billing(factory):
    return BillingFactory(factory)
