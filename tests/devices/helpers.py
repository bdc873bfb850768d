"""Waiting for device threads and recording what drivers report."""

import time


def wait_until(predicate, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class Recorder:
    """Collects driver callbacks (made on the device thread) for the test thread."""

    def __init__(self) -> None:
        self.cards: list = []
        self.states: list[tuple[str, str]] = []

    def on_card(self, card) -> None:
        self.cards.append(card)

    def on_state(self, state: str, detail: str) -> None:
        self.states.append((state, detail))

    def wait_for(self, predicate, timeout: float = 5.0) -> None:
        wait_until(predicate, timeout, what=f"cards={self.cards} states={self.states}")

    @property
    def state(self) -> str | None:
        return self.states[-1][0] if self.states else None
