from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bookpulse.domain import refs
from bookpulse.domain.policy import CancellationPolicy

START = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


def test_policy_deadline_is_inclusive() -> None:
    p = CancellationPolicy(free_until_hours=24)
    assert p.customer_may_change(start_at=START, now=START - timedelta(hours=24))
    assert not p.customer_may_change(start_at=START, now=START - timedelta(hours=23, minutes=59))


def test_policy_none_means_always() -> None:
    p = CancellationPolicy(free_until_hours=None)
    assert p.customer_may_change(start_at=START, now=START + timedelta(days=3))
    assert "any time" in p.describe()


def test_policy_round_trips() -> None:
    for hours in (None, 0, 2, 24, 72):
        p = CancellationPolicy(free_until_hours=hours)
        assert CancellationPolicy.from_dict(p.to_dict()) == p


def test_reference_format() -> None:
    ref = refs.new_reference()
    assert ref.startswith("BP-") and len(ref) == 9
    assert refs.looks_like_reference(ref)
    assert not any(ch in ref[3:] for ch in "01OIL")


def test_references_spread_over_the_whole_alphabet_in_every_position() -> None:
    drawn = [refs.new_reference()[3:] for _ in range(3000)]
    for position in range(refs.LENGTH):
        assert {r[position] for r in drawn} == set(refs.ALPHABET)
    assert len(set(drawn)) > 2990  # 729 million values: collisions are rare


@given(st.text(alphabet=refs.ALPHABET, min_size=6, max_size=6))
def test_normalize_accepts_what_people_type(body: str) -> None:
    assert refs.normalize_reference(f" bp {body.lower()} ") == f"BP-{body}"
