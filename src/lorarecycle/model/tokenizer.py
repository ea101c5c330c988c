"""Word-level tokenizer for the built-in model.

A WordPiece vocabulary holding whole template words and the name syllables (word-initial
and "##" continuation forms): template words are single tokens, names split into
syllables. It is written out as a standard `PreTrainedTokenizerFast`.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from ..tasks.names import SYLLABLES
from ..tasks.text import PUNCTUATION, TEMPLATE_WORDS

SPECIAL = {"pad": "[PAD]", "unk": "[UNK]", "bos": "[BOS]", "eos": "[EOS]"}


def build_tokenizer(extra_words: Iterable[str]) -> PreTrainedTokenizerFast:
    words = list(dict.fromkeys([*TEMPLATE_WORDS, *PUNCTUATION, *(w.lower() for w in extra_words)]))
    pieces = [*SYLLABLES, *(f"##{s}" for s in SYLLABLES)]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys([*SPECIAL.values(), *words, *pieces]))}
    core = Tokenizer(models.WordPiece(vocab, unk_token=SPECIAL["unk"], max_input_chars_per_word=64))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    core.decoder = decoders.WordPiece(prefix="##")
    bos = SPECIAL["bos"]
    core.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, vocab[bos])])
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=SPECIAL["bos"],
        eos_token=SPECIAL["eos"],
        pad_token=SPECIAL["pad"],
        unk_token=SPECIAL["unk"],
        padding_side="left",
    )
