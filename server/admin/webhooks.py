"""``webhook register | rotate | list | delete``: the project-level Gemini webhook that pushes completions to
this deployment (``POST <GEMINI_INTERACTIONS_PUBLIC_URL>/gemini/webhooks``).

``register`` subscribes the endpoint to the interaction events we use and prints the signing secret: Gemini shows
it once, so put it in ``GEMINI_INTERACTIONS_WEBHOOK_SECRET`` at once. ``rotate`` makes a new secret; the old one
stays valid for 24 hours (unless ``--revoke-now``), during which both go in the setting, comma-separated.
Talks to Gemini with ``GEMINI_API_KEY`` (``GOOGLE_GEMINI_BASE_URL`` points it elsewhere, e.g. at the emulator).
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from server.core import WEBHOOK_PATH, Runner, Settings, WebhookAdmin

SECRET_ENV = "GEMINI_INTERACTIONS_WEBHOOK_SECRET"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "webhook",
        help="register, rotate, list or delete Gemini's webhook to this deployment",
        description=__doc__,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "register", help="subscribe this deployment's endpoint; prints the signing secret"
    )
    add.add_argument(
        "--url",
        help=f"the endpoint Gemini will POST to (default: GEMINI_INTERACTIONS_PUBLIC_URL + {WEBHOOK_PATH})",
    )
    add.add_argument("--name", help="a name to recognise it by in `webhook list`")
    add.set_defaults(handler=run_register)
    rotate = actions.add_parser("rotate", help="make a new signing secret for a webhook (see `webhook list`)")
    rotate.add_argument("id", help="the webhook's id")
    rotate.add_argument(
        "--revoke-now", action="store_true", help="end the previous secrets now instead of in 24 hours"
    )
    rotate.set_defaults(handler=run_rotate)
    actions.add_parser("list", help="the project's webhooks").set_defaults(handler=run_list)
    delete = actions.add_parser("delete", help="stop Gemini delivering to a webhook")
    delete.add_argument("id", help="the webhook's id")
    delete.set_defaults(handler=run_delete)


def endpoint(args: argparse.Namespace, settings: Settings, runner: Runner) -> str:
    url = (args.url or "").strip() or (f"{settings.public_url}{WEBHOOK_PATH}" if settings.public_url else "")
    if not url:
        runner.die(
            f"say where Gemini should deliver: --url https://…{WEBHOOK_PATH}, or set GEMINI_INTERACTIONS_PUBLIC_URL."
        )
    parts = urlsplit(url)
    if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        runner.die(f"{url} is not https: Gemini delivers only to https URLs it can reach.")
    if not parts.path.endswith(WEBHOOK_PATH):
        runner.say(f"note: this deployment receives deliveries at {WEBHOOK_PATH}; {url} must lead there.")
    return url


def run_register(args: argparse.Namespace, runner: Runner) -> int:
    settings = runner.settings()
    url = endpoint(args, settings, runner)

    async def go() -> None:
        async with WebhookAdmin(settings) as admin:
            made = await admin.register(url, name=args.name)
        print(f"registered webhook {made.webhook.id} → {made.webhook.uri} ({', '.join(made.webhook.events)})")
        print("Signing secret (Gemini shows it only now; keep it in your secret store):")
        print(f"{SECRET_ENV}={made.secret}")

    runner.run(go)
    return 0


def run_rotate(args: argparse.Namespace, runner: Runner) -> int:
    settings = runner.settings()

    async def go() -> None:
        async with WebhookAdmin(settings) as admin:
            secret = await admin.rotate(args.id, revoke_now=args.revoke_now)
        old = settings.webhook_secrets()
        print(f"new signing secret for webhook {args.id} (shown only now):")
        if args.revoke_now or not old:
            print(f"{SECRET_ENV}={secret}")
            if args.revoke_now:
                print("The previous secrets no longer sign anything: deploy the new one now.")
            return
        print(f"{SECRET_ENV}={secret},<the current secret>")
        print("Deploy both now (deliveries are signed with both for 24 hours); then keep only the new one.")

    runner.run(go)
    return 0


def run_list(args: argparse.Namespace, runner: Runner) -> int:
    settings = runner.settings()

    async def go() -> None:
        async with WebhookAdmin(settings) as admin:
            found = await admin.list()
        if not found:
            print("no webhooks registered (see `gemini-interactions-admin webhook register`)")
        for hook in found:
            print(f"{hook.id}\t{hook.state}\t{hook.uri}\t{','.join(hook.events)}\t{hook.name}".rstrip())
            for secret in hook.secrets:
                ends = f" (valid until {secret.expires})" if secret.expires else ""
                print(f"\tsecret {secret.truncated}{ends}")

    runner.run(go)
    return 0


def run_delete(args: argparse.Namespace, runner: Runner) -> int:
    settings = runner.settings()

    async def go() -> None:
        async with WebhookAdmin(settings) as admin:
            await admin.delete(args.id)
        print(f"deleted webhook {args.id}")

    runner.run(go)
    return 0
