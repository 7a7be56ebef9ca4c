"""SavedModel export with named endpoints, loadable by code that imports only TensorFlow.

``export_model`` writes ``out_dir`` as a SavedModel (``keras.export.ExportArchive``)
with the model's endpoints (``encode``, ``decode``, ``reconstruct``, and
``sample``/``log_prob`` where the model has them), plus ``out_dir/model.keras``
for ``keras.saving.load_model``.
"""
import os
import shutil


def export_model(model, out_dir):
    import keras
    tmp = out_dir.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (fn, signature) in model.export_endpoints().items():
        archive.add_endpoint(name, fn, input_signature=signature)
    archive.write_out(tmp, verbose=False)
    model.save(os.path.join(tmp, "model.keras"))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    return out_dir


def export_run(run_dir, out_dir):
    from infozoo.evaluate import load_run_model
    _, model = load_run_model(run_dir)
    return export_model(model, out_dir)
