"""A small kustomize renderer in Python, enough for deploy/kubernetes (no kubectl needed).

It reads ``kustomization.yaml`` and supports:

- ``resources``: YAML files (several documents each) and directories holding a kustomization;
- ``secretGenerator`` / ``configMapGenerator`` with ``envs`` and ``literals``, behaviours
  ``create``, ``replace`` and ``merge`` (names never get a hash suffix: use
  ``options.disableNameSuffixHash: true``, which the renderer requires);
- ``patches`` from ``path`` or inline ``patch``, with or without ``target``: JSON patches
  (RFC 6902: add, remove, replace, test) and strategic-merge patches, the latter merging
  mappings deeply and lists of mappings by their ``name`` (containers, env, volumes), and
  replacing any other list;
- ``namespace``, ``labels`` (``includeSelectors``, ``includeTemplates``), ``commonLabels``;
- ``images`` (``newName``, ``newTag``, ``digest``).

Anything else in a kustomization raises :class:`UnsupportedError`, so the manifests cannot
drift into features this renderer would silently ignore; tests/deploy/test_kubernetes.py
compares its output with ``kubectl kustomize`` where kubectl is installed.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_KEYS = frozenset(
    {
        "apiVersion",
        "kind",
        "namespace",
        "resources",
        "patches",
        "images",
        "labels",
        "commonLabels",
        "secretGenerator",
        "configMapGenerator",
    }
)
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "PriorityClass",
        "StorageClass",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
# Where a workload keeps its pod template, and where selectors live.
POD_TEMPLATE_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}
)


class UnsupportedError(ValueError):
    """The kustomization uses something this renderer does not implement."""


def load_documents(path: Path) -> list[Obj]:
    """The non-empty YAML documents of ``path``."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def render(directory: Path) -> list[Obj]:
    """The objects ``kustomize build directory`` would print (in input order)."""
    kustomization = _load_kustomization(directory)
    unknown = set(kustomization) - SUPPORTED_KEYS
    if unknown:
        raise UnsupportedError(f"{directory}: unsupported kustomization fields {sorted(unknown)}")

    objects: list[Obj] = []
    for entry in kustomization.get("resources") or []:
        path = directory / entry
        objects.extend(render(path) if path.is_dir() else load_documents(path))

    for generator_kind, kind in (
        ("configMapGenerator", "ConfigMap"),
        ("secretGenerator", "Secret"),
    ):
        for generator in kustomization.get(generator_kind) or []:
            _generate(objects, directory, kind, generator)

    for patch in kustomization.get("patches") or []:
        _apply_patch(objects, directory, patch)

    namespace = kustomization.get("namespace")
    if namespace:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = namespace

    if kustomization.get("commonLabels"):
        _add_labels(objects, kustomization["commonLabels"], selectors=True, templates=True)
    for entry in kustomization.get("labels") or []:
        _add_labels(
            objects,
            entry["pairs"],
            selectors=bool(entry.get("includeSelectors", False)),
            templates=bool(entry.get("includeTemplates", False)),
        )

    for image in kustomization.get("images") or []:
        _set_image(objects, image)

    seen: set[tuple[str, str, str]] = set()
    for obj in objects:
        key = (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if key in seen:
            raise ValueError(f"{directory}: two objects {key}")
        seen.add(key)
    return objects


def _load_kustomization(directory: Path) -> Obj:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            assert isinstance(loaded, dict), path
            return loaded
    raise FileNotFoundError(f"no kustomization in {directory}")


# -- generators --------------------------------------------------------------------------------


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: not KEY=VALUE: {raw!r}")
        values[key.strip()] = value
    return values


def _generate(objects: list[Obj], directory: Path, kind: str, generator: Obj) -> None:
    unknown = set(generator) - {
        "name",
        "namespace",
        "behavior",
        "type",
        "envs",
        "literals",
        "options",
    }
    if unknown:
        raise UnsupportedError(f"{kind} generator fields {sorted(unknown)}")
    if not (generator.get("options") or {}).get("disableNameSuffixHash"):
        raise UnsupportedError("generated names need options.disableNameSuffixHash: true here")
    values: dict[str, str] = {}
    for env_file in generator.get("envs") or []:
        values.update(_parse_env_file(directory / env_file))
    for literal in generator.get("literals") or []:
        key, _, value = str(literal).partition("=")
        values[key] = value
    data = (
        {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}
        if kind == "Secret"
        else values
    )
    name = generator["name"]
    behavior = generator.get("behavior", "create")
    existing = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    if behavior == "create":
        if existing:
            raise ValueError(f"{kind} {name} already exists: use behavior replace or merge")
        obj: Obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": data}
        if kind == "Secret":
            obj["type"] = generator.get("type", "Opaque")
        objects.append(obj)
        return
    if len(existing) != 1:
        raise ValueError(f"behavior {behavior}: no {kind} {name} to change")
    target = existing[0]
    if behavior == "replace":
        target.pop("stringData", None)
        target["data"] = data
    elif behavior == "merge":
        if kind == "Secret":
            # stringData wins over data on the server: fold it in first.
            for key, value in (target.pop("stringData", None) or {}).items():
                target.setdefault("data", {})[key] = base64.b64encode(value.encode()).decode()
        target.setdefault("data", {}).update(data)
    else:
        raise UnsupportedError(f"generator behavior {behavior!r}")
    if kind == "Secret" and "type" in generator:
        target["type"] = generator["type"]


# -- patches -----------------------------------------------------------------------------------


def _apply_patch(objects: list[Obj], directory: Path, entry: Obj) -> None:
    unknown = set(entry) - {"path", "patch", "target"}
    if unknown:
        raise UnsupportedError(f"patch fields {sorted(unknown)}")
    if "path" in entry:
        text = (directory / entry["path"]).read_text(encoding="utf-8")
    else:
        text = entry["patch"]
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    target = entry.get("target")

    if len(documents) == 1 and isinstance(documents[0], list):
        if not target:
            raise ValueError("a JSON patch needs a target")
        matched = [obj for obj in objects if _matches(obj, target)]
        if not matched:
            raise ValueError(f"JSON patch target {target} matches nothing")
        for obj in matched:
            _json_patch(obj, documents[0])
        return

    for document in documents:
        if not isinstance(document, dict):
            raise UnsupportedError(f"patch document {document!r}")
        selector = target or {"kind": document["kind"], "name": document["metadata"]["name"]}
        matched = [obj for obj in objects if _matches(obj, selector)]
        if not matched:
            raise ValueError(f"strategic-merge patch for {selector} matches nothing")
        for obj in matched:
            patch = copy.deepcopy(document)
            if target:  # one patch for several objects: each keeps its own name
                patch.setdefault("metadata", {})["name"] = obj["metadata"]["name"]
            merged = strategic_merge(obj, patch)
            obj.clear()
            obj.update(merged)


def _matches(obj: Obj, selector: Obj) -> bool:
    unknown = set(selector) - {"kind", "name", "namespace", "group", "version", "labelSelector"}
    if unknown:
        raise UnsupportedError(f"patch target fields {sorted(unknown)}")
    metadata = obj["metadata"]
    group, _, version = obj["apiVersion"].rpartition("/")
    checks = [
        ("kind", obj["kind"]),
        ("name", metadata["name"]),
        ("namespace", metadata.get("namespace", "")),
        ("group", group),
        ("version", version),
    ]
    for field, value in checks:
        if field in selector and not re.fullmatch(str(selector[field]), value):
            return False
    if "labelSelector" in selector:
        labels = metadata.get("labels") or {}
        for requirement in str(selector["labelSelector"]).split(","):
            key, sep, value = requirement.partition("=")
            if not sep:
                raise UnsupportedError(f"label selector {requirement!r}: only key=value")
            if labels.get(key.strip()) != value.strip():
                return False
    return True


def strategic_merge(base: Any, patch: Any) -> Any:
    """``patch`` merged into ``base``: mappings deeply (a null deletes), lists of mappings that
    all have a ``name`` by name, any other value replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        result = [copy.deepcopy(item) for item in base]
        index = {item["name"]: position for position, item in enumerate(result)}
        for item in patch:
            if item["name"] in index:
                position = index[item["name"]]
                result[position] = strategic_merge(result[position], item)
            else:
                result.append(copy.deepcopy(item))
        return result
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _json_patch(obj: Obj, operations: Iterable[Obj]) -> None:
    for operation in operations:
        op = operation["op"]
        *parents, last = _pointer(operation["path"])
        container: Any = obj
        for part in parents:
            container = container[int(part)] if isinstance(container, list) else container[part]
        if op == "test":
            current = container[int(last)] if isinstance(container, list) else container[last]
            if current != operation["value"]:
                raise ValueError(f"JSON patch test failed at {operation['path']}")
        elif op in ("add", "replace"):
            value = copy.deepcopy(operation["value"])
            if isinstance(container, list):
                if op == "add":
                    container.insert(len(container) if last == "-" else int(last), value)
                else:
                    container[int(last)] = value
            else:
                if op == "replace" and last not in container:
                    raise ValueError(f"JSON patch replace: nothing at {operation['path']}")
                container[last] = value
        elif op == "remove":
            if isinstance(container, list):
                del container[int(last)]
            else:
                del container[last]
        else:
            raise UnsupportedError(f"JSON patch op {op!r}")


# -- labels and images -------------------------------------------------------------------------


def pod_specs(obj: Obj) -> Iterator[Obj]:
    """The pod specs of an object: a Pod's own, or a workload's template (CronJobs too)."""
    if obj["kind"] == "Pod":
        yield obj["spec"]
    elif obj["kind"] in POD_TEMPLATE_KINDS:
        yield obj["spec"]["template"]["spec"]
    elif obj["kind"] == "CronJob":
        yield obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _add_labels(
    objects: list[Obj], pairs: dict[str, str], *, selectors: bool, templates: bool
) -> None:
    for obj in objects:
        obj["metadata"].setdefault("labels", {}).update(pairs)
        if templates and obj["kind"] in POD_TEMPLATE_KINDS:
            template = obj["spec"]["template"]
            template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        if selectors:
            if obj["kind"] == "Service":
                obj["spec"].setdefault("selector", {}).update(pairs)
            elif (
                obj["kind"] in POD_TEMPLATE_KINDS - {"Job"} or obj["kind"] == "PodDisruptionBudget"
            ):
                selector = obj["spec"].setdefault("selector", {})
                selector.setdefault("matchLabels", {}).update(pairs)


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    name, _, digest = image.partition("@")
    tag: str | None = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def _set_image(objects: list[Obj], entry: Obj) -> None:
    for obj in objects:
        for spec in pod_specs(obj):
            for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                name, tag, digest = _split_image(container["image"])
                if name != entry["name"]:
                    continue
                new = entry.get("newName", name)
                if entry.get("digest"):
                    container["image"] = f"{new}@{entry['digest']}"
                elif entry.get("newTag"):
                    container["image"] = f"{new}:{entry['newTag']}"
                else:
                    suffix = f"@{digest}" if digest else (f":{tag}" if tag else "")
                    container["image"] = f"{new}{suffix}"
