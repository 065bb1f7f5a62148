"""`contentguard bench-load`: the HTTP service under concurrent load, against in-process speed.

The real service runs as a separate process (`contentguard serve` on a free loopback port);
the load client runs here, on asyncio and httpx, so client and server share the machine's CPUs.
Three measurements, each in the same run as the in-process reference (`moderate_many` over the
same photos):

- closed loop: N clients each send a photo, wait for the answer, send the next;
- open loop at half the best closed-loop rate: arrivals on a fixed schedule, latency counted
  from the scheduled time, so a slow server cannot hide its queue (no coordinated omission);
- soak: 16 clients for minutes while the server's RSS is sampled, to see that memory is flat.

No figure is asserted in tests; they go to `benchmarks/load.json`, `load.md` and the README.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from contentguard import __version__
from contentguard.bench import images as bench
from contentguard.bench.images import _cpu_model, _images
from contentguard.moderation.image import Item, Moderator
from contentguard.schemas import ErrorResult
from contentguard.settings import Settings

ENDPOINT = "/v1/moderate/image"
README_START, README_END = "<!-- load:start -->", "<!-- load:end -->"
TARGETS = {
    "throughput_ratio_at_16": (">=", 0.8),
    "half_rate_p99_ms": ("<=", 500.0),
    "soak_rss_growth_pct": ("<=", 10.0),
}
_OPEN_LOOP_CONNECTIONS = 256
BUSY_CPU_PCT = 25.0  # other processes' CPU (% of one core) above which the report says so


@dataclass(frozen=True)
class Photo:
    name: str
    data: bytes
    content_type: str


@dataclass
class Samples:
    """Latencies (seconds) and statuses of one phase; status 0 = the request itself failed."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, latency: float, status: int) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)

    def info(self) -> str:
        return f"{len(self.latencies)} requests, {self.errors} errors"


# --- inputs and the in-process reference ---------------------------------------------------
def load_photos(folder: Path) -> list[Photo]:
    """The benchmark photos as raw bodies, each with the content type its suffix implies."""
    photos = []
    for path in _images(folder):
        ctype = mimetypes.guess_type(path.name)[0] or ""
        photos.append(Photo(path.name, path.read_bytes(),
                            ctype if ctype.startswith("image/") else "application/octet-stream"))
    return photos


def in_process(settings: Settings, photos: list[Photo], min_items: int) -> tuple[dict, list[Photo]]:
    """`Moderator.moderate_many` img/s over the photos repeated to `min_items`, and the photos
    it moderates without an error (the only ones the load sends, so errors mean the service)."""
    with Moderator(settings) as moderator:
        first = list(moderator.moderate_many([Item.from_bytes(p.data, p.name) for p in photos]))
        usable = [p for p, o in zip(photos, first, strict=True) if not isinstance(o, ErrorResult)]
        if not usable:
            raise RuntimeError("none of the benchmark photos could be moderated")
        items = [usable[i % len(usable)] for i in range(max(min_items, len(usable)))]
        start, cpu = time.perf_counter(), CpuMeter(None)
        for _ in moderator.moderate_many(Item.from_bytes(p.data, p.name) for p in items):
            pass
        seconds = time.perf_counter() - start
        usage = cpu.usage()
    return {"items": len(items), "seconds": seconds, "images_per_s": len(items) / seconds,
            "cpu_pct": usage["client_cpu_pct"], "other_cpu_pct": usage["other_cpu_pct"]}, usable


# --- the service process --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(settings: Settings) -> dict[str, str]:
    """This environment plus every setting as `CONTENTGUARD_*`, so the service runs with exactly
    the settings this benchmark reports (they may come from code, not the environment)."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        key = f"CONTENTGUARD_{name.upper()}"
        if value is None:
            env.pop(key, None)
        elif isinstance(value, list):
            env[key] = ",".join(map(str, value))
        elif isinstance(value, bool):
            env[key] = "true" if value else "false"
        else:
            env[key] = str(value)
    return env


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the service was not ready after {timeout:g} s:\n{log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _bench_key(settings: Settings) -> str:
    """An API key (every scope, no practical rate limit) in the benchmark's own database."""
    from contentguard.store import accounts
    from contentguard.store.db import Database

    db = Database(settings.resolved_database_url())
    try:
        db.upgrade()
        with db.session() as session:
            return accounts.create_api_key(session, "bench-load", list(accounts.SCOPES),
                                           10**9, actor="bench-load").key
    finally:
        db.close()


@contextmanager
def running_service(settings: Settings, ready_timeout: float = 180.0) -> Iterator[tuple[str, int, str]]:
    """`contentguard serve` on a free loopback port, on a fresh database in a temporary folder,
    until /readyz is 200; yields (base URL, pid, an API key).

    The process is always stopped (terminate, then kill), also on Ctrl-C, errors and SIGTERM.
    """
    port = free_port()
    try:  # SIGTERM would otherwise end this process and leave the service behind
        previous = signal.signal(signal.SIGTERM, _raise_exit)
    except ValueError:  # not the main thread
        previous = None
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serve.log"
        settings = settings.model_copy(update={
            "data_home": Path(tmp), "database_url": f"sqlite:///{Path(tmp) / 'bench.db'}"})
        key = _bench_key(settings)
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "contentguard.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning"],
                env=server_env(settings), stdout=sink, stderr=subprocess.STDOUT,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_ready(base, proc, log, ready_timeout)
                yield base, proc.pid, key
            finally:
                _stop(proc)
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children, MB."""
    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def cpu_seconds(pid: int, children: bool = True) -> float:
    """User + system CPU time of a process (and its children) so far."""
    proc = psutil.Process(pid)
    times = [proc.cpu_times()]
    for child in proc.children(recursive=True) if children else ():
        try:
            times.append(child.cpu_times())
        except psutil.NoSuchProcess:
            continue
    return sum(t.user + t.system for t in times)


# --- load -----------------------------------------------------------------------------------
async def _post(client: httpx.AsyncClient, photo: Photo) -> int:
    """One request; its status (the body is read, not parsed), 0 if the request itself failed."""
    try:
        response = await client.post(ENDPOINT, content=photo.data,
                                     headers={"content-type": photo.content_type})
    except httpx.HTTPError:
        return 0
    return response.status_code


async def _client_loop(client: httpx.AsyncClient, photos: list[Photo], first: int, stop_at: float,
                       samples: Samples) -> None:
    i = first
    while time.perf_counter() < stop_at:
        photo = photos[i % len(photos)]
        i += 1
        start = time.perf_counter()
        status = await _post(client, photo)
        samples.add(time.perf_counter() - start, status)


async def closed_loop(client: httpx.AsyncClient, photos: list[Photo], clients: int, seconds: float,
                      samples: Samples) -> float:
    """`clients` concurrent loops for `seconds`; returns the time until the last answer."""
    start = time.perf_counter()
    await asyncio.gather(*(
        _client_loop(client, photos, n * 7, start + seconds, samples) for n in range(clients)
    ))
    return time.perf_counter() - start


async def _scheduled(client: httpx.AsyncClient, photo: Photo, at: float, samples: Samples) -> None:
    status = await _post(client, photo)
    samples.add(time.perf_counter() - at, status)


async def open_loop(client: httpx.AsyncClient, photos: list[Photo], rate: float, seconds: float,
                    samples: Samples) -> float:
    """Requests at `rate`/s on a fixed schedule, never waiting for answers before sending;
    latency counts from the scheduled time. Returns the achieved send rate."""
    start = time.perf_counter()
    count = max(1, int(rate * seconds))
    tasks = []
    for i in range(count):
        at = start + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_scheduled(client, photos[i % len(photos)], at, samples)))
    sent = time.perf_counter() - start
    await asyncio.gather(*tasks)
    return count / max(sent, 1e-9) if count > 1 else rate


def summarize(samples: Samples, seconds: float) -> dict[str, Any]:
    ms = np.asarray(samples.latencies) * 1000.0
    p50, p95, p99 = (float(np.percentile(ms, q)) for q in (50, 95, 99)) if len(ms) else (0.0,) * 3
    return {
        "requests": len(ms),
        "errors": samples.errors,
        "statuses": {str(k): v for k, v in sorted(samples.statuses.items())},
        "seconds": seconds,
        "req_per_s": len(ms) / seconds if seconds else 0.0,
        "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
        "mean_ms": float(ms.mean()) if len(ms) else 0.0,
        "max_ms": float(ms.max()) if len(ms) else 0.0,
    }


class Phases:
    """The Rich progress display: one bar per phase, showing requests and errors as it runs."""

    def __init__(self, console: Console):
        self.progress = Progress(
            TextColumn("{task.description:<28}"), BarColumn(), TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(), console=console, transient=False,
        )

    @asynccontextmanager
    async def phase(self, label: str, seconds: float, samples: Samples) -> AsyncIterator[None]:
        task = self.progress.add_task(label, total=seconds, info="")
        start = time.perf_counter()

        async def tick() -> None:
            while True:
                self.progress.update(task, completed=min(seconds, time.perf_counter() - start),
                                     info=samples.info())
                await asyncio.sleep(0.25)

        ticker = asyncio.create_task(tick())
        try:
            yield
        finally:
            ticker.cancel()
            self.progress.update(task, completed=seconds, info=samples.info())


_BATCH_METRIC = re.compile(r'^contentguard_model_batch_size_(sum|count)\{model="([^"]+)"\} (\S+)$', re.M)


async def batch_totals(client: httpx.AsyncClient) -> tuple[float, float]:
    """(items, model runs) so far of the service's busiest model, from its /metrics: how large
    the micro-batches grew, which says whether the batcher or the models set the pace."""
    text = (await client.get("/metrics")).text
    totals: dict[str, dict[str, float]] = {}
    for kind, model, value in _BATCH_METRIC.findall(text):
        totals.setdefault(model, {})[kind] = float(value)
    busiest = max(totals.values(), key=lambda t: t.get("count", 0.0), default={})
    return busiest.get("sum", 0.0), busiest.get("count", 0.0)


def mean_batch(before: tuple[float, float], after: tuple[float, float]) -> float:
    runs = after[1] - before[1]
    return (after[0] - before[0]) / runs if runs else 0.0


class CpuMeter:
    """CPU use over a phase, in % of one core: the service, this client, everything else on the
    machine (other processes compete for the same cores) and the hypervisor's steal."""

    def __init__(self, pid: int | None):
        self.pid = pid  # None: no service (the in-process reference)
        self.start = self._read()

    def _read(self) -> tuple[float, ...]:
        system = psutil.cpu_times()
        busy = sum(system) - system.idle - getattr(system, "iowait", 0.0) - getattr(system, "steal", 0.0)
        # The service is this process's child: the client's own figure leaves children out.
        server = cpu_seconds(self.pid) if self.pid is not None else 0.0
        return (time.perf_counter(), server, cpu_seconds(os.getpid(), children=False),
                busy, getattr(system, "steal", 0.0))

    def usage(self) -> dict[str, float]:
        now = self._read()
        wall, server, client, busy, steal = (b - a for a, b in zip(self.start, now, strict=True))
        return {
            "server_cpu_pct": 100 * server / wall, "client_cpu_pct": 100 * client / wall,
            "other_cpu_pct": 100 * max(0.0, busy - server - client) / wall,
            "steal_pct": 100 * steal / wall,
        }


async def _measured_closed_loop(client: httpx.AsyncClient, photos: list[Photo], clients: int,
                                duration: float, warmup: float, pid: int, phases: Phases) -> dict:
    if warmup > 0:
        await closed_loop(client, photos, clients, warmup, Samples())
    samples, batches = Samples(), await batch_totals(client)
    cpu = CpuMeter(pid)
    async with phases.phase(f"{clients} clients", duration, samples):
        elapsed = await closed_loop(client, photos, clients, duration, samples)
    return {"clients": clients, **summarize(samples, elapsed), **cpu.usage(),
            "mean_batch": mean_batch(batches, await batch_totals(client))}


async def _soak(client: httpx.AsyncClient, photos: list[Photo], clients: int, seconds: float,
                every: float, pid: int, phases: Phases) -> dict:
    samples = Samples()
    rss: list[tuple[float, float]] = []
    start = time.perf_counter()

    async def sample() -> None:
        while True:
            rss.append((time.perf_counter() - start, rss_mb(pid)))
            await asyncio.sleep(every)

    sampler, cpu = asyncio.create_task(sample()), CpuMeter(pid)
    try:
        async with phases.phase(f"soak, {clients} clients", seconds, samples):
            elapsed = await closed_loop(client, photos, clients, seconds, samples)
    finally:
        sampler.cancel()
    rss.append((time.perf_counter() - start, rss_mb(pid)))
    return {"clients": clients, **summarize(samples, elapsed), **cpu.usage(), **rss_summary(rss)}


def rss_summary(rss: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Start = median of the first 20 % of samples, end = median of the last 20 %."""
    values = [mb for _, mb in rss]
    fifth = max(1, len(values) // 5)
    start, end = statistics.median(values[:fifth]), statistics.median(values[-fifth:])
    return {
        "rss_start_mb": start, "rss_end_mb": end, "rss_max_mb": max(values),
        "rss_growth_pct": 100 * (end - start) / start,
        "rss_samples": [[round(t, 2), round(mb, 1)] for t, mb in rss],
    }


async def run_load(base: str, pid: int, key: str, photos: list[Photo], *, levels: Sequence[int],
                   duration: float, warmup: float, soak: float, soak_clients: int, sample_every: float,
                   console: Console) -> dict[str, Any]:
    """Every HTTP measurement against the running service at `base`."""
    most = max([*levels, soak_clients]) + _OPEN_LOOP_CONNECTIONS
    limits = httpx.Limits(max_connections=most, max_keepalive_connections=most)
    phases = Phases(console)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=httpx.Timeout(120.0),
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        with phases.progress:
            closed = [await _measured_closed_loop(client, photos, n, duration, warmup, pid, phases)
                      for n in levels]
            peak = max(closed, key=lambda level: level["req_per_s"])
            rate = 0.5 * peak["req_per_s"]
            samples, batches, cpu = Samples(), await batch_totals(client), CpuMeter(pid)
            async with phases.phase(f"open loop, {rate:.1f} req/s", duration, samples):
                achieved = await open_loop(client, photos, rate, duration, samples)
            half = {"rate": rate, "achieved_rate": achieved, "of_clients": peak["clients"],
                    **summarize(samples, duration), **cpu.usage(),
                    "mean_batch": mean_batch(batches, await batch_totals(client))}
            soaked = (await _soak(client, photos, soak_clients, soak, sample_every, pid, phases)
                      if soak > 0 else None)
    return {"closed_loop": closed, "half_rate": half, "soak": soaked}


# --- the report -------------------------------------------------------------------------------
def _verdict(name: str, value: float | None) -> str:
    return bench.verdict(TARGETS, name, value)


def _targets(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    at16 = next((lv for lv in report["closed_loop"] if lv["clients"] == 16), None)
    soak = report["soak"]
    values = {
        "throughput_ratio_at_16": at16["ratio_to_in_process"] if at16 else None,
        "half_rate_p99_ms": report["half_rate"]["p99_ms"],
        "soak_rss_growth_pct": soak["rss_growth_pct"] if soak else None,
    }
    return {name: {"value": v, "verdict": _verdict(name, v)} for name, v in values.items()}


def run_bench_load(
    settings: Settings, folder: Path, out_dir: Path, *, duration: float = 20.0, soak: float = 300.0,
    clients: Sequence[int] = (1, 4, 16, 64), warmup: float = 2.0, soak_clients: int = 16,
    sample_every: float = 5.0, min_items: int = 200, console: Console | None = None,
    readme: Path | None = None,
) -> dict[str, Any]:
    """The whole benchmark: in-process reference, then the service under load; writes
    `load.json` and `load.md` in `out_dir` and the README's load section (if it has markers)."""
    console = console or Console(stderr=True)
    photos = load_photos(folder)
    console.print(f"in-process reference: Moderator.moderate_many over {len(photos)} photos "
                  f"from {folder}, repeated to ≥ {min_items}…")
    reference, usable = in_process(settings, photos, min_items)
    console.print(f"in process: {reference['images_per_s']:.1f} img/s "
                  f"({len(usable)}/{len(photos)} photos moderated without an error)")
    console.print("starting `contentguard serve`…")
    with running_service(settings) as (base, pid, key):
        console.print(f"service ready at {base} (pid {pid}); the load client runs in this process, "
                      f"on the same {os.cpu_count()} CPUs")
        measured = asyncio.run(run_load(
            base, pid, key, usable, levels=list(clients), duration=duration, warmup=min(warmup, duration),
            soak=soak, soak_clients=soak_clients, sample_every=sample_every, console=console,
        ))
    for level in measured["closed_loop"]:
        level["ratio_to_in_process"] = level["req_per_s"] / reference["images_per_s"]
    report = {
        "contentguard": __version__,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": sys.version.split()[0]},
        "note": f"the load client runs on the same {os.cpu_count()} CPUs as the service",
        "settings": {
            "microbatch_size": settings.microbatch_size,
            "microbatch_wait_ms": settings.microbatch_wait_ms,
            "max_queue": settings.max_queue, "batch_size": settings.batch_size,
            "threads": settings.threads or os.cpu_count(), "workers": settings.workers or os.cpu_count(),
        },
        "run": {"duration_s": duration, "warmup_s": min(warmup, duration), "soak_s": soak,
                "clients": list(clients), "soak_clients": soak_clients, "sample_every_s": sample_every},
        "photos": len(usable),
        "in_process": reference,
        **measured,
    }
    report["targets"] = _targets(report)
    return write_report(report, out_dir, console, readme)


def write_report(report: dict[str, Any], out_dir: Path, console: Console,
                 readme: Path | None) -> dict[str, Any]:
    return bench.write_report(report, markdown(report), out_dir, "load", console, readme,
                              (README_START, README_END))


def replace_section(readme: Path, text: str) -> bool:
    """Replace what is between this benchmark's README markers; False if it has none."""
    return bench.replace_section(readme, text, README_START, README_END)


def markdown(report: dict[str, Any]) -> str:
    m, s, run, ref = report["machine"], report["settings"], report["run"], report["in_process"]
    lines = [
        f"Measured {report['when']} on {m['cpu']} ({m['cores']} cores): `contentguard serve` "
        f"(one uvicorn process) on loopback, {report['photos']} photos sent as raw bodies to "
        f"`POST {ENDPOINT}`; micro-batches of up to {s['microbatch_size']} items, waiting up to "
        f"{s['microbatch_wait_ms']:g} ms. Each level runs {run['duration_s']:g} s after a "
        f"{run['warmup_s']:g} s warm-up. The load client (httpx on asyncio) shares the "
        f"{m['cores']} CPUs with the service. In-process reference in the same run "
        f"(`Moderator.moderate_many`, {ref['items']} items): {ref['images_per_s']:.1f} img/s "
        f"(other processes on the machine meanwhile: {ref['other_cpu_pct']:.0f} % CPU).",
        "",
        "| clients | req/s | p50 ms | p95 ms | p99 ms | errors | vs in-process | mean batch "
        "| CPU % service / client / other |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for lv in report["closed_loop"]:
        lines.append(
            f"| {lv['clients']} | {lv['req_per_s']:.1f} | {lv['p50_ms']:.0f} | {lv['p95_ms']:.0f} | "
            f"{lv['p99_ms']:.0f} | {lv['errors']} | {lv['ratio_to_in_process']:.2f}× | "
            f"{lv['mean_batch']:.1f} | {lv['server_cpu_pct']:.0f} / {lv['client_cpu_pct']:.0f} / "
            f"{lv['other_cpu_pct']:.0f} |"
        )
    lines += ["", "| target | measured | result |", "|---|---|---|"]
    lines += [_target_row(report, name) for name in TARGETS]
    busy = [f"{label} ({phase['other_cpu_pct']:.0f} %)" for label, phase in _phases(report)
            if phase["other_cpu_pct"] > BUSY_CPU_PCT]
    if busy:
        lines += ["", f"Other processes on the machine used CPU (of {100 * m['cores']} %) during: "
                  f"{', '.join(busy)}; those figures are lower than the machine gives otherwise."]
    return "\n".join(lines) + "\n"


def _phases(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    soak = [("the soak", report["soak"])] if report["soak"] else []
    return [("the in-process reference", report["in_process"]),
            *((f"{lv['clients']} clients", lv) for lv in report["closed_loop"]),
            ("the open loop", report["half_rate"]), *soak]


def _target_row(report: dict[str, Any], name: str) -> str:
    verdict = report["targets"][name]["verdict"]
    if name == "throughput_ratio_at_16":
        value = report["targets"][name]["value"]
        shown = "—" if value is None else f"{value:.2f}× in-process"
        return f"| throughput at 16 clients vs in-process | {shown} | {verdict} |"
    if name == "half_rate_p99_ms":
        h = report["half_rate"]
        return (f"| p99 at half the peak rate (open loop, {h['rate']:.1f} req/s for "
                f"{h['seconds']:g} s, {h['errors']} errors) | {h['p99_ms']:.0f} ms (p50 "
                f"{h['p50_ms']:.0f}, p95 {h['p95_ms']:.0f}) | {verdict} |")
    soak = report["soak"]
    if soak is None:
        return f"| service RSS over a soak run | — | {verdict} |"
    return (f"| service RSS over {soak['seconds']:.0f} s at {soak['clients']} clients "
            f"({soak['requests']} requests, {soak['errors']} errors) | {soak['rss_start_mb']:.0f} → "
            f"{soak['rss_end_mb']:.0f} MB (max {soak['rss_max_mb']:.0f}), "
            f"{soak['rss_growth_pct']:+.1f} % | {verdict} |")
