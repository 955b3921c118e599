"""A tiny random chat checkpoint for tests and demos (audiocraft's "debug model" idea): no hub, no data.

``build_debug_chat_model(folder)`` trains a 400-token byte-level BPE tokenizer on a few sentences, gives
it a chat template, builds a random 2-layer Llama (hidden size 32, about 30k parameters) from its config
and saves both, so ``--llm transformers:FOLDER`` and ``serve_openai FOLDER`` can be exercised offline in
about a second. Its replies are random bytes, of course: it tests plumbing, not language.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIALS = ["<|pad|>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
CORPUS = [
    "A slow piano ballad in C major at 72 BPM with soft strings.",
    "An upbeat rock song in 4/4 with distorted electric guitar, bass and drums.",
    "The tempo is 120 beats per minute; the key is A minor; the meter is 3/4.",
    "I can't tell from the recording.",
    '{"tempo_bpm":{"value":96.0,"confidence":0.8},"key":{"value":"G major","confidence":0.4}}',
]


def build_debug_chat_model(folder: Path, *, chat_template: str | None = CHAT_TEMPLATE, mute: bool = False) -> Path:
    """Save a random 2-layer Llama (hidden 32) and a 400-token byte-level BPE tokenizer to ``folder``.

    A random model may emit its end token at once, or only newlines; the saved ``generation_config.json``
    rules that out by suppressing the special and whitespace-only tokens, so replies are never empty.
    ``mute=True`` suppresses every other token instead: the checkpoint can only emit special tokens and
    whitespace, so its stripped reply is always empty.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(CORPUS * 4, trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<|pad|>", eos_token="<|end|>",
                                  bos_token="<|endoftext|>")
    if chat_template:
        tok.chat_template = chat_template
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                         bos_token_id=tok.bos_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    blank = [i for i in range(len(tok)) if not tok.decode([i], skip_special_tokens=True).strip()]
    model.generation_config.suppress_tokens = [i for i in range(len(tok)) if i not in blank] if mute else blank
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


if __name__ == "__main__":  # python -m musicllm.language.backends.debug_model OUT_FOLDER [--mute]
    import sys

    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: python -m musicllm.language.backends.debug_model OUT_FOLDER [--mute]")
    print(build_debug_chat_model(Path(sys.argv[1]), mute="--mute" in sys.argv[2:]))
