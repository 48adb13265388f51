import pytest

from rightsizer.calendar import WorkCalendar
from rightsizer.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def calendar() -> WorkCalendar:
    return WorkCalendar()
