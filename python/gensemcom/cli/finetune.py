# SPDX-License-Identifier: GPL-3.0-or-later
"""LoRA fine-tuning of the captioner or the generator (peft), resumable.

  captioner  adapts an image-to-text card (e.g. blip-base) to your images' captions:
             image -> caption language-model loss, LoRA on the text decoder's attention
  generator  adapts an inpainting card (e.g. sd-inpaint) to your images: the diffusion
             noise-prediction loss of the 9-channel inpainting UNet, with random kept
             rectangles standing in for key regions, LoRA on the attention projections

--data DIR holds images with a same-stem .txt caption each, or a metadata.jsonl of
{"file_name": "a.png", "text": "a caption"} lines (the generator accepts missing captions).

A realesrgan card (realesrgan-x4plus) is adapted to what the receiver decodes: views of the
images (--data DIR, or --data photos: the photos scikit-image, scikit-learn and matplotlib
install, never Kodak) are coded by the semantic encoder at four budgets and decoded; the loss is
L1 + SSIM of the fused image (key regions + upscaled hints). LoRA on the last RRDB blocks and
the upsampling convolutions (peft, Conv2d); OUT/examples.safetensors keeps the coded examples.

--quant nf4 trains on a 4-bit base (QLoRA). A progress bar shows the loss; every --save-every
steps OUT/checkpoint/ gets the adapter, optimizer and RNG state (safetensors + JSON), and
--resume continues from there. At the end OUT holds the adapter (safetensors),
training_log.json (losses; eval loss on a fixed batch before and after) and a card
OUT/<card>-<OUT name>.yaml that names the adapter: pass it to --models, or put OUT in a models
folder ($GENSEMCOM_MODELS_DIR) and select it by name.

examples:
  gensemcom finetune captioner --card blip-base --data photos/ --rank 8 --steps 500 --out blip-mine
  gensemcom finetune generator --card sd-inpaint --data photos/ --rank 4 --steps 1000 \\
      --quant nf4 --out sd-mine
  gensemcom encode photo.png -o photo.gsc --models blip-mine/blip-base-blip-mine.yaml
  gensemcom finetune generator --card realesrgan-x4plus --data photos --rank 8 --steps 300 \
      --lr 2e-4 --out realesrgan-receiver
  gensemcom decode photo.gsc -o out.png --models realesrgan-receiver/realesrgan-x4plus-realesrgan-receiver.yaml
"""
import argparse

from .common import positive_int, print_json, progress

TASKS = ("captioner", "generator")


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def add_arguments(parser, name):
    parser.add_argument("task", choices=TASKS, metavar="TASK", help="captioner or generator")
    parser.add_argument("--card", required=True, help="base model card (name or .yaml path)")
    parser.add_argument("--data", required=True,
                        help="folder of training images and captions (realesrgan: or 'photos', the bundled photos)")
    parser.add_argument("--out", required=True, help="output folder; its name is the adapter's name")
    parser.add_argument("--rank", type=positive_int, default=8, help="LoRA rank (default 8)")
    parser.add_argument("--alpha", type=_positive_float, default=None, help="LoRA alpha (default: the rank)")
    parser.add_argument("--steps", type=positive_int, default=100,
                        help="optimizer steps in total (default 100)")
    parser.add_argument("--lr", type=_positive_float, default=1e-4, help="AdamW learning rate (default 1e-4)")
    parser.add_argument("--batch-size", type=positive_int, default=1, help="images per step (default 1)")
    parser.add_argument("--quant", default="none", choices=("none", "int8", "nf4"),
                        help="base weights: none, int8 or nf4 (QLoRA)")
    parser.add_argument("--save-every", type=positive_int, default=50, help="checkpoint interval in steps")
    parser.add_argument("--seed", type=int, default=0, help="seed of sampling, masks and noise")
    parser.add_argument("--targets", default="", help="comma-separated module names for LoRA (default: "
                        "query/key/value or q_proj/k_proj/v_proj; UNet to_q,to_k,to_v,to_out.0; realesrgan: a regular "
                        "expression over the last 4 RRDB blocks and the upsampling convolutions, and one "
                        "expression is accepted in place of names)")
    parser.add_argument("--resolution-px", type=positive_int, default=None,
                        help="generator: training image side (default: the card's, at most 512)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    parser.add_argument("--json", action="store_true", help="print the training log as JSON")


def run(args) -> int:
    from ..models.cards import check_device
    from ..models.finetune import TrainConfig, finetune
    if args.device:
        check_device(args.device, "--device")
    config = TrainConfig(task=args.task, card=args.card, data=args.data, out=args.out, rank=args.rank,
                         alpha=args.alpha, steps=args.steps, lr=args.lr, batch_size=args.batch_size,
                         quant=args.quant, save_every=args.save_every, seed=args.seed,
                         resolution_px=args.resolution_px, device=args.device,
                         targets=[t.strip() for t in args.targets.split(",") if t.strip()])
    bar = progress(total=args.steps, desc=f"finetune {args.task}", unit="step", enabled=not args.json)

    def on_step(step, loss):
        bar.n = step
        bar.set_postfix(loss=f"{loss:.4f}")
        bar.refresh()

    try:
        log = finetune(config, resume=args.resume, on_step=on_step)
    finally:
        bar.close()
    if args.json:
        print_json({k: v for k, v in log.items() if k != "config"})
    else:
        losses = log["losses"]
        print(f"trained {log['steps']} steps, {log['trainable_parameters']} LoRA parameters; "
              f"loss {losses[0]:.4f} -> {losses[-1]:.4f} (first/last step); eval loss on a fixed batch "
              f"{log['eval_loss_before']:.4f} -> {log['eval_loss_after']:.4f}")
        print(f"adapter: {args.out}\ncard:    {log['card_path']}  (use with --models)")
    return 0
