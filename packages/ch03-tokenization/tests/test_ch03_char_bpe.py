"""Character BPE with byte fallback, held to HF BpeTrainer (merges) and HF BPE (encodings).

Tolerance: none — identical merge lists and ids.
"""

from __future__ import annotations

import json

from tokenizers import Regex, models, pre_tokenizers, trainers
from tokenizers import Tokenizer as HFTokenizer

from ch03_tokenization import CharBPETokenizer, load_tokenizer


def test_char_bpe_merges_and_ids_equal_hf(pydoc_docs, held_out, adversarial, tmp_path):
    docs = pydoc_docs[:30]
    ours = CharBPETokenizer().train(docs, 1200)
    hf = HFTokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Split(Regex(ours.pattern), behavior="isolated")
    alphabet = len(ours.vocab) - 256 - len(ours.merges)
    hf.train_from_iterator(docs, trainers.BpeTrainer(vocab_size=1200 - 256, show_progress=False))
    theirs = [
        m.split(" ") if isinstance(m, str) else list(m)
        for m in json.loads(hf.to_str())["model"]["merges"]
    ]
    assert alphabet > 50
    assert ours.to_hf_dict()["model"]["merges"] == theirs

    folder = ours.save(tmp_path / "char")
    loaded = HFTokenizer.from_file(str(folder / "tokenizer.json"))
    again = load_tokenizer(folder)
    for text in [held_out["pydoc"][:30_000], *adversarial]:
        ids = ours.encode(text)
        assert ids == loaded.encode(text, add_special_tokens=False).ids
        assert again.encode(text) == ids
        assert ours.decode(ids) == text  # byte fallback: unseen characters survive


def test_unseen_characters_use_byte_fallback(stories_docs):
    tok = CharBPETokenizer().train(stories_docs[:50], 400)
    ids = tok.encode("🤖")
    assert ids == list("🤖".encode())  # four byte tokens, ids 0..255
    assert tok.tokens(ids) == ["<0xF0>", "<0x9F>", "<0xA4>", "<0x96>"]
