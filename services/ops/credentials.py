"""Staff credentials from the command line: issue a token, revoke a staff member's tokens.

    python -m services.ops.credentials issue dx-01 worker --station daxing [--ttl 3600]
    python -m services.ops.credentials revoke dx-01

Keys, lifetime and the revocation file come from the environment (services/common/auth.py).
Tokens are never stored: a staff member's credential is the signed token alone, and
revoking refuses every token of that subject issued up to now.
"""

import argparse
import sys

from services.common import auth, config, revocations, token_keys


def main(argv=None, env=None):
    parser = argparse.ArgumentParser(prog="python -m services.ops.credentials")
    commands = parser.add_subparsers(dest="command", required=True)
    issue = commands.add_parser("issue", help="print a token for one staff member")
    issue.add_argument("subject")
    issue.add_argument("role", choices=auth.ROLES)
    issue.add_argument("--station")
    issue.add_argument("--name")
    issue.add_argument(
        "--ttl", type=int, help="lifetime in seconds (default and maximum: SHEGONG_TOKEN_TTL_S)"
    )
    revoke = commands.add_parser("revoke", help="refuse every token of a subject issued so far")
    revoke.add_argument("subject")
    args = parser.parse_args(argv)
    settings = config.settings(env)
    if args.command == "issue":
        keys = token_keys.keyring(settings)
        if not keys:
            parser.error("no signing key: set SHEGONG_TOKEN_SECRETS or SHEGONG_TOKEN_SECRET")
        if args.role != "district_admin" and not args.station:
            parser.error("station staff need --station")
        ttl_s = min(args.ttl or settings.token_ttl_s, settings.token_ttl_s)
        print(auth.issue_token(keys, args.subject, args.role, args.station, args.name, ttl_s))
        return 0
    not_before = revocations.revoke(settings.token_revocations_file, args.subject)
    print(
        f"tokens of {args.subject} issued before {not_before} (epoch s) are refused "
        f"({settings.token_revocations_file})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
