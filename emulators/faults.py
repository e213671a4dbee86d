"""Deterministic send faults for the emulators: every ``every``-th send fails, by kind in turn.

``switchboard demo --faults`` turns them on so the dashboard has retries, dead letters and
permanent failures to show. Kinds (each emulator answers them the way its platform does):

* ``rate_limit``: a flood refusal (Telegram 429 with ``retry_after``; WhatsApp 130429),
  retried by the sender;
* ``blocked``: the user blocked the bot (Telegram 403; WhatsApp 131026, undeliverable),
  permanent;
* ``server_error``: the platform's 5xx (Telegram 502; WhatsApp 500, 131000), retried;
* ``not_found``: no such chat (Telegram 400 ``chat not found``; WhatsApp 131026), permanent.

With ``every=17`` the 17th send is rate-limited, the 34th is blocked, the 51st gets a 5xx,
the 68th finds no chat, the 85th is rate-limited again, and so on; other sends pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A permanent failure comes second, so a short demo run shows one of each outcome early.
FAULT_KINDS = ("rate_limit", "blocked", "server_error", "not_found")


@dataclass(slots=True)
class FaultCycle:
    """Counts sends; ``every``: the period in sends (0: never fail)."""

    every: int = 0
    sends: int = 0
    injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULT_KINDS, 0))

    def next_fault(self) -> str | None:
        """Count one send; the fault kind it must get, or None when it passes."""
        if self.every <= 0:
            return None
        self.sends += 1
        if self.sends % self.every:
            return None
        kind = FAULT_KINDS[(self.sends // self.every - 1) % len(FAULT_KINDS)]
        self.injected[kind] += 1
        return kind
