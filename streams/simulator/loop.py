"""The closed loop: simulated shoppers who react to the campaign messages Pulse sends them.

The base simulation is fixed in advance; this runs it through the pipeline in event
order, and every `campaign_message` may add a purchase: with probability
`uplift[persona]` the user buys within the attribution window (0.5 to 48 hours after the
message, one of the recommended items). Holdout users get no messages, so no added
purchases — that difference is what `pulse report campaigns` should recover.

The truth is computed here, per campaign, exactly as attribution counts conversions
(a purchase within the window after the user's latest decision for that campaign):
true uplift of campaign C = (treatment users of C converted − treatment users of C who
would have converted without the purchases C's own messages added) / treatment users.
Holdout users of C still get other campaigns' messages, so those count on both sides.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from models.suite import suite_factory
from streams.core.campaign_policy import in_global_control, in_holdout
from streams.core.config import PulseConfig
from streams.core.outputs import CAMPAIGN_SENDS
from streams.core.pipeline import Pipeline
from streams.core.timefmt import MS_PER_DAY, format_ts, parse_ts
from streams.simulator.generator import SimulationSpec, simulate
from streams.simulator.writer import open_text_out

HOUR = 3_600_000
DECISIONS = frozenset({"campaign_message", "message_deferred", "message_suppressed"})
NOT_ASSIGNED = frozenset({"no_consent", "not_in_audience"})


@dataclass
class CampaignTruth:
    treatment: set[str] = field(default_factory=set)
    converted_all: set[str] = field(default_factory=set)
    converted_own: set[str] = field(default_factory=set)
    messages: int = 0
    added_purchases: int = 0

    def to_dict(self) -> dict[str, Any]:
        n = len(self.treatment)
        return {
            "treatment_users": n,
            "messages": self.messages,
            "added_purchases": self.added_purchases,
            "converted_with_messages": len(self.converted_all),
            "converted_without": len(self.converted_own),
            "true_uplift": (len(self.converted_all) - len(self.converted_own)) / n if n else None,
        }


class ClosedLoop:
    def __init__(self, config: PulseConfig, uplift: dict[str, float], seed: int) -> None:
        self.config = config
        self.uplift = uplift
        self.seed = seed
        self.pipeline = Pipeline(config, suite_factory(config))
        self.window = int(config.campaigns.policy.attribution_days * MS_PER_DAY)
        self.campaigns = {c.name: c for c in config.campaigns.campaigns}
        self.truth: dict[str, CampaignTruth] = defaultdict(CampaignTruth)
        self.last_decision: dict[str, dict[str, int]] = defaultdict(dict)  # user -> campaign -> ts
        self.pending: list[tuple[int, str, dict[str, Any]]] = []
        self.added: dict[str, str] = {}  # added purchase event id -> campaign that caused it

    def run(self, base: Iterator[dict[str, Any]], persona: dict[str, str], out: IO[bytes]) -> int:
        written = 0
        for event in self._merged(base):
            line = orjson.dumps(event)
            out.write(line + b"\n")
            written += 1
            ts = parse_ts(event["ts"])
            source = self.added.pop(str(event["event_id"]), None)
            outputs = [
                o.value
                for o in self.pipeline.process(line, {"line": written})
                if o.topic != CAMPAIGN_SENDS  # (each send is also on campaign-messages)
            ]
            # Decisions made before this event (timed triggers caught up) count for it.
            self._decisions([v for v in outputs if _ts(v) < ts], persona)
            if event["type"] == "purchase":
                self._convert(event["user_id"], ts, source)
            self._decisions([v for v in outputs if _ts(v) >= ts], persona)
        return written

    def _merged(self, base: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for event in base:
            ts = parse_ts(event["ts"]) if isinstance(event["ts"], str) else int(event["ts"])
            while self.pending and self.pending[0][0] <= ts:
                yield heapq.heappop(self.pending)[2]
            yield event
        while self.pending:
            yield heapq.heappop(self.pending)[2]

    def _decisions(self, values: list[dict[str, Any]], persona: dict[str, str]) -> None:
        for value in values:
            if value.get("type") not in DECISIONS or value.get("reason") in NOT_ASSIGNED:
                continue
            user, name = value["user_id"], value["campaign"]
            campaign = self.campaigns[name]
            self.last_decision[user][name] = _ts(value)
            treated = not in_holdout(user, campaign) and not in_global_control(
                user, self.config.campaigns.policy
            )
            truth = self.truth[name]
            if treated:
                truth.treatment.add(user)
            if value["type"] == "campaign_message":
                truth.messages += 1
                self._react(value, persona.get(user, ""), truth)

    def _react(self, message: dict[str, Any], persona: str, truth: CampaignTruth) -> None:
        rng = random.Random(f"react:{self.seed}:{message['id']}")
        if rng.random() >= self.uplift.get(persona, self.uplift.get("*", 0.0)):
            return
        at = _ts(message) + int(rng.uniform(0.5, 48.0) * HOUR)
        items = message["content"].get("recommended_items") or ["i-uplift"]
        item = items[rng.randrange(len(items))]
        price = round(rng.uniform(15.0, 80.0), 2)
        event = {
            "type": "purchase",
            "event_id": f"uplift-{message['id'][:16]}",
            "user_id": message["user_id"],
            "ts": format_ts(at),
            "order_id": f"uo-{message['id'][:16]}",
            "items": [
                {
                    "item_id": item,
                    "category": message["content"].get("top_category") or "misc",
                    "price": price,
                    "quantity": 1,
                }
            ],
            "total": price,
            "currency": "EUR",
        }
        truth.added_purchases += 1
        self.added[event["event_id"]] = message["campaign"]
        heapq.heappush(self.pending, (at, event["event_id"], event))

    def _convert(self, user: str, ts: int, caused_by: str | None) -> None:
        for name, decided in self.last_decision.get(user, {}).items():
            truth = self.truth[name]
            if user in truth.treatment and decided <= ts <= decided + self.window:
                truth.converted_all.add(user)
                if caused_by != name:  # the world without this campaign's messages
                    truth.converted_own.add(user)


def _ts(value: dict[str, Any]) -> int:
    return parse_ts(value["ts"])


def uplift_path(log_path: Path) -> Path:
    name = log_path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return log_path.with_name(f"{name}.uplift.json")


def write_closed_loop(
    path: Path, spec: SimulationSpec, config: PulseConfig, uplift: dict[str, float]
) -> dict[str, Any]:
    """Write the log with reactions to messages; returns (and saves) the true uplift."""
    events, users = simulate(spec)
    persona = {user.user_id: user.persona.name for user in users}
    loop = ClosedLoop(config, uplift, spec.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_text_out(path) as out:
        written = loop.run(events, persona, out)
    truth = {
        "records": written,
        "uplift_per_message": uplift,
        "campaigns": {name: loop.truth[name].to_dict() for name in sorted(loop.truth)},
    }
    uplift_path(path).write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2) + b"\n")
    return truth
