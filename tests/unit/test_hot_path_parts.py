"""Small parts of the hot paths: a connection's mailbox, the cache of principals, the
memory of verified access tokens, the in-process locks of seat picking, the one-step
handlers and the gate in front of the writers' connection pool."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from bookpulse.adapters.db.gate import FairGate
from bookpulse.adapters.db.recent import RecentBookings
from bookpulse.adapters.realtime.hub import Close, Mailbox, Outgoing
from bookpulse.adapters.security import TokenCodec
from bookpulse.domain.errors import Unauthenticated
from bookpulse.domain.lifecycle import PaymentStatus, Role, Status
from bookpulse.domain.model import Booking, Kind, Principal, Shape
from bookpulse.domain.policy import CancellationPolicy
from bookpulse.services.accounts import PrincipalCache, forget_principals
from bookpulse.services.inventory import KeyedLocks


async def test_mailbox_keeps_order_bounds_its_size_and_wakes_one_waiter() -> None:
    box = Mailbox(2)
    assert box.empty() and not box.full()
    waiter = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    box.put_nowait(Outgoing(1, "event", "a"))
    assert (await waiter).id == 1
    box.put_nowait(Outgoing(2, "event", "b"))
    box.put_nowait(Outgoing(3, "event", "c"))
    assert box.full()
    with pytest.raises(asyncio.QueueFull):
        box.put_nowait(Outgoing(4, "event", "d"))
    assert [box.get_nowait().id, (await box.get()).id] == [2, 3]
    assert box.empty()
    with pytest.raises(asyncio.QueueEmpty):
        box.get_nowait()


def test_mailbox_calls_its_put_callback_once_per_arming() -> None:
    box = Mailbox(8)
    calls: list[int] = []
    box.on_put = lambda: calls.append(1)
    box.put_nowait(Outgoing(1, "event", "a"))
    box.put_nowait(Close(4000, "bye"))
    assert calls == [1] and box.on_put is None
    assert box.get_nowait().id == 1 and isinstance(box.get_nowait(), Close)


def test_mailbox_hands_an_item_to_its_writer_while_nothing_is_queued() -> None:
    """``write_through``: what the writer takes is never queued; what it refuses is
    queued in order and wakes ``on_put``, and from then on items queue behind it until
    the transport arms the mailbox again."""
    box = Mailbox(8)
    written: list[int] = []
    woken: list[int] = []
    accept = [True]

    def through(item: object) -> bool:
        if not accept[0] or isinstance(item, Close):
            return False
        written.append(item.id)  # type: ignore[attr-defined]
        return True

    box.on_put, box.write_through = (lambda: woken.append(1)), through
    box.put_nowait(Outgoing(1, "event", "a"))
    box.put_nowait(Outgoing(2, "event", "b"))
    assert written == [1, 2] and box.empty() and woken == []
    accept[0] = False  # the transport pushes back
    box.put_nowait(Outgoing(3, "event", "c"))
    assert woken == [1] and box.on_put is None and box.write_through is None
    accept[0] = True
    box.put_nowait(Outgoing(4, "event", "d"))  # queued behind 3, not written ahead of it
    assert written == [1, 2] and [box.get_nowait().id, box.get_nowait().id] == [3, 4]
    box.on_put, box.write_through = (lambda: woken.append(1)), through
    box.put_nowait(Close(4000, "bye"))  # a close always goes through the queue
    assert woken == [1, 1] and isinstance(box.get_nowait(), Close)


def test_principal_cache_reuses_until_expiry_or_a_change() -> None:
    alice = Principal(user_id=7, name="Alice", email="a@example.com",
                      memberships={1: Role.STAFF})
    cache = PrincipalCache(60)
    cache.put(alice, generation=PrincipalCache.generation)
    assert cache.get(7) is alice and cache.get(8) is None
    forget_principals()  # a membership changed somewhere in this process
    assert cache.get(7) is None
    stale = PrincipalCache.generation
    forget_principals()  # ...and again while a request was reading it
    cache.put(alice, generation=stale)
    assert cache.get(7) is None
    off = PrincipalCache(0)
    off.put(alice, generation=PrincipalCache.generation)
    assert off.get(7) is None
    brief = PrincipalCache(-1)
    brief.put(alice, generation=PrincipalCache.generation)
    assert brief.get(7) is None


def test_remembered_tokens_still_expire_and_forged_ones_are_refused() -> None:
    codec = TokenCodec("s" * 32, ttl=timedelta(minutes=15))
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    token = codec.issue(user_id=7, now=now)
    assert codec.read(token, now=now)[0] == 7
    assert codec.read(token, now=now + timedelta(minutes=14))[0] == 7
    with pytest.raises(Unauthenticated) as expired:
        codec.read(token, now=now + timedelta(minutes=15))
    assert expired.value.data.get("reason") == "token-expired"
    forged = jwt.encode({"sub": "8", "typ": "access", "exp": int(now.timestamp()) + 600},
                        "another-secret-of-32-characters!", algorithm="HS256")
    for bad in (forged, token[:-2] + ("AA" if not token.endswith("AA") else "BB")):
        with pytest.raises(Unauthenticated):
            codec.read(bad, now=now)
    codec.VERIFIED_MAX = 64
    for i in range(codec.VERIFIED_MAX + 10):  # the memory stays bounded
        codec.read(codec.issue(user_id=i, now=now + timedelta(seconds=i)), now=now)
    assert len(codec._verified) == codec.VERIFIED_MAX


@pytest.mark.parametrize("case", [
    "alg none", "HS512 with the secret", "typ refresh", "no typ", "no sub", "sub an int",
    "sub not a number", "no exp", "exp a string", "exp a float", "exp true",
    "payload a list", "payload not JSON", "not three parts", "empty"])
def test_only_the_codecs_own_access_tokens_are_read(case: str) -> None:
    """Each way a token can be wrong is refused with ``Unauthenticated`` (the API's 401),
    none with another exception, while a good token reads as the user it names."""
    secret = "s" * 64
    codec = TokenCodec(secret, ttl=timedelta(minutes=15))
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    exp = int(now.timestamp()) + 600
    good = {"sub": "8", "typ": "access", "iat": exp - 600, "exp": exp}
    assert codec.read(jwt.encode(good, secret, algorithm="HS256"), now=now)[0] == 8
    changes: dict[str, dict[str, object]] = {
        "typ refresh": {"typ": "refresh"}, "sub an int": {"sub": 8},
        "sub not a number": {"sub": "eight"}, "exp a string": {"exp": str(exp)},
        "exp a float": {"exp": exp + 0.5}, "exp true": {"exp": True}}
    dropped = {"no typ": "typ", "no sub": "sub", "no exp": "exp"}
    claims = {k: v for k, v in {**good, **changes.get(case, {})}.items()
              if k != dropped.get(case)}
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}').decode()

    def signed(payload: bytes) -> str:
        body = jwt.utils.base64url_encode(payload).decode()
        mac = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256)
        return f"{header}.{body}.{jwt.utils.base64url_encode(mac.digest()).decode()}"

    made = {
        "alg none": lambda: jwt.encode(good, None, algorithm="none"),
        "HS512 with the secret": lambda: jwt.encode(good, secret, algorithm="HS512"),
        "payload a list": lambda: signed(b"[1, 2]"),
        "payload not JSON": lambda: signed(b"{not json"),
        "not three parts": lambda: "abc.def",
        "empty": lambda: "",
    }.get(case, lambda: jwt.encode(claims, secret, algorithm="HS256"))
    token = made()
    with pytest.raises(Unauthenticated):
        codec.read(token, now=now)


async def test_keyed_locks_serialize_one_key_not_others_and_are_dropped_after_use() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    a_inside = asyncio.Event()
    release_a = asyncio.Event()

    async def first() -> None:
        async with locks.hold(1):
            order.append("a in")
            a_inside.set()
            await release_a.wait()
            order.append("a out")

    async def same_key() -> None:
        async with locks.hold(1):
            order.append("b in")

    async def other_key() -> None:
        async with locks.hold(2):
            order.append("c in")

    a = asyncio.create_task(first())
    await a_inside.wait()
    b = asyncio.create_task(same_key())
    await asyncio.wait_for(other_key(), 1)  # another key does not wait
    await asyncio.sleep(0.01)
    assert order == ["a in", "c in"] and len(locks) == 1  # b waits on key 1
    release_a.set()
    await asyncio.gather(a, b)
    assert order == ["a in", "c in", "a out", "b in"]
    assert len(locks) == 0
    with pytest.raises(RuntimeError):
        async with locks.hold(3):
            raise RuntimeError("boom")
    assert len(locks) == 0


async def test_fair_gate_lets_in_as_many_as_it_has_places_in_order_of_arrival() -> None:
    gate = FairGate(2, timeout=5)
    await gate.enter()
    await gate.enter()
    order: list[int] = []

    async def wait(i: int) -> None:
        await gate.enter()
        order.append(i)

    waiters = [asyncio.create_task(wait(i)) for i in range(3)]
    await asyncio.sleep(0.01)
    assert order == [] and gate.waiting == 3
    gate.leave()  # handed to the first waiter, not to whoever asks next
    late = asyncio.create_task(wait(99))
    await asyncio.sleep(0.01)
    assert order == [0] and gate.waiting == 3  # 1, 2 and the late one
    gate.leave()
    gate.leave()
    await asyncio.sleep(0.01)
    assert order == [0, 1, 2]
    gate.leave()
    await late
    assert order == [0, 1, 2, 99] and gate.waiting == 0
    await asyncio.gather(*waiters)


async def test_fair_gate_gives_up_after_its_timeout_and_passes_on_a_place_given_too_late(
        ) -> None:
    gate = FairGate(1, timeout=0.05)
    await gate.enter()
    with pytest.raises(TimeoutError):
        await gate.enter()
    assert gate.waiting == 0
    patient = FairGate(1, timeout=5)
    await patient.enter()
    cancelled = asyncio.create_task(patient.enter())
    behind = asyncio.create_task(patient.enter())
    await asyncio.sleep(0.01)
    patient.leave()  # given to the first waiter, which is cancelled before it runs
    cancelled.cancel()
    await asyncio.wait_for(behind, 1)  # so the place went on to the next
    assert cancelled.cancelled() and patient.waiting == 0
    patient.leave()
    await asyncio.wait_for(patient.enter(), 1)  # and nothing was lost


def _kept_booking(ref: str, **kw: object) -> Booking:
    t = datetime(2026, 6, 11, 19, 0, tzinfo=UTC)
    base = dict(id=1, ref=ref, org_id=1, offering_id=5, session_id=9, customer_id=7,
                customer_name="Ada", customer_email="ada@example.com", customer_phone=None,
                kind=Kind.EVENT, shape=Shape.SEATS, status=Status.CONFIRMED,
                payment_status=PaymentStatus.UNPAID, quantity=2, start_at=t,
                end_at=t + timedelta(hours=3), price_total=0, currency="EUR",
                hold_until=None, policy=CancellationPolicy(24),
                details={"seats": [{"id": 1, "label": "A1"}]}, version=1,
                last_event_id=None, created_at=t, updated_at=t)
    base.update(kw)
    return Booking(**base)  # type: ignore[arg-type]


def test_recent_bookings_keep_private_copies_and_drop_the_least_recently_used() -> None:
    recent = RecentBookings(2)
    a = _kept_booking("BP-A")
    recent.put(a)
    a.details["seats"][0]["label"] = "Z9"  # the caller's object, not the kept one
    recent.put(_kept_booking("BP-B"))
    got = recent.get("BP-A")  # now the most recently used
    assert got is not None and got.details["seats"][0]["label"] == "A1"
    got.details["seats"].clear()
    recent.put(_kept_booking("BP-C"))  # over size: BP-B goes
    assert recent.get("BP-B") is None and len(recent) == 2
    again = recent.get("BP-A")
    assert again is not None and again.details["seats"] == [{"id": 1, "label": "A1"}]
    recent.put(_kept_booking("BP-A", version=2))  # a newer state replaces the old one
    kept = recent.get("BP-A")
    assert kept is not None and kept.version == 2 and len(recent) == 2
    recent.drop("BP-A")
    assert recent.get("BP-A") is None and recent.get("BP-C") is not None
    off = RecentBookings(0)
    off.put(a)
    assert off.get(a.ref) is None and len(off) == 0


def test_places_and_seats_are_booked_in_one_step_and_nothing_else() -> None:
    """``one_step_handler`` answers from what was registered (no protocol check per
    booking), and follows a registration that replaces a shape's handler."""
    import bookpulse.services.shapes  # noqa: F401 - registers every shape's handler
    from bookpulse.services import inventory

    one_step = {shape: inventory.one_step_handler(shape) for shape in Shape}
    assert {s for s, h in one_step.items() if h is not None} == {Shape.CAPACITY,
                                                                  Shape.SEATS}
    assert isinstance(one_step[Shape.SEATS], inventory.OneStepInventory)
    assert inventory.one_step_handler("seats") is one_step[Shape.SEATS]
    seats = inventory.handler_for(Shape.SEATS)
    try:
        inventory.register(Shape.SEATS, object())  # type: ignore[arg-type]
        assert inventory.one_step_handler(Shape.SEATS) is None
    finally:
        inventory.register(Shape.SEATS, seats)
    assert inventory.one_step_handler(Shape.SEATS) is seats
