import pytest

from rightsizer.calendar import WorkCalendar
from rightsizer.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def calendar() -> WorkCalendar:
    return WorkCalendar()


# -- the store on SQLite and on a real PostgreSQL (Debian's postgresql, started here) ----------------------

@pytest.fixture(scope="session")
def pg_cluster():
    """One temporary PostgreSQL cluster for the whole run; each test takes a database of its own."""
    import pgserver

    try:
        cluster = pgserver.start()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))  # never a skip: `make test` installs postgresql
    yield cluster
    cluster.stop()


def _url(request, backend: str, path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{path / 'rs.db'}"
    return request.getfixturevalue("pg_cluster").fresh()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """A new, empty store's URL: the test runs once on SQLite and once on PostgreSQL."""
    return _url(request, request.param, tmp_path)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_store_url(request, tmp_path_factory) -> str:
    """The same for a module-scoped fixture (a replayed city shared by the module's tests)."""
    return _url(request, request.param, tmp_path_factory.mktemp("store"))
