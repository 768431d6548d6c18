# SPDX-License-Identifier: GPL-3.0-or-later
"""LoRA fine-tuning (peft) of the captioner and of the inpainting generator; resumable.

  captioner  image -> caption language-model loss of an image-to-text card (BLIP, GIT ...),
             LoRA on the text decoder's attention projections
  generator  the diffusion noise-prediction MSE of an inpainting UNet (9 input channels: noisy
             latents + mask + masked-image latents), LoRA on to_q/to_k/to_v/to_out.0; masks are
             random "key region" rectangles kept, the rest regenerated, as the codec uses it

Data (``--data DIR``): images with a caption in a same-stem .txt file, or a JSONL file in DIR
(``metadata.jsonl``/``captions.jsonl``/any ``*.jsonl``) of {"file_name"|"image": ..., "text"|"caption": ...}.
The generator also trains on images without captions (empty prompt).

Output (``--out DIR``): the adapter as safetensors (peft's adapter_model.safetensors for the
captioner, diffusers' pytorch_lora_weights.safetensors for the generator), ``training_log.json``,
and a card ``<base>-<DIR name>.yaml`` naming the adapter, loadable with ``--models`` (by path, or
by name once DIR sits in a models folder). ``DIR/checkpoint/`` holds the state to ``--resume``:
adapter weights, optimizer state and RNG states in safetensors, counters in JSON (no pickle).
"""
from __future__ import annotations

import copy
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import BadInputError
from ..fileio import write_text_atomic
from ..imageio import IMAGE_SUFFIXES
from .cards import ModelCard, load_card, save_card
from .loading import LoadSpec, floating_dtype, inputs_to, load_processor, load_transformers_model

TASK_BACKENDS = {"captioner": ("image-to-text",), "generator": ("diffusers-inpaint", "realesrgan")}
UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


@dataclass
class TrainConfig:
    """What to train. ``alpha`` None = ``rank``; ``resolution_px`` None = card's, at most 512."""

    task: str
    card: str
    data: str
    out: str
    rank: int = 8
    alpha: float | None = None
    steps: int = 100
    lr: float = 1e-4
    batch_size: int = 1
    quant: str = "none"
    save_every: int = 50
    seed: int = 0
    resolution_px: int | None = None
    targets: list = field(default_factory=list)
    device: str | None = None


def load_pairs(folder, need_captions=True) -> list:
    """[(image path, caption)] from ``folder`` (JSONL or .txt beside each image; see module doc)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"--data: {folder} is not a folder")
    jsonl = [folder / n for n in ("metadata.jsonl", "captions.jsonl") if (folder / n).is_file()] \
        or sorted(folder.glob("*.jsonl"))
    pairs = []
    if jsonl:
        for number, line in enumerate(jsonl[0].read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                image = folder / (row.get("file_name") or row["image"])
                text = str(row.get("text", row.get("caption", "")))
            except (ValueError, KeyError, TypeError, AttributeError):
                raise BadInputError(f"{jsonl[0]}:{number}: expected "
                                    '{"file_name": ..., "text": ...}') from None
            pairs.append((image, text))
    else:
        for image in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            caption = image.with_suffix(".txt")
            pairs.append((image, caption.read_text(encoding="utf-8").strip() if caption.is_file() else ""))
    missing = [str(p) for p, _ in pairs if not p.is_file()]
    if missing:
        raise BadInputError(f"--data: image(s) listed but missing: {', '.join(missing[:3])}")
    if not pairs:
        raise BadInputError(f"--data: no images ({', '.join(IMAGE_SUFFIXES)}) or JSONL in {folder}")
    if need_captions and not all(text for _, text in pairs):
        raise BadInputError(f"--data: every image needs a caption (same-stem .txt or JSONL 'text') for "
                            f"captioner training; {sum(not t for _, t in pairs)} of {len(pairs)} have none")
    return pairs


def _read_rgb(path, size=None):
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("RGB")
        if size:
            side = min(im.size)  # centre square crop, then resize
            left, top = (im.width - side) // 2, (im.height - side) // 2
            im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
        return np.asarray(im)


# ---- checkpoint state: safetensors tensors + JSON scalars -----------------------------------
def _flatten_optimizer(state_dict):
    tensors, scalars = {}, {}
    for index, entry in state_dict["state"].items():
        for key, value in entry.items():
            name = f"state.{index}.{key}"
            if hasattr(value, "dtype"):
                tensors[name] = value.detach().cpu().contiguous()
            else:
                scalars[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors, meta):
    state = {}
    items = list(tensors.items()) + list(meta["scalars"].items())
    for name, value in items:
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(folder, step, trainable, optimizer, generator, losses, config):
    """Write a resumable checkpoint to ``folder`` (safetensors + JSON, atomically per file)."""
    import torch
    from safetensors.torch import save_file

    from ..fileio import atomic_path
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "adapter.safetensors") as tmp:
        save_file({n: p.detach().cpu().contiguous() for n, p in trainable.items()}, str(tmp))
    tensors, meta = _flatten_optimizer(optimizer.state_dict())
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.data"] = generator.get_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    with atomic_path(folder / "optimizer.safetensors") as tmp:
        save_file(tensors, str(tmp))
    meta.update(step=step, losses=losses, config=asdict(config), python_rng=_json_rng(random.getstate()))
    write_text_atomic(folder / "trainer.json", json.dumps(meta))


def _json_rng(state):
    return [state[0], list(state[1]), state[2]]


def load_checkpoint(folder, config, trainable, optimizer, generator):
    """Restore a checkpoint written by ``save_checkpoint``; returns (step, losses)."""
    import torch
    from safetensors.torch import load_file
    meta = json.loads((folder / "trainer.json").read_text(encoding="utf-8"))
    saved = meta["config"]
    for key in ("task", "card", "rank", "alpha", "quant", "targets", "batch_size"):
        if saved.get(key) != getattr(config, key):
            raise BadInputError(f"--resume: checkpoint in {folder} was trained with "
                                f"{key}={saved.get(key)!r}, "
                                f"not {getattr(config, key)!r}; use the same settings or a new --out")
    weights = load_file(str(folder / "adapter.safetensors"))
    if set(weights) != set(trainable):
        raise BadInputError(f"--resume: adapter in {folder} does not match this model's LoRA layers")
    with torch.no_grad():
        for name, param in trainable.items():
            param.copy_(weights[name].to(param.device, param.dtype))
    tensors = load_file(str(folder / "optimizer.safetensors"))
    torch.set_rng_state(tensors.pop("rng.torch"))
    generator.set_state(tensors.pop("rng.data"))
    cuda_state = tensors.pop("rng.cuda", None)
    if cuda_state is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda_state)
    optimizer.load_state_dict(_unflatten_optimizer(tensors, meta))
    version, internal, gauss = meta["python_rng"]
    random.setstate((version, tuple(internal), gauss))
    return int(meta["step"]), list(meta["losses"])


# ---- the two trainers -------------------------------------------------------------------------
class _Trainer:
    """Shared loop: steps, loss, progress callback, checkpoints, resume, outputs."""

    def __init__(self, config: TrainConfig, card: ModelCard):
        import torch
        self.config, self.card = config, card
        self.out = Path(config.out)
        self.generator = torch.Generator("cpu").manual_seed(config.seed)
        torch.manual_seed(config.seed)  # LoRA initialisation draws from the global generator
        cuda = str(config.device or "").startswith("cuda")
        self.spec = LoadSpec.resolve(_training_card(card), quant=config.quant, device=config.device,
                                     dtype=None if cuda else "float32")

    def trainable(self) -> dict:
        return {n: p for n, p in self.model.named_parameters() if p.requires_grad}

    def keep_trainable_layout(self):
        """bitsandbytes repacks 4-bit CPU weights for inference at the first eval-mode forward,
        after which backward fails; training keeps the trainable layout."""
        for module in self.model.modules():
            if hasattr(module, "support_avx512bf16_for_cpu"):
                module.support_avx512bf16_for_cpu = False

    def run(self, resume=False, on_step=None) -> dict:
        """Train; ``on_step(step, loss)`` after each step. Returns the training log dict."""
        import torch
        self.keep_trainable_layout()
        trainable = self.trainable()
        optimizer = torch.optim.AdamW(list(trainable.values()), lr=self.config.lr)
        checkpoint = self.out / "checkpoint"
        step, losses = 0, []
        if resume:
            if not (checkpoint / "trainer.json").is_file():
                raise BadInputError(f"--resume: no checkpoint in {checkpoint}")
            step, losses = load_checkpoint(checkpoint, self.config, trainable, optimizer, self.generator)
        eval_before = self.eval_loss()
        self.model.train()
        while step < self.config.steps:
            optimizer.zero_grad(set_to_none=True)
            loss = self.loss(self.batch())
            loss.backward()
            optimizer.step()
            step += 1
            losses.append(float(loss.detach()))
            if on_step:
                on_step(step, losses[-1])
            if step % self.config.save_every == 0 or step == self.config.steps:
                save_checkpoint(checkpoint, step, trainable, optimizer, self.generator, losses, self.config)
        self.model.eval()
        log = {"task": self.config.task, "card": self.card.name, "steps": step, "losses": losses,
               "eval_loss_before": eval_before, "eval_loss_after": self.eval_loss(),
               "trainable_parameters": sum(p.numel() for p in trainable.values()),
               "config": asdict(self.config)}
        self.save_adapter()
        log["card_path"] = str(self.write_card())
        write_text_atomic(self.out / "training_log.json", json.dumps(log, indent=1))
        return log

    def eval_loss(self) -> float:
        """Loss on a fixed batch with fixed noise (the same before and after training)."""
        import torch
        state = self.generator.get_state()
        self.generator.manual_seed(self.config.seed + 12345)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            value = float(self.loss(self.batch(first=True)))
        self.generator.set_state(state)
        self.model.train(was_training)
        return value

    def write_card(self) -> Path:
        """A copy of the base card naming the new adapter (checkpoint made absolute)."""
        new = copy.deepcopy(self.card)
        new.name = f"{self.card.name}-{self.out.name}"
        new.based_on = self.card.name
        new.description = f"{self.card.name} + LoRA adapter {self.out.name} (rank {self.config.rank}, " \
                          f"{self.config.steps} steps on {Path(self.config.data).name})"
        if new.checkpoint.get("path"):
            path = Path(str(new.checkpoint["path"])).expanduser()
            new.checkpoint["path"] = str(path if path.is_absolute() else (self.card.folder / path).resolve())
        from .cards import LoraRef
        new.lora = [LoraRef(name=self.out.name, path=".", scale=1.0)]
        return save_card(new, self.out / f"{new.name}.yaml")

    def sample_indices(self, first=False):
        import torch
        n = len(self.pairs)
        if first:
            return [i % n for i in range(self.config.batch_size)]
        return torch.randint(0, n, (self.config.batch_size,), generator=self.generator).tolist()


def _training_card(card):
    """The card without its adapters (training starts from the base weights)."""
    base = copy.deepcopy(card)
    base.lora = []
    return base


def _lora_targets(model, config, fallback):
    if config.targets:
        return list(config.targets)
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    for group in (["query", "key", "value"], ["q_proj", "k_proj", "v_proj"]):
        if all(g in names for g in group):
            return group
    return fallback


class CaptionerTrainer(_Trainer):
    """LoRA on an image-to-text model with the caption language-model loss."""

    def __init__(self, config, card):
        super().__init__(config, card)
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        self.pairs = load_pairs(config.data, need_captions=True)
        model = load_transformers_model(self.spec, card.option("model_class"))
        self.processor = load_processor(self.spec, card.option("processor_class"))
        if self.spec.quant in ("int8", "nf4"):
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        targets = _lora_targets(model, config, "all-linear")
        lora = LoraConfig(r=config.rank, lora_alpha=config.alpha or config.rank, target_modules=targets,
                          lora_dropout=0.0, bias="none")
        self.model = get_peft_model(model, lora)
        self.config.targets = list(targets) if isinstance(targets, list) else [targets]
        self.size_px = int(card.option("crop_size_px"))
        bos = getattr(getattr(model.config, "text_config", None), "bos_token_id", None)
        self.bos_id = bos if type(model).__name__.startswith("Blip") else None

    def batch(self, first=False):
        from PIL import Image
        idx = self.sample_indices(first)
        images = [Image.fromarray(_read_rgb(self.pairs[i][0])) for i in idx]
        texts = [self.pairs[i][1] for i in idx]
        inputs = self.processor(images=images, text=texts, return_tensors="pt", padding=True)
        return inputs_to(inputs, self.spec.device, floating_dtype(self.model))

    def loss(self, inputs):
        input_ids = inputs["input_ids"].clone()
        if self.bos_id is not None:  # BLIP generates from its [DEC] token, so train from it too
            input_ids[:, 0] = self.bos_id
        labels = input_ids.masked_fill(inputs.get("attention_mask", input_ids * 0 + 1) == 0, -100)
        out = self.model(**{**inputs, "input_ids": input_ids}, labels=labels)
        return out.loss

    def save_adapter(self):
        self.model.save_pretrained(str(self.out), safe_serialization=True)


class GeneratorTrainer(_Trainer):
    """LoRA on the inpainting UNet with the noise-prediction (or v-prediction) MSE."""

    def __init__(self, config, card):
        super().__init__(config, card)
        import torch
        from diffusers import DDPMScheduler
        from peft import LoraConfig

        from .inpaint import load_pipeline
        self.pairs = load_pairs(config.data, need_captions=False)
        pipe = load_pipeline(self.spec)
        self.pipe = pipe
        for name in ("vae", "text_encoder", "unet"):
            getattr(pipe, name).requires_grad_(False)
        self.model = pipe.unet
        if pipe.unet.config.in_channels != 9:
            raise BadInputError(f"model card {card.name!r}: generator training needs an inpainting UNet "
                                f"(9 input channels), this one has {pipe.unet.config.in_channels}")
        targets = list(config.targets) or UNET_TARGETS
        self.config.targets = targets
        pipe.unet.add_adapter(LoraConfig(r=config.rank, lora_alpha=config.alpha or config.rank,
                                         init_lora_weights="gaussian", target_modules=targets))
        for param in pipe.unet.parameters():  # train LoRA in float32 even on an fp16 base
            if param.requires_grad:
                param.data = param.data.float()
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self.size_px = config.resolution_px or min(512, int(card.option("resolution_px")))
        multiple = 8 * int(pipe.vae_scale_factor)
        self.size_px = max(multiple, self.size_px // multiple * multiple)
        self.device = torch.device(self.spec.device)

    def random_mask(self):
        """(1, S, S) float mask: 1 = regenerate, with 1-3 kept rectangles (the "key regions")."""
        import torch
        size = self.size_px
        mask = torch.ones(1, size, size)
        count = int(torch.randint(1, 4, (1,), generator=self.generator))
        for _ in range(count):
            h, w = (int(v) for v in torch.randint(size // 8, size // 2 + 1, (2,), generator=self.generator))
            y, x = (int(v) for v in torch.randint(0, size - min(h, w) + 1, (2,), generator=self.generator))
            mask[:, y:y + h, x:x + w] = 0
        return mask

    def batch(self, first=False):
        import torch
        idx = self.sample_indices(first)
        pixels = torch.stack([torch.from_numpy(_read_rgb(self.pairs[i][0], self.size_px).copy()).permute(2,
                                                                                                         0, 1)
                              for i in idx]).float() / 127.5 - 1.0
        masks = torch.stack([self.random_mask() for _ in idx])
        noise_seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=self.generator))
        return {"pixels": pixels, "masks": masks, "texts": [self.pairs[i][1] for i in idx],
                "seed": noise_seed}

    def loss(self, batch):
        import torch
        pipe, device = self.pipe, self.device
        vae_dtype = pipe.vae.dtype
        noise_gen = torch.Generator("cpu").manual_seed(batch["seed"])
        pixels = batch["pixels"].to(device, vae_dtype)
        masks = batch["masks"].to(device)
        scaling = pipe.vae.config.scaling_factor
        with torch.no_grad():
            latents = pipe.vae.encode(pixels).latent_dist.mean * scaling
            masked = pipe.vae.encode(pixels * (masks < 0.5).to(vae_dtype)).latent_dist.mean * scaling
            tokens = pipe.tokenizer(batch["texts"], padding="max_length", truncation=True,
                                    max_length=pipe.tokenizer.model_max_length, return_tensors="pt")
            text = pipe.text_encoder(tokens.input_ids.to(device))[0]
        latents, masked = latents.float(), masked.float()
        mask_latent = torch.nn.functional.interpolate(masks, size=latents.shape[-2:])
        noise = torch.randn(latents.shape, generator=noise_gen).to(device)
        steps = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (latents.shape[0],),
                              generator=noise_gen).to(device)
        noisy = self.noise_scheduler.add_noise(latents, noise, steps)
        unet_in = torch.cat([noisy, mask_latent, masked], dim=1).to(pipe.unet.dtype)
        pred = pipe.unet(unet_in, steps, encoder_hidden_states=text.to(pipe.unet.dtype)).sample.float()
        if self.noise_scheduler.config.prediction_type == "v_prediction":
            target = self.noise_scheduler.get_velocity(latents, noise, steps)
        else:
            target = noise
        return torch.nn.functional.mse_loss(pred, target)

    def save_adapter(self):
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict
        layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(self.pipe.unet))
        type(self.pipe).save_lora_weights(str(self.out), unet_lora_layers=layers, safe_serialization=True)


def finetune(config: TrainConfig, resume=False, on_step=None) -> dict:
    """Train a LoRA adapter as ``config`` says; returns the training log (losses, eval losses,
    card_path). Raises ``BadInputError`` for a card of the wrong backend or bad data."""
    if config.task not in TASK_BACKENDS:
        raise BadInputError(f"task {config.task!r} is not one of {', '.join(TASK_BACKENDS)}")
    card = load_card(config.card)
    if card.kind != "model" or card.backend not in TASK_BACKENDS[config.task]:
        raise BadInputError(f"{config.task} training needs a {' or '.join(TASK_BACKENDS[config.task])} model "
                            f"card; {card.name!r} is {card.kind} {card.backend or ''}".rstrip())
    if config.steps < 1 or config.rank < 1 or config.batch_size < 1 or config.save_every < 1:
        raise BadInputError("steps, rank, batch size and save interval must be >= 1")
    Path(config.out).mkdir(parents=True, exist_ok=True)
    if card.backend == "realesrgan":
        from .srfinetune import SuperResolutionTrainer
        trainer = SuperResolutionTrainer(config, card)
    else:
        trainer = (CaptionerTrainer if config.task == "captioner" else GeneratorTrainer)(config, card)
    return trainer.run(resume=resume, on_step=on_step)
