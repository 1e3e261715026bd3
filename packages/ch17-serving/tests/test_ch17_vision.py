"""Image parts for real: a tiny random-init GIT captioner saved offline, loaded by `serve`'s
`--vision-model` path (transformers' captioning pipeline), its caption routed into the prompt."""

from __future__ import annotations

import base64
import io

import openai
import pytest

from ch17_serving.labs import ServeConfig, build_app
from ch17_serving.server import ServerThread
from ch17_serving.vision import captioning_task, load_captioner
from llmpath_core import UserError

KEY = "sk-vision"


@pytest.fixture(scope="module")
def captioner_dir(tmp_path_factory):
    """A GIT model (1 vision + 1 text layer, width 32), its processor and a byte tokenizer whose
    post-processor adds the start token, as GIT's BERT tokenizer adds [CLS]."""
    import torch
    from tokenizers import processors
    from transformers import CLIPImageProcessor, GitConfig, GitForCausalLM, GitProcessor

    from llmpath_core.testing import byte_tokenizer

    torch.manual_seed(0)
    tok = byte_tokenizer()
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", 0)]
    )
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    config = GitConfig(
        vision_config=vision,
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=0,
    )
    folder = tmp_path_factory.mktemp("git-captioner")
    GitForCausalLM(config).eval().save_pretrained(folder)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    GitProcessor(image_processor=image_processor, tokenizer=tok).save_pretrained(folder)
    return folder


def _image(color: tuple[int, int, int]):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (48, 40), color)
    ImageDraw.Draw(img).rectangle((8, 8, 30, 28), fill=(255 - color[0], color[2], color[1]))
    return img


def _data_url(img) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_captioner_is_transformers_pipeline(captioner_dir):
    """Parity: our captioner == transformers' own pipeline on the same folder (exact text)."""
    from transformers import pipeline

    ours = load_captioner(captioner_dir, max_new_tokens=8)
    pipe = pipeline(captioning_task(), model=str(captioner_dir))
    gen = {"max_new_tokens": 8, "do_sample": False}
    captions = []
    for color in ((200, 10, 10), (10, 10, 220)):
        img = _image(color)
        if captioning_task() == "image-to-text":
            theirs = pipe(img, generate_kwargs=gen)[0]["generated_text"]
        else:
            theirs = pipe(images=img, text="", return_full_text=False, generate_kwargs=gen)
            theirs = theirs[0]["generated_text"]
        assert ours(img) == theirs.strip()
        captions.append(ours(img))
    assert all(captions)  # a random model still writes something for every image


def test_image_part_reaches_the_model_as_the_caption(backend, captioner_dir):
    """`--vision-model DIR` end to end: the reply to [text, image] at temperature 0 is the reply to
    the text followed by `[image: <the pipeline's caption>]`, and so is the prompt's length."""
    server = ServerThread(
        build_app(ServeConfig(api_keys=[KEY], vision_model=str(captioner_dir)), backend)
    ).start()
    try:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
        img = _image((30, 160, 60))
        caption = load_captioner(captioner_dir)(img)  # the server's default caption length
        with_image = client.chat.completions.create(
            model="default",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in this picture?"},
                        {"type": "image_url", "image_url": {"url": _data_url(img)}},
                    ],
                }
            ],
            temperature=0,
            max_tokens=12,
        )
        as_text = client.chat.completions.create(
            model="default",
            messages=[{"role": "user", "content": f"What is in this picture? [image: {caption}]"}],
            temperature=0,
            max_tokens=12,
        )
        assert with_image.usage.prompt_tokens == as_text.usage.prompt_tokens
        assert with_image.choices[0].message.content == as_text.choices[0].message.content
        without = client.chat.completions.create(
            model="default",
            messages=[{"role": "user", "content": "What is in this picture?"}],
            temperature=0,
            max_tokens=12,
        )
        assert without.usage.prompt_tokens < with_image.usage.prompt_tokens
        with pytest.raises(openai.BadRequestError):  # a broken image is still a 400
            client.chat.completions.create(
                model="default",
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {"url": "data:image/png;base64,bm90IGFuIGltYWdl"},
                            }
                        ],
                    }
                ],
            )
    finally:
        server.stop(timeout=10)


def test_a_folder_that_is_not_a_captioner_is_a_user_error(tmp_path, backend):
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(UserError, match="--vision-model"):
        build_app(ServeConfig(vision_model=str(tmp_path)), backend)
    with pytest.raises(UserError, match="not a folder"):
        build_app(ServeConfig(vision_model=str(tmp_path / "missing")), backend)
