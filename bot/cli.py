"""`parley`: console | discord | slack | serve | export | doctor; heavy imports wait for use."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bot.adapter import adapter_names, load_adapter

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="A large language model in Discord, Slack and your terminal.",
    )
    parser.add_argument("--config", metavar="FILE", help="a parley.toml (default: $PARLEY_CONFIG)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in adapter_names():
        try:
            plugin = load_adapter(name)
        except Exception as error:  # a broken plugin must not take the other commands down
            sub = commands.add_parser(name, help=f"(unavailable: {error})")
            sub.set_defaults(handler=_broken_adapter(name, error))
            continue
        sub = commands.add_parser(name, help=plugin.summary, description=plugin.summary)
        plugin.add_arguments(sub)
        sub.set_defaults(handler=_adapter_handler(name))
    serve = commands.add_parser("serve", help="run every configured platform in one process")
    serve.set_defaults(handler=_serve)
    export = commands.add_parser(
        "export", help="write conversations as OpenAI chat fine-tuning JSONL"
    )
    export.add_argument("--platform", help="only this platform (discord, slack, console)")
    export.add_argument("--space", help="only this guild or workspace id")
    export.add_argument("--since", help="only messages from this date on (YYYY-MM-DD)")
    export.add_argument("--until", help="only messages before this date (YYYY-MM-DD)")
    export.add_argument("--output", "-o", default="-", help="a file, or - for stdout (default)")
    export.set_defaults(handler=_export)
    doctor = commands.add_parser("doctor", help="check the configuration, tokens, model and store")
    doctor.set_defaults(handler=_doctor)
    return parser


def _adapter_handler(name: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        from bot.runner import run_adapter

        return run_adapter(name, args)

    return handler


def _broken_adapter(name: str, error: Exception) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        print(f"parley: the {name} adapter could not be loaded: {error}", file=sys.stderr)
        return EXIT_CONFIG

    return handler


def _serve(args: argparse.Namespace) -> int:
    from bot.runner import run_serve

    return run_serve(args)


def _export(args: argparse.Namespace) -> int:
    from bot.export import run_export

    return run_export(args)


def _doctor(args: argparse.Namespace) -> int:
    from bot.doctor import run_doctor

    return run_doctor(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from bot.config import ConfigError

    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"parley: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
