"""``infozoo probe RUN_DIR``: load a run, probe its test images, write JSON and PNGs."""
import json
import os
import warnings

from infozoo.util.io import atomic_write


#: the settings ``infozoo probe`` uses where ``ProbeSettings``' own defaults differ
RUN_DEFAULTS = {"ci": 0.95, "dropped_entropy": "flow"}


def run_probe(run_dir, settings=None, samples=512, strategy="default", cpu_replicas=1,
              data_dir=None, formats=("png",), first_order_rows=16, **kwargs):
    """Probes the run's model on its first ``samples`` test images (trimmed to a multiple
    of the replicas) with ``settings`` (a ``ProbeSettings``; default: its defaults with
    :data:`RUN_DEFAULTS`, intervals at 0.95; keywords replace fields). Writes
    ``RUN_DIR/probe.json`` and ``RUN_DIR/images/probe_information.png`` (the Shannon figures
    with their intervals and ceilings), with ``renyi`` also ``probe_information_plane.png``
    and ``probe_entropy_change.png`` (``formats``: png, pdf, svg); ``dropped_entropy``
    (``"flow"``, ``"gaussian"`` or None): the upper bound of ``h(dropped | kept)`` at every
    zero-padding / split (:mod:`infozoo.probe.padding`), on the images dequantised by
    ``U(0, 1/256)``; ``first_order_rows``: with ``input-noise``, check its first-order
    pushforward on that many test images (``first_order_check``; 0: no check), the result
    under ``"first_order"`` and a warning where it does not hold; returns the result dict
    (with ``"files"``)."""
    from infozoo.probe.settings import ProbeSettings
    settings = ProbeSettings.of(ProbeSettings(**RUN_DEFAULTS) if settings is None else settings,
                                **kwargs)
    from infozoo.distribute import strategy as distribute
    distribute.configure_cpu_replicas(cpu_replicas if strategy == "mirrored" else 1)
    from infozoo.data import catalog, loaders as data_lib
    from infozoo.run import factory, rundir as runs
    from infozoo.viz import plots
    from infozoo.probe.probe import Probe

    strat = distribute.make_strategy(strategy, cpu_replicas)
    with strat.scope():
        cfg, model, weights = factory.load_model(run_dir)
    d = cfg.data
    _, _, xte, _ = data_lib.load_arrays(d.dataset, data_dir or d.data_dir, 1,
                                        int(samples))
    data_lib.check_images(xte, model.image_shape, "test data")
    R = strat.num_replicas_in_sync
    n = len(xte) - len(xte) % R
    if n < 2 * R:
        raise ValueError(f"need at least {2 * R} test images for {R} replica(s), have {len(xte)}")
    padding = None
    if settings.dropped_entropy not in (None, "none"):   # 8-bit images: x + U(0, 1/256)
        pixels = catalog.value_range_of(d.dataset) is not None   # has a density; points do
        padding = {"model": settings.dropped_entropy, "dequantize": 1 / 256 if pixels else None}
    result = Probe(model, strategy=strat,
                   settings=settings.replace(dropped_entropy=padding))(xte[:n])
    sigma = result["estimator_options"].get("input-noise", {}).get("sigma")
    if first_order_rows and sigma is not None:
        from infozoo.probe.estimators.input_noise import first_order_check, first_order_warnings
        checks = first_order_check(model, xte[:first_order_rows], sigma)
        result["first_order"] = {"sigma": sigma, "rows": min(int(first_order_rows), n),
                                 "entries": checks}
        for w in first_order_warnings(checks, sigma):
            warnings.warn(w, stacklevel=2)
            result["warnings"] = result["warnings"] + [w]
    try:
        state = runs.checkpoint_state(run_dir)
    except RuntimeError:   # unreadable: load_model named it and took the export
        state = None
    preset = None if state is None else state.data.get("preset")
    if preset:  # a preset read as a run (infozoo probe --preset): which trained model it was
        from infozoo import presets
        result.update(preset=preset, commit=presets.info(preset)["commit"])
    result.update(run_dir=run_dir, zoo=cfg.zoo, model=cfg.model,
                  dataset=d.dataset, code_size=int(model.code_size),
                  weights={k: weights[k] for k in ("source", "path", "epoch", "step",
                                                   "global_step")})
    title = f"{cfg.zoo} on {d.dataset}, code {model.code_size}"
    result["files"] = []
    try:  # a run directory that cannot take the files still gets its results printed
        result["files"] = plots.write_plots(result, os.path.join(run_dir, "images"), "probe",
                                            title, formats=formats)
        atomic_write(os.path.join(run_dir, "probe.json"), json.dumps(result, indent=2))
    except OSError as e:
        result["not_written"] = (f"could not write {os.path.join(run_dir, 'probe.json')} or "
                                 f"its figures ({e.strerror or e}); the results are printed "
                                 f"only")
    return result
