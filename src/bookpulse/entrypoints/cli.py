"""The ``bookpulse`` command: serve, migrate, demo, create-admin, worker, bench."""

from __future__ import annotations

import asyncio
import os
import sys
from importlib import import_module

import click

from bookpulse.config import load_settings
from bookpulse.entrypoints.ws_protocol import LEAN


def _settings(**overrides: object):  # type: ignore[no-untyped-def]
    for key, value in overrides.items():
        if value is not None:
            os.environ[key.upper()] = str(value)
    return load_settings()


@click.group()
@click.version_option(package_name="bookpulse")
def main() -> None:
    """Bookpulse: a self-hostable, real-time booking platform."""


@main.command()
def migrate() -> None:
    """Apply the database migrations (DATABASE_URL)."""
    from bookpulse.adapters.db.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    click.echo(f"Database is up to date: {_safe_url(settings.database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _serve(settings, host: str, port: int, *, banner: str | None = None,  # type: ignore[no-untyped-def]
           ws: str = LEAN) -> None:
    import uvicorn

    from bookpulse import bootstrap
    from bookpulse.entrypoints.app import create_app
    from bookpulse.entrypoints.ws_protocol import ws_protocol

    container = bootstrap.build(settings)
    app = create_app(container)
    if banner:
        click.echo(banner)
    # No permessage-deflate: live messages are small, and a zlib context per connection
    # costs far more server memory than it saves in bytes (see bench/live.py).
    # A graceful shutdown waits for open responses; live SSE streams never finish on
    # their own, so after a few seconds they are cut and their clients resume elsewhere.
    config = uvicorn.Config(app, host=host, port=port, log_level="info", ws=ws_protocol(ws),
                            proxy_headers=False, lifespan="on", ws_per_message_deflate=False,
                            timeout_graceful_shutdown=5, access_log=settings.access_log)
    uvicorn.Server(config).run()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--ws", default=LEAN, show_default=True,
              type=click.Choice([LEAN, "wsproto", "websockets", "websockets-sansio", "auto"]),
              help=f"WebSocket implementation ({LEAN}: wsproto with less memory per "
                   "connection, see entrypoints/ws_protocol.py)")
def serve(host: str, port: int, ws: str) -> None:
    """Serve the API, pages and live stream (migrates first)."""
    settings = _settings()
    _serve(settings, host, port, ws=ws,
           banner=f"Bookpulse on http://{host}:{port}  ({_safe_url(settings.database_url)})")


@main.command("create-admin")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--org-name", required=True)
@click.option("--name", default=None)
@click.option("--timezone", default="UTC", show_default=True)
def create_admin(email: str, password: str, org_name: str, name: str | None,
                 timezone: str) -> None:
    """Create the organization (if new) and an admin member of it; print the org id."""
    from bookpulse.adapters.clock import SystemClock
    from bookpulse.adapters.db.engine import create_engine
    from bookpulse.adapters.db.migrate import upgrade
    from bookpulse.adapters.db.uow import Database
    from bookpulse.adapters.security import Argon2Hasher
    from bookpulse.domain.errors import BookingError
    from bookpulse.services.accounts import create_org_admin

    settings = _settings()
    upgrade(settings.database_url)

    async def run() -> int:
        db = Database(create_engine(settings.database_url))
        try:
            org_id, _ = await create_org_admin(
                db=db, hasher=Argon2Hasher(), email=email, password=password,
                org_name=org_name, name=name, timezone=timezone, now=SystemClock().now())
            return org_id
        finally:
            await db.dispose()

    try:
        org_id = asyncio.run(run())
    except BookingError as exc:
        raise click.ClickException(exc.detail) from exc
    click.echo(org_id)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--bookings", "n_bookings", default=2000, show_default=True, type=int,
              help="How many bookings to generate.")
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Seed and exit.")
@click.option("--reset/--keep", default=False,
              help="Start from an empty database (the default SQLite file only).")
def demo(host: str, port: int, n_bookings: int, seed: int, no_serve: bool,
         reset: bool) -> None:
    """Seed realistic demo data (once), print the demo logins, then serve."""
    from bookpulse.adapters.db.migrate import upgrade
    from bookpulse.entrypoints import demo as demo_mod

    os.environ.setdefault("BOOKPULSE_DEMO", "1")
    settings = _settings()
    if reset:
        demo_mod.reset_sqlite(settings)
    upgrade(settings.database_url)
    logins = asyncio.run(demo_mod.seed(settings, bookings=n_bookings, seed=seed))
    banner = demo_mod.banner(logins, host, port)
    if no_serve:
        click.echo(banner)
        return
    sink = demo_mod.before_serve(settings)
    _serve(load_settings(), host, port, banner=banner + (f"\n{sink}" if sink else ""))


@main.command()
def worker() -> None:
    """Run background jobs (hold expiry, notification delivery...) without serving HTTP.
    Run several: jobs claim work with row locks, so nothing is done twice."""
    from bookpulse import bootstrap

    settings = _settings(bookpulse_run_workers="1")

    async def run() -> None:
        container = bootstrap.build(settings)
        await container.start()
        click.echo("Bookpulse worker running; Ctrl+C to stop.")
        try:
            await asyncio.Event().wait()
        finally:
            await container.stop()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("name")
@click.pass_context
def bench(ctx: click.Context, name: str) -> None:
    """Run a benchmark from bench/ (rush, live, notify, checkin, query) and print a table."""
    if os.getcwd() not in sys.path:  # bench/ lives in the checkout, not the package
        sys.path.insert(0, os.getcwd())
    try:
        module = import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        raise click.ClickException(f"No benchmark called {name!r}.") from exc
    sys.exit(module.main(ctx.args))


from bookpulse.entrypoints.analytics_cli import analytics as _analytics  # noqa: E402

main.add_command(_analytics)


if __name__ == "__main__":
    main()
