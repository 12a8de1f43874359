"""The PyTorch engine's server: one process per trainer, spoken to over two FIFOs.

Started by src/engine/torch/torch-process.ts as `python server.py <fifo-in> <fifo-out>`.
It prints one JSON line on stdout once torch has imported (or an error and exits 3),
then serves requests until EOF. A message is a little-endian u32 header length, a
UTF-8 JSON header and the raw bytes of the tensors the header lists as
[name, dtype, shape] (dtype "f32" or "i32"): tensors never pass through JSON.

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
import traceback

DTYPES = {"f32": 4, "i32": 4}


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
        t = torch.frombuffer(buf, dtype=torch.float32 if dtype == "f32" else torch.int32) if count else torch.empty(0)
        tensors[name] = t.reshape(shape)
    return header, tensors


def write_all(f, data):
    view = memoryview(data).cast("B")
    off = 0
    while off < len(view):
        off += f.write(view[off:])


def write_message(f, header, tensors):
    """tensors: list of (name, torch tensor), written as f32."""
    cpu = [(name, t.detach().float().cpu().contiguous()) for name, t in tensors]
    header = dict(header, tensors=[[name, "f32", list(t.shape)] for name, t in cpu])
    body = json.dumps(header).encode("utf-8")
    write_all(f, struct.pack("<I", len(body)) + body)
    for _, t in cpu:
        if t.numel():
            write_all(f, t.numpy())


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
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise RuntimeError(f"device {device}: torch {torch.__version__} sees no CUDA device")
            device = str(torch.device(device if ":" in device else "cuda:0"))
            torch.cuda.set_device(torch.device(device))
            # Strict fp32 like the other engines: TF32 would change results in the 4th digit.
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cudnn.benchmark = bool(h.get("cudnnBenchmark", True))
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
        self.deterministic = self.device.type == "cpu"
        self.P, self.V, self.B, self.M = {}, {}, {}, {}
        for p in self.spec["params"]:
            self.P[p["name"]] = torch.zeros(p["shape"], device=self.device)
            self.V[p["name"]] = torch.zeros(p["shape"], device=self.device)
        for b in self.spec["buffers"]:
            self.B[b["name"]] = torch.full(b["shape"], float(b["init"]), device=self.device)
        for name in self.masked:
            self.M[name] = torch.ones_like(self.P[name])
        self.gather_index = {}
        for op in self.spec["ops"]:
            if op["kind"] == "channel-gather":
                cin = self.spec["shapes"][op["x"]][0]
                self.gather_index[op["out"]] = torch.tensor([cin if s < 0 else s for s in op["sources"]], dtype=torch.long, device=self.device)
        self.ready = True
        return {"device": str(self.device), "deterministic": self.deterministic, "threads": torch.get_num_threads(),
                "torch": torch.__version__, "cudnn": torch.backends.cudnn.version() if self.device.type == "cuda" else None,
                "gpu": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None}

    # -- model -------------------------------------------------------------------

    def effective(self, requires_grad):
        masked = [n for n in self.P if n in self.M]
        products = dict(zip(masked, self.torch._foreach_mul([self.P[n] for n in masked], [self.M[n] for n in masked]))) if masked else {}
        return {n: products.get(n, p).detach().requires_grad_(requires_grad) for n, p in self.P.items()}

    def forward(self, x, params, buffers, training, bn_momentum):
        F = self.torch.nn.functional
        values = {self.spec["input"]: x}
        eps = self.bn["eps"]
        for op in self.spec["ops"]:
            k = op["kind"]
            if k == "conv":
                y = F.conv2d(values[op["x"]], params[op["weight"]], None, op["stride"], op["pad"])
            elif k == "bn":
                y = F.batch_norm(values[op["x"]], buffers[op["mean"]], buffers[op["var"]], params[op["gamma"]], params[op["beta"]],
                                 training, bn_momentum, eps)
            elif k == "relu":
                y = F.relu(values[op["x"]])
            elif k == "add":
                y = values[op["a"]] + values[op["b"]]
            elif k == "shortcut-a":
                s, p = op["stride"], op["padChannels"]
                y = F.pad(values[op["x"]][:, :, ::s, ::s], (0, 0, 0, 0, p, p))
            elif k == "gap":
                y = values[op["x"]].mean(dim=(2, 3))
            elif k == "add-const":
                t = self.B[op["tensor"]]
                y = values[op["x"]] + t.reshape((1,) + tuple(t.shape))
            elif k == "channel-gather":
                s = op["stride"]
                padded = F.pad(values[op["x"]][:, :, ::s, ::s], (0, 0, 0, 0, 0, 1))
                y = padded.index_select(1, self.gather_index[op["out"]])
            elif k == "fc":
                y = F.linear(values[op["x"]], params[op["weight"]], params[op["bias"]])
            else:
                raise ValueError(f"op kind {k!r} is not implemented by the torch engine")
            values[op["out"]] = y
        return values[self.spec["output"]]

    def batch(self, tensors, with_labels=True):
        c, h, w = self.spec["inputShape"]
        x = tensors["x"].reshape(-1, c, h, w).to(self.device, non_blocking=True)
        y = tensors["y"].to(self.device, dtype=self.torch.long, non_blocking=True) if with_labels else None
        return x, y

    def loss_and_grads(self, x, y, buffers):
        torch = self.torch
        eff = self.effective(True)
        logits = self.forward(x, eff, buffers, True, self.bn["momentum"])
        loss = torch.nn.functional.cross_entropy(logits, y)
        names = list(eff.keys())
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
        torch = self.torch
        x, y = self.batch(t)
        loss, grads, correct = self.loss_and_grads(x, y, self.B)  # BN statistics update in place
        lr, mom, wd = float(h["lr"]), self.sgd["momentum"], self.sgd["weightDecay"]
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
            torch._foreach_add_(p, v, alpha=-lr)
            if masked:
                torch._foreach_mul_([self.P[n] for n in masked], [self.M[n] for n in masked])
        loss_v, correct_v = torch.stack([loss.float(), correct.float()]).tolist()  # one device sync
        return {"loss": loss_v, "correct": int(correct_v)}, []

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
        with self.torch.no_grad():
            logits = self.forward(x, self.effective(False), self.B, False, 0.0)
        return {}, [("logits", logits)]

    def op_batch_stats(self, h, t):
        """Every BN's batch mean and unbiased variance: running statistics started at 0 and 1 with momentum 1 end as exactly those."""
        torch = self.torch
        x, _ = self.batch(t, with_labels=False)
        fresh = dict(self.B)
        for op in self.spec["ops"]:
            if op["kind"] == "bn":
                fresh[op["mean"]] = torch.zeros_like(self.B[op["mean"]])
                fresh[op["var"]] = torch.ones_like(self.B[op["var"]])
        with torch.no_grad():
            self.forward(x, self.effective(False), fresh, True, 1.0)
        return {}, [("stats/" + k, fresh[k]) for k in sorted(self.bn_buffers())]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
