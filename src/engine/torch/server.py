"""The PyTorch engine's server: one process per trainer, spoken to over two FIFOs.

Started by src/engine/torch/torch-process.ts as `python server.py <fifo-in> <fifo-out>`.
It prints one JSON line on stdout once torch has imported (or an error and exits 3),
then serves requests until EOF. A message is a little-endian u32 header length, a
UTF-8 JSON header and the raw bytes of the tensors the header lists as
[name, dtype, shape] (dtype "f32", "i32" or "u8"): tensors never pass through JSON.

The model is built from the harness's ModelSpec (the same op list the ONNX and
TensorFlow.js engines build from) and trained with exactly their semantics: masked
weights multiplied in the forward pass, gradients with respect to the masked weight,
torch.optim.SGD's update written out (momentum, no dampening, weight decay added to
the masked gradient, weights re-masked), BN running statistics updated with the
unbiased batch variance. State stays on the device between requests; it crosses
the process boundary only when asked for.
"""
import json
import os
import struct
import sys
import time
import traceback

DTYPES = {"f32": 4, "i32": 4, "u8": 1}
# What a pack (init with pack K) serves: state in and out with a leading member
# dimension, resident training and prediction. SAM, BiP, gradients and per-batch
# requests stay with unpacked trainers.
PACKED_OPS = {"set-state", "get-state", "set-masks", "get-masks", "load-split", "build-batch", "train-step", "train-steps", "predict", "predict-split"}


def main():
    fifo_in, fifo_out = sys.argv[1], sys.argv[2]
    try:
        import torch
    except Exception as e:  # noqa: BLE001 - any import failure means "no torch here"
        print(json.dumps({"ready": False, "error": f"import torch failed: {e}"}), flush=True)
        sys.exit(3)
    print(json.dumps({"ready": True, "torch": torch.__version__, "python": sys.version.split()[0],
                      "cuda": torch.cuda.is_available(), "devices": torch.cuda.device_count() if torch.cuda.is_available() else 0}), flush=True)
    # Nothing else may reach stdout: the parent stops reading it after the first line.
    sys.stdout = sys.stderr
    fin = open(fifo_in, "rb", buffering=0)
    fout = open(fifo_out, "wb", buffering=0)
    for f in (fin, fout):
        try:
            import fcntl
            fcntl.fcntl(f.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ: a batch in one pipe buffer
        except Exception:  # noqa: BLE001 - an optimisation only
            pass
    server = Server(torch)
    while True:
        try:
            header, tensors = read_message(fin, torch)
        except EOFError:
            return
        try:
            reply, out = server.handle(header, tensors)
        except Exception as e:  # noqa: BLE001 - reported to the caller, who raises it
            reply, out = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}, []
        write_message(fout, reply, out)
        if header.get("op") == "close":
            return


def read_exact(f, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        r = f.readinto(view[got:])
        if not r:
            raise EOFError
        got += r
    return buf


def read_message(f, torch):
    (n,) = struct.unpack("<I", read_exact(f, 4))
    header = json.loads(read_exact(f, n).decode("utf-8"))
    tensors = {}
    for name, dtype, shape in header.pop("tensors", []):
        count = 1
        for d in shape:
            count *= d
        buf = read_exact(f, count * DTYPES[dtype])
        kind = {"f32": torch.float32, "i32": torch.int32, "u8": torch.uint8}[dtype]
        t = torch.frombuffer(buf, dtype=kind) if count else torch.empty(0, dtype=kind)
        tensors[name] = t.reshape(shape)
    return header, tensors


def write_all(f, data):
    view = memoryview(data).cast("B")
    off = 0
    while off < len(view):
        off += f.write(view[off:])


def json_safe(v):
    """JSON has no NaN or infinities (a diverged step's loss): they travel as the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(v, float) and v != v:
        return "NaN"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    return v


def write_message(f, header, tensors):
    """tensors: list of (name, torch tensor), written as f32."""
    cpu = [(name, t.detach().float().cpu().contiguous()) for name, t in tensors]
    header = dict(header, tensors=[[name, "f32", list(t.shape)] for name, t in cpu])
    body = json.dumps(json_safe(header), allow_nan=False).encode("utf-8")
    write_all(f, struct.pack("<I", len(body)) + body)
    for _, t in cpu:
        if t.numel():
            write_all(f, t.numpy())


class Env:
    """What an op reads while the forward pass runs."""
    __slots__ = ("values", "params", "buffers", "training", "bn_momentum")

    def __init__(self, values, params, buffers, training, bn_momentum):
        self.values, self.params, self.buffers, self.training, self.bn_momentum = values, params, buffers, training, bn_momentum


def _conv(s, op, e):
    return s.torch.nn.functional.conv2d(e.values[op["x"]], e.params[op["weight"]], None, op["stride"], op["pad"])


def _bn(s, op, e):
    return s.torch.nn.functional.batch_norm(e.values[op["x"]], e.buffers[op["mean"]], e.buffers[op["var"]], e.params[op["gamma"]],
                                            e.params[op["beta"]], e.training, e.bn_momentum, s.bn["eps"])


def _shortcut_a(s, op, e):
    st, p = op["stride"], op["padChannels"]
    return s.torch.nn.functional.pad(e.values[op["x"]][:, :, ::st, ::st], (0, 0, 0, 0, p, p))


def _add_const(s, op, e):
    t = s.B[op["tensor"]]
    return e.values[op["x"]] + t.reshape((1,) + tuple(t.shape))


def _channel_gather(s, op, e):
    st = op["stride"]
    padded = s.torch.nn.functional.pad(e.values[op["x"]][:, :, ::st, ::st], (0, 0, 0, 0, 0, 1))
    return padded.index_select(1, s.gather_index[op["out"]])


def _maxpool(s, op, e):
    return s.torch.nn.functional.max_pool2d(e.values[op["x"]], op["kernel"], op["stride"], op["pad"])


# The forward pass of every op kind of the model IR (src/models/ops.ts; a test checks the keys).
MODEL_OPS = {
    "conv": _conv,
    "bn": _bn,
    "relu": lambda s, op, e: s.torch.nn.functional.relu(e.values[op["x"]]),
    "add": lambda s, op, e: e.values[op["a"]] + e.values[op["b"]],
    "shortcut-a": _shortcut_a,
    "gap": lambda s, op, e: e.values[op["x"]].mean(dim=(2, 3)),
    "add-const": _add_const,
    "channel-gather": _channel_gather,
    "fc": lambda s, op, e: s.torch.nn.functional.linear(e.values[op["x"]], e.params[op["weight"]], e.params[op["bias"]]),
    "maxpool": _maxpool,
    "flatten": lambda s, op, e: e.values[op["x"]].flatten(1),
}


# Packed: K models as one, activations [B, K*C, H, W] with member k's channels in block k.
# Convolutions are grouped (groups=K), BN runs over K*C channels (each channel's statistics
# still its own member's), the option-A shortcut pads each member's block, fc is a batched
# matmul. Members never mix: member k's outputs, and so its gradients, depend on its own
# weights and images only.

def _packed_conv(s, op, e):
    w = e.params[op["weight"]]
    return s.torch.nn.functional.conv2d(e.values[op["x"]], w.reshape((-1,) + tuple(w.shape[2:])), None, op["stride"], op["pad"], 1, s.K)


def _packed_bn(s, op, e):
    return s.torch.nn.functional.batch_norm(e.values[op["x"]], e.buffers[op["mean"]].view(-1), e.buffers[op["var"]].view(-1),
                                            e.params[op["gamma"]].reshape(-1), e.params[op["beta"]].reshape(-1), e.training,
                                            e.bn_momentum, s.bn["eps"])


def _packed_shortcut_a(s, op, e):
    st, p = op["stride"], op["padChannels"]
    v = e.values[op["x"]][:, :, ::st, ::st]
    n, kc, hh, ww = v.shape
    return s.torch.nn.functional.pad(v.reshape(n, s.K, kc // s.K, hh, ww), (0, 0, 0, 0, p, p)).reshape(n, -1, hh, ww)


def _packed_fc(s, op, e):
    """Features [B, K*I] (member k's in block k) -> [K, B, O] for the model's output, else back to [B, K*O]."""
    v = e.values[op["x"]]
    feats = v.reshape(v.shape[0], s.K, -1).transpose(0, 1)
    y = s.torch.baddbmm(e.params[op["bias"]].unsqueeze(1), feats, e.params[op["weight"]].transpose(1, 2))
    return y if op["out"] == s.spec["output"] else y.transpose(0, 1).reshape(v.shape[0], -1)


# Every kind but a compacted model's (add-const, channel-gather: init refuses to pack those).
MODEL_OPS_PACKED = {
    **{k: MODEL_OPS[k] for k in ("relu", "add", "gap", "maxpool")},
    "conv": _packed_conv,
    "bn": _packed_bn,
    "shortcut-a": _packed_shortcut_a,
    "fc": _packed_fc,
    # [B, K*C, H, W] -> [B, K*C*H*W]: member k's features are block k, in its own C, H, W order.
    "flatten": MODEL_OPS["flatten"],
}


class Server:
    def __init__(self, torch):
        self.torch = torch
        self.ready = False

    def handle(self, header, tensors):
        op = header["op"]
        if op == "close":
            return {}, []
        if op == "init":
            return self.init(header), []
        if not self.ready:
            raise RuntimeError("init must come first")
        if self.K and op not in PACKED_OPS:
            raise RuntimeError(f"op {op} is not packed: run it on an unpacked trainer")
        return getattr(self, "op_" + op.replace("-", "_"))(header, tensors)

    # -- setup -------------------------------------------------------------------

    def init(self, h):
        torch = self.torch
        self.spec = h["spec"]
        self.masked = list(h["maskedParams"])
        self.sgd = h["sgd"]
        self.bn = h["bn"]
        device = h.get("device", "auto")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        precision = h.get("precision", "fp32")
        if precision not in ("fp32", "tf32", "bf16"):
            raise RuntimeError(f'precision "{precision}": expected fp32, tf32 or bf16')
        cudnn_deterministic = bool(h.get("cudnnDeterministic", False))
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise RuntimeError(f"device {device}: torch {torch.__version__} sees no CUDA device")
            device = str(torch.device(device if ":" in device else "cuda:0"))
            torch.cuda.set_device(torch.device(device))
            # fp32 is strict like the other engines (TF32 changes results in the 4th digit);
            # tf32 is what the paper's PyTorch 1.10 did by default for cuDNN convolutions.
            torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
            torch.backends.cudnn.allow_tf32 = precision == "tf32"
            torch.backends.cudnn.deterministic = cudnn_deterministic
            torch.backends.cudnn.benchmark = bool(h.get("cudnnBenchmark", True)) and not cudnn_deterministic
        elif device != "cpu":
            raise RuntimeError(f'device "{device}": expected auto, cpu, cuda or cuda:N')
        threads = int(h.get("threads") or 0)
        if threads > 0:
            torch.set_num_threads(threads)
            try:
                torch.set_num_interop_threads(1)
            except RuntimeError:
                pass  # already set in this process
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        # TF32 is a CUDA mode: on the CPU the arithmetic stays fp32, and the record says so.
        self.precision = "fp32" if precision == "tf32" and not cuda else precision
        self.autocast_dtype = torch.bfloat16 if self.precision == "bf16" else None
        self.channels_last = bool(h.get("channelsLast", False)) and cuda
        self.cuda_graphs = bool(h.get("cudaGraphs", True)) and cuda
        self.cudnn_deterministic = cudnn_deterministic and cuda
        self.deterministic = not cuda or self.cudnn_deterministic
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        # pack K: K models of this spec trained together (MODEL_OPS_PACKED); every tensor of
        # the state gets a leading member dimension. 0: one model, the classic shapes.
        self.K = int(h.get("pack") or 0)
        lead = [self.K] if self.K else []
        if self.K:
            unsupported = sorted({op["kind"] for op in self.spec["ops"]} - MODEL_OPS_PACKED.keys())
            if unsupported:
                raise RuntimeError(f"a pack cannot hold a compacted model (ops {', '.join(unsupported)}); train it unpacked (--pack 1)")
        self.P, self.V, self.B, self.M = {}, {}, {}, {}
        for p in self.spec["params"]:
            for store in (self.P, self.V):
                store[p["name"]] = torch.zeros(lead + p["shape"], device=self.device)
                if self.channels_last and len(p["shape"]) == 4 and not self.K:
                    store[p["name"]] = store[p["name"]].contiguous(memory_format=fmt)
        for b in self.spec["buffers"]:
            self.B[b["name"]] = torch.full(lead + b["shape"], float(b["init"]), device=self.device)
        for name in self.masked:
            self.M[name] = torch.ones_like(self.P[name])
        self.splits = {}
        self.graphs = {}
        self.gather_index = {}
        for op in self.spec["ops"]:
            if op["kind"] == "channel-gather":
                cin = self.spec["shapes"][op["x"]][0]
                self.gather_index[op["out"]] = torch.tensor([cin if s < 0 else s for s in op["sources"]], dtype=torch.long, device=self.device)
        self.ready = True
        return {"device": str(self.device), "deterministic": self.deterministic, "threads": torch.get_num_threads(), "pack": self.K,
                "precision": self.precision, "cudaGraphs": self.cuda_graphs, "channelsLast": self.channels_last,
                "cudnnDeterministic": self.cudnn_deterministic,
                "torch": torch.__version__, "cudnn": torch.backends.cudnn.version() if self.device.type == "cuda" else None,
                "gpu": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None}

    # -- model -------------------------------------------------------------------

    def effective(self, requires_grad):
        masked = [n for n in self.P if n in self.M]
        products = dict(zip(masked, self.torch._foreach_mul([self.P[n] for n in masked], [self.M[n] for n in masked]))) if masked else {}
        return {n: products.get(n, p).detach().requires_grad_(requires_grad) for n, p in self.P.items()}

    def forward(self, x, params, buffers, training, bn_momentum):
        """
        The model's ops in order. A pack's x is [K, B, C, H, W]; its activations are
        [B, K*C, H, W], member k's channels in block k (MODEL_OPS_PACKED).
        """
        if self.K:
            b = x.shape[1]
            x = self.layout(x.transpose(0, 1).reshape((b, -1) + tuple(x.shape[3:])))
        values = {self.spec["input"]: x}
        table = MODEL_OPS_PACKED if self.K else MODEL_OPS
        env = Env(values, params, buffers, training, bn_momentum)
        for op in self.spec["ops"]:
            values[op["out"]] = table[op["kind"]](self, op, env)
        return values[self.spec["output"]]

    def batch(self, tensors, with_labels=True):
        """A batch sent by the host; a pack's is [K, B, ...] with labels [K, B] (with_labels), else one [B, ...] for every member."""
        c, h, w = self.spec["inputShape"]
        if self.K:
            lead = (self.K, -1) if with_labels else (-1,)
            x = tensors["x"].reshape(lead + (c, h, w)).to(self.device, non_blocking=True)
            if not with_labels:
                x = x.unsqueeze(0).expand((self.K,) + tuple(x.shape))
        else:
            x = self.layout(tensors["x"].reshape(-1, c, h, w).to(self.device, non_blocking=True))
        y = tensors["y"].reshape(x.shape[:-3]).to(self.device, dtype=self.torch.long, non_blocking=True) if with_labels else None
        return x, y

    def amp(self):
        """bf16: autocast (cache off, so a captured CUDA graph re-casts weights every replay); else nothing."""
        if self.autocast_dtype is None:
            import contextlib
            return contextlib.nullcontext()
        return self.torch.autocast(self.device.type, dtype=self.autocast_dtype, cache_enabled=False)

    def layout(self, x):
        return x.contiguous(memory_format=self.torch.channels_last) if self.channels_last else x

    def loss_and_grads(self, x, y, buffers):
        torch = self.torch
        eff = self.effective(True)
        with self.amp():
            logits = self.forward(x, eff, buffers, True, self.bn["momentum"]).float()
        names = list(eff.keys())
        if self.K:
            # The sum of each member's mean loss: d(sum)/d(member k's weights) is exactly
            # member k's own gradient. Losses and correct counts come back per member.
            per = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
            losses = per.reshape(y.shape).mean(dim=1)
            grads = torch.autograd.grad(losses.sum(), [eff[n] for n in names])
            correct = (logits.detach().argmax(dim=2) == y).sum(dim=1)
            return losses.detach(), dict(zip(names, grads)), correct
        loss = torch.nn.functional.cross_entropy(logits, y)
        grads = torch.autograd.grad(loss, [eff[n] for n in names])
        correct = (logits.detach().argmax(dim=1) == y).sum()
        return loss.detach(), dict(zip(names, grads)), correct

    # -- requests ----------------------------------------------------------------

    def op_set_state(self, h, t):
        for group, target in (("params", self.P), ("momentum", self.V), ("buffers", self.B)):
            prefix = group + "/"
            for name, v in t.items():
                if name.startswith(prefix):
                    key = name[len(prefix):]
                    if key not in target:
                        raise KeyError(f"{group} {key} is not in the model")
                    target[key].copy_(v.reshape(target[key].shape))
        return {}, []

    def op_set_masks(self, h, t):
        for name, v in t.items():
            if name not in self.M:
                raise KeyError(f"mask {name}: not a masked parameter of this trainer")
            self.M[name].copy_(v.reshape(self.M[name].shape))
        return {}, []

    def op_get_state(self, h, t):
        out = [("params/" + k, v) for k, v in self.P.items()] + [("momentum/" + k, v) for k, v in self.V.items()] + [("buffers/" + k, v) for k, v in self.B.items()]
        return {}, out

    def op_train_step(self, h, t):
        x, y = self.batch(t)
        loss, correct = self.sgd_step(x, y, float(h["lr"]))
        loss_v, correct_v = self.torch.stack([loss.float(), correct.float()]).tolist()  # one device sync
        if self.K:
            return {"loss": loss_v, "correct": [int(c) for c in correct_v]}, []
        return {"loss": loss_v, "correct": int(correct_v)}, []

    def sgd_step(self, x, y, lr):
        """One masked SGD step on the device; returns loss and correct count as device scalars (no sync)."""
        torch = self.torch
        loss, grads, correct = self.loss_and_grads(x, y, self.B)  # BN statistics update in place
        mom, wd = self.sgd["momentum"], self.sgd["weightDecay"]
        names = list(self.P.keys())
        masked = [n for n in names if n in self.M]
        with torch.no_grad():
            # torch.optim.SGD's update, one fused kernel per step of it for all parameters
            # (a GPU step of this small model is bound by kernel launches).
            g = [grads[n] for n in names]
            if masked:
                gm = torch._foreach_mul([grads[n] for n in masked], [self.M[n] for n in masked])
                by_name = dict(zip(masked, gm))
                g = [by_name.get(n, grads[n]) for n in names]
            p, v = [self.P[n] for n in names], [self.V[n] for n in names]
            g = torch._foreach_add(g, p, alpha=wd)
            torch._foreach_mul_(v, mom)
            torch._foreach_add_(v, g)
            if isinstance(lr, float):
                torch._foreach_add_(p, v, alpha=-lr)
            else:  # a device scalar (CUDA graphs): the same update with lr read on the device
                for pi, vi in zip(p, v):
                    pi.addcmul_(vi, lr, value=-1.0)
            if masked:
                torch._foreach_mul_([self.P[n] for n in masked], [self.M[n] for n in masked])
        return loss, correct

    def sam_step(self, x, y, lr, rho, mom, wd):
        """
        src/train/sam.ts's step, on the device: the gradient g at w (BN statistics from this
        pass are kept), a step to w + rho g/||g|| with g masked, the gradient there, and
        src/engine/sgd.ts's update of w with it. The arithmetic is float64 where the
        TypeScript is (JS numbers), rounded to float32 where it stores, so both agree
        to the last bit except for the order in which ||g||^2 is summed.
        """
        torch = self.torch
        names = list(self.P.keys())
        start_b = {k: v.clone() for k, v in self.B.items()}
        loss, grads, correct = self.loss_and_grads(x, y, self.B)
        with torch.no_grad():
            g = {n: (grads[n] * self.M[n] if n in self.M else grads[n]).double() for n in names}
            sq = torch.stack([(v * v).sum() for v in g.values()]).sum()
            scale = rho / (torch.sqrt(sq) + 1e-12)
            start_p = {n: self.P[n].clone() for n in names}
            for n in names:
                self.P[n].copy_((start_p[n].double() + scale * g[n]).float())
        # The second pass's BN statistics are thrown away, as src/train/sam.ts does.
        _, grads2, _ = self.loss_and_grads(x, y, start_b)
        with torch.no_grad():
            for n in names:
                self.js_sgd_update(n, start_p[n], grads2[n], lr, mom, wd, self.M.get(n))
        return loss, correct

    def js_sgd_update(self, name, theta, grad, lr, mom, wd, mask):
        """
        src/engine/sgd.ts's update of one parameter from `theta`, in its arithmetic: float64
        like its JS numbers, rounded to float32 where it stores (momentum, then weights).
        """
        theta, m = theta.double(), mask.double() if mask is not None else None
        gi = (grad.double() * m if m is not None else grad.double()) + wd * theta
        nv = (mom * self.V[name].double() + gi).float()
        nt = theta - lr * nv.double()
        self.V[name].copy_(nv)
        self.P[name].copy_((nt * m if m is not None else nt).float())

    # -- resident data -------------------------------------------------------------

    def op_load_split(self, h, t):
        """A uint8 split kept on the device, zero-padded by the crop padding, with its normalisation table."""
        torch = self.torch
        images = t["images"].to(self.device)
        pad = int(h["cropPadding"])
        n, c, hh, ww = images.shape
        padded = torch.zeros((n, c, hh + 2 * pad, ww + 2 * pad), dtype=torch.uint8, device=self.device)
        padded[:, :, pad:pad + hh, pad:pad + ww] = images
        del images
        self.splits[h["slot"]] = {
            "images": padded, "pad": pad, "shape": (c, hh, ww),
            "labels": t["labels"].to(self.device, dtype=torch.long),
            # Byte v of channel c reads lut[c * 256 + v]: the host's table, so pixels are bit-identical.
            "lut": t["lut"].reshape(-1).to(self.device),
            "channelOffset": (torch.arange(c, device=self.device) * 256).reshape(1, c, 1, 1),
        }
        return {"count": n}, []

    def build_batch(self, split, idx, shift_y, shift_x, mirror):
        """src/data/batches.ts's batch on the device: crop (zero padding) and mirror by index, normalise by table."""
        torch = self.torch
        c, hh, ww = split["shape"]
        pad = split["pad"]
        imgs = split["images"].index_select(0, idx)
        b = idx.shape[0]
        ys = torch.arange(hh, device=self.device).reshape(1, hh) + (shift_y.reshape(b, 1) + pad)
        xs = torch.arange(ww, device=self.device).reshape(1, ww)
        xs = torch.where(mirror.reshape(b, 1) > 0, ww - 1 - xs, xs) + (shift_x.reshape(b, 1) + pad)
        raw = imgs[torch.arange(b, device=self.device).reshape(b, 1, 1, 1), torch.arange(c, device=self.device).reshape(1, c, 1, 1),
                   ys.reshape(b, 1, hh, 1), xs.reshape(b, 1, 1, ww)]
        x = split["lut"][raw.long() + split["channelOffset"]]
        return self.layout(x), split["labels"].index_select(0, idx)

    def op_build_batch(self, h, t):
        """The pixels and labels of one planned batch (tests compare them with the host's)."""
        split = self.split(h)
        x, y = self.build_batch(split, *self.plan_tensors(t, 0, t["indices"].shape[0]))
        return {}, [("x", x), ("y", y)]

    def split(self, h):
        if h["slot"] not in self.splits:
            raise KeyError(f'split "{h["slot"]}" is not loaded (load-split first)')
        return self.splits[h["slot"]]

    def plan_tensors(self, t, start, size, prefix=""):
        return tuple(t[prefix + k][start:start + size].to(self.device, dtype=self.torch.long, non_blocking=True)
                     for k in ("indices", "shiftY", "shiftX", "mirror"))

    def op_train_steps(self, h, t):
        """
        Consecutive training steps whose batches are built here from a resident split:
        one request, one device sync. Per-step losses and correct counts come back as
        arrays. Stops after the first non-finite loss, as a per-step caller would (on
        CUDA that is known only at the end, so later steps of the request may have run).
        """
        torch = self.torch
        split = self.split(h)
        sizes = [int(s) for s in h["sizes"]]
        lr = float(h["lr"])
        sam = h.get("sam")
        if sam and self.K:
            raise RuntimeError("SAM steps are not packed: train SAM units unpacked (--pack 1)")
        per_step = (len(sizes), self.K) if self.K else (len(sizes),)
        losses = torch.zeros(per_step, device=self.device)
        correct = torch.zeros(per_step, device=self.device)
        start = 0
        done = len(sizes)
        # Time building batches apart from the steps (a benchmark reports the engine's
        # own overhead); exact on the CPU, where every op completes before the next.
        timed = self.device.type == "cpu"
        build_s = 0.0
        t_all = time.perf_counter()
        for i, size in enumerate(sizes):
            t0 = time.perf_counter() if timed else 0.0
            if self.K:  # member k's batch from its own plans ("m<k>." columns)
                xs, ys = zip(*(self.build_batch(split, *self.plan_tensors(t, start, size, f"m{k}.")) for k in range(self.K)))
                x, y = torch.stack(xs), torch.stack(ys)
            else:
                x, y = self.build_batch(split, *self.plan_tensors(t, start, size))
            if timed:
                build_s += time.perf_counter() - t0
            start += size
            if sam:
                loss, corr = self.sam_step(x, y, lr, float(sam["rho"]), float(sam["momentum"]), float(sam["weightDecay"]))
            elif self.cuda_graphs and size == int(h["batchSize"]):
                loss, corr = self.graphed_sgd_step(x, y, lr)
            else:
                loss, corr = self.sgd_step(x, y, lr)
            losses[i] = loss
            correct[i] = corr
            # On the CPU a check costs nothing; on CUDA it would sync every step.
            if self.device.type == "cpu" and not torch.isfinite(loss).all().item():
                done = i + 1
                break
        out = [("losses", losses[:done]), ("correct", correct[:done])]
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return {"steps": done, "seconds": time.perf_counter() - t_all, "buildSeconds": build_s if timed else None}, out

    # -- BiP ------------------------------------------------------------------------

    def op_bip_start(self, h, t):
        """
        BiP's upper level on the device (src/train/bip-loop.ts): one score per weight of
        the scored layers, or per output filter (structured), their momentum, and how
        many the top-k keeps (global count, or per layer). Sets the masks from the scores.
        """
        torch = self.torch
        layers = list(h["layers"])
        structured = bool(h["structured"])
        # Per-weight scores take their weight's shape; per-filter scores stay a vector.
        scores = {l: t["scores/" + l].to(self.device).reshape(-1 if structured else self.M[l].shape).clone() for l in layers}
        self.bip = {"layers": layers, "structured": structured, "keep": h["keep"], "hyper": h["hyper"],
                    "scores": scores, "velocity": {l: torch.zeros_like(v) for l, v in scores.items()}}
        self.bip_masks()
        return {}, []

    def top_k(self, s, keep):
        """src/prune/magnitude.ts topKMask: the `keep` largest |s|, ties to the lower index (a stable sort)."""
        order = self.torch.sort(s.abs(), dim=0, descending=True, stable=True).indices
        m = self.torch.zeros_like(s)
        m[order[:keep]] = 1
        return m

    def bip_masks(self):
        b = self.bip
        if b["structured"]:
            for l in b["layers"]:
                keep = self.top_k(b["scores"][l], int(b["keep"][l]))
                self.M[l].copy_(keep.reshape((-1,) + (1,) * (self.M[l].dim() - 1)).expand_as(self.M[l]))
        else:
            flat = self.top_k(self.torch.cat([b["scores"][l].reshape(-1) for l in b["layers"]]), int(b["keep"]))
            off = 0
            for l in b["layers"]:
                n = self.M[l].numel()
                self.M[l].copy_(flat[off:off + n].reshape(self.M[l].shape))
                off += n

    def op_bip_scores(self, h, t):
        return {}, [(l, self.bip["scores"][l].reshape(-1)) for l in self.bip["layers"]]

    def op_get_masks(self, h, t):
        return {}, [(k, v) for k, v in self.M.items()]

    def op_bip_steps(self, h, t):
        """
        BiP iterations of src/train/bip-loop.ts, each a theta-step on one planned batch and
        a mask-step on another, with the loop's arithmetic: float64 where the TypeScript
        computes in JS numbers, float32 where it stores, filter sums accumulated in float32
        in the same order. Per-iteration theta losses and correct counts come back; the
        iterations stop at a non-finite theta loss before its update (known at once on the
        CPU, at the end of the request on CUDA).
        """
        torch = self.torch
        b, hp = self.bip, self.bip["hyper"]
        split = self.split(h)
        ts, ms, tl, ml = h["thetaSizes"], h["maskSizes"], h["thetaLrs"], h["maskLrs"]
        n = len(ts)
        losses = torch.zeros(n, device=self.device)
        correct = torch.zeros(n, device=self.device)
        pruned = set(b["layers"])
        names = list(self.P.keys())
        paper = hp["variant"]["kind"] == "paper"
        t_off = m_off = 0
        done = n
        for i in range(n):
            x, y = self.build_batch(split, *self.plan_tensors(t, t_off, ts[i], "theta."))
            t_off += ts[i]
            loss, grads, corr = self.loss_and_grads(x, y, self.B)  # the theta pass's BN statistics are kept
            losses[i] = loss
            correct[i] = corr
            if self.device.type == "cpu" and not torch.isfinite(loss).item():
                done = i + 1
                break
            lr = float(tl[i])
            with torch.no_grad():
                for name in names:
                    theta = self.P[name].double()
                    gz = grads[name].double()
                    if name in pruned:
                        coeff = hp["gamma"] if hp["thetaL2"] == "gamma" else hp["weightDecay"]
                        g = (gz * self.M[name].double() + coeff * theta).float()
                    else:
                        g = (gz + hp["weightDecay"] * theta).float()
                    # src/engine/sgd.ts with no masks and weight decay 0 (already in g).
                    self.js_sgd_update(name, self.P[name], g, lr, hp["momentum"], 0.0, None)
            x, y = self.build_batch(split, *self.plan_tensors(t, m_off, ms[i], "mask."))
            m_off += ms[i]
            _, gm, _ = self.loss_and_grads(x, y, {k: v.clone() for k, v in self.B.items()})
            mlr = float(ml[i])
            with torch.no_grad():
                for l in b["layers"]:
                    gz, theta, m = gm[l].double(), self.P[l].double(), self.M[l].double()
                    direct = gz * theta
                    g_theta = gz * m
                    g = (direct - (gz * g_theta) / hp["variant"]["gamma"] if paper else direct - (hp["variant"]["lr2"] * direct) * g_theta).float()
                    if b["structured"]:
                        rows = g.reshape(g.shape[0], -1)
                        acc = torch.zeros(rows.shape[0], device=self.device)
                        for j in range(rows.shape[1]):  # float32, in src/prune/bip.ts filterScoreGradient's order
                            acc += rows[:, j]
                        g = acc
                    s = b["scores"][l]
                    v = (hp["maskMomentum"] * b["velocity"][l].double() + torch.where(s < 0, -g, g).double() + hp["scoreWeightDecay"] * s.double()).float()
                    b["velocity"][l] = v
                    b["scores"][l] = (s.double() - mlr * v.double()).float()
                self.bip_masks()
        return {"steps": done}, [("losses", losses[:done]), ("correct", correct[:done])]

    def op_predict_split(self, h, t):
        """Logits of images [start, start + count) of a resident split (no augmentation)."""
        split = self.split(h)
        start, count = int(h["start"]), int(h["count"])
        idx = self.torch.arange(start, start + count, device=self.device)
        zeros = self.torch.zeros(count, dtype=self.torch.long, device=self.device)
        x, _ = self.build_batch(split, idx, zeros, zeros, zeros)
        if self.K:  # the same images through every member: logits [K, count, classes]
            x = x.unsqueeze(0).expand((self.K,) + tuple(x.shape))
        return {}, [("logits", self.logits(x))]

    # -- CUDA graphs ---------------------------------------------------------------

    def graphed_sgd_step(self, x, y, lr):
        """
        sgd_step captured once per batch shape as a CUDA graph and replayed: the step's
        ~600 kernel launches become one. Inputs, the learning rate and the outputs live in
        static device tensors; weights, momentum and BN statistics are updated in place
        by the replay, so state set or read between requests stays what it is.
        """
        torch = self.torch
        key = tuple(x.shape)
        g = self.graphs.get(key)
        if g is None:
            g = {"x": x.clone(), "y": y.clone(), "lr": torch.tensor(lr, device=self.device)}
            # Warm-up on a side stream (cuDNN picks algorithms, autograd builds its
            # buffers) must not train: the state is saved and put back after it.
            saved = [t.clone() for t in (*self.P.values(), *self.V.values(), *self.B.values())]
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    self.sgd_step(g["x"], g["y"], g["lr"])
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                g["loss"], g["correct"] = self.sgd_step(g["x"], g["y"], g["lr"])
            for dst, src in zip((*self.P.values(), *self.V.values(), *self.B.values()), saved):
                dst.copy_(src)
            g["graph"] = graph
            self.graphs[key] = g
        g["x"].copy_(x)
        g["y"].copy_(y)
        g["lr"].fill_(lr)
        g["graph"].replay()
        return g["loss"], g["correct"]

    def op_gradients(self, h, t):
        x, y = self.batch(t)
        buffers = {k: v.clone() for k, v in self.B.items()}
        loss, grads, correct = self.loss_and_grads(x, y, buffers)
        out = [("grads/" + k, g) for k, g in grads.items()] + [("buffers/" + k, v) for k, v in buffers.items()]
        return {"loss": loss.item(), "correct": int(correct.item())}, out

    def bn_buffers(self):
        names = set()
        for op in self.spec["ops"]:
            if op["kind"] == "bn":
                names.update((op["mean"], op["var"]))
        return names

    def op_predict(self, h, t):
        x, _ = self.batch(t, with_labels=False)
        return {}, [("logits", self.logits(x))]

    def logits(self, x):
        with self.torch.no_grad(), self.amp():
            return self.forward(x, self.effective(False), self.B, False, 0.0).float()

    def op_batch_stats(self, h, t):
        """Every BN's batch mean and unbiased variance: running statistics started at 0 and 1 with momentum 1 end as exactly those."""
        torch = self.torch
        x, _ = self.batch(t, with_labels=False)
        fresh = dict(self.B)
        for op in self.spec["ops"]:
            if op["kind"] == "bn":
                fresh[op["mean"]] = torch.zeros_like(self.B[op["mean"]])
                fresh[op["var"]] = torch.ones_like(self.B[op["var"]])
        with torch.no_grad(), self.amp():
            self.forward(x, self.effective(False), fresh, True, 1.0)
        return {}, [("stats/" + k, fresh[k]) for k in sorted(self.bn_buffers())]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
