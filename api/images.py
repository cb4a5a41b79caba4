"""Image routes: list, pull/import (``/images/create``), inspect, history, push, tag, remove, save, load,
prune, build, commit; ``search`` answers that there is no index here."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from api.filters import request_filters
from api.http import ApiError, ClientGone, Request
from api.system import registry_auth
from core.dockerjson import history_to_docker, image_summary_to_docker
from core.errors import BuildError, DockyardError
from core.models import BuildEvent, BuildOptions, ImageSummary

MAX_BUILD_CONTEXT = 2 << 30  # the engine takes the context as bytes: more than this is refused


def _reference(name: str, tag: str) -> str:
    if not tag:
        return name
    if tag.startswith("sha256:"):
        return f"{name}@{tag}"
    return f"{name}:{tag}"


def _labels(req: Request, image: ImageSummary) -> dict[str, str]:
    with contextlib.suppress(DockyardError):
        doc = req.engine.inspect_image(image.id)
        return dict((doc.get("Config") or {}).get("Labels") or {})
    return {}


def list_images(req: Request) -> None:
    images = req.engine.list_images(all=req.qbool("all"), filters=request_filters(req))
    req.send_json([image_summary_to_docker(i, _labels(req, i)) for i in images])


def inspect(req: Request) -> None:
    doc = dict(req.engine.inspect_image(req.params["name"]))
    meta = doc.get("Metadata")
    if isinstance(meta, dict) and not meta.get("LastTagTime"):
        doc["Metadata"] = {**meta, "LastTagTime": "0001-01-01T00:00:00Z"}  # a time Go's clients can parse
    req.send_json(doc)


def history(req: Request) -> None:
    req.send_json([history_to_docker(h) for h in req.engine.history(req.params["name"])])


def _login_from_header(req: Request, reference: str) -> None:
    """Credentials a client sends with a pull or push (``X-Registry-Auth``): the interface takes them the
    way ``docker login`` gives them, for the registry they name."""
    creds = registry_auth(req)
    if not creds or not creds.get("username") or not creds.get("password"):
        return
    server = str(creds.get("serveraddress") or "")
    if not server:
        first = reference.split("/", 1)[0]
        server = first if ("." in first or ":" in first or first == "localhost") and "/" in reference else ""
    if server:
        req.engine.login(server, str(creds["username"]), str(creds["password"]))


def create(req: Request) -> None:
    """``docker pull`` (``fromImage``) and ``docker import`` (``fromSrc``)."""
    if req.q("fromSrc"):
        _import(req)
        return
    name = req.q("fromImage")
    if not name:
        raise ApiError(400, "fromImage or fromSrc is needed")
    reference = _reference(name, req.q("tag"))
    parsed = _parse(reference)
    _login_from_header(req, reference)
    stream = req.engine.pull_stream(reference, platform=req.q("platform") or None)
    req.start_stream("application/json")
    stop = req.watch_disconnect(stream.close)
    try:
        for message in stream:
            if message.get("status", "").startswith("Pulling from"):
                message = {**message, "id": parsed[1]}
            req.write_json(message)
        result = stream.result
        if result is not None:
            req.write_json({"status": f"Digest: {result.digest}"})
            state = "Downloaded newer image" if result.new else "Image is up to date"
            req.write_json({"status": f"Status: {state} for {parsed[0]}"})
    except ClientGone:
        pass
    finally:
        stop()
        stream.close()


def _parse(reference: str) -> tuple[str, str]:
    """(the reference as docker prints it, its tag or digest)."""
    from core.interface import parse_reference

    ref = parse_reference(reference)
    return ref.familiar(), ref.digest or ref.tag or "latest"


def _import(req: Request) -> None:
    src = req.q("fromSrc")
    if src != "-":
        raise ApiError(400, "importing from a URL is not supported: send the archive as the body (fromSrc=-)")
    repo = req.q("repo")
    reference = _reference(repo, req.q("tag")) if repo else None
    changes = req.query.get("changes") or []
    image = req.engine.import_image(
        req.body,
        reference,
        message=req.q("message"),
        changes=[c for c in changes if c],
        platform=req.q("platform") or None,
    )
    req.start_stream("application/json")
    with contextlib.suppress(ClientGone):
        req.write_json({"status": image.id})


def push(req: Request) -> None:
    name = req.params["name"]
    reference = _reference(name, req.q("tag"))
    req.engine.image(reference)  # 404 before the stream begins
    _login_from_header(req, reference)
    stream = req.engine.push_stream(reference)
    req.start_stream("application/json")
    stop = req.watch_disconnect(stream.close)
    try:
        req.write_json({"status": f"The push refers to repository [{reference.rsplit(':', 1)[0]}]"})
        for message in stream:
            req.write_json(message)
        result = stream.result
        if result is not None:
            tag = _parse(reference)[1]
            req.write_json({"status": f"{tag}: digest: {result.digest} size: {result.size}"})
            req.write_json(
                {"progressDetail": {}, "aux": {"Tag": tag, "Digest": result.digest, "Size": result.size}}
            )
    except ClientGone:
        pass
    finally:
        stop()
        stream.close()


def tag(req: Request) -> None:
    repo = req.q("repo")
    if not repo:
        raise ApiError(400, "repository name (repo) is needed")
    req.engine.tag_image(req.params["name"], _reference(repo, req.q("tag") or "latest"))
    req.send_empty(201)


def remove(req: Request) -> None:
    removed = req.engine.remove_image(req.params["name"], force=req.qbool("force"))
    out: list[dict[str, str]] = [{"Untagged": u} for u in removed.untagged]
    out += [{"Deleted": d} for d in removed.deleted]
    req.send_json(out)


def _save(req: Request, names: list[str]) -> None:
    if not names:
        raise ApiError(400, "no image to save (?names=)")
    for n in names:
        req.engine.image(n)  # 404 before the stream begins

    class Out:
        def write(self, data: bytes) -> int:
            req.write(data)
            return len(data)

        def flush(self) -> None:
            pass

    req.start_stream("application/x-tar")
    with contextlib.suppress(ClientGone):
        req.engine.save_images(names, Out())


def save_one(req: Request) -> None:
    _save(req, [req.params["name"]])


def save(req: Request) -> None:
    _save(req, [n for n in req.query.get("names", []) if n])


def load(req: Request) -> None:
    req.start_stream("application/json")
    try:
        lines = req.engine.load_images(req.body)
    except DockyardError as err:
        req.handler.close_connection = True
        req.write_json({"errorDetail": {"message": str(err)}, "error": str(err)})
        return
    with contextlib.suppress(ClientGone):
        for line in lines:
            req.write_json({"stream": f"{line}\n"})


def prune(req: Request) -> None:
    filters = request_filters(req)
    dangling = filters.pop("dangling", ["true"])[-1].lower()  # docker's dangling=false is prune -a
    removed, freed = req.engine.prune_images(all=dangling in ("false", "0"), filters=filters)
    out: list[dict[str, str]] = [{"Untagged": u} for u in removed.untagged]
    out += [{"Deleted": d} for d in removed.deleted]
    req.send_json({"ImagesDeleted": out or None, "SpaceReclaimed": freed})


def search(req: Request) -> None:
    raise ApiError(
        501, "image search is not supported: dockyard has no index to search; browse the registry instead"
    )


# ------------------------------------------------------------------------------------------------- build


def _json_map(req: Request, name: str) -> dict[str, str]:
    value = req.qjson(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, f"invalid {name}: expected a JSON object")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def build(req: Request) -> None:
    if req.q("remote"):
        raise ApiError(400, "building from a remote context is not supported: send the context as the body")
    unsupported = [
        k
        for k in ("cachefrom", "extrahosts", "squash", "isolation", "cpusetcpus", "cpushares", "memory")
        if req.q(k) and req.q(k) not in ("[]", "null", "0", "false", "")
    ]
    if unsupported:
        raise ApiError(400, f"dockyard does not support these build options: {', '.join(unsupported)}")
    context = req.body.read_all(MAX_BUILD_CONTEXT)
    quiet = req.qbool("q")
    network = req.q("networkmode") or "default"
    options = BuildOptions(
        context=None,
        dockerfile=Path(req.q("dockerfile") or "Dockerfile"),
        context_archive=context,
        tags=[t for t in req.query.get("t", []) if t],
        build_args=_json_map(req, "buildargs"),
        target=req.q("target") or None,
        no_cache=req.qbool("nocache"),
        pull=req.qbool("pull"),
        labels=_json_map(req, "labels"),
        network=network,
        platform=req.q("platform") or None,
    )
    gone = threading.Event()
    req.start_stream("application/json")
    stop = req.watch_disconnect(gone.set)

    def progress(ev: BuildEvent) -> None:
        if gone.is_set():
            raise ClientGone()  # unwinds the build: its client is not there to take the image
        if quiet:
            return
        if ev.kind == "step":
            text = f"Step {ev.step} : {ev.text}\n"
        elif ev.kind == "output":
            text = ev.text if ev.text.endswith("\n") else ev.text + "\n"
        elif ev.kind == "cached":
            text = " ---> Using cache\n"
        elif ev.kind == "done":
            text = f" ---> done in {ev.seconds:.1f}s\n"
        elif ev.kind == "warning":
            text = f"[WARNING]: {ev.text}\n"
        else:
            text = f"{ev.text}\n"
        req.write_json({"stream": text})

    try:
        result = req.engine.build(options, progress=progress)
        req.write_json({"aux": {"ID": result.image_id}})
        if quiet:
            req.write_json({"stream": f"{result.image_id}\n"})
        else:
            short = result.image_id.removeprefix("sha256:")[:12]
            req.write_json({"stream": f"Successfully built {short}\n"})
            for t in result.tags:
                req.write_json({"stream": f"Successfully tagged {t}\n"})
    except ClientGone:
        pass
    except BuildError as err:
        with contextlib.suppress(ClientGone):
            for line in err.output:
                req.write_json({"stream": line if line.endswith("\n") else line + "\n"})
            req.write_json({"errorDetail": {"code": 1, "message": str(err)}, "error": str(err)})
    finally:
        stop()


def commit(req: Request) -> None:
    container = req.q("container")
    if not container:
        raise ApiError(400, "the container to commit is needed (?container=)")
    config = req.json_object()
    if any(v not in (None, "", [], {}, False, 0) for k, v in config.items() if k not in ("Image",)):
        raise ApiError(400, "a commit with a container config is not supported: use changes= instead")
    repo = req.q("repo")
    reference = _reference(repo, req.q("tag") or "latest") if repo else None
    image = req.engine.commit(
        container,
        reference,
        message=req.q("comment"),
        author=req.q("author"),
        changes=[c for c in req.query.get("changes", []) if c],
        pause=req.qbool("pause", True),
    )
    req.send_json({"Id": image.id}, 201)


ROUTES = [
    ("GET", "/images/json", list_images),
    ("POST", "/images/create", create),
    ("POST", "/images/load", load),
    ("POST", "/images/prune", prune),
    ("GET", "/images/search", search),
    ("GET", "/images/get", save),
    ("POST", "/build", build),
    ("POST", "/commit", commit),
    ("GET", "/images/{name*}/json", inspect),
    ("GET", "/images/{name*}/history", history),
    ("POST", "/images/{name*}/push", push),
    ("POST", "/images/{name*}/tag", tag),
    ("GET", "/images/{name*}/get", save_one),
    ("DELETE", "/images/{name*}", remove),
]
