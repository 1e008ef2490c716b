"""NoiseTunnel: average an attribution over noisy copies of the input (SmoothGrad and relatives).

Gradients of a ReLU network jump from pixel to pixel, so saliency maps look speckled. SmoothGrad
(Smilkov et al. 2017) averages the attribution A over M copies of the input with Gaussian noise:

    smoothgrad      (1/M) sum_m A(x + e_m),          e_m ~ N(0, sigma^2 I)
    smoothgrad_sq   (1/M) sum_m A(x + e_m)^2
    vargrad         (1/M) sum_m A(x + e_m)^2 - ((1/M) sum_m A(x + e_m))^2    (Adebayo et al. 2018)

sigma (``stdevs``) is in the units of the model's input, as in Captum: for inputs normalised to
unit variance per channel, 0.15 is 15% of a standard deviation. The noise comes from minidl's
generator (``minidl.manual_seed`` makes it reproducible).
"""

import numpy as np

from minidl.explain.attribution import Attribution, check_inputs, repeat_targets
from minidl.functional.checks import check_int, check_number
from minidl.random import get_generator
from minidl.tensor import Tensor

__all__ = ["NoiseTunnel", "NT_TYPES"]

NT_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")


class NoiseTunnel(Attribution):
    """NoiseTunnel(method).attribute(inputs, nt_type, nt_samples, stdevs, target, **method options).

    ``method`` is another attribution object (``Saliency(model)``, ``GuidedBackprop(model)``, ...);
    its ``attribute`` runs on all noisy copies at once (``nt_samples_batch_size`` copies of the
    batch at a time, if given), with the options given here (e.g. ``abs=False``).

    Args of ``attribute``:
        inputs: (N, C, H, W) (or (N, ...)); target: as for every method.
        nt_type: "smoothgrad", "smoothgrad_sq" or "vargrad" (module docstring).
        nt_samples: M, the number of noisy copies of each input (Captum's default 5).
        stdevs: sigma of the noise (Captum's default 1.0).
    Returns:
        a Tensor of the inputs' shape and dtype.
    """

    def __init__(self, attribution_method):
        if not isinstance(attribution_method, Attribution):
            raise TypeError(f"NoiseTunnel: expected an attribution method such as Saliency(model), "
                            f"got {type(attribution_method).__name__}")
        super().__init__(attribution_method.forward_func)
        self.attribution_method = attribution_method

    def attribute(self, inputs, nt_type="smoothgrad", nt_samples=5, nt_samples_batch_size=None, stdevs=1.0,
                  target=None, **kwargs):
        if nt_type not in NT_TYPES:
            raise ValueError(f"{self.name}: nt_type must be one of {', '.join(NT_TYPES)}, got {nt_type!r}")
        check_int(self.name, "nt_samples", nt_samples, minimum=1)
        check_number(self.name, "stdevs", stdevs, minimum=0)
        step = nt_samples if nt_samples_batch_size is None else min(
            check_int(self.name, "nt_samples_batch_size", nt_samples_batch_size, minimum=1), nt_samples)
        if kwargs.get("return_convergence_delta"):
            raise ValueError(f"{self.name}: return_convergence_delta is not available through a NoiseTunnel")
        x = check_inputs(self.name, self.forward_func, inputs)
        n = len(x)
        total = np.zeros(x.shape, dtype=np.float64)
        total_sq = np.zeros(x.shape, dtype=np.float64)
        for first in range(0, nt_samples, step):
            copies = min(step, nt_samples - first)
            noise = get_generator().normal(0.0, stdevs, size=(copies, *x.shape))
            noisy = (x[None] + noise).astype(x.dtype).reshape(copies * n, *x.shape[1:])
            samples = self.attribution_method.attribute(
                noisy, target=repeat_targets(self.name, target, n, copies), **kwargs).numpy()
            if samples.shape != noisy.shape:
                raise ValueError(f"{self.name}: {self.attribution_method.name} gives attributions of shape "
                                 f"{samples.shape} for inputs of shape {noisy.shape}; a NoiseTunnel needs the same")
            samples = samples.reshape(copies, *x.shape).astype(np.float64)
            total += samples.sum(axis=0)
            total_sq += (samples ** 2).sum(axis=0)
        mean, mean_sq = total / nt_samples, total_sq / nt_samples
        smoothed = {"smoothgrad": mean, "smoothgrad_sq": mean_sq, "vargrad": mean_sq - mean ** 2}[nt_type]
        return Tensor(smoothed.astype(x.dtype))
