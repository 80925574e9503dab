"""The one module that builds adapters and hands them to services and entry points."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bookpulse.adapters.clock import SystemClock
from bookpulse.adapters.db.engine import create_engine, is_sqlite
from bookpulse.adapters.db.migrate import upgrade_async
from bookpulse.adapters.db.uow import Database
from bookpulse.adapters.realtime.broker import InProcessBroker
from bookpulse.adapters.realtime.hub import start_hub, stop_hub
from bookpulse.adapters.security import Argon2Hasher, LoginRateLimiter, TokenCodec
from bookpulse.config import Settings
from bookpulse.services import bookings
from bookpulse.services import shapes as _shapes  # noqa: F401 - registers inventory shapes
from bookpulse.services.accounts import PrincipalCache

log = logging.getLogger(__name__)

Job = Callable[["Container"], Awaitable[None]]

#: Background jobs started with the app when ``run_workers`` is on: name -> (job, period s).
#: Areas register theirs (notification delivery, reminders, rollups...) with ``add_job``.
JOBS: dict[str, tuple[Job, float]] = {}


def add_job(name: str, job: Job, *, every: float) -> None:
    JOBS[name] = (job, every)


async def _expire_holds(c: Container) -> None:
    await bookings.expire_holds(db=c.db, now=c.clock.now())


add_job("expire-holds", _expire_holds, every=5.0)

from bookpulse.adapters.notify import runtime as _notify  # noqa: E402 - notification jobs

_notify.register(add_job)


async def _analytics_rollup(c: Container) -> None:
    from bookpulse.services import analytics

    await analytics.catch_up(db=c.db, max_batches=10)


add_job("analytics-rollup", _analytics_rollup, every=10.0)


async def _analytics_weekly_report(c: Container) -> None:
    from bookpulse.services import analytics_report

    await analytics_report.enqueue_weekly_reports(db=c.db, now=c.clock.now())


add_job("analytics-weekly-report", _analytics_weekly_report, every=900.0)


def make_broker(url: str) -> Any:
    if url.startswith(("redis://", "rediss://")):
        from bookpulse.adapters.realtime.redis_broker import RedisBroker

        return RedisBroker(url)
    return InProcessBroker()


@dataclass
class Container:
    settings: Settings
    db: Database
    broker: Any
    clock: Any
    hasher: Any
    tokens: TokenCodec
    login_limiter: LoginRateLimiter
    principals: PrincipalCache = field(init=False)
    extras: dict[str, Any] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.principals = PrincipalCache(self.settings.principal_cache_seconds)

    async def start(self, *, migrate: bool = True) -> None:
        if migrate:
            await upgrade_async(self.settings.database_url)
        await self.broker.start()
        for hook in STARTUP_HOOKS:
            await hook(self)
        if self.settings.run_workers:
            for name, (job, every) in JOBS.items():
                self._tasks.append(asyncio.create_task(self._loop(name, job, every)))

    async def _loop(self, name: str, job: Job, every: float) -> None:
        while True:
            try:
                await job(self)
            except asyncio.CancelledError:
                raise
            except Exception:  # a job must keep running; the error is logged with trace
                log.exception("background job %s failed; retrying in %.0fs", name, every)
            await asyncio.sleep(every)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for hook in SHUTDOWN_HOOKS:
            await hook(self)
        await self.broker.stop()
        await self.db.dispose()


Hook = Callable[[Container], Awaitable[None]]
STARTUP_HOOKS: list[Hook] = []
SHUTDOWN_HOOKS: list[Hook] = []
# The live stream hub: one event-log reader per process (adapters/realtime/hub.py).
STARTUP_HOOKS.append(start_hub)
SHUTDOWN_HOOKS.append(stop_hub)
STARTUP_HOOKS.append(_notify.startup)


def build(settings: Settings, *, clock: Any = None, hasher: Any = None) -> Container:
    broker = make_broker(settings.broker_url)
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    # PostgreSQL: reads get a pool of their own, so they never queue behind writers that
    # hold their connections while waiting on a row lock (see Database.read_engine).
    readers = None if is_sqlite(settings.database_url) else create_engine(
        settings.database_url, pool_size=settings.db_pool_size)
    db = Database(engine, bus=broker, read_engine=readers,
                  recent_bookings=settings.booking_cache_size)
    return Container(
        settings=settings, db=db, broker=broker, clock=clock or SystemClock(),
        hasher=hasher or Argon2Hasher(),
        tokens=TokenCodec(settings.secret_key,
                          ttl=timedelta(minutes=settings.access_token_minutes)),
        login_limiter=LoginRateLimiter(limit=settings.login_attempts_per_minute),
    )
