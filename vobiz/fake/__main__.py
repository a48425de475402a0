"""Run the fake Vobiz API in the foreground: python -m vobiz.fake --help"""

import argparse
import threading
from collections.abc import Sequence

from vobiz.fake.data import FakeAccount
from vobiz.fake.server import DEFAULT_FAILURE_KINDS, FakeVobizServer


def bandwidth(text: str) -> float:
    """A bandwidth in bytes a second, above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bytes a second") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bytes a second above zero")
    return value


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vobiz.fake", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--count", type=int, default=1000, help="recordings in the account")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same recordings")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument(
        "--max-page-size",
        type=int,
        default=100,
        help="serve at most this many per page, whatever limit asks (Vobiz may serve 20)",
    )
    parser.add_argument(
        "--failure-rate",
        type=float,
        default=0.0,
        help="share of API requests that fail at random with one of " + ", ".join(DEFAULT_FAILURE_KINDS),
    )
    parser.add_argument(
        "--api-lag",
        type=float,
        default=0.0,
        help="seconds after a recording's callback that the API still lists it not and answers 404 for it",
    )
    parser.add_argument(
        "--outage", type=float, default=0.0, help="answer every API request 503 for this many seconds from the start"
    )
    parser.add_argument(
        "--outage-retry-after", type=float, default=None, help="with --outage: the Retry-After its 503s carry"
    )
    parser.add_argument(
        "--audio-bandwidth",
        type=bandwidth,
        default=None,
        help="bytes a second the audio is sent at, as over a slow link (default: as fast as it goes)",
    )
    parser.add_argument("--auth-id", default="MA_FAKEDEMO")
    parser.add_argument("--auth-token", default="fake-token-0123456789abcdef")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    account = FakeAccount(count=args.count, seed=args.seed, auth_id=args.auth_id, auth_token=args.auth_token)
    server = FakeVobizServer(
        account,
        host=args.host,
        port=args.port,
        latency=args.latency,
        max_page_size=args.max_page_size,
        seed=args.seed,
        verbose=args.verbose,
        api_lag=args.api_lag,
    )
    server.failure_rate = args.failure_rate
    server.audio_bandwidth = args.audio_bandwidth
    if args.outage:
        server.start_outage(args.outage, retry_after=args.outage_retry_after)
    print(f"Fake Vobiz API with {args.count} recordings. Point the dashboard at it with:", flush=True)
    print(f"  VOBIZ_API_URL={server.base_url}")
    print(f"  VOBIZ_AUTH_ID={account.auth_id}")
    print(f"  VOBIZ_AUTH_TOKEN={account.auth_token}")
    print("Ctrl-C stops it.", flush=True)
    with server:
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
