"""Offers and answers in flight at one end of a session, and the rule for crossing offers.

Every offer carries an ``offer_id`` (the offerer's, or one the server gives
it) and every answer names the offer it answers. The server keeps, for each
end connected to this instance, the offer it sent and has no answer to yet
(``sent``) and the offer it was given and has not answered yet (``owed``), and
so drops what is stale:

- an answer to anything but the offer the answering end was given last is
  refused (``stale_answer``) and not forwarded;
- an answer that reaches an end whose current offer is another one is dropped;
- when two offers cross, the pupil's wins (the pupil is the *impolite* end,
  the robot the *polite* one): a robot's offer that reaches a pupil with an
  offer of its own in flight is dropped and the robot told (``glare``); the
  robot, given the pupil's offer while its own is in flight, answers it and
  forgets its own; a robot that offers while it owes an answer is refused
  (``glare``) at once.

``peer_joined`` and ``peer_left`` void whatever was in flight. Plain Python:
no I/O, so the rule is unit-tested directly.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from telepresence.sessions.domain import Participant

__all__ = ["Delivery", "Negotiation"]

_server_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What to do with a message on its way to an end: send it (or not), and tell the sender."""

    send: dict[str, Any] | None
    bounce: dict[str, Any] | None = None  # to publish back to the other end


@dataclass(slots=True)
class Negotiation:
    """One end's offers in flight, as the instance holding its socket sees them."""

    participant: Participant
    sent: str | None = None
    owed: str | None = None

    def offer_id(self, given: str | None) -> str:
        """The id an offer travels under: the offerer's own, or one given here."""
        return given or f"{self.participant.value[0]}{next(_server_ids)}"

    def refuse_offer(self) -> str | None:
        """Why this end may not offer now (an error code), or None.

        The robot, the polite end, must answer an offer it was given before
        offering one of its own; the pupil may always offer (its offer wins).
        """
        if self.participant is Participant.ROBOT and self.owed is not None:
            return "glare"
        return None

    def offered(self, offer_id: str) -> None:
        """This end sent an offer; whatever it owed is void (its offer supersedes it)."""
        self.sent, self.owed = offer_id, None

    def answer_for(self, given: str | None) -> str | None:
        """The offer an answer from this end answers, or None when it is stale.

        An answer that names no offer (a client older than offer ids) answers the
        one this end was given last.
        """
        owed = self.owed
        if owed is None or (given is not None and given != owed):
            return None
        self.owed = None
        return owed

    def deliver(self, message: dict[str, Any]) -> Delivery:
        """Decide about one message on its way to this end."""
        kind = message.get("type")
        if kind in {"peer_joined", "peer_left"}:
            self.sent = self.owed = None
        elif kind == "offer":
            return self._deliver_offer(message)
        elif kind == "answer":
            if self.sent is None or message.get("offer_id") != self.sent:
                return Delivery(send=None)  # answers an offer this end has replaced
            self.sent = None
        return Delivery(send=message)

    def _deliver_offer(self, message: dict[str, Any]) -> Delivery:
        offer_id = str(message.get("offer_id"))
        if self.sent is not None and self.participant is Participant.PUPIL:
            bounce = {
                "type": "error",
                "code": "glare",
                "detail": "Your offer crossed the pupil's; answer the pupil's offer instead.",
                "offer_id": offer_id,
            }
            return Delivery(send=None, bounce=bounce)
        # The robot (polite) answers this offer and forgets its own.
        self.sent, self.owed = None, offer_id
        return Delivery(send=message)
