"""A chat backend for a local transformers causal LM (a checkpoint folder with a chat template).

Conventions
-----------
- The checkpoint is a local folder (``config.json``, weights, tokenizer files); it is loaded with
  ``local_files_only=True``, so nothing is ever downloaded. A hub id such as ``Qwen/Qwen2.5-0.5B-Instruct``
  is rejected: download it yourself and pass the folder.
- The tokenizer must have a chat template (instruction-tuned checkpoints do); a base model without one
  is rejected rather than prompted with a made-up format. Templates that refuse a ``system`` role
  (e.g. Gemma's) get the system text folded into the first user message.
- Decoding is greedy at ``temperature == 0`` (deterministic); at ``temperature > 0`` it samples with the
  checkpoint's own top-k/top-p settings, seeded with ``seed`` (the global torch RNG is left untouched).
- Only the newly generated tokens are decoded (special tokens skipped) and the text is stripped.
- ``max_new_tokens`` is capped to what fits in the model's context (``max_position_embeddings``); a
  prompt that does not fit at all is an error. ``timeout_s`` is passed to ``generate(max_time=...)``;
  a generation cut short by it is an error ("timed out after Ns"), not a truncated answer.
- Device: ``cpu`` (default, float32), ``cuda``/``cuda:N`` (the checkpoint's dtype), or ``auto``
  (cuda when available, else cpu).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from musicllm.errors import MissingDependencyError
from musicllm.language.backends.base import (
    Backend,
    BackendError,
    Message,
    merge_system,
    nonempty,
    validate_messages,
    validate_options,
)

INSTALL_HINT = "pip install torch transformers"


def _import_torch_transformers():
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(f"the transformers LLM backend needs torch and transformers "
                                     f"({exc.name} is missing): {INSTALL_HINT}") from None
    return torch, transformers


class TransformersBackend(Backend):
    """Chat with a local checkpoint folder. The tokenizer loads now, the weights on first use."""

    def __init__(self, path: str | Path, *, device: str = "cpu",
                 generation_kwargs: dict[str, Any] | None = None) -> None:
        """``generation_kwargs`` are extra ``model.generate`` arguments (e.g. ``min_new_tokens``)."""
        self.path = Path(path).expanduser()
        self.name = f"transformers:{path}"
        self.generation_kwargs = dict(generation_kwargs or {})
        if not self.path.exists():
            raise BackendError(self.name, "no such checkpoint folder (give a local folder; models are "
                                          "never downloaded)")
        if not self.path.is_dir():
            raise BackendError(self.name, "not a folder (give the checkpoint folder, not a file)")
        if not (self.path / "config.json").is_file():
            raise BackendError(self.name, "not a transformers checkpoint folder (no config.json)")
        self.device = self._resolve_device(device)
        self._model: Any = None
        self._lock = threading.RLock()  # one generation at a time (server threads)
        self.tokenizer = self._load_tokenizer()

    def _resolve_device(self, device: str) -> str:
        torch, _ = _import_torch_transformers()
        dev = (device or "cpu").strip().lower()
        if dev == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if dev.startswith("cuda"):
            if not torch.cuda.is_available():
                raise BackendError(self.name, f"device {dev} requested but CUDA is not available")
            try:
                index = int(dev.partition(":")[2] or 0)
            except ValueError:
                raise BackendError(self.name, f"bad device {device!r} (use cpu, cuda, cuda:N or auto)") from None
            if index >= torch.cuda.device_count():
                raise BackendError(self.name, f"device {dev} requested but only "
                                              f"{torch.cuda.device_count()} CUDA device(s) exist")
            return dev
        if dev in ("cpu", "mps"):
            return dev
        raise BackendError(self.name, f"bad device {device!r} (use cpu, cuda, cuda:N or auto)")

    def _load_tokenizer(self) -> Any:
        _, transformers = _import_torch_transformers()
        try:
            tok = transformers.AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        except Exception as exc:  # a user's checkpoint can fail in many ways; say which, in one line
            raise BackendError(self.name, f"cannot load the tokenizer ({type(exc).__name__}: {exc})") from None
        if not getattr(tok, "chat_template", None):
            raise BackendError(self.name, "the tokenizer has no chat template; use an instruction-tuned "
                                          "(chat) checkpoint or add chat_template to tokenizer_config.json")
        return tok

    def load(self) -> Any:
        """Load the weights (once) onto the device and return the model."""
        with self._lock:
            if self._model is None:
                torch, transformers = _import_torch_transformers()
                dtype = torch.float32 if self.device == "cpu" else "auto"
                try:
                    model = transformers.AutoModelForCausalLM.from_pretrained(
                        str(self.path), local_files_only=True, dtype=dtype).to(self.device)
                except Exception as exc:  # same as for the tokenizer: one line naming the checkpoint
                    raise BackendError(self.name, f"cannot load the model ({type(exc).__name__}: {exc})") from None
                self._model = model.eval()
            return self._model

    def check(self, timeout_s: float = 10.0) -> None:
        """Load the weights now, so a broken checkpoint fails before long analysis work."""
        self.load()

    def _encode(self, messages: list[Message]) -> Any:
        from jinja2.exceptions import TemplateError

        kwargs = {"add_generation_prompt": True, "return_tensors": "pt", "return_dict": True}
        try:
            return self.tokenizer.apply_chat_template(messages, **kwargs)
        except TemplateError as exc:
            if any(m["role"] == "system" for m in messages):  # e.g. "System role not supported"
                try:
                    return self.tokenizer.apply_chat_template(merge_system(messages), **kwargs)
                except TemplateError:
                    pass
            raise BackendError(self.name, f"the chat template failed ({exc})") from None

    def generate_text(self, messages: Sequence[Message], *, max_new_tokens: int = 256,
                      temperature: float = 0.0, seed: int = 0, timeout_s: float = 60.0) -> str:
        """Like :meth:`chat` but may return ``''`` (what an HTTP server relays as empty content)."""
        torch, _ = _import_torch_transformers()
        msgs = validate_messages(messages, self.name)
        validate_options(self.name, max_new_tokens, temperature, timeout_s)
        model = self.load()
        with self._lock:  # the tokenizer and the model are shared by server threads
            enc = self._encode(msgs).to(self.device)
            n_prompt = int(enc["input_ids"].shape[1])
            context = getattr(model.config, "max_position_embeddings", None)
            if context:
                if n_prompt >= context:
                    raise BackendError(self.name, f"the prompt is {n_prompt} tokens but the model's context "
                                                  f"is {context}; send fewer facts")
                max_new_tokens = min(max_new_tokens, context - n_prompt)
            config = self._generation_config(model, max_new_tokens, temperature, timeout_s)
            devices = [torch.device(self.device)] if self.device.startswith("cuda") else []
            with torch.inference_mode(), torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                start = time.perf_counter()
                out = model.generate(**enc, generation_config=config, **self.generation_kwargs)
                elapsed = time.perf_counter() - start
            new = out[0, n_prompt:]
            eos = set(_as_list(config.eos_token_id))
            finished = len(new) >= max_new_tokens or (len(new) > 0 and int(new[-1]) in eos)
            if elapsed >= timeout_s and not finished:
                raise BackendError(self.name, f"timed out after {timeout_s:g}s")
            return self.tokenizer.decode(new, skip_special_tokens=True).strip()

    def _generation_config(self, model: Any, max_new_tokens: int, temperature: float, timeout_s: float) -> Any:
        config = copy.deepcopy(model.generation_config)
        config.max_new_tokens = max_new_tokens
        config.max_length = None
        config.max_time = timeout_s
        if config.pad_token_id is None:
            pad = self.tokenizer.pad_token_id
            config.pad_token_id = pad if pad is not None else _first(config.eos_token_id)
        if temperature > 0:
            config.do_sample, config.temperature = True, temperature
        else:  # greedy: clear sampling settings so generate() does not warn about unused flags
            config.do_sample, config.num_beams = False, 1
            config.temperature = config.top_p = config.top_k = config.min_p = config.typical_p = None
        return config

    def chat(self, messages: Sequence[Message], *, max_new_tokens: int = 256, temperature: float = 0.0,
             seed: int = 0, timeout_s: float = 60.0) -> str:
        text = self.generate_text(messages, max_new_tokens=max_new_tokens, temperature=temperature,
                                  seed=seed, timeout_s=timeout_s)
        return nonempty(text, self.name)

    def model_id(self) -> str:
        """A short name for this checkpoint: its folder's name."""
        return self.path.resolve().name


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]


def _first(value: Any) -> int | None:
    ids = _as_list(value)
    return ids[0] if ids else None
