"""``bookpulse analytics``: keep the rollups in step with the event log by hand.

    bookpulse analytics status     # how far the rollups are behind the log
    bookpulse analytics catch-up   # fold the events after the cursor (what the job does)
    bookpulse analytics rebuild    # drop every rollup and fold the whole log again
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import click


def _run(work: Callable[[Any], Awaitable[Any]]) -> Any:
    from bookpulse.adapters.db.engine import create_engine
    from bookpulse.adapters.db.migrate import upgrade
    from bookpulse.adapters.db.uow import Database
    from bookpulse.config import load_settings

    settings = load_settings()
    upgrade(settings.database_url)

    async def main() -> Any:
        db = Database(create_engine(settings.database_url))
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


@click.group("analytics")
def analytics() -> None:
    """Analytics rollups (DATABASE_URL)."""


@analytics.command()
def status() -> None:
    """Print the rollup cursor, the head of the event log and the lag."""
    from bookpulse.services import analytics as svc

    lag = _run(lambda db: svc.lag(db=db))
    click.echo(f"cursor {lag['cursor']}  head {lag['head']}  behind {lag['behind']}")


def _fold(rebuild: bool) -> None:
    from tqdm import tqdm

    from bookpulse.services import analytics as svc

    async def work(db: Any) -> int:
        lag = await svc.lag(db=db)
        total = lag["head"] if rebuild else lag["behind"]
        with tqdm(total=total, unit="ev", desc="rollup") as bar:
            if rebuild:
                return await svc.rebuild(db=db, progress=bar.update)
            return await svc.catch_up(db=db, batch=5000, progress=bar.update)

    t0 = time.perf_counter()
    n = _run(work)
    click.echo(f"Folded {n} events in {time.perf_counter() - t0:.1f} s.")


@analytics.command("catch-up")
def catch_up() -> None:
    """Fold the events the rollups have not seen yet."""
    _fold(rebuild=False)


@analytics.command()
def rebuild() -> None:
    """Drop every rollup and fold the whole event log again."""
    _fold(rebuild=True)
