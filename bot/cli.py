"""`parley`: console, each installed door, serve, export, tune, usage, tools, audit, doctor;
imports wait for use."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

from bot.adapter import adapter_names, load_adapter

EXIT_CONFIG = 2
EXIT_CRASH = 1
DISTRIBUTION = "parley-bot"
CONFIG_HELP = "a parley.toml (default: $PARLEY_CONFIG)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="A large language model in your team's chat and in your terminal.",
        epilog=_backend_settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"parley {parley_version()}")
    parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    # The same option after the subcommand; SUPPRESS keeps it from overwriting the one before.
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=CONFIG_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=summary, parents=[config])

    for name in adapter_names():
        try:
            plugin = load_adapter(name)
        except Exception as error:  # a broken plugin must not take the other commands down
            sub = command(name, f"(unavailable: {error})")
            sub.set_defaults(handler=_broken_adapter(name, error))
            continue
        sub = command(name, plugin.summary)
        if plugin.settings_model is not None:
            from bot.settings_doc import help_epilog

            sub.epilog = help_epilog(name, plugin.settings_model)
            sub.formatter_class = argparse.RawDescriptionHelpFormatter
        plugin.add_arguments(sub)
        sub.set_defaults(handler=_adapter_handler(name))
    command("serve", "run every configured platform in one process").set_defaults(handler=_serve)
    export = command("export", "write conversations as OpenAI chat fine-tuning JSONL")
    platforms = ", ".join(adapter_names())
    export.add_argument("--platform", help=f"only this platform ({platforms})")
    export.add_argument("--space", help="only this guild or workspace id")
    export.add_argument("--since", help="only messages from this date on (YYYY-MM-DD)")
    export.add_argument("--until", help="only messages before this date (YYYY-MM-DD)")
    export.add_argument("--output", "-o", default="-", help="a file, or - for stdout (default)")
    export.add_argument(
        "--feedback",
        action="store_true",
        help="rated answers as preference data (trl's conversational format) instead",
    )
    export.add_argument(
        "--feedback-format",
        choices=["pairs", "kto"],
        default="pairs",
        help="--feedback: chosen/rejected pairs (DPO, default) or single answers labelled (KTO)",
    )
    export.set_defaults(handler=_export)
    tune = command("tune", "fine-tune a model on exported conversations or feedback")
    from bot.tune.command import add_arguments as tune_arguments

    tune_arguments(tune, platforms)
    tune.set_defaults(handler=_tune)
    usage = command("usage", "tokens and cost per space, channel, user or model, from the store")
    usage.add_argument("--since", default="7d", help="7d, 12h, 30m, 2w or YYYY-MM-DD (default 7d)")
    usage.add_argument("--by", choices=("space", "channel", "user", "model"), default="space")
    usage.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    usage.set_defaults(handler=_usage)
    tools = command("tools", "list the tools the model may call (NAME.tool), and where")
    tools.add_argument("--json", action="store_true", help="JSON on stdout")
    tools.set_defaults(handler=_tools)
    audit = command("audit", "every recorded tool call, one line each (time, place, user, tool)")
    audit.add_argument("--since", default="7d", help="7d, 12h, 30m, 2w or YYYY-MM-DD (default 7d)")
    audit.add_argument("--tool", help="only this tool (NAME.tool)")
    audit.add_argument("--user", help="only this user id")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.set_defaults(handler=_audit)
    doctor = command("doctor", "check the configuration, tokens, model, store and MCP servers")
    doctor.set_defaults(handler=_doctor)
    return parser


def _backend_settings_help() -> str:
    """Each installed backend's settings, for `parley --help` (a door's are in its own help)."""
    from bot.llm.plugins import backend_settings_models
    from bot.settings_doc import help_epilog

    return "\n\n".join(
        help_epilog(name, model, f"the {name} backend's settings")
        for name, model in backend_settings_models().items()
    )


def parley_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


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


def _tune(args: argparse.Namespace) -> int:
    from bot.tune.command import run_tune

    return run_tune(args)


def _usage(args: argparse.Namespace) -> int:
    from bot.usage import run_usage

    return run_usage(args)


def _tools(args: argparse.Namespace) -> int:
    from bot.tools.cli import run_tools

    return run_tools(args)


def _audit(args: argparse.Namespace) -> int:
    from bot.tools.cli import run_audit

    return run_audit(args)


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
    except Exception as error:
        # Through logging, whose filter masks every configured secret in the traceback too.
        logging.getLogger("bot").exception("parley stopped on an unexpected error")
        print(f"parley: stopped on an unexpected error ({type(error).__name__})", file=sys.stderr)
        return EXIT_CRASH


if __name__ == "__main__":
    sys.exit(main())
