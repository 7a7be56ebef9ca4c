"""The data and train settings of a run, declared once like the models' hyperparameters
(:class:`~infozoo.settings.hparams.HParam`: type, default, help, rule). The zoo configs start
from these defaults; ``infozoo train``'s flags (``flag=True``), their types, ranges and help
text come from them; ``--set data.KEY=V`` / ``--set train.KEY=V`` reach every one. No
TensorFlow here.
"""
from infozoo.settings.hparams import HParam, HParams

#: with --train-size N and no --test-size, runs evaluate on the first max(N, EVAL_MIN) test images
EVAL_MIN = 1000

DATA = HParams(
    HParam("dataset", "str", "mnist", "mnist, fashion_mnist, cifar10 (tensorflow-datasets), "
           "digits (no download)"),
    HParam("data_dir", "str", None, "directory with MNIST-style IDX files, a Keras-style .npz, "
           "or a TFDS data dir", nullable=True, directory=True),
    HParam("train_size", "int", None, "train on the first N examples", min=2, nullable=True),
    HParam("test_size", "int", None, "evaluate on the first N test examples (default: all; "
           f"with --train-size N, the first max(N, {EVAL_MIN}))", min=2, nullable=True),
    HParam("val_size", "int", 0, "the last N training examples held out for validation "
           "(0: none)", min=0, flag=False),
    HParam("shuffle_buffer", "int", 10000, "examples in the shuffle buffer of the training "
           "stream", min=1, flag=False),
)

TRAIN = HParams(
    HParam("epochs", "int", 10, "training epochs", min=1),
    HParam("batch_size", "int", 128, "global batch size", min=2),
    HParam("lr", "float", 1.0e-3, "initial learning rate", min=0, exclusive_min=True),
    HParam("beta1", "float", 0.9, "Adam beta_1", min=0, max=1, flag=False),
    HParam("beta2", "float", 0.999, "Adam beta_2", min=0, max=1, flag=False),
    HParam("adam_epsilon", "float", 1.0e-7, "Adam epsilon (Keras' default; PyTorch's is "
           "1e-8)", min=0, exclusive_min=True, flag=False),
    HParam("weight_decay", "float", 0.0, "decoupled weight decay (Keras Adam weight_decay)",
           min=0, flag=False),
    HParam("lr_drops", "list", [], "epochs (1-based) at whose start the lr is multiplied by "
           "lr_factor", items={"type": "int", "min": 1}, increasing=True),
    HParam("lr_factor", "float", 0.1, "factor of each lr drop", min=0, exclusive_min=True,
           flag=False),
    HParam("seed", "int", 0, "random seed (a CPU run with the same seed repeats exactly)",
           min=0, max=2**32 - 1),  # numpy's and Keras' seed range
    HParam("checkpoint_every", "int", 100, "steps between checkpoints (also at every epoch "
           "end)", min=1),
    HParam("image_every", "int", 1, "epochs between image grids (0: none)", min=0,
           flag=False),
    HParam("jit_compile", "bool", False, "XLA-compile the train step"),
    HParam("precision", "str", "float32", "Keras dtype policy: subnets/encoders in bf16 or "
           "fp16 (fp16 with loss scaling), couplings, log-dets, losses in float32; auto: bf16 "
           "on AMX/AVX-512-bf16 CPUs and GPUs >= sm80, fp16 on GPUs >= sm70, else float32 "
           "(the run records what was used)",
           choices=("float32", "mixed_bfloat16", "mixed_float16", "auto")),
    HParam("strategy", "str", "default", "tf.distribute strategy: mirrored uses every GPU "
           "there is; multiworker every GPU of every worker in TF_CONFIG (see "
           "--local-workers)", choices=("default", "mirrored", "multiworker")),
    HParam("cpu_replicas", "int", 1, "with --strategy mirrored and no GPU: split the CPU into "
           "N logical devices", min=1),
    HParam("eval_batch_size", "int", 500, "batch size of the test evaluation", min=1,
           flag=False),
    HParam("probe_every", "int", 0, "epochs between information-probe logs to TensorBoard "
           "(0: off)", min=0),
    HParam("early_stop_patience", "int", 0, "stop after N epochs without a better val_loss "
           "(needs data.val_size)", min=0, flag=False),
    HParam("early_stop_min_delta", "float", 0.0, "an improvement is a val_loss lower by more "
           "than this", min=0, flag=False),
    HParam("evaluate", "str", "full", "final test evaluation: full (the model's metrics, "
           "sharpness, figures), quick (loss terms, L1/MSE only) or none",
           choices=("full", "quick", "none")),
    HParam("export", "bool", True, "write the SavedModel to RUN_DIR/export at the end"),
)

#: the declaration of each section of a run config but ``model_args`` (the model's own)
RUN_SECTIONS = {"data": DATA, "train": TRAIN}
