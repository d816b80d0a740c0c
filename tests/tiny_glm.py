"""Tiny GLM models for tests and benchmarks, built offline in a few hundred milliseconds.

- `build_native(folder)`: a randomly initialised Glm4ForCausalLM (or GlmForCausalLM) with a BPE
  tokenizer trained on a few sentences and GLM-4's chat template, saved with `save_pretrained`;
  loaded back through `AutoModelForCausalLM.from_pretrained` like GLM-4-9B-chat-hf.
- `build_remote(folder)`: a folder like ChatGLM2-6B's: config.json whose `auto_map` points at a
  modeling file written here, exposing `stream_chat` and `build_inputs`; it loads only with
  `trust_remote_code=True`.

`python -m tests.tiny_glm DIR [--hidden 512 --layers 4]` writes a native one for the benchmark.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

SPECIALS = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
            "<|assistant|>", "<|observation|>", "<unk>"]
# GLM-4-9B-chat-hf's template, shortened: [gMASK]<sop> then <|role|>\ncontent per message.
CHAT_TEMPLATE = ("[gMASK]<sop>{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
CORPUS = [
    "Hello, how are you today? I am fine, thank you.",
    "The quick brown fox jumps over the lazy dog.",
    "You are a helpful assistant. Answer in one short sentence.",
    "Tell me a story about a small model that runs on a CPU.",
    "What is the capital of France? Paris is the capital of France.",
    "你好，我是一个很小的模型。今天天气很好。",
    "请用一句话回答：什么是大语言模型？",
    "0123456789 + - * / = ( ) [ ] { } < > : ; ' \" ! ? . , @ # $ % & _",
]


def tokenizer(vocab_size: int = 400) -> Any:
    """A byte-free BPE (every token decodes to visible text) wrapped like GLM-4's fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False)
    bpe.train_from_iterator(CORPUS * 5, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   unk_token="<unk>", chat_template=CHAT_TEMPLATE)


def build_native(folder: Path, arch: str = "glm4", hidden: int = 64, layers: int = 2,
                 window: int = 2048, seed: int = 0) -> Path:
    """Save a random tiny GLM-4 (`arch` "glm4": Glm4ForCausalLM, "glm": GlmForCausalLM) to `folder`."""
    import torch
    from transformers import Glm4Config, Glm4ForCausalLM, GlmConfig, GlmForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    tok = tokenizer()
    tok.save_pretrained(folder)
    eos = [tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|user|>", "<|observation|>")]
    heads = max(2, hidden // 32)
    config_cls, model_cls = (Glm4Config, Glm4ForCausalLM) if arch == "glm4" else (GlmConfig, GlmForCausalLM)
    config = config_cls(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
                        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=2,
                        head_dim=hidden // heads, max_position_embeddings=window, eos_token_id=eos,
                        pad_token_id=tok.pad_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    model_cls(config).save_pretrained(folder)
    return folder


REMOTE_CODE = '''
"""A stand-in for ChatGLM2-6B's modeling_chatglm.py: the same stream_chat / build_inputs calls."""
import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel


class TinyChatGLMConfig(PretrainedConfig):
    model_type = "tiny_chatglm"

    def __init__(self, vocab_size=400, hidden_size=16, seq_length=1024, **kwargs):
        self.vocab_size, self.hidden_size, self.seq_length = vocab_size, hidden_size, seq_length
        super().__init__(**kwargs)


class TinyChatGLMModel(PreTrainedModel):
    config_class = TinyChatGLMConfig
    base_model_prefix = "tiny"

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def _init_weights(self, module):
        pass

    def forward(self, input_ids):
        return self.head(self.embed(input_ids).cumsum(dim=1))

    def build_inputs(self, tokenizer, query, history=None):
        messages = []
        for q, a in history or []:
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        messages.append({"role": "user", "content": query})
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                             return_dict=True)

    @torch.inference_mode()
    def stream_chat(self, tokenizer, query, history=None, past_key_values=None, max_length=8192,
                    do_sample=True, top_p=0.8, temperature=0.8, logits_processor=None,
                    return_past_key_values=False, **kwargs):
        history = list(history or [])
        ids = self.build_inputs(tokenizer, query, history)["input_ids"].to(self.device)
        new = []
        while ids.shape[1] < max_length:
            nxt = int(self.forward(ids)[0, -1].argmax())
            if nxt == self.config.eos_token_id:
                break
            new.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]], device=ids.device)], dim=1)
            response = tokenizer.decode(new, skip_special_tokens=True)
            yield response, history + [(query, response)]
'''


def build_remote(folder: Path, seed: int = 0) -> Path:
    """A ChatGLM2-like folder: its own modeling code (auto_map), weights, and the tiny tokenizer."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tok = tokenizer()
    tok.save_pretrained(folder)
    (folder / "modeling_tiny_chatglm.py").write_text(REMOTE_CODE, encoding="utf-8")
    hidden = 16
    config = {
        "model_type": "tiny_chatglm", "architectures": ["TinyChatGLMModel"], "vocab_size": len(tok),
        "hidden_size": hidden, "seq_length": 1024, "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id, "torch_dtype": "float32",
        "auto_map": {"AutoConfig": "modeling_tiny_chatglm.TinyChatGLMConfig",
                     "AutoModel": "modeling_tiny_chatglm.TinyChatGLMModel"},
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    generator = torch.Generator().manual_seed(seed)
    save_file({"embed.weight": torch.randn(len(tok), hidden, generator=generator),
               "head.weight": torch.randn(len(tok), hidden, generator=generator)},
              str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


@pytest.fixture(scope="session", name="tiny_glm_dir")
def tiny_glm_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny native GLM-4 saved once per test session."""
    return build_native(tmp_path_factory.mktemp("tiny-glm4"))


@pytest.fixture(scope="session", name="tiny_remote_dir")
def tiny_remote_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ChatGLM2-like remote-code model saved once per test session."""
    return build_remote(tmp_path_factory.mktemp("tiny-chatglm2"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.tiny_glm", description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--arch", choices=("glm4", "glm"), default="glm4")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args(argv)
    build_native(args.folder, args.arch, args.hidden, args.layers)
    print(args.folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
