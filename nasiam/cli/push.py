"""`nasiam push`: upload a run's heads to the Hugging Face Hub."""
from __future__ import annotations

import sys

from nasiam.cli.common import EXIT_OK, _as_usage_errors
from nasiam.config import ConfigError


@_as_usage_errors
def cmd_push(args) -> int:
    import warnings

    from nasiam.head.hub import check_repo_id
    from nasiam.rundir import push_run_to_hub

    check_repo_id(args.repo)  # before reading the run or importing huggingface_hub
    try:
        with warnings.catch_warnings(record=True) as notes:  # e.g. "it is private now": said below
            info = push_run_to_hub(args.run_dir, args.repo, private=args.private or None, revision=args.revision)
    except ImportError as e:
        raise ConfigError(str(e)) from None
    # a failed request is push_run_to_hub's RemoteError (exit 2), worded as NASHead.push_to_hub's
    for note in notes:
        print(f"nasiam push: {note.message}", file=sys.stderr)
    print(f"pushed the heads of {args.run_dir} to {args.repo}: {getattr(info, 'commit_url', info)}\n"
          f"load one with NASHead.from_pretrained(\"hf-hub:{args.repo}\", subfolder=\"projector\")")
    return EXIT_OK


def add_parser(sub) -> None:
    push = sub.add_parser("push", help="upload a run's heads to the Hugging Face Hub, one subfolder each",
                          description="Upload RUN_DIR/heads/<slot> (each with a config.json) and a model card to "
                                      "a Hub model repo in one commit. Log in first (hf auth login or HF_TOKEN).")
    push.add_argument("run_dir", help="a run directory with heads/ (nasiam search, export or pretrain)")
    push.add_argument("--repo", required=True, metavar="USER/NAME", help="Hub model repo (created if missing)")
    push.add_argument("--private", action="store_true", help="create the repo private (an existing repo is unchanged)")
    push.add_argument("--revision", default=None, help="branch to push to (created if missing; default: main)")
    # the heads go up in one commit (push_heads_to_hub): a stop leaves the repo with all of them or
    # none, though it may have been created already
    push.set_defaults(handler=cmd_push, config_cls=None,
                      on_interrupt="interrupted; the heads are uploaded in one commit, so the repo holds all of them "
                                   "or none (it may have been created): run the same command again to be sure")
