"""Recording what drivers report, for the test thread to wait on."""

from tests.support import wait_until


class Recorder:
    """Collects driver callbacks (made on the device thread) for the test thread."""

    def __init__(self) -> None:
        self.cards: list = []
        self.states: list[tuple[str, str]] = []

    def on_card(self, card) -> None:
        self.cards.append(card)

    def on_state(self, state: str, detail: str) -> None:
        self.states.append((state, detail))

    def wait_for(self, predicate, timeout: float = 10.0) -> None:
        wait_until(predicate, timeout, what=f"cards={self.cards} states={self.states}")

    @property
    def state(self) -> str | None:
        return self.states[-1][0] if self.states else None
