"""``ch20-multimodal``: the chapter's console script."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch20-multimodal",
    "Multimodal: a tiny CLIP and a LLaVA-style assistant trained here, OCR and documents, "
    "speech in and out, and a small text-to-image diffusion model.",
)

DEFAULT_SPEC = "2 red circle, 1 blue square"
DEFAULT_QUESTION = "how many red circles?"
DEFAULT_PAGE = (
    "Invoice INV-2041 from Northwind Traders\n"
    "Date: 2026-03-14  Due: 2026-04-13\n"
    "3 x Widget A at 12.50 = 37.50\n"
    "Total due: 318.50 EUR"
)


@command(
    app,
    device=False,
    out_help="where to write the PNG (default: $LLMPATH_HOME/ch20-multimodal/scene.png)",
)
def scene(
    run: Run,
    spec: str = typer.Option(
        DEFAULT_SPEC, help="objects, e.g. '2 red circle, 1 large blue square'"
    ),
    size: int = typer.Option(64, help="image side in pixels (drawn at 64, scaled up by nearest)"),
) -> dict:
    """Render a scene of coloured shapes from a spec (colours red/green/blue/yellow, shapes
    circle/square/triangle, at most 5 objects)."""
    from ch20_multimodal.scenes import parse_spec, render
    from llmpath_core import UserError
    from llmpath_core.io import atomic_write
    from llmpath_core.paths import artefact_path

    if not 16 <= size <= 1024:
        raise UserError(f"--size {size} is out of range: use 16..1024")
    graph = parse_spec(spec, seed=run.seed)
    out = run.out_path(artefact_path("ch20-multimodal") / "scene.png")
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out} must end in .png")
    with atomic_write(out, "wb") as fh:
        render(graph, size).save(fh, format="PNG")
    objects = [
        {"colour": o.colour, "shape": o.shape, "size": o.size, "row": o.cell[0], "col": o.cell[1]}
        for o in graph.objects
    ]
    run.table(objects, title=f"{graph.caption()} -> {out}")
    return {"path": str(out), "caption": graph.caption(), "objects": objects}


@command(app, out=False)
def vqa(
    run: Run,
    image: Path | None = typer.Option(
        None, help="a scene image (default: a rendered '2 red circle, 1 blue square')"
    ),
    question: str = typer.Option(
        DEFAULT_QUESTION, help="a question about counts, colours, shapes or left/right"
    ),
    model: Path | None = typer.Option(
        None, help="a Llava folder (default: the tiny assistant, trained on first use and cached)"
    ),
) -> dict:
    """Answer a question about a scene image with the LLaVA-style assistant."""
    from ch20_multimodal.llava import TinyLlava
    from ch20_multimodal.scenes import parse_spec
    from ch20_multimodal.vocab import WordTokenizer
    from ch20_multimodal.vqa import answer, image_to_pixels, load_or_train, scene_to_pixels

    WordTokenizer().encode(question)  # bad words fail before any training
    pixels = (
        image_to_pixels(image)
        if image is not None
        else scene_to_pixels(parse_spec(DEFAULT_SPEC, run.seed))
    )
    if model is not None:
        net = TinyLlava.from_pretrained(model)
    else:
        _, net, _ = load_or_train(seed=run.seed, log=run.log)
    reply = answer(net, pixels, question)
    run.table([{"question": question, "answer": reply}])
    return {"answer": reply, "question": question, "image": str(image) if image else None}


@command(app, device=False, out=False)
def ocr(
    run: Run,
    image: Path | None = typer.Option(
        None, help="an image or a PDF (default: a rendered invoice page)"
    ),
    password: str | None = typer.Option(None, help="password of an encrypted PDF"),
) -> dict:
    """Read the text of an image (Tesseract) or a PDF (text layer, or OCR of scanned pages)."""
    from ch20_multimodal.documents import cer, ocr_image, read_document, render_text

    if image is None:
        doc = ocr_image(render_text(DEFAULT_PAGE))
        score = round(cer(DEFAULT_PAGE, doc.text), 4)
    else:
        doc, score = read_document(image, password), None
    run.show(doc.text)
    result = {"text": doc.text, "source": doc.source, "pages": doc.pages, "words": len(doc.words)}
    if score is not None:
        result["cer_vs_rendered"] = score
    return result


@command(app, out=False)
def clip(
    run: Run,
    steps: int = typer.Option(600, help="training steps (batch 128)"),
) -> dict:
    """Train the tiny CLIP on generated scenes; zero-shot colour/shape accuracy and recall@k."""
    from ch20_multimodal.clip_train import retrieval, train_clip, zero_shot

    if steps < 1:
        from llmpath_core import UserError

        raise UserError("--steps must be at least 1")
    result = train_clip(steps=steps, seed=run.seed, lr=3e-3)
    shot, ret = zero_shot(result.model), retrieval(result.model)
    run.table(
        [
            {
                "metric": "zero-shot colour accuracy",
                "value": shot["colour_accuracy"],
                "chance": 0.25,
            },
            {
                "metric": "zero-shot shape accuracy",
                "value": shot["shape_accuracy"],
                "chance": 1 / 3,
            },
            {
                "metric": "text->image recall@1",
                "value": ret["recall@1"],
                "chance": ret["chance_recall@1"],
            },
            {
                "metric": "text->image recall@5",
                "value": ret["recall@5"],
                "chance": ret["chance_recall@5"],
            },
        ],
        title=f"tiny CLIP, {steps} steps, final loss {result.losses[-1]:.3f}",
    )
    return {"steps": steps, "final_loss": result.losses[-1], "zero_shot": shot, "retrieval": ret}


@command(app, out_help="where to write a PNG grid of the samples")
def diffuse(
    run: Run,
    prompt: str = typer.Option("1 red circle", help="what to draw (scene language)"),
    negative: str = typer.Option("", help="negative prompt (replaces the unconditional branch)"),
    guidance: str = typer.Option("1,3", help="comma-separated guidance scales to compare"),
    steps: int = typer.Option(400, help="denoiser training steps"),
    sample_steps: int = typer.Option(25, help="DDIM sampling steps"),
    n: int = typer.Option(16, help="samples per guidance scale"),
) -> dict:
    """Train a tiny text-conditioned diffusion model; sample with CFG; score with CLIP."""
    import torch

    from ch20_multimodal.diffusion import clip_score, sample, train_diffusion
    from ch20_multimodal.vocab import WordTokenizer
    from ch20_multimodal.vqa import load_or_train
    from llmpath_core import UserError
    from llmpath_core.io import atomic_write

    try:
        scales = [float(g) for g in guidance.split(",")]
    except ValueError:
        raise UserError(f"--guidance {guidance!r}: give numbers like 1,3,5") from None
    WordTokenizer().encode(prompt + " " + negative)
    clip_model, _, _ = load_or_train(seed=run.seed, log=run.log)
    model = train_diffusion(clip_model, steps=steps, seed=run.seed).model
    rows, grids = [], []
    for w in scales:
        images = sample(model, clip_model, [prompt] * n, w, negative, sample_steps, run.seed)
        rows.append(
            {"guidance": w, "clip_score": round(clip_score(clip_model, images, [prompt] * n), 4)}
        )
        grids.append(images)
    run.table(rows, title=f"'{prompt}'" + (f", negative '{negative}'" if negative else ""))
    result = {"prompt": prompt, "negative": negative, "sweep": rows}
    if run.out is not None:
        from PIL import Image

        grid = torch.cat([torch.cat(list(g), dim=2) for g in grids], dim=1)
        array = ((grid.permute(1, 2, 0) + 1) * 127.5).clamp(0, 255).byte().numpy()
        with atomic_write(run.out, "wb") as fh:
            Image.fromarray(array).resize((array.shape[1] * 2, array.shape[0] * 2)).save(fh, "PNG")
        result["path"] = str(run.out)
    return result


@command(app, device=False, out=False)
def speak(
    run: Run,
    text: str = typer.Option("how many red circles", help="what to say"),
    voice: str = typer.Option("en-us", help="an espeak-ng voice"),
    speed: int = typer.Option(150, help="words per minute"),
) -> dict:
    """Say a sentence with espeak-ng; transcribe it with pocketsphinx (English LM, grammar)."""
    from ch20_multimodal.speech import scene_grammar, synthesize, transcribe, wer
    from ch20_multimodal.vocab import WORDS

    samples = synthesize(text, voice, speed)
    grammar = scene_grammar([w for w in WORDS if w.isalpha()])
    rows = []
    for name, g in (("pocketsphinx, English LM", None), ("pocketsphinx, scene grammar", grammar)):
        hyp = transcribe(samples, g)
        rows.append({"decoder": name, "transcript": hyp, "wer": round(wer(text, hyp), 3)})
    run.table(rows, title=f"'{text}' ({voice}, {speed} wpm, {len(samples) / 16000:.1f} s)")
    return {"text": text, "seconds": len(samples) / 16000, "results": rows}


@command(app, out=False)
def demo(
    run: Run,
    diffusion_steps: int = typer.Option(300, help="denoiser training steps"),
) -> dict:
    """The chapter in 2-3 minutes: CLIP + VQA (trained once, cached), OCR, speech, diffusion."""
    from ch20_multimodal.diffusion import clip_score, sample, train_diffusion
    from ch20_multimodal.documents import cer, ocr_image, render_text
    from ch20_multimodal.scenes import parse_spec
    from ch20_multimodal.speech import scene_grammar, synthesize, transcribe, wer
    from ch20_multimodal.vocab import WORDS
    from ch20_multimodal.vqa import answer, load_or_train, scene_to_pixels

    clip_model, vqa_model, info = load_or_train(seed=run.seed, log=run.log)
    scene = parse_spec(DEFAULT_SPEC, run.seed)
    pixels = scene_to_pixels(scene)
    asked = ["how many red circles?", "what colour is the square?", "is there a green triangle?"]
    answers = {q: answer(vqa_model, pixels, q) for q in asked}
    page = ocr_image(render_text(DEFAULT_PAGE))
    page_cer = cer(DEFAULT_PAGE, page.text)
    said = "is there a yellow circle"
    heard = transcribe(synthesize(said), scene_grammar([w for w in WORDS if w.isalpha()]))
    diff = train_diffusion(clip_model, steps=diffusion_steps, seed=run.seed).model
    prompts = ["1 red circle", "1 blue square", "1 green triangle", "1 yellow circle"] * 2
    scores = {
        w: round(
            clip_score(clip_model, sample(diff, clip_model, prompts, w, seed=run.seed), prompts), 4
        )
        for w in (1.0, 3.0)
    }
    em, shot = info["vqa"]["exact_match"], info["zero_shot"]
    rows = [
        {
            "lab": "CLIP zero-shot colour / shape",
            "result": f"{shot['colour_accuracy']:.2f} / {shot['shape_accuracy']:.2f}",
        },
        {
            "lab": "VQA exact match (held-out)",
            "result": f"{em:.2f} (majority {info['vqa']['majority_baseline']:.2f})",
        },
        *({"lab": f"VQA: {q}", "result": a} for q, a in answers.items()),
        {"lab": "OCR CER (rendered invoice)", "result": f"{page_cer:.3f}"},
        {"lab": f"speech: '{said}'", "result": f"'{heard}' (WER {wer(said, heard):.2f})"},
        {
            "lab": "diffusion CLIP-score w=1 / w=3",
            "result": f"{scores[1.0]:.3f} / {scores[3.0]:.3f}",
        },
    ]
    run.table(rows, title=f"ch20 demo: scene '{scene.caption()}'")
    return {
        "showed": "trained a tiny CLIP and a LLaVA-style VQA model on generated scenes, answered "
        "questions, OCR'd a rendered invoice, transcribed an espeak-ng clip and sampled a tiny "
        "diffusion model with and without guidance",
        "headline": f"VQA exact match {em:.0%} on held-out scene compositions (majority-answer "
        f"baseline {info['vqa']['majority_baseline']:.0%}); OCR CER "
        f"{page_cer:.1%}; guidance moved CLIP-score from {scores[1.0]:.3f} to {scores[3.0]:.3f}",
        "clip": {"zero_shot": info["zero_shot"], "retrieval": info["retrieval"]},
        "vqa": info["vqa"],
        "answers": answers,
        "ocr_cer": page_cer,
        "speech": {"text": said, "transcript": heard, "wer": wer(said, heard)},
        "diffusion_clip_score": {str(k): v for k, v in scores.items()},
    }


def main() -> None:
    """Console-script entry point."""
    run_app(app)


if __name__ == "__main__":
    main()
