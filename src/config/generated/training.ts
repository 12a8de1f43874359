/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */

/**
 * How one model is trained: architecture, data, optimiser, schedule, engine. Every default here is the single source of that setting.
 */
export interface TrainingConfig {
  /**
   * Seed of weight init, data order and augmentation (not of which images a subset holds: that is data.subsetSeed).
   */
  seed: number;
  /**
   * Names the data-order and augmentation stream drawn from the seed: two runs with one seed but different streams see independent orders and augmentations (an experiment gives each role its own, e.g. repro:fig2's dense runs and retrains). Absent: the seed's default stream.
   */
  stream?: string;
  model: ModelConfig;
  /**
   * Weights the model starts from instead of its seeded initialisation: a PyTorch state_dict (.pt/.pth, torch.save), a NumPy .npz of the same names, or the initializers of an .onnx file (the README's name table). Pruned weights saved by torch.nn.utils.prune (weight_orig, weight_mask) bring their masks, which stay fixed. Units that start from another unit's weights (retraining, fine-tuning) inherit them through it. The file's SHA-256 is part of every unit's identity.
   */
  startWeights?: {
    /**
     * The file; relative paths are read from the directory the command runs in, and the plan records the absolute path.
     */
    path: string;
    /**
     * The file's SHA-256, filled in when the settings are read; a value given that differs from the file's is an error (the file changed).
     */
    sha256?: string;
  };
  data: DataConfig;
  optim: OptimConfig;
  engine: EngineConfig;
}
/**
 * Architecture and width (PreResNet-20, ResNet-20 option A)
 */
export interface ModelConfig {
  /**
   * Architecture. CIFAR ResNets of any depth D = 6n+2 (the number in the name; model.depth overrides it): preresnet<D> (the three-regime paper's pre-activation ResNet, preresnet20), resnet<D>a (option-A shortcuts: BiP's resnet20a and resnet56a) and resnet<D>b (1x1 conv + BN shortcuts, open_lth's cifar_resnet_D). Fixed depth: resnet18 (CIFAR ResNet-18, projection shortcuts), vgg16 (VGG-16 with BN, CIFAR variant, 32x32 inputs) and resnet50 (ImageNet ResNet-50: 7x7 stem and max-pool; 64 px Tiny-ImageNet or 224 px).
   */
  arch: string;
  /**
   * Depth of a CIFAR ResNet (preresnet<D>, resnet<D>a, resnet<D>b), 6n+2: overrides the depth in model.arch's name (arch preresnet20 with depth 56 trains PreResNet-56). Absent: the name's depth. An error for the fixed-depth architectures.
   */
  depth?: number;
  /**
   * Channels of the first stage; later stages double it. The papers: 16 for the CIFAR ResNet-20/56, 64 for resnet18, vgg16 (channels scale with width/64) and resnet50.
   */
  width: number;
}
/**
 * Dataset, subset, augmentation and where the files are
 */
export interface DataConfig {
  /**
   * auto = CIFAR-10 if cached or downloadable, else the embedded Fashion-MNIST subset (with dataDir: whichever of CIFAR-10, IDX or .npy files it holds). cifar100 = CIFAR-100's binary version, 100 fine labels (downloaded, or dataDir = cifar-100-binary). tiny-imagenet = Tiny-ImageNet-200 at 64x64, its validation split as the test split (downloaded, or dataDir = the official zip or its folder; decoded once into the cache). image-folder = your images in torchvision's ImageFolder layout (dataDir with train/ and val/, one folder per class, e.g. ImageNet), decoded with sharp and resized to imageSize once into the cache. npy = your own data: four NumPy .npy files in dataDir, train_images.npy, train_labels.npy, test_images.npy, test_labels.npy. Images (N, C, H, W) or (N, H, W, C) with C = 1 or 3, or (N, H, W) greyscale; uint8 (any integer type holding 0..255) or float32/float64 in [0, 1] or [0, 255] (taken as [0, 1] when no pixel exceeds 1), kept as 8-bit pixels. Labels (N,) or (N, 1), any integer type, class indices 0..65535; numClasses = largest label + 1. Little-endian, C order. Normalisation constants are computed from the training images.
   */
  dataset:
    | "auto"
    | "cifar10"
    | "cifar100"
    | "tiny-imagenet"
    | "image-folder"
    | "fashion-mnist"
    | "fashion-mnist-embedded"
    | "npy"
    | "synthetic";
  /**
   * An existing cifar-10-batches-bin or cifar-100-binary directory (or its parent), a Fashion-MNIST IDX directory, Tiny-ImageNet's zip or folder, an ImageFolder root (train/ and val/), or (dataset npy) the directory holding train_images.npy, train_labels.npy, test_images.npy and test_labels.npy.
   */
  dataDir?: string;
  /**
   * Where downloaded datasets are kept (default: $PRUNING_HARNESS_CACHE, $XDG_CACHE_HOME/pruning-harness or ~/.cache/pruning-harness).
   */
  cacheDir?: string;
  /**
   * Allow downloading CIFAR-10, CIFAR-100 or Tiny-ImageNet from its official URL.
   */
  download: boolean;
  /**
   * Seed of the class-balanced train/test subsets (trainLimit, testLimit) and of the metric subsets drawn from them. Fixed, and never the training seed, so every training seed of an experiment sees the same images; the training seed only changes initialisation, order and augmentation.
   */
  subsetSeed: number;
  /**
   * Input normalisation: dataset = the training split's own per-channel mean and std (CIFAR-10: the usual 0.247, 0.2435, 0.2616); authors = the three-regime authors' CIFAR-10 constants, mean (0.4914, 0.4822, 0.4465) and std (0.2023, 0.1994, 0.2010), about 1.2x larger inputs. On other datasets, authors keeps the dataset's mean and scales its std by the same per-channel ratio (authors' std / true CIFAR-10 std; their mean, 0.802, for one-channel data), so the departure can be measured anywhere.
   */
  normalization: "dataset" | "authors";
  /**
   * Use a class-balanced subset of this many training images.
   */
  trainLimit?: number;
  /**
   * Use a class-balanced subset of this many test images.
   */
  testLimit?: number;
  /**
   * Zero-pad smaller images (Fashion-MNIST's 28x28; .npy images smaller than this in either dimension) to this size, so CIFAR-shaped models apply unchanged. 1 leaves .npy images as they are.
   */
  padTo: number;
  /**
   * image-folder: the side length images are resized (shorter side) and centre-cropped to when decoded into the cache. 64 suits CPU-scale runs; ImageNet's usual 224 stores 150 KB per image (192 GB for ImageNet-1k's training split).
   */
  imageSize: number;
  /**
   * Random-crop augmentation: zero padding in pixels (0 disables).
   */
  cropPadding: number;
  /**
   * Random horizontal flip augmentation.
   */
  flip: boolean;
}
/**
 * Epochs, batch size, learning rate and its schedule, SGD and BN settings, SAM
 */
export interface OptimConfig {
  /**
   * Training epochs.
   */
  epochs: number;
  /**
   * Mini-batch size.
   */
  batchSize: number;
  /**
   * Initial learning rate.
   */
  lr: number;
  /**
   * SGD momentum (PyTorch convention, no dampening).
   */
  momentum: number;
  /**
   * L2 weight decay added to the gradient, as torch.optim.SGD does.
   */
  weightDecay: number;
  schedule: Schedule;
  /**
   * Weight of the batch statistic in BN running averages (PyTorch convention).
   */
  bnMomentum: number;
  /**
   * BN epsilon.
   */
  bnEps: number;
  /**
   * Sharpness-aware minimisation radius rho; 0 = plain SGD (the three-regime paper's SAM temperature axis uses 0.1 to 0.8).
   */
  samRho: number;
}
/**
 * Learning-rate schedule, evaluated per epoch: step decays at fractions of training, or cosine annealing.
 */
export interface Schedule {
  /**
   * step: multiply by gamma at each milestone; cosine: anneal to minLr.
   */
  kind: "step" | "cosine";
  /**
   * Step schedule: fractions of training at which the rate is multiplied by gamma (0.5, 0.75 = epochs 80 and 120 of 160).
   */
  milestones: number[];
  /**
   * Step schedule: decay factor at each milestone.
   */
  gamma: number;
  /**
   * Cosine schedule: rate at the end of training.
   */
  minLr: number;
}
/**
 * Which engine trains (auto, onnx, tfjs, torch), its execution provider or device
 */
export interface EngineConfig {
  /**
   * Training engine. auto: on a machine with an NVIDIA driver, torch when a Python with CUDA-enabled torch is found, else onnx; on the CPU, the faster of onnx and torch (when torch is installed) for this model, batch and thread count, as a short measured probe finds it (engine.autoProbe; cached per machine; torch only if its training step agrees with onnx's). One line and every unit's record say what was picked and why. onnx: ONNX Runtime, zero-install, the CPU default. tfjs: TensorFlow.js, the slow pure-JS oracle. torch: PyTorch in a long-lived Python process (engine.python, engine.device).
   */
  name: "auto" | "onnx" | "tfjs" | "torch";
  /**
   * ONNX Runtime execution provider; auto tries cuda, webgpu, then cpu.
   */
  provider: "auto" | "cpu" | "cuda" | "webgpu";
  /**
   * torch engine: auto (CUDA when torch sees a GPU, else cpu), cpu, cuda or cuda:N. Under --gpus each worker sees only its own GPU, as cuda:0.
   */
  device: string;
  /**
   * torch engine: the Python interpreter that imports torch. auto tries $PRUNING_HARNESS_PYTHON, python3 on PATH, then /usr/bin/python3.
   */
  python: string;
  /**
   * CPU threads for the engine (0 = all cores).
   */
  threads: number;
  /**
   * Arithmetic of convolutions and matmuls. fp32: strict IEEE float32 everywhere, the harness default and what the CPU reference computes. tf32: the paper's setting (PyTorch 1.10 on Ampere and later ran cuDNN convolutions in TF32 by default): convolutions and matmuls with a 10-bit mantissa on CUDA, no effect on the CPU. bf16: autocast to bfloat16 for convolutions and matmuls (torch engine only). The ONNX and TF.js engines compute in fp32 only: anything else with them is an error.
   */
  precision: "fp32" | "tf32" | "bf16";
  /**
   * torch engine on CUDA: full-size training batches run as a captured CUDA graph (partial batches eagerly), which removes the per-kernel launch cost of small models. No effect on the CPU. false turns it off (debugging, or a driver that misbehaves).
   */
  cudaGraphs: boolean;
  /**
   * torch engine on CUDA: NHWC (channels-last) memory format for activations and conv weights, the layout tensor-core convolutions prefer. No effect on the CPU.
   */
  channelsLast: boolean;
  /**
   * torch engine on CUDA: deterministic cuDNN algorithms only (torch.backends.cudnn.deterministic=True, benchmark off). Needed for bit-identical resume on CUDA; slower.
   */
  cudnnDeterministic: boolean;
  /**
   * torch engine: training steps sent to the Python process in one request (one round trip and one device sync per request). Progress and divergence are still reported per step, after each request.
   */
  stepsPerRequest: number;
  /**
   * How a pack (runner.pack > 1: several units of one training config trained together) computes. grouped: the K models as one computation (torch: one model with grouped convolutions; onnx: K copies of the graph in one session). loop: one trainer per member, stepped in turn, each member exactly as it trains alone. auto: grouped for torch, loop for onnx and tfjs (on the CPU EP the one-graph pack was no faster; bench:train measures both).
   */
  packFormulation: "auto" | "grouped" | "loop";
  /**
   * Before a non-CPU execution provider trains, one gradients call and one training step on a seeded batch are compared with the CPU EP, tensor by tensor; on a mismatch the unit trains on the CPU (one-line notice) and its record keeps the check.
   */
  providerCheck: {
    /**
     * Largest relative error (max |difference| / max |CPU value|) of any tensor, by the candidate's engine.precision: the check always compares against the CPU's strict fp32, so a device computing in reduced precision is held to what that precision can deliver, not sent to the CPU by an fp32 tolerance.
     */
    tolerance: {
      /**
       * Strict fp32 on both sides: only the order of float sums differs.
       */
      fp32: number;
      /**
       * TF32's 10-bit mantissa gives relative gradient errors around 1e-3..1e-2 on this model.
       */
      tf32: number;
      /**
       * bfloat16's 7-bit mantissa gives relative gradient errors around 1e-2..5e-2 on this model.
       */
      bf16: number;
    };
    /**
     * Images in the check's seeded batch.
     */
    batchSize: number;
  };
  /**
   * ONNX engine on the CPU EP: run convolutions on ONNX Runtime's blocked-layout (NCHWc) kernels, about 2x faster than its plain Conv when the filter is an input (see README, The engine).
   */
  blockedConv: boolean;
  /**
   * How engine.name=auto measures the CPU engines. The result is cached per machine (host, CPU, cores, threads, model, batch size, runtime versions) in <cache>/engine-probe/, so each case is measured once. PRUNING_HARNESS_AUTO_PROBE=off skips it (auto then picks onnx on the CPU): the test suite sets it so that no test depends on a timing.
   */
  autoProbe?: {
    /**
     * false: auto picks onnx on the CPU without measuring (the harness's behaviour before the probe).
     */
    enabled?: boolean;
    /**
     * Untimed training steps per engine before the timed ones (session set-up, allocator warm-up).
     */
    warmupSteps?: number;
    /**
     * Timed training steps per engine, at the unit's batch size and thread count.
     */
    steps?: number;
    /**
     * torch is picked only when its measured images per second are at least this multiple of onnx's: a near-tie keeps the zero-install default, and timing noise cannot flip the choice.
     */
    margin?: number;
    /**
     * torch is picked only when one training step from the same weights and batch agrees with onnx's within this relative error (max |difference| / max |onnx value| of the loss, every gradient, updated weights, momentum and BN statistics: the provider check's comparison). Strict fp32 on both sides differs only in the order of sums, but at initialisation a BN bias's gradient is a sum whose terms nearly cancel: measured here, 5.7e-3 on PreResNet-20 width 16 at batch 128. A wrong kernel is off by order 1.
     */
    tolerance?: number;
  };
}
