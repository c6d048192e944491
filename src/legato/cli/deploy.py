"""``legato deploy`` and the ``legato deployments`` group: deployments bind a flow to
its triggers (``legato.scheduler``); ``legato scheduler`` / ``legato up`` fire them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from legato.cli.console import fail, out, user_errors, write_json
from legato.cli.options import DbOption, JsonOption, open_cli_store

if TYPE_CHECKING:
    from legato.records import DeploymentRecord
    from legato.scheduler.triggers import Trigger
    from legato.store.deployments import SchedulingStore

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The deployment's name.")]
ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", metavar="NAME=VALUE", help="A parameter; repeat for several."),
]


def deploy_command(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(help="The flow: path/to/file.py:flow or package.module:flow."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Default: the flow's name.")] = None,
    param: ParamOption = None,
    queue: Annotated[str | None, typer.Option("--queue", help="Queue of its runs.")] = None,
    priority: Annotated[int | None, typer.Option("--priority", help="Higher runs first.")] = None,
    cron: Annotated[
        list[str] | None, typer.Option("--cron", metavar="EXPR", help="5 or 6 field cron.")
    ] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="IANA time zone of --cron.")] = None,
    every: Annotated[
        list[str] | None, typer.Option("--every", metavar="DURATION", help="30s, 10m, 1h.")
    ] = None,
    on_event: Annotated[
        list[str] | None, typer.Option("--on-event", metavar="NAME", help="An event's name.")
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", metavar="EXPR", help='Of --on-event: severity == "CRITICAL".'),
    ] = None,
    after: Annotated[
        list[str] | None, typer.Option("--after", metavar="FLOW", help="When FLOW's runs end.")
    ] = None,
    when: Annotated[str, typer.Option("--when", help="Of --after: completed or failed.")] = (
        "completed"
    ),
    on_file: Annotated[
        str | None, typer.Option("--on-file", metavar="DIR", help="A folder to watch.")
    ] = None,
    pattern: Annotated[str, typer.Option("--pattern", help="Of --on-file: a glob.")] = "*",
    settle: Annotated[
        str, typer.Option("--settle", help="Of --on-file: how long a file's size stays put.")
    ] = "1s",
    processed_dir: Annotated[
        str | None,
        typer.Option(
            "--processed-dir",
            metavar="DIR",
            help="Of --on-file: move a file here once its run completed.",
        ),
    ] = None,
    webhook: Annotated[
        str | None, typer.Option("--webhook", metavar="PATH", help="POST /hooks/PATH.")
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option("--secret-env", metavar="VAR", help="Of --webhook: HMAC secret variable."),
    ] = None,
    on_stream: Annotated[
        list[str] | None,
        typer.Option("--on-stream", metavar="URL", help="redis://, nats:// or amqp:// URL."),
    ] = None,
    overlap: Annotated[
        str, typer.Option("--overlap", help="allow, skip, queue or cancel.")
    ] = "allow",
    catchup: Annotated[str, typer.Option("--catchup", help="skip, one or all.")] = "skip",
    catchup_limit: Annotated[int, typer.Option("--catchup-limit")] = 100,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Apply the deployments of a YAML file.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --file: print the changes, store nothing.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Create or update a deployment: a flow with its triggers and default parameters.

    Bad input (a cron expression, time zone, filter, folder, webhook path taken) is
    refused with the option and column, and nothing is stored.

    Example: legato deploy flows.py:report --name nightly --cron "0 2 * * *" --tz Europe/Paris

    Example: legato deploy --file deployments.yaml --dry-run
    """
    from legato.errors import LegatoError
    from legato.scheduler.cron import Cron, Every
    from legato.scheduler.triggers import After, OnEvent, OnFile, OnStream, Webhook

    if file is not None:
        if target is not None:
            fail("give a TARGET or --file, not both")
        _apply_file(ctx, file, dry_run=dry_run, db=db)
        return
    if target is None:
        fail("give the flow to deploy (TARGET, such as flows.py:report) or --file FILE")
    if filter_ is not None and not on_event:
        fail("--filter applies to --on-event: add --on-event NAME")
    triggers: list[Trigger] = []
    try:
        triggers += [Cron(text, tz=tz) for text in cron or ()]
        triggers += [Every(text) for text in every or ()]
        triggers += [OnEvent(text, filter=filter_) for text in on_event or ()]
        triggers += [After(text, when=when) for text in after or ()]
        if on_file is not None:
            triggers.append(
                OnFile(on_file, pattern=pattern, settle=settle, processed=processed_dir)
            )
        if webhook is not None:
            triggers.append(Webhook(webhook, secret_env=secret_env))
        triggers += [OnStream(text) for text in on_stream or ()]
    except LegatoError as exc:
        fail(str(exc))
    store = open_cli_store(ctx, db, create=True)
    with user_errors():
        params = _params(target, param or [])
        saved = _deploy(
            store, target, name, triggers, params, queue, priority, overlap, catchup, catchup_limit
        )
    out().print(Text(f"deployed {saved.name}: {saved.target}, {_triggers_text(saved)}"))


def _params(target: str, items: list[str]) -> dict[str, Any]:
    from legato.cli.params import convert_params, parse_assignments
    from legato.engine.targets import load_target

    flow = load_target(target)
    texts = parse_assignments(items)
    if not texts:
        return {}
    _args, kwargs = convert_params(flow, texts, target=target)
    return kwargs


def _deploy(
    store: Any,
    target: str,
    name: str | None,
    triggers: list[Trigger],
    params: dict[str, Any],
    queue: str | None,
    priority: int | None,
    overlap: str,
    catchup: str,
    catchup_limit: int,
) -> DeploymentRecord:
    from legato.scheduler.deployments import deploy

    return deploy(
        target,
        name=name,
        triggers=triggers,
        params=params,
        queue=queue,
        priority=priority,
        overlap=overlap,
        catchup=catchup,
        catchup_limit=catchup_limit,
        store=store,
    )


def _triggers_text(deployment: DeploymentRecord) -> str:
    from legato.scheduler.deployments import triggers_of
    from legato.scheduler.triggers import describe

    found = [describe(t) for t in triggers_of(deployment)]
    return "; ".join(found) if found else "no triggers (start it with legato deployments run)"


# -- deployments from a YAML file ----------------------------------------------------------

_TRIGGER_KEYS = ("cron", "every", "on_event", "after", "on_file", "webhook", "on_stream")


def _apply_file(ctx: typer.Context, path: Path, *, dry_run: bool, db: str | None) -> None:
    import yaml

    from legato.errors import LegatoError

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"--file {path}: cannot read it ({exc.strerror or exc})")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        fail(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}")
    entries = data.get("deployments") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        fail(f"{path}: write a mapping with a list under 'deployments:'")
    store = _dry_run_store(ctx, db) if dry_run else open_cli_store(ctx, db, create=True)
    records = []
    for index, entry in enumerate(entries):
        where = f"{path}: deployments[{index}]"
        try:
            records.append(_record_of(entry, where))
        except LegatoError as exc:
            fail(f"{where}: {exc}")
    _apply(store, records, dry_run=dry_run)


def _dry_run_store(ctx: typer.Context, db: str | None) -> Any:
    """The store to compare with; an empty one when it does not exist yet (a dry run
    creates nothing)."""
    from legato.cli.options import store_url
    from legato.errors import StoreError
    from legato.store import MemoryStore, open_store

    try:
        return open_store(store_url(ctx, db), create=False)
    except StoreError:
        return MemoryStore()


def _record_of(entry: Any, where: str) -> DeploymentRecord:
    from legato.clock import utcnow
    from legato.engine.targets import load_target
    from legato.errors import ScheduleError
    from legato.scheduler.deployments import DeploymentOptions, build_deployment

    if not isinstance(entry, dict) or not isinstance(entry.get("target"), str):
        raise ScheduleError(option="target", text=str(entry), reason="each needs a target")
    known = {
        "name",
        "target",
        "params",
        "queue",
        "priority",
        "triggers",
        "overlap",
        "catchup",
        "catchup_limit",
        "paused",
    }
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ScheduleError(
            option=unknown[0],
            text=str(entry[unknown[0]]),
            reason=f"unknown field; the fields are {', '.join(sorted(known))}",
        )
    triggers = [_trigger_of(t, i) for i, t in enumerate(entry.get("triggers") or [])]
    flow = load_target(entry["target"])
    options = DeploymentOptions(
        params=entry.get("params") or {},
        queue=entry.get("queue"),
        priority=entry.get("priority"),
        overlap=entry.get("overlap", "allow"),
        catchup=entry.get("catchup", "skip"),
        catchup_limit=int(entry.get("catchup_limit", 100)),
        paused=bool(entry.get("paused", False)),
    )
    return build_deployment(
        flow, name=entry.get("name") or flow.name, triggers=triggers, options=options, now=utcnow()
    )


def _trigger_of(data: Any, index: int) -> Trigger:
    from legato.errors import ScheduleError
    from legato.scheduler.cron import Cron, Every
    from legato.scheduler.triggers import After, OnEvent, OnFile, OnStream, Webhook

    kinds = [key for key in _TRIGGER_KEYS if isinstance(data, dict) and key in data]
    if len(kinds) != 1:
        raise ScheduleError(
            option=f"triggers[{index}]",
            text=str(data),
            reason=f"give exactly one of {', '.join(_TRIGGER_KEYS)}",
        )
    kind = kinds[0]
    value = str(data[kind])
    if kind == "cron":
        return Cron(value, tz=data.get("tz"))
    if kind == "every":
        return Every(value)
    if kind == "on_event":
        return OnEvent(value, filter=data.get("filter"))
    if kind == "after":
        return After(value, when=data.get("when", "completed"))
    if kind == "on_file":
        return OnFile(
            value,
            pattern=data.get("pattern", "*"),
            settle=str(data.get("settle", "1s")),
            processed=data.get("processed"),
        )
    if kind == "webhook":
        return Webhook(value, secret_env=data.get("secret_env"))
    return OnStream(value)


def _apply(store: Any, records: list[DeploymentRecord], *, dry_run: bool) -> None:
    from legato.scheduler.deployments import apply_deployment, check_webhook_paths, deployment_store

    with user_errors():
        opened = deployment_store(store)
        for record in records:
            check_webhook_paths(opened, record)
        for record in records:
            old = opened.get_deployment(record.name)
            change = _change(old, record)
            verb = "would " if dry_run else ""
            if change is None:
                out().print(Text(f"{record.name}: unchanged", style="dim"))
                continue
            if not dry_run:
                apply_deployment(opened, record)
            out().print(Text(f"{record.name}: {verb}{change}"))


def _change(old: DeploymentRecord | None, new: DeploymentRecord) -> str | None:
    if old is None:
        return f"create ({new.target}, {_triggers_text(new)})"
    fields = (
        "flow_name",
        "target",
        "params",
        "queue",
        "priority",
        "triggers",
        "overlap",
        "catchup",
        "catchup_limit",
        "paused",
    )
    changed = [f for f in fields if getattr(old, f) != getattr(new, f)]
    if not changed:
        return None
    parts = [f"{f} {getattr(old, f)} -> {getattr(new, f)}" for f in changed]
    return "update " + "; ".join(parts)


# -- legato deployments --------------------------------------------------------------------

deployments_app = typer.Typer(
    name="deployments",
    help="Deployments: flows bound to their triggers.\n\nExample: legato deployments list",
    no_args_is_help=True,
)


def _store(ctx: typer.Context, db: str | None) -> SchedulingStore:
    from legato.scheduler.deployments import deployment_store

    store = open_cli_store(ctx, db)
    with user_errors():
        return deployment_store(store)  # type: ignore[return-value]


def _get(store: SchedulingStore, name: str) -> DeploymentRecord:
    found = store.get_deployment(name)
    if found is None:
        known = ", ".join(d.name for d in store.list_deployments()) or "none"
        fail(f"there is no deployment {name!r} in {store.url}; deployments: {known}")
    return found


@deployments_app.command("list")
def list_command(ctx: typer.Context, db: DbOption = None, json_output: JsonOption = False) -> None:
    """Deployments with their flow, triggers and state.

    Example: legato deployments list --json
    """
    store = _store(ctx, db)
    with user_errors():
        found = store.list_deployments()
    if json_output:
        write_json([_json(d) for d in found])
        return
    if not found:
        out().print(Text("No deployments. Create one with legato deploy.", style="dim"))
        return
    table = Table(box=None)
    for column in ("NAME", "FLOW", "TRIGGERS", "QUEUE", "STATE"):
        table.add_column(column)
    for d in found:
        table.add_row(
            d.name, d.target, _triggers_text(d), d.queue, "paused" if d.paused else "active"
        )
    out().print(table)


def _json(d: DeploymentRecord) -> dict[str, Any]:
    import json

    return {
        "name": d.name,
        "flow": d.flow_name,
        "target": d.target,
        "params": json.loads(d.params),
        "queue": d.queue,
        "priority": d.priority,
        "triggers": json.loads(d.triggers),
        "overlap": d.overlap,
        "catchup": d.catchup,
        "catchup_limit": d.catchup_limit,
        "paused": d.paused,
    }


@deployments_app.command("show")
def show_command(
    ctx: typer.Context, name: NameArgument, db: DbOption = None, json_output: JsonOption = False
) -> None:
    """A deployment, its next 5 fire times and its latest fires.

    Example: legato deployments show nightly
    """
    from legato.clock import utcnow

    store = _store(ctx, db)
    with user_errors():
        d = _get(store, name)
        upcoming = next_fires(d, utcnow(), 5)
        fires = store.list_fires(name, limit=10)
    sources = source_lines(d, store.url, utcnow())
    if json_output:
        write_json(
            {
                **_json(d),
                "next": [t.isoformat() for t in upcoming],
                "sources": sources,
                "fires": [
                    {
                        "key": f.key,
                        "kind": f.kind,
                        "fired_at": f.fired_at.isoformat(),
                        "run_id": f.run_id,
                    }
                    for f in fires
                ],
            }
        )
        return
    lines = [
        f"deployment {d.name} ({'paused' if d.paused else 'active'})",
        f"  flow      {d.target}",
        f"  params    {d.params}",
        f"  queue     {d.queue} (priority {d.priority})",
        f"  triggers  {_triggers_text(d)}",
        f"  overlap   {d.overlap}, catch-up {d.catchup} (limit {d.catchup_limit})",
    ]
    if upcoming:
        lines.append("  next      " + ", ".join(t.isoformat() for t in upcoming))
    for source in sources:
        lines.append(f"  source    {source['trigger']}: {source['status']}")
    for f in fires:
        lines.append(f"  fired     {f.fired_at.isoformat()} {f.kind} {f.key} -> run {f.run_id}")
    out().print(Text("\n".join(lines)))


def source_lines(
    deployment: DeploymentRecord, store_url: str, now: datetime
) -> list[dict[str, str]]:
    """What the sources of the deployment's file and stream triggers are doing, as the
    active scheduler on this machine last published it (``trigger``, ``status``)."""
    from legato.scheduler.deployments import triggers_of
    from legato.scheduler.sources.board import StatusBoard
    from legato.scheduler.sources.registry import describe_source
    from legato.scheduler.triggers import OnFile, OnStream
    from legato.settings import load_settings

    watched = [t for t in triggers_of(deployment) if isinstance(t, OnFile | OnStream)]
    if not watched:
        return []
    published = StatusBoard(load_settings().home / "sources", store_url).read()
    reports = published.deployments.get(deployment.name, []) if published else []
    if reports and published is not None:
        stale = now - published.at > timedelta(seconds=30)
        suffix = (
            f" (as of {published.at:%Y-%m-%d %H:%M:%S}Z: scheduler {published.holder} stopped reporting)"
            if stale
            else ""
        )
        return [
            {"trigger": r.trigger, "status": r.status.describe() + suffix, "state": r.status.state}
            for r in reports
        ]
    why = (
        "not watched: the deployment is paused"
        if deployment.paused
        else "not watched: no active scheduler on this machine reports it "
        "(run legato up or legato scheduler)"
    )
    return [{"trigger": describe_source(t), "status": why, "state": "stopped"} for t in watched]


def next_fires(deployment: DeploymentRecord, now: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times of the deployment's schedules after ``now``."""
    from legato.scheduler.cron import Cron, Every
    from legato.scheduler.deployments import triggers_of

    found: set[datetime] = set()
    for trigger in triggers_of(deployment):
        if isinstance(trigger, Cron | Every):
            at = now
            for _ in range(count):
                at = trigger.next_after(at)
                found.add(at)
    return sorted(found)[:count]


@deployments_app.command("pause")
def pause_command(ctx: typer.Context, name: NameArgument, db: DbOption = None) -> None:
    """Stop firing the deployment's triggers (runs already started go on).

    Example: legato deployments pause nightly
    """
    _set_paused(ctx, name, True, db)


@deployments_app.command("resume")
def resume_command(ctx: typer.Context, name: NameArgument, db: DbOption = None) -> None:
    """Fire the deployment's triggers again (missed fires follow its --catchup).

    Example: legato deployments resume nightly
    """
    _set_paused(ctx, name, False, db)


def _set_paused(ctx: typer.Context, name: str, paused: bool, db: str | None) -> None:
    from legato.clock import utcnow

    store = _store(ctx, db)
    with user_errors():
        _get(store, name)
        store.set_deployment_paused(name, paused=paused, now=utcnow())
    out().print(Text(f"deployment {name} {'paused' if paused else 'resumed'}"))


@deployments_app.command("delete")
def delete_command(ctx: typer.Context, name: NameArgument, db: DbOption = None) -> None:
    """Delete the deployment; its runs and their history stay.

    Example: legato deployments delete nightly
    """
    store = _store(ctx, db)
    with user_errors():
        _get(store, name)
        store.delete_deployment(name)
    out().print(Text(f"deployment {name} deleted"))


@deployments_app.command("run")
def run_command(
    ctx: typer.Context, name: NameArgument, param: ParamOption = None, db: DbOption = None
) -> None:
    """Start one run of the deployment now, for a worker (-p overrides its parameters).

    Example: legato deployments run nightly -p day=2024-05-01
    """
    from legato.clock import utcnow
    from legato.ids import new_run_id
    from legato.scheduler.firing import start_run

    store = _store(ctx, db)
    with user_errors():
        d = _get(store, name)
        params = _params(d.target, param or [])
        now = utcnow()
        run, _ = start_run(
            store,
            d,
            key=f"manual:{new_run_id()}",
            kind="manual",
            fired_at=now,
            params=params,
            by=_operator(),
            now=now,
        )
    out().print(run.run_id)


@deployments_app.command("backfill")
def backfill_command(
    ctx: typer.Context,
    name: NameArgument,
    start: Annotated[str, typer.Option("--from", help="First time (ISO 8601), included.")],
    end: Annotated[str, typer.Option("--to", help="Last time (ISO 8601), included.")],
    db: DbOption = None,
) -> None:
    """One run per fire time of the deployment's schedules from --from to --to, both
    included; repeating it starts nothing twice.

    Example: legato deployments backfill nightly --from 2024-05-01 --to 2024-05-07T23:59
    """
    from legato.clock import utcnow
    from legato.scheduler.cron import Cron, Every
    from legato.scheduler.deployments import triggers_of
    from legato.scheduler.firing import start_run
    from legato.scheduler.service import schedule_key

    first, last = _time("--from", start), _time("--to", end)
    if last < first:
        fail(f"--to {end} is before --from {start}")
    store = _store(ctx, db)
    with user_errors():
        d = _get(store, name)
        schedules = [t for t in triggers_of(d) if isinstance(t, Cron | Every)]
        if not schedules:
            fail(f"deployment {name} has no --cron or --every schedule to backfill")
        times = sorted({at for s in schedules for at in s.between(first, last)})
        created = 0
        for at in times:
            _, new = start_run(
                store,
                d,
                key=schedule_key(at),
                kind="backfill",
                fired_at=at,
                payload={"scheduled_at": at.isoformat()},
                by=_operator(),
                now=utcnow(),
            )
            created += new
    out().print(
        Text(
            f"backfill {name}: {len(times)} fire times, {created} new runs, "
            f"{len(times) - created} already fired"
        )
    )


def _time(option: str, text: str) -> datetime:
    from datetime import UTC

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r}: write an ISO 8601 time, such as 2024-05-01 or 2024-05-01T09:00")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _operator() -> str:
    import getpass
    import socket

    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return "cli"


def deployment_runs(
    store: Any, name: str, *, state: Any = None, flow: str | None = None, limit: int = 20
) -> list[Any]:
    """The runs the deployment ``name`` fired (found by their fires), newest first."""
    from legato.scheduler.deployments import deployment_store

    fires = deployment_store(store).list_fires(name, limit=100_000)
    runs = [store.get_run(f.run_id) for f in fires if f.run_id]
    runs = [
        r
        for r in runs
        if (state is None or r.state == state) and (flow is None or r.flow_name == flow)
    ]
    runs.sort(key=lambda r: (r.created_at, r.run_id), reverse=True)
    return runs[:limit]
