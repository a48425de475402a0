"""The processes a benchmark runs, started, waited for and stopped: the fake Vobiz API, manage.py
commands, gunicorn; and a signed-in client of a dashboard one of them serves.

Every process is started on an ExitStack, which stops it when it closes, however the benchmark ends
(newest first: a sync stops while the fake API it talks to still answers).
"""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

PROJECT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).parent / "gunicorn")
STOP_SECONDS = 15.0  # for a process to end cleanly once asked
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class BenchError(Exception):
    """The benchmark cannot go on: a process failed, or did not answer in time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(database_url: str, **settings: str) -> dict[str, str]:
    """A manage.py or gunicorn process's environment: this one's, DEBUG off as in production, a
    secret key of its own and cookies plain HTTP on loopback keeps; then `settings`."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SECURE_COOKIES": "0",
        **settings,
    }


def start(
    stack: ExitStack,
    command: list[str],
    log: IO[str],
    env: dict[str, str] | None = None,
    *,
    cwd: Path = PROJECT,
    own_session: bool = False,
    stop_signal: int = signal.SIGTERM,
) -> subprocess.Popen[bytes]:
    """Start `command` with its output in `log`; `stack` stops it on closing if it still runs.

    own_session puts it in a process group of its own, stopped whole, as on a machine of its own.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=own_session,
    )
    stack.callback(stop, process, own_session, stop_signal)
    return process


def stop(process: subprocess.Popen[bytes], own_session: bool, stop_signal: int) -> None:
    """`stop_signal` first, to let the process end cleanly; SIGKILL if it has not within STOP_SECONDS."""
    if process.poll() is not None:
        return

    def send(signal_number: int) -> None:
        if own_session:
            os.killpg(process.pid, signal_number)
        else:
            process.send_signal(signal_number)

    send(stop_signal)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()


def tail(path: Path | None, lines: int = 20) -> str:
    """The end of a process's log, for an error message."""
    if path is None:
        return ""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_for(
    url: str, seconds: float = 60.0, *, process: subprocess.Popen[bytes] | None = None, log_path: Path | None = None
) -> None:
    """Return once `url` answers at all: its server is up. Fails after `seconds`, or as soon as
    `process`, the server, exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BenchError(f"the server of {url} exited with {process.returncode}:\n{tail(log_path)}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise BenchError(f"{url} did not answer within {seconds:.0f}s:\n{tail(log_path)}")


def start_fake_vobiz(
    stack: ExitStack,
    count: int,
    log_path: Path,
    *,
    port: int | None = None,
    latency: float = 0.0,
    max_page_size: int = 100,
    auth_id: str = "MA_FAKEDEMO",
    auth_token: str = "fake-token-0123456789abcdef",
    stop_signal: int = signal.SIGTERM,
    audio_bandwidth: float | None = None,
) -> str:
    """The fake Vobiz API in a process of its own (its CPU not behind the GIL of what is measured),
    on `port` or a free one, its audio sent at `audio_bandwidth` bytes a second if given; its API's
    base URL once it answers."""
    port = port or free_port()
    command = [PYTHON, "-m", "vobiz.fake", "--port", str(port), "--count", str(count), "--latency", str(latency)]
    command += ["--max-page-size", str(max_page_size), "--auth-id", auth_id, "--auth-token", auth_token]
    if audio_bandwidth:
        command += ["--audio-bandwidth", str(audio_bandwidth)]
    with open(log_path, "w") as log:  # the child keeps its own copy of the file
        process = start(stack, command, log, stop_signal=stop_signal)
    wait_for(f"http://127.0.0.1:{port}/", 30, process=process, log_path=log_path)
    return f"http://127.0.0.1:{port}/api/v1"


def start_gunicorn(
    stack: ExitStack,
    env: dict[str, str],
    log: IO[str],
    port: int,
    workers: int,
    threads: int,
    own_session: bool = False,
) -> subprocess.Popen[bytes]:
    """The dashboard served as in production: gunicorn's threaded workers on loopback."""
    command = [GUNICORN, "vobiz_dashboard.wsgi", "--worker-class", "gthread", "--workers", str(workers)]
    command += ["--threads", str(threads), "--bind", f"127.0.0.1:{port}"]
    return start(stack, command, log, env, own_session=own_session)


def manage(env: dict[str, str], *args: str, cwd: Path = PROJECT) -> None:
    """A manage.py command run to its end; what it prints is dropped, its errors are not."""
    subprocess.run([PYTHON, "manage.py", *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def shell_json(env: dict[str, str], snippet: str, *, cwd: Path = PROJECT, timeout: float | None = 120) -> Any:
    """What `snippet`, run by `manage.py shell -c`, prints as JSON on its last line."""
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", snippet],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise BenchError(f"manage.py shell failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def csrf_token(html: str) -> str:
    return CSRF.search(html).group(1)


def signed_in(base_url: str, username: str, password: str, timeout: float = 30) -> requests.Session:
    """A session signed in to the dashboard at `base_url`, as a browser is."""
    session = requests.Session()
    page = session.get(f"{base_url}/accounts/login/", timeout=timeout)
    answer = session.post(
        f"{base_url}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf_token(page.text)},
        headers={"Referer": f"{base_url}/accounts/login/"},
        timeout=timeout,
    )
    if answer.url.rstrip("/") != base_url:
        raise BenchError(f"could not sign in as {username}: landed on {answer.url}")
    return session


def percentile(values: list[float], share: float) -> float:
    """The value `share` of the way up `values` sorted (0.95: the 95th percentile), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


@dataclass(frozen=True)
class Dashboard:
    """A dashboard served as in production, with an auditor to sign in as."""

    base_url: str
    username: str
    password: str


def serve_synced_dashboard(
    stack: ExitStack,
    *,
    database_url: str,
    vobiz_api_url: str,
    auth_id: str,
    auth_token: str,
    folder: Path,
    gunicorn_workers: int,
    db_worker_args: tuple[str, ...] = (),
) -> Dashboard:
    """The dashboard over a fake Vobiz at `vobiz_api_url`, its recordings synced once, served by
    gunicorn with a db_worker running the default queue (the one measured: REDIS_URL is unset);
    the processes' output goes to `folder`/processes.log."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = production_env(
        database_url,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        VOBIZ_AUTH_ID=auth_id,
        VOBIZ_AUTH_TOKEN=auth_token,
        VOBIZ_API_URL=vobiz_api_url,
        VOBIZ_MEDIA_HOSTS="127.0.0.1",
        DASHBOARD_PUBLIC_URL=base_url,
        LOG_LEVEL="WARNING",
    )
    env.pop("REDIS_URL", None)
    username, password = "bench", secrets.token_urlsafe(12)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    manage(env, "sync_recordings")
    manage({**env, "DASHBOARD_PASSWORD": password}, "create_user", username, "--role", "auditor")
    log = stack.enter_context(open(folder / "processes.log", "w"))
    start_gunicorn(stack, env, log, port, gunicorn_workers, threads=8)
    start(stack, [PYTHON, "manage.py", "db_worker", *db_worker_args], log, env)
    wait_for(base_url + "/healthz")
    return Dashboard(base_url=base_url, username=username, password=password)


# -- CPU by kind of process -------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_table() -> dict[int, tuple[str, int, float]]:
    """Every process's name, parent and CPU seconds so far (Linux /proc): its own user and system
    time plus that of its children it has reaped, so that a process ended meanwhile (a PostgreSQL
    backend, a gunicorn worker) still counts, in its parent."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        # After the name: state, ppid, …; utime, stime, cutime, cstime are fields 14-17 of stat(5).
        cpu = sum(int(value) for value in fields[11:15]) / CLOCK_TICKS
        table[int(entry.name)] = (name, int(fields[1]), cpu)
    return table


def tree_cpu(table: dict[int, tuple[str, int, float]], roots: set[int]) -> float:
    """CPU seconds of these processes and all their descendants."""
    children: dict[int, list[int]] = {}
    for pid, (_, parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        total += table[pid][2]
        todo.extend(children.get(pid, []))
    return total


def roots_named(table: dict[int, tuple[str, int, float]], name: str) -> set[int]:
    """The topmost processes called `name` (PostgreSQL's postmaster, redis-server)."""
    return {pid for pid, (own, parent, _) in table.items() if own == name and table.get(parent, ("",))[0] != name}


def machine_cpu() -> float:
    """CPU seconds the machine has spent on any work since it started (not idle, not waiting)."""
    with open("/proc/stat") as stat:
        # cpu  user nice system idle iowait irq softirq steal …
        values = [int(value) for value in stat.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4] - values[7]) / CLOCK_TICKS  # steal: the host's, not ours


@dataclass
class CpuMeter:
    """CPU seconds used by each kind of process between `start` and `stop`: the processes a benchmark
    started (by pid, with their descendants) and the machine's PostgreSQL and Redis servers."""

    pids: dict[str, int]
    before: dict[str, float] | None = None

    def reading(self) -> dict[str, float]:
        table = process_table()
        reading = {kind: tree_cpu(table, {pid}) for kind, pid in self.pids.items()}
        reading["PostgreSQL"] = tree_cpu(table, roots_named(table, "postgres"))
        reading["Redis"] = tree_cpu(table, roots_named(table, "redis-server"))
        reading["the whole machine"] = machine_cpu()
        return reading

    def start(self) -> None:
        self.before = self.reading()

    def stop(self) -> dict[str, float]:
        assert self.before is not None, "start first"
        after = self.reading()
        return {kind: after[kind] - self.before[kind] for kind in after}
