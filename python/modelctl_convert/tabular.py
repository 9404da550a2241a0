"""scikit-learn (skl2onnx), XGBoost and LightGBM (onnxmltools): tabular classifiers and regressors."""
import json
import os

from .common import Converted, as_float_matrix, record, run_onnx, version_of
from .events import conversion, progress, require, usage


def _is_classifier(model):
    if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
        return True
    return getattr(model, "_estimator_type", None) == "classifier"


def _final_step(model):
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def _n_features(model):
    n = getattr(model, "n_features_in_", None)
    if n is None:
        raise conversion("the model does not say how many features it takes (n_features_in_): is it fitted?")
    return int(n)


def _feature_names(model):
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None


def _validate_tabular(model, x, classifier, proba=None, predict=None):
    """Compares the source's own predictions on x with ONNX Runtime's (labels exactly, scores within atol)."""
    np = require("numpy", "base")

    def check(onnx_path):
        names, outs = run_onnx(onnx_path, {"input": x})
        if classifier:
            probs_src = proba(x) if proba else model.predict_proba(x)
            labels_src = predict(x) if predict else model.predict(x)
            label_out, prob_out = outs[0], outs[1]
            labels_equal = bool(np.array_equal(np.asarray(labels_src).reshape(-1).astype(str), np.asarray(label_out).reshape(-1).astype(str)))
            return record([(names[1], probs_src, prob_out)], len(x), labels_equal=labels_equal)
        values = predict(x) if predict else model.predict(x)
        return record([(names[0], values, outs[0])], len(x))

    return check


def _written(convert, what, out, framework, framework_version, classifier, features, validate):
    """Runs the converter call, writes its model to `out` and describes the export: what every tabular export shares."""
    try:
        onx = convert()
    except Exception as e:
        raise conversion(f"{what}: {type(e).__name__}: {e}") from e
    with open(out, "wb") as f:
        f.write(onx.SerializeToString())
    converter = what.split(" ")[0]
    return Converted(
        converter=converter,
        converter_version=version_of(converter),
        framework=framework,
        framework_version=framework_version,
        task="tabular-classification" if classifier else "tabular-regression",
        features=features,
        validate=validate,
    )


def _load_pickle(path, family):
    joblib = require("joblib", family)
    progress("load", f"unpickling {os.path.basename(path)} (this runs code from the file: only for trusted files)")
    try:
        return joblib.load(path)
    except Exception as e:
        raise conversion(f"cannot load {path}: {type(e).__name__}: {e}") from e


def export_sklearn(args, out):
    skl2onnx = require("skl2onnx", "sklearn")
    require("sklearn", "sklearn")
    from skl2onnx.common.data_types import FloatTensorType

    model = _load_pickle(args.source, "sklearn")
    n = _n_features(model)
    classifier = _is_classifier(model)
    x = as_float_matrix(args.samples, n)
    progress("convert", f"skl2onnx {version_of('skl2onnx')}: {type(model).__name__}")
    # ZipMap off: probabilities as a plain tensor, which every ONNX Runtime binding can fetch.
    options = {id(_final_step(model)): {"zipmap": False}} if classifier else None
    return _written(
        lambda: skl2onnx.convert_sklearn(model, initial_types=[("input", FloatTensorType([None, n]))], target_opset=args.opset, options=options),
        "skl2onnx", out, "scikit-learn", version_of("scikit-learn"), classifier,
        features=_feature_names(model),
        validate=_validate_tabular(model, x, classifier),
    )


def _xgb_model(path, xgb):
    if path.lower().endswith((".json", ".ubj", ".bin", ".model")):
        booster = xgb.Booster()
        booster.load_model(path)
        objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
        cls = xgb.XGBClassifier if objective.startswith(("binary:", "multi:")) else xgb.XGBRegressor
        model = cls()
        model.load_model(path)
        return model
    return _load_pickle(path, "xgboost")


def export_xgboost(args, out):
    xgb = require("xgboost", "xgboost")
    onnxmltools = require("onnxmltools", "xgboost")
    from onnxmltools.convert.common.data_types import FloatTensorType

    progress("load", f"xgboost {xgb.__version__}: {os.path.basename(args.source)}")
    model = _xgb_model(args.source, xgb)
    booster = model.get_booster()
    names = booster.feature_names
    n = booster.num_features()
    classifier = _is_classifier(model)
    x = as_float_matrix(args.samples, n)
    # onnxmltools reads the trees' dump, which must name features f0, f1, ...: the names are kept for the metadata.
    booster.feature_names = None
    progress("convert", f"onnxmltools {version_of('onnxmltools')}: {type(model).__name__}")
    return _written(
        lambda: onnxmltools.convert_xgboost(model, initial_types=[("input", FloatTensorType([None, n]))], target_opset=args.opset),
        "onnxmltools (xgboost)", out, "xgboost", xgb.__version__, classifier,
        features=list(names) if names else None,
        validate=_validate_tabular(model, x, classifier),
    )


def export_lightgbm(args, out):
    lgb = require("lightgbm", "lightgbm")
    onnxmltools = require("onnxmltools", "lightgbm")
    np = require("numpy", "base")
    from onnxmltools.convert.common.data_types import FloatTensorType

    progress("load", f"lightgbm {lgb.__version__}: {os.path.basename(args.source)}")
    if args.source.lower().endswith((".txt", ".model")):
        model = lgb.Booster(model_file=args.source)
        booster = model
    else:
        model = _load_pickle(args.source, "lightgbm")
        booster = getattr(model, "booster_", model)
    if not isinstance(booster, lgb.Booster):
        raise usage(f"{args.source} is not a LightGBM model ({type(model).__name__})")
    objective = str(booster.dump_model().get("objective", ""))
    classifier = objective.startswith(("binary", "multiclass", "multiclassova", "cross_entropy"))
    n = booster.num_feature()
    x = as_float_matrix(args.samples, n)
    proba = predict = None
    if model is booster and classifier:
        def proba(v):
            p = booster.predict(v)
            return np.stack([1 - p, p], axis=1) if p.ndim == 1 else p

        def predict(v):
            return np.argmax(proba(v), axis=1)
    elif model is booster:
        predict = booster.predict
    progress("convert", f"onnxmltools {version_of('onnxmltools')}: {type(model).__name__} ({objective or 'unknown objective'})")
    return _written(
        lambda: onnxmltools.convert_lightgbm(model, initial_types=[("input", FloatTensorType([None, n]))], target_opset=args.opset, zipmap=False),
        "onnxmltools (lightgbm)", out, "lightgbm", lgb.__version__, classifier,
        features=[str(f) for f in booster.feature_name()],
        validate=_validate_tabular(model, x, classifier, proba=proba, predict=predict),
    )
