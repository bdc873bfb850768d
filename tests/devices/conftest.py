import pytest

from tests.devices.helpers import Recorder


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
