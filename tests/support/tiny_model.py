"""Build a tiny random causal language model and tokenizer on disk, for tests and benchmarks.

The model is untrained (its answers are noise) but it is a real transformers model: it
loads through AutoTokenizer / AutoModelForCausalLM exactly like one from the hub, and the
same seed always gives the same weights, so greedy answers are reproducible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|eos|>", "<|system|>", "<|user|>", "<|assistant|>"]
CORPUS = [
    "Hello there! How are you today? I am fine, thank you.",
    "The quick brown fox jumps over the lazy dog.",
    "User: what is the capital of France?\nAssistant: Paris is the capital of France.",
    "Parley answers questions in Discord, Slack and the terminal.",
    "Numbers 0 1 2 3 4 5 6 7 8 9 and punctuation: ; , . ! ? ( ) [ ] { } - _ = +",
    "Café, naïve, über, 東京, emoji 🙂 and other UTF-8 text.",
]


def build_tiny_model(
    directory: str | Path,
    *,
    chat_template: bool | str = True,
    arch: Literal["llama", "gpt2"] = "llama",
    layers: int = 2,
    hidden: int = 64,
    heads: int = 4,
    vocab_size: int = 512,
    max_positions: int = 512,
    seed: int = 0,
) -> Path:
    """Write a tokenizer and a random model of the given shape to `directory`; return it.

    `chat_template`: CHAT_TEMPLATE, none, or this Jinja template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|bos|>",
        eos_token="<|eos|>",
        pad_token="<|pad|>",
        model_max_length=max_positions,
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE if chat_template is True else chat_template
    tokenizer.save_pretrained(directory)

    ids = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    torch.manual_seed(seed)
    if arch == "llama":
        config = LlamaConfig(
            hidden_size=hidden,
            intermediate_size=hidden * 2,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=max(1, heads // 2),
            max_position_embeddings=max_positions,
            **ids,
        )
        model = LlamaForCausalLM(config)
    else:
        config = GPT2Config(
            n_embd=hidden, n_layer=layers, n_head=heads, n_positions=max_positions, **ids
        )
        model = GPT2LMHeadModel(config)
    model.save_pretrained(directory)
    return directory
