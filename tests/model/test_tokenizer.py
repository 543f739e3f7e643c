"""The prompt tokenizer: closed vocabulary, round trip, [UNK], JSON form."""

from __future__ import annotations

from terrahash.data import load_dataset
from terrahash.metadata.prompt import render_text
from terrahash.model.tokenizer import UNK, PromptTokenizer, tokenize_words
from tests.model.conftest import UCM


def test_real_prompts_round_trip_without_unknowns() -> None:
    tok = PromptTokenizer(max_length=80)
    for name in ("bigearthnet_configilm", "eolearn_slovenia"):
        ds = load_dataset(UCM.parent / name)
        for item in list(ds)[:10]:
            text = render_text(item.record)
            ids = tok.encode(text)
            assert tok.index[UNK] not in ids, text
            assert tok.decode(ids) == " ".join(tokenize_words(text))


def test_unknown_words_map_to_unk_and_digits_split() -> None:
    tok = PromptTokenizer()
    ids = tok.encode("Image from zorglub-7, acquired june 2017")
    assert tok.decode(ids) == f"image from {UNK} - 7 , acquired june 2 0 1 7"


def test_batch_is_padded_and_dict_round_trips() -> None:
    tok = PromptTokenizer(max_length=12)
    batch = tok(["image from landsat-8", "cloud cover 5 percent, sun elevation 40 degrees and more"])
    assert batch.shape == (2, 12)
    assert int(batch[0, -1]) == tok.pad_id
    again = PromptTokenizer.from_dict(tok.to_dict())
    assert again.vocabulary == tok.vocabulary and (again(["image"]) == tok(["image"])).all()
