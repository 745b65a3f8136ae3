"""The words every command shares: devices, sides and number formats (dtypes), parsed in one place.

Not a command: ``scripts.cli`` registers only the modules it names."""

from __future__ import annotations

from geo.errors import GeoInputError

DEVICE_HELP = ("Where the network runs, as ultralytics writes it: auto (a GPU if there is one, else the "
               "CPU), cpu, mps, a GPU index (0) or several (0,1); cuda and cuda:N are read as 0 and N.")
SIDES = ("both", "left", "right", "random")
SIDES_HELP = ("both (a view to each side of every point), left or right (one side of the street, the "
              "same for every point) or random (one side per point, drawn)")
DETECT_DTYPES = ("auto", "fp32", "fp16", "bf16")
TRAIN_DTYPES = ("auto", "fp32", "bf16")
EXPORT_DTYPES = ("fp32", "fp16")


def device_from_option(text: str) -> str:
    """A --device value in ultralytics' syntax: ``auto``, ``cpu``, ``mps``, ``0`` or ``0,1``
    (GPU indices); ``cuda`` is read as ``0`` and ``cuda:N`` as ``N``. Bad values raise one line."""
    value = str(text).strip().lower().replace(" ", "")
    if value in ("auto", "cpu", "mps"):
        return value
    if value == "cuda":
        return "0"
    if value.startswith("cuda:"):
        value = value[len("cuda:"):]
    indices = value.split(",")
    if value and all(index.isdigit() for index in indices):
        _check_gpus([int(index) for index in indices], text)
        return ",".join(str(int(index)) for index in indices)
    raise GeoInputError(f"--device must be auto, cpu, mps, a GPU index such as 0, several such as 0,1, "
                        f"or cuda:N; got {text!r}")


def _check_gpus(indices: list[int], text: str) -> None:
    """One line, before any work, when the GPUs named are not on this machine."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    missing = [i for i in indices if i >= count]
    if missing:
        found = f"{count} CUDA GPU(s)" if count else "no CUDA GPU"
        raise GeoInputError(f"--device {text}: this machine has {found}; use cpu or auto")


def torch_device(device: str, *, several: bool = False) -> str:
    """The torch name of a ``device_from_option`` value for one process: ``0`` -> ``cuda:0``.
    Several GPUs (``0,1``) are ``cuda`` (every GPU) where ``several`` is allowed, else refused."""
    if device in ("auto", "cpu", "mps"):
        return device
    if "," in device:
        if several:
            return "cuda"
        raise GeoInputError(f"--device {device}: this runs on one device; give one GPU index "
                            "(or --engine ray for several GPUs)")
    return f"cuda:{device}"


def sides_from_option(text: str) -> str:
    """One --sides word (``SIDES``); bad values raise one line."""
    value = str(text).strip().lower()
    if value not in SIDES:
        raise GeoInputError(f"--sides must be one of {', '.join(SIDES)}; got {text!r}")
    return value


def dtype_from_option(text: str, *, allowed: tuple[str, ...]) -> str:
    """One --dtype word of ``allowed``; bad values raise one line."""
    value = str(text).strip().lower()
    if value not in allowed:
        raise GeoInputError(f"--dtype must be one of {', '.join(allowed)}; got {text!r}")
    return value
