#!/usr/bin/env python3
"""A PyTorch sketch-rnn trainer, run beside ours to compare them (issue #3).

Issue #3 measures our trainer against "a popular PyTorch sketch-rnn" whose
figures were taken elsewhere. This script is that kind of implementation,
written for this repository (it copies no other project's code), so both can
run on this machine side by side:

* the model is sketch-rnn as PyTorch users write it: `nn.LSTM` for the
  bidirectional encoder and the decoder, PyTorch's default initialisation
  (no forget-gate bias), no recurrent dropout and no data augmentation
  (`nn.LSTM` has neither);
* the data, batch, schedules and loss follow Magenta and our trainer: drawings
  of at most N_max = 250 rows, offsets clamped to +-1000 and divided by the
  training set's scale factor, stroke-5 rows after a start token, Adam with
  lr 1e-3 decayed x0.9999 a step to 1e-5, KL weight 0.5 annealed from 0.01 at
  rate 0.99995, KL tolerance 0.2, L_s over each drawing's real rows and L_p
  over all N_max rows, both per timestep (divided by N_max and the batch);
* `--clip value` clips each gradient value to +-1 (Magenta, ours);
  `--clip norm` clips each module's gradient norm to 1 (`clip_grad_norm_`, as
  the most-starred PyTorch port does); `--encoder-reads-padding` runs the
  encoder over all N_max rows instead of each drawing's own length (that port
  does not pack its sequences); `--kl-weight-constant W` replaces the annealing;
  `--lr R` starts the learning rate at R instead of Magenta's 1e-3 (same decay).

It prints one JSON line per evaluation and, with `--export`, writes the trained
model in our safetensors format, so that `sketch-rnn eval` scores it with our
own code (the one definition of validation L_R for both trainers).

    python sketch_rnn_torch.py --data ../shared/data/aaron_sheep.npz --preset small \
        --steps 777 --seed 1 --threads 2 --export /tmp/torch777.safetensors
    python sketch_rnn_torch.py --data ... --preset paper --time-steps 6   # s/step only

Needs numpy and torch (`tools/pytorch-reference.sh` installs them in a venv).
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

# Magenta's defaults (sketch_rnn/model.py get_default_hparams) and issue #3's presets.
PRESETS = {
    "paper": dict(batch=100, enc=256, dec=512, nz=128),
    "small": dict(batch=64, enc=128, dec=256, nz=64),
}
NUM_MIXTURES = 20
N_MAX = 250
OFFSET_LIMIT = 1000.0
LR, LR_DECAY, LR_MIN = 1e-3, 0.9999, 1e-5
KL_WEIGHT, KL_WEIGHT_START, KL_DECAY, KL_TOLERANCE = 0.5, 0.01, 0.99995, 0.2
GRAD_CLIP = 1.0


def load_split(npz, name):
    return [np.asarray(d, dtype=np.float32) for d in npz[name]]


def keep(drawings):
    """Magenta's DataLoader: drop drawings longer than N_max, clamp offsets."""
    out = []
    for d in drawings:
        if 0 < len(d) <= N_MAX:
            d = d.copy()
            d[:, :2] = np.clip(d[:, :2], -OFFSET_LIMIT, OFFSET_LIMIT)
            out.append(d)
    return out


def scale_factor(drawings):
    """Standard deviation of all offsets (sketch-rnn's normalising scale)."""
    return float(np.std(np.concatenate([d[:, :2].reshape(-1) for d in drawings])))


def to_batch(drawings):
    """Stroke-3 drawings (normalised) to [N_max + 1, B, 5] stroke-5 rows after a
    start token, padded with end rows (Magenta's to_big_strokes), and lengths."""
    b = len(drawings)
    x = np.zeros((N_MAX + 1, b, 5), dtype=np.float32)
    x[0, :, 2] = 1.0  # start token: pen down at the origin
    x[1:, :, 4] = 1.0
    for i, d in enumerate(drawings):
        n = len(d)
        x[1 : n + 1, i, :2] = d[:, :2]
        x[1 : n + 1, i, 2] = 1.0 - d[:, 2]
        x[1 : n + 1, i, 3] = d[:, 2]
        x[1 : n + 1, i, 4] = 0.0
    return torch.from_numpy(x), [len(d) for d in drawings]


class SketchRnn(nn.Module):
    def __init__(self, enc, dec, nz, m=NUM_MIXTURES):
        super().__init__()
        self.enc, self.dec, self.nz, self.m = enc, dec, nz, m
        self.encoder = nn.LSTM(5, enc, bidirectional=True)
        self.mu = nn.Linear(2 * enc, nz)
        self.presig = nn.Linear(2 * enc, nz)
        self.init = nn.Linear(nz, 2 * dec)  # [h0; c0] = tanh(W z + b)
        self.decoder = nn.LSTM(5 + nz, dec)
        # Output layout as ours: pen logits (3), then pi, mu_x, mu_y, log sigma_x,
        # log sigma_y, pre-tanh rho (M each).
        self.output = nn.Linear(dec, 6 * m + 3)

    def encode(self, x, lengths, reads_padding):
        rows = x[1:]  # the encoder reads rows 1..N_max (no start token)
        if reads_padding:
            _, (h, _) = self.encoder(rows)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(
                rows, torch.tensor(lengths), enforce_sorted=False
            )
            _, (h, _) = self.encoder(packed)
        hidden = torch.cat([h[0], h[1]], dim=1)
        return self.mu(hidden), self.presig(hidden)

    def forward(self, x, lengths, eps, reads_padding=False, use_mean=False):
        mu, presig = self.encode(x, lengths, reads_padding)
        z = mu if use_mean else mu + torch.exp(presig / 2) * eps
        h0, c0 = torch.split(torch.tanh(self.init(z)), self.dec, dim=1)
        inputs = x[:-1]  # rows 0..N_max-1 predict rows 1..N_max
        zs = z.unsqueeze(0).expand(inputs.shape[0], -1, -1)
        hs, _ = self.decoder(
            torch.cat([inputs, zs], dim=2), (h0.unsqueeze(0).contiguous(), c0.unsqueeze(0).contiguous())
        )
        return self.output(hs), mu, presig


def losses(y, x, lengths, mu, presig, m=NUM_MIXTURES):
    """(L_s, L_p, L_KL): per timestep over N_max, in normalised units (paper eq. 9-11)."""
    t, b, _ = y.shape
    target = x[1:]
    pen_logits = y[..., :3]
    pi_logits, mx, my, lsx, lsy, rr = torch.split(y[..., 3:], m, dim=-1)
    log_pi = torch.log_softmax(pi_logits, dim=-1)
    sx, sy, rho = torch.exp(lsx), torch.exp(lsy), torch.tanh(rr)
    dx = (target[..., 0:1] - mx) / sx
    dy = (target[..., 1:2] - my) / sy
    one_minus = 1 - rho * rho
    zq = dx * dx + dy * dy - 2 * rho * dx * dy
    log_n = -zq / (2 * one_minus) - math.log(2 * math.pi) - lsx - lsy - 0.5 * torch.log(one_minus)
    log_p = torch.logsumexp(log_pi + log_n, dim=-1)  # [T, B]
    mask = torch.zeros(t, b)
    for i, n in enumerate(lengths):
        mask[:n, i] = 1.0
    ls = -(log_p * mask).sum() / (N_MAX * b)
    lp = -(target[..., 2:] * torch.log_softmax(pen_logits, dim=-1)).sum() / (N_MAX * b)
    kl = -0.5 * torch.mean(1 + presig - mu * mu - torch.exp(presig))
    return ls, lp, kl


def evaluate(model, drawings, args, seed=0, use_mean=False):
    """Validation losses with fixed latent noise (or z = mu), averaged over the split."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    tot = np.zeros(3)
    with torch.no_grad():
        for s in range(0, len(drawings), args.batch):
            part = drawings[s : s + args.batch]
            x, lengths = to_batch(part)
            eps = torch.randn(len(part), model.nz, generator=g)
            y, mu, presig = model(x, lengths, eps, args.encoder_reads_padding, use_mean)
            ls, lp, kl = losses(y, x, lengths, mu, presig)
            tot += np.array([ls.item(), lp.item(), kl.item()]) * len(part)
    model.train()
    ls, lp, kl = tot / len(drawings)
    return dict(lr_total=ls + lp, ls=ls, lp=lp, kl=kl)


def export(model, path, scale):
    """Writes the model in our safetensors format (src/weights/native.rs): weights
    `[in, out]`, LSTM gates reordered from PyTorch's i, f, g, o to TensorFlow's
    i, g, f, o, with our cell's built-in forget bias of 1 taken off the bias, and
    the initial state laid out as [c, h]."""

    def lstm(w_ih, w_hh, b_ih, b_hh):
        def reorder(a):
            i, f, g, o = np.split(a, 4, axis=0)
            return np.concatenate([i, g, f, o], axis=0)

        bias = (b_ih + b_hh).copy()
        bias_r = reorder(bias)
        h = bias_r.shape[0] // 4
        bias_r[2 * h : 3 * h] -= 1.0  # FORGET_BIAS is added inside our cell
        return reorder(w_ih).T, reorder(w_hh).T, bias_r

    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    t = {}
    for name, sfx in (("forward", ""), ("backward", "_reverse")):
        w_xh, w_hh, b = lstm(*(sd[f"encoder.{p}_l0{sfx}"] for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
        t[f"encoder.{name}.w_xh"], t[f"encoder.{name}.w_hh"], t[f"encoder.{name}.bias"] = w_xh, w_hh, b
    w_xh, w_hh, b = lstm(*(sd[f"decoder.{p}_l0"] for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    t["decoder.cell.w_xh"], t["decoder.cell.w_hh"], t["decoder.cell.bias"] = w_xh, w_hh, b
    for ours, theirs in (("encoder.mu", "mu"), ("encoder.presig", "presig"), ("decoder.output", "output")):
        t[f"{ours}.weight"], t[f"{ours}.bias"] = sd[f"{theirs}.weight"].T, sd[f"{theirs}.bias"]
    d = model.dec
    w, b = sd["init.weight"].T, sd["init.bias"]  # columns [h, c] -> ours [c, h]
    t["decoder.init.weight"] = np.concatenate([w[:, d:], w[:, :d]], axis=1)
    t["decoder.init.bias"] = np.concatenate([b[d:], b[:d]])
    info = dict(
        name="pytorch-reference",
        scale_factor=scale,
        max_seq_len=N_MAX,
        hparams=dict(enc_size=model.enc, dec_size=d, z_size=model.nz, num_mixtures=model.m,
                     cell="lstm", recurrent_dropout_keep=1.0, latent_tanh=False),
    )
    header, blobs, off = {}, [], 0
    for k in sorted(t):
        a = np.ascontiguousarray(t[k], dtype="<f4")
        header[k] = dict(dtype="F32", shape=list(a.shape), data_offsets=[off, off + a.nbytes])
        blobs.append(a.tobytes())
        off += a.nbytes
    header["__metadata__"] = {"format": "sketch-rnn", "format_version": "1", "model_info": json.dumps(info)}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--preset", choices=PRESETS, default="small")
    p.add_argument("--steps", type=int, default=777)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clip", choices=("value", "norm"), default="value")
    p.add_argument("--encoder-reads-padding", action="store_true")
    p.add_argument("--kl-weight-constant", type=float)
    p.add_argument("--lr", type=float, default=LR, help="initial learning rate (Magenta: 1e-3)")
    p.add_argument("--time-steps", type=int, help="only time this many steps (after one warm-up) and print the median")
    p.add_argument("--export")
    args = p.parse_args()
    cfg = PRESETS[args.preset]
    args.batch = cfg["batch"]
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    npz = np.load(args.data, encoding="latin1", allow_pickle=True)
    train = keep(load_split(npz, "train"))
    scale = scale_factor(train)
    norm = lambda ds: [np.concatenate([d[:, :2] / scale, d[:, 2:]], axis=1) for d in ds]
    train, valid = norm(train), norm(keep(load_split(npz, "valid")))

    model = SketchRnn(cfg["enc"], cfg["dec"], cfg["nz"])
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    order, cursor = rng.permutation(len(train)), 0
    times = []
    steps = args.time_steps + 1 if args.time_steps else args.steps
    for step in range(steps):
        t0 = time.perf_counter()
        if cursor + args.batch > len(order):
            order, cursor = rng.permutation(len(train)), 0
        part = [train[i] for i in order[cursor : cursor + args.batch]]
        cursor += args.batch
        x, lengths = to_batch(part)
        lr = (args.lr - LR_MIN) * LR_DECAY**step + LR_MIN
        for g in opt.param_groups:
            g["lr"] = lr
        if args.kl_weight_constant is not None:
            w_kl = args.kl_weight_constant
        else:
            w_kl = KL_WEIGHT - (KL_WEIGHT - KL_WEIGHT_START) * KL_DECAY**step
        eps = torch.randn(len(part), model.nz)
        y, mu, presig = model(x, lengths, eps, args.encoder_reads_padding)
        ls, lp, kl = losses(y, x, lengths, mu, presig)
        loss = ls + lp + w_kl * torch.clamp(kl, min=KL_TOLERANCE)
        opt.zero_grad()
        loss.backward()
        if args.clip == "value":
            nn.utils.clip_grad_value_(model.parameters(), GRAD_CLIP)
        else:
            for group in ((model.encoder, model.mu, model.presig), (model.init, model.decoder, model.output)):
                nn.utils.clip_grad_norm_([q for mod in group for q in mod.parameters()], GRAD_CLIP)
        opt.step()
        times.append(time.perf_counter() - t0)
        if not args.time_steps and (step + 1) % 100 == 0:
            print(f"step {step + 1} L_s {ls.item():.3f} L_p {lp.item():.3f} KL {kl.item():.3f}", file=sys.stderr)
    if args.time_steps:
        print(json.dumps(dict(preset=args.preset, threads=args.threads,
                              median_s_per_step=float(np.median(times[1:])))))
        return
    result = evaluate(model, valid, args)
    result["lr_total_z_mean"] = evaluate(model, valid, args, use_mean=True)["lr_total"]
    result.update(seed=args.seed, steps=args.steps, preset=args.preset, clip=args.clip,
                  encoder_reads_padding=args.encoder_reads_padding,
                  kl_weight_constant=args.kl_weight_constant, lr=args.lr, scale_factor=scale,
                  median_s_per_step=float(np.median(times)))
    print(json.dumps(result))
    if args.export:
        export(model, args.export, scale)


if __name__ == "__main__":
    main()
