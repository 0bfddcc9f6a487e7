"""User state is versioned: an older state is upcast on restore, a newer one refused."""

from __future__ import annotations

import zlib

import orjson
import pytest

from streams.core.state import STATE_VERSION, UPCASTERS, StateVersionError, UserState, upcast
from streams.worker.store import decode_state, encode_state


def test_every_older_version_has_an_upcaster() -> None:
    assert sorted(UPCASTERS) == list(range(1, STATE_VERSION))


def test_saved_states_carry_the_current_version() -> None:
    saved = encode_state(UserState("u1"))
    assert orjson.loads(zlib.decompress(saved[1:]))["version"] == STATE_VERSION


def test_a_state_that_does_not_inflate_or_inflates_too_far_is_refused() -> None:
    with pytest.raises(ValueError, match="does not inflate"):
        decode_state(b"\x01not zlib at all")
    bomb = b"\x01" + zlib.compress(b" " * (2 << 20), 9)  # 2 MiB of spaces in ~2 kB
    with pytest.raises(ValueError, match="inflates beyond"):
        decode_state(bomb)
    whole = encode_state(UserState("u1", touched=5))
    with pytest.raises(ValueError, match="cut short"):
        decode_state(whole[:-3])  # the checksum is missing


def test_a_version_1_state_restores_with_its_biased_churn_point_dropped() -> None:
    saved = UserState("u1", touched=42, churn_anchor=7).to_dict()
    del saved["version"]
    saved["churn_pending"] = [1000, "e1", 0.4, [1.0, 2.0]]  # version 1's flat point
    state = decode_state(orjson.dumps(saved))
    assert (state.user_id, state.touched, state.churn_anchor) == ("u1", 42, 7)
    assert state.churn_pending == []


def test_a_current_state_round_trips_unchanged() -> None:
    state = UserState("u1", touched=5, churn_pending=[[1, "e1", 0, 0.5, [0.5], [1.0]]])
    assert decode_state(encode_state(state)).to_dict() == state.to_dict()


@pytest.mark.parametrize("version", [STATE_VERSION + 1, 0, "2", True, None])
def test_a_state_of_an_unknown_version_is_refused_with_a_reason(version: object) -> None:
    saved = {**UserState("u1").to_dict(), "version": version}
    with pytest.raises(StateVersionError, match="version"):
        upcast(saved)
    with pytest.raises(ValueError):  # the store logs, counts and skips it
        decode_state(orjson.dumps(saved))


def test_a_version_2_state_counts_its_searches_as_having_a_result_count() -> None:
    saved = UserState("u1").to_dict()
    saved["version"] = 2
    saved["features"] = {**saved["features"], "searches": 7, "searches_no_results": 2}
    del saved["features"]["searches_counted"]
    state = decode_state(orjson.dumps(saved))
    assert (state.features.searches_counted, state.features.searches_no_results) == (7, 2)
