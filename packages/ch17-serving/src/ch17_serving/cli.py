"""``ch17-serving``: serve, keys, stream, chat, minutes, deploy, bench, demo (thin, over the
library)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import typer

from llmpath_core import UserError
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch17-serving",
    "Serving: an OpenAI-compatible server (streaming, auth, rate limits, tools, JSON schema), "
    "clients, a LangChain memory chatbot, meeting minutes, deployment manifests.",
)

BASE_URL_HELP = (
    "an OpenAI-compatible endpoint ending in /v1 (default: start ours on the default model)"
)


@command(app, device=False, out=False)
def serve(
    run: Run,
    port: int = typer.Option(8000, "--port", help="TCP port (0 = any free port)"),
    host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on"),
    model: Path = typer.Option(None, "--model", help="HF causal LM folder (default: llmpath's)"),
    api_key: list[str] = typer.Option(
        None, "--api-key", help="accept this key (repeat for several); none = no auth"
    ),
    keys_file: Path = typer.Option(
        None, "--keys-file", help="hashed keys from `ch17-serving keys`"
    ),
    rate_limit: str = typer.Option("0", "--rate-limit", help="requests per minute per key, N/min"),
    token_budget: int = typer.Option(
        0, "--token-budget", help="tokens per key per day (0 = no cap)"
    ),
    redis: str = typer.Option(None, "--redis", help="redis:// URL: limits shared by all workers"),
    workers: int = typer.Option(1, "--workers", help="uvicorn worker processes behind the port"),
    max_concurrency: int = typer.Option(64, "--max-concurrency", help="streams before 429"),
    vision_model: Path = typer.Option(
        None, "--vision-model", help="image-to-text model folder for image_url parts"
    ),
) -> dict:
    """Serve /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models until Ctrl-C."""
    from ch17_serving.labs import ServeConfig, run_server

    config = ServeConfig(
        model=str(model) if model else None,
        api_keys=list(api_key or []),
        keys_file=str(keys_file) if keys_file else None,
        rate_limit=rate_limit,
        token_budget=token_budget,
        redis=redis,
        max_concurrency=max_concurrency,
        vision_model=str(vision_model) if vision_model else None,
    )
    run.log(f"serving on http://{host}:{port}/v1 (Ctrl-C stops; in-flight streams finish)")
    run.log(f"web chat page: http://{host}:{port}/chat")
    start = time.time()
    run_server(config, host, port, workers)
    return {
        "host": host,
        "port": port,
        "workers": workers,
        "served_s": round(time.time() - start, 1),
    }


@command(app, device=False, out=False)
def keys(
    run: Run,
    name: str = typer.Argument("default", help="a name for the new key"),
    file: Path = typer.Option(Path("keys.json"), "--file", help="key file (hashes only)"),
    rate_limit: str = typer.Option("0", "--rate-limit", help="this key's requests per minute"),
    token_budget: int = typer.Option(0, "--token-budget", help="this key's tokens per day"),
) -> dict:
    """Make an API key: print it once, store only its SHA-256 in the key file."""
    from ch17_serving.keys import KeyStore, parse_rate

    store = KeyStore.load(file) if file.exists() else KeyStore()
    key = store.add(name, parse_rate(rate_limit), token_budget)
    store.save(file)
    run.show(f"new key {name!r} (shown once, stored hashed in {file}):\n{key}")
    return {"name": name, "key": key, "file": str(file), "keys_in_file": len(store.records)}


def _client(run: Run, base_url: str | None, api_key: str | None, model: str | None):
    """A ResilientClient, on our own server when no --base-url is given (caller stops it)."""
    from ch17_serving.client import ResilientClient
    from ch17_serving.labs import ServeConfig, local_server

    if base_url:
        return ResilientClient(base_url, api_key, model=model), None
    run.log("starting a local server on the default model ...")
    ctx = local_server(ServeConfig())
    server = ctx.__enter__()
    return ResilientClient(server.url + "/v1", model=model), ctx


@command(app, device=False, out=False)
def stream(
    run: Run,
    prompt: str = typer.Argument("Tell me a story about a brave little fox.", help="the message"),
    base_url: str = typer.Option(None, "--base-url", help=BASE_URL_HELP),
    api_key: str = typer.Option(None, "--api-key", help="key for --base-url"),
    model: str = typer.Option(None, "--model", help="model name at the endpoint"),
    max_tokens: int = typer.Option(48, "--max-tokens", help="tokens to generate"),
    temperature: float = typer.Option(0.0, "--temperature", help="0 = greedy"),
    prompt_price: float = typer.Option(0.0, help="USD per million prompt tokens"),
    completion_price: float = typer.Option(0.0, help="USD per million completion tokens"),
) -> dict:
    """The streaming UX: tokens appear as they are generated; TTFT, rate and cost at the end."""
    from ch17_serving.client import Prices, stream_to_terminal

    if not prompt.strip():
        raise UserError("the prompt is empty")
    client, ctx = _client(run, base_url, api_key, model)
    client.ledger.prices = Prices(prompt_price, completion_price)
    try:
        result = stream_to_terminal(
            client,
            [{"role": "user", "content": prompt}],
            out=None if run.json else sys.stdout,
            max_tokens=max_tokens,
            temperature=temperature,
        )
    finally:
        client.close()
        if ctx is not None:
            ctx.__exit__(None, None, None)
    tokens = (result.usage or {}).get("completion_tokens", result.chunks)
    rate = tokens / result.total_s if result.total_s else 0.0
    run.log(f"ttft {result.first_token_s * 1000:.0f} ms, {tokens} tokens, {rate:.1f} tok/s")
    return {
        "text": result.text,
        "finish_reason": result.finish_reason,
        "ttft_ms": round(result.first_token_s * 1000, 1),
        "tokens": tokens,
        "tokens_per_s": round(rate, 1),
        "ledger": client.ledger.summary(),
    }


@command(app, device=False, out=False)
def chat(
    run: Run,
    message: list[str] = typer.Argument(None, help="messages to send, in order"),
    base_url: str = typer.Option(None, "--base-url", help=BASE_URL_HELP),
    api_key: str = typer.Option("none", "--api-key", help="key for --base-url"),
    model: str = typer.Option("default", "--model", help="model name at the endpoint"),
    memory: str = typer.Option("buffer", "--memory", help="buffer, summary or vector"),
    session: str = typer.Option("default", "--session", help="session id (persisted)"),
    db: Path = typer.Option(None, "--db", help="SQLite file for sessions (default: a temp file)"),
    budget: int = typer.Option(160, "--budget", help="prompt budget in tokens"),
    max_tokens: int = typer.Option(24, "--max-tokens", help="tokens per reply"),
    interactive: bool = typer.Option(
        False, "--interactive", help="read messages from the terminal"
    ),
) -> dict:
    """The LangChain memory chatbot (ChatOpenAI on the endpoint; sessions in SQLite)."""
    from ch17_serving.labs import ServeConfig, load_backend, local_server
    from ch17_serving.memory import (
        MEMORIES,
        BufferMemory,
        MemoryChatbot,
        SQLiteChatHistory,
        SummaryMemory,
        VectorMemory,
        openai_chat_model,
        openai_embeddings,
    )

    if memory not in MEMORIES:
        raise UserError(f"unknown --memory {memory!r}: use one of {', '.join(MEMORIES)}")
    turns = list(message or [])
    if not turns and not interactive:
        turns = ["Hi, my name is Tom and I like dragons.", "Tell me a story.", "What is my name?"]
    db_path = db or Path(tempfile.mkdtemp(prefix="ch17-chat-")) / "sessions.sqlite"
    ctx = None
    count = len
    if base_url is None:
        backend = load_backend()
        ctx = local_server(ServeConfig(), backend)
        base_url = ctx.__enter__().url + "/v1"
        count = backend.count_tokens  # type: ignore[assignment]
    try:
        llm = openai_chat_model(base_url, api_key, model, temperature=0, max_tokens=max_tokens)
        mem = {
            "buffer": lambda: BufferMemory(4),
            "summary": lambda: SummaryMemory(llm, 2),
            "vector": lambda: VectorMemory(openai_embeddings(base_url, api_key, model), 1),
        }[memory]()
        bot = MemoryChatbot(
            llm, SQLiteChatHistory(db_path, session), mem, count_tokens=count, budget_tokens=budget
        )
        log = []

        def one(text: str) -> None:
            answer = bot.ask(text)
            log.append({"user": text, "assistant": answer, "prompt_messages": len(bot.last_prompt)})
            run.show(f"[bold]you:[/bold] {text}\n[bold]bot:[/bold] {answer}")

        for text in turns:
            one(text)
        if interactive:
            for line in sys.stdin:
                if line.strip() in {"", "/quit"}:
                    break
                one(line.strip())
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)
    return {"session": session, "db": str(db_path), "memory": memory, "turns": log}


@command(app, device=False, out=True, out_help="write the minutes Markdown here")
def minutes(
    run: Run,
    transcript: Path = typer.Option(None, "--transcript", help="text file, 'Name: words' lines"),
    audio: Path = typer.Option(None, "--audio", help="16-bit PCM WAV to transcribe first"),
    llm: bool = typer.Option(False, "--llm", help="ask an OpenAI-compatible endpoint instead"),
    base_url: str = typer.Option(None, "--base-url", help=BASE_URL_HELP),
    api_key: str = typer.Option(None, "--api-key", help="key for --base-url"),
) -> dict:
    """Meeting minutes (summary, decisions, action items) streamed as Markdown."""
    from ch17_serving.minutes import (
        action_item_scores,
        extract_minutes,
        llm_minutes,
        minutes_markdown,
        scripted_meeting,
        transcribe,
    )
    from llmpath_core import atomic_write

    gold = None
    if audio is not None:
        text = transcribe(audio)
    elif transcript is not None:
        text = transcript.read_text()
    else:
        meeting = scripted_meeting(run.seed)
        text, gold = meeting.transcript, meeting.action_items
    if llm:
        client, ctx = _client(run, base_url, api_key, None)
        try:
            result = llm_minutes(client, text)
        finally:
            client.close()
            if ctx is not None:
                ctx.__exit__(None, None, None)
    else:
        result = extract_minutes(text)
    parts = []
    for line in minutes_markdown(result):
        parts.append(line)
        if not run.json:
            sys.stdout.write(line)
            sys.stdout.flush()
    run.shown = True
    markdown = "".join(parts)
    if run.out is not None:
        with atomic_write(run.out) as f:
            f.write(markdown)
    out = {
        "minutes": result.to_dict(),
        "markdown": markdown,
        "pipeline": "llm" if llm else "extractive",
    }
    if gold is not None:
        out["scores"] = action_item_scores(result.action_items, gold)
    return out


@command(app, device=False, out=True, out_help="folder for the manifests")
def deploy(
    run: Run,
    image: str = typer.Option("llmpath/ch17-serving:0.1.0", "--image", help="container image"),
    port: int = typer.Option(8000, "--port", help="container port"),
    workers: int = typer.Option(2, "--workers", help="uvicorn workers per pod"),
    replicas: int = typer.Option(2, "--replicas", help="minimum pods"),
    max_replicas: int = typer.Option(8, "--max-replicas", help="HPA maximum"),
) -> dict:
    """Write a Dockerfile, docker-compose.yml and Kubernetes manifests, then check them."""
    from ch17_serving.deploy import DeploySpec, check_manifests, write_manifests

    folder = run.out_path("deploy")
    spec = DeploySpec(
        image=image, port=port, workers=workers, replicas=replicas, max_replicas=max_replicas
    )
    files = write_manifests(folder, spec)
    problems = check_manifests(folder)
    run.table([{"file": str(f), "bytes": f.stat().st_size} for f in files], title="manifests")
    if problems:
        run.fail(1)
    return {"files": [str(f) for f in files], "problems": problems}


@command(app, device=False, out=True, out_help="write the JSON result here")
def bench(
    run: Run,
    streams: str = typer.Option("1,8,32", "--streams", help="comma-separated concurrency levels"),
    max_tokens: int = typer.Option(24, "--max-tokens", help="tokens per stream"),
    base_url: str = typer.Option(None, "--base-url", help=BASE_URL_HELP),
    api_key: str = typer.Option(None, "--api-key", help="key for --base-url"),
) -> dict:
    """TTFT, inter-token latency and throughput under concurrent streams (+ in-process baseline)."""
    from ch17_serving.labs import ServeConfig, load_backend, local_server
    from ch17_serving.loadtest import http_load, in_process_load
    from llmpath_core import write_json

    try:
        levels = [int(s) for s in streams.split(",") if s.strip()]
    except ValueError as exc:
        raise UserError(f"--streams {streams!r}: use numbers like 1,8,32") from exc
    if not levels or min(levels) < 1:
        raise UserError("--streams needs positive numbers")
    rows, baseline = [], None
    if base_url:
        for n in levels:
            rows.append(http_load(base_url, n, max_tokens, api_key).to_dict())
    else:
        backend = load_backend()
        with local_server(ServeConfig(max_concurrency=max(levels)), backend) as server:
            http_load(server.url + "/v1", 1, 4)  # warm-up
            for n in levels:
                run.log(f"{n} streams ...")
                rows.append(http_load(server.url + "/v1", n, max_tokens).to_dict())
        n = 8 if 8 in levels else levels[-1]
        baseline = in_process_load(backend, n, max_tokens).to_dict()
    run.table(rows, title="HTTP streaming under load")
    result = {"http": rows, "in_process": baseline}
    if baseline:
        served = next(r for r in rows if r["streams"] == baseline["streams"])
        result["server_vs_in_process_throughput"] = round(
            served["tokens_per_s"] / baseline["tokens_per_s"], 3
        )
    if run.out is not None:
        write_json(run.out, result)
    return result


@command(app, device=False, out=False)
def demo(run: Run) -> dict:
    """Server on the default model: streamed chat via openai, auth, rate limit, minutes, load."""
    import openai

    from ch17_serving.labs import ServeConfig, demo_meeting, load_backend, local_server
    from ch17_serving.loadtest import http_load

    backend = load_backend()
    showed = []
    key = "sk-demo-key"
    config = ServeConfig(api_keys=[key], rate_limit="6/min", max_concurrency=8)
    with local_server(config, backend) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
        messages = [{"role": "user", "content": "Tell me a story about a cat."}]
        start = time.perf_counter()
        parts, ttft = [], 0.0
        for chunk in client.chat.completions.create(
            model="default", messages=messages, stream=True, temperature=0, max_tokens=32
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                ttft = ttft or time.perf_counter() - start
                parts.append(chunk.choices[0].delta.content)
        streamed = "".join(parts)
        whole = client.chat.completions.create(
            model="default", messages=messages, temperature=0, max_tokens=32
        )
        same = whole.choices[0].message.content == streamed
        run.show(f"[bold]streamed[/bold] (ttft {ttft * 1000:.0f} ms): {streamed!r}")
        showed.append("openai client: streamed chat == non-streamed at temperature 0")
        try:
            openai.OpenAI(base_url=server.url + "/v1", api_key="wrong", max_retries=0).models.list()
            auth = "accepted a wrong key!"
        except openai.AuthenticationError:
            auth = "AuthenticationError"
        limited_at = None
        for i in range(1, 10):  # 2 requests made so far, limit 6/min
            try:
                client.models.list()
            except openai.RateLimitError:
                limited_at = i + 2
                break
        showed += [f"wrong key -> {auth}", f"request {limited_at} in a minute -> RateLimitError"]
    with local_server(ServeConfig(max_concurrency=8), backend) as server:
        load = [http_load(server.url + "/v1", n, 16).to_dict() for n in (1, 8)]
    run.table(load, title="streams under load (16 tokens each)")
    showed.append("load: TTFT and throughput at 1 and 8 streams")
    with tempfile.TemporaryDirectory() as tmp:
        meeting = demo_meeting(Path(tmp), run.seed)
    run.show(meeting["markdown"])
    asr = meeting["asr"]
    showed.append(f"minutes: espeak-ng -> pocketsphinx WER {asr.get('wer', 'n/a')}")
    scores = meeting["action_items"]
    headline = (
        f"stream==whole: {same}; bad key -> {auth}; 429 at request {limited_at}; "
        f"8 streams {load[1]['tokens_per_s']} tok/s (ttft {load[1]['ttft_median_s']}s); "
        f"minutes action items P={scores['precision']:.2f} R={scores['recall']:.2f}, "
        f"ASR WER {asr.get('wer', 'n/a')}"
    )
    run.show(headline)
    return {
        "showed": "; ".join(showed),  # one line (the umbrella's summary reads a string)
        "steps": showed,
        "headline": headline,
        "streamed_equals_whole": same,
        "load": load,
        "minutes": {"asr": asr, "action_items": scores},
    }


def expand_repeated_keys(argv: list[str]) -> list[str]:
    """``serve --api-key A B`` means ``--api-key A --api-key B`` (serve takes no arguments)."""
    if "serve" not in argv[:1]:
        return argv
    out, in_keys = [], False
    for token in argv:
        if token == "--api-key":
            in_keys = True
            out.append(token)
        elif in_keys and not token.startswith("-") and out[-1] != "--api-key":
            out += ["--api-key", token]
        else:
            in_keys = in_keys and not token.startswith("-")
            out.append(token)
    return out


def main() -> None:
    run_app(app, expand_repeated_keys(sys.argv[1:]))


if __name__ == "__main__":
    main()
