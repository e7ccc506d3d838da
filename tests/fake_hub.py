"""A minimal stand-in for the Hugging Face Hub's upload API, on 127.0.0.1, for testing pushes without the internet.

It answers the four routes `huggingface_hub` uses to create a repo and commit files in "regular" mode (file contents
base64 in the commit's NDJSON, which `huggingface_hub` chooses when the preupload answer says `regular`):

- `POST /api/repos/create` -> `{"url": "<endpoint>/<repo>"}`
- `POST /api/models/<repo>/preupload/<revision>` -> every file `uploadMode: regular`
- `POST /api/models/<repo>/commit/<revision>` -> stores the files, `{"commitOid", "commitUrl"}`
- `POST /api/validate-yaml` -> `{"errors": [], "warnings": []}`

the read routes `datasets`' `push_to_hub` uses (repo info, tree listing, paths-info, file download: answered
from what was committed; a missing repo or file is a 404 with the Hub's `X-Error-Code`), model, data set and Space
repos alike, and stores what it receives: `repos` (created repo ids), `files[repo_id][path] = bytes` (committed contents),
`commits` (header of each commit), `unhandled` (any other request, answered 404). Bodies over `max_body_bytes` are
refused (413). Use it as a context manager: it serves in a daemon thread and shuts down on exit.

    with FakeHub() as hub:
        env = {"HF_ENDPOINT": hub.endpoint, "HF_TOKEN": "hf_fake", "HF_HUB_DISABLE_XET": "1", ...}
"""

import base64
import hashlib
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_COMMIT = re.compile(r"^/api/(?:models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)/commit/(?P<revision>[^/?]+)")
_PREUPLOAD = re.compile(r"^/api/(?:models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)/preupload/(?P<revision>[^/?]+)")
# Read routes (for `datasets`' push_to_hub, which looks at the repo before and while it commits):
_REPO_INFO = re.compile(r"^/api/(?:models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)(?:/revision/[^/]+)?$")
_TREE = re.compile(r"^/api/(?:models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)/tree/[^/]+/?(?P<path>.*)$")
_PATHS_INFO = re.compile(r"^/api/(?:models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)/paths-info/[^/]+$")
_LFS_BATCH = re.compile(r"^/(?:datasets/|spaces/)?(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch$")
LFS_SUFFIXES = (".parquet",)  # files the fake hub asks to upload through LFS (as the Hub does for data files)
_RESOLVE = re.compile(r"^/(?:datasets/|spaces/)?(?P<repo>[^/]+/[^/]+)/resolve/[^/]+/(?P<path>.+)$")


class FakeHub:
    def __init__(self, max_body_bytes: int = 64 * 1024 * 1024, timeout_s: float = 30.0):
        self.max_body_bytes = max_body_bytes
        self.repos: list[str] = []
        self.files: dict[str, dict[str, bytes]] = {}
        self.commits: list[dict] = []
        self.unhandled: list[str] = []
        self.heads: dict[str, str] = {}  # repo id -> last commit oid
        self.lfs_objects: dict[str, bytes] = {}  # sha256 -> content uploaded through the LFS batch API
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            timeout = timeout_s

            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes | None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > hub.max_body_bytes:
                    self._reply(413, {"error": f"body of {length} bytes over the limit"})
                    return None
                return self.rfile.read(length)

            def _not_found(self, code: str) -> None:
                body = json.dumps({"error": code}).encode()
                self.send_response(404)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _entries(self, repo_id: str, folder: str) -> list[dict]:
                """Files and sub-folders directly in `folder` of the repo's stored files."""
                prefix = folder.strip("/") + "/" if folder.strip("/") else ""
                entries, folders = [], set()
                for path, content in sorted(hub.files.get(repo_id, {}).items()):
                    if not path.startswith(prefix):
                        continue
                    rest = path[len(prefix):]
                    if "/" in rest:
                        folders.add(prefix + rest.split("/")[0])
                    else:
                        entries.append(hub._file_entry(path, content))
                return entries + [{"type": "directory", "path": name, "oid": "0" * 40, "size": 0}
                                  for name in sorted(folders)]

            def do_GET(self):
                path = urllib.parse.unquote(self.path.split("?")[0])
                with hub._lock:
                    if match := _REPO_INFO.match(path):
                        repo_id = match.group("repo")
                        if repo_id not in hub.files:
                            return self._not_found("RepoNotFound")
                        siblings = [{"rfilename": name} for name in sorted(hub.files[repo_id])]
                        return self._reply(200, {"id": repo_id, "sha": hub._head(repo_id), "siblings": siblings,
                                                 "private": False})
                    if match := _TREE.match(path):
                        if match.group("repo") not in hub.files:
                            return self._not_found("RepoNotFound")
                        entries = self._entries(match.group("repo"), match.group("path"))
                        if match.group("path").strip("/") and not entries:
                            return self._not_found("EntryNotFound")  # as the Hub answers for a missing folder
                        return self._reply(200, entries)
                    if match := _RESOLVE.match(path):
                        content = hub.files.get(match.group("repo"), {}).get(match.group("path"))
                        if content is None:
                            return self._not_found("EntryNotFound")
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(content)))
                        self.send_header("ETag", f'"{hashlib.sha1(content).hexdigest()}"')
                        self.send_header("X-Repo-Commit", hub._head(match.group("repo")))
                        self.end_headers()
                        if self.command != "HEAD":
                            self.wfile.write(content)
                        return None
                    hub.unhandled.append(f"{self.command} {self.path}")
                self._reply(404, {"error": "not implemented by the fake hub"})

            do_HEAD = do_GET

            def do_PUT(self):
                body = self._body()
                if body is None:
                    return
                path = self.path.split("?")[0]
                if path.startswith("/lfs-upload/"):
                    oid = path.rsplit("/", 1)[1]
                    if hashlib.sha256(body).hexdigest() != oid:
                        return self._reply(400, {"error": "LFS content does not match its sha256"})
                    with hub._lock:
                        hub.lfs_objects[oid] = body
                    return self._reply(200, {})
                with hub._lock:
                    hub.unhandled.append(f"PUT {self.path}")
                self._reply(404, {"error": "not implemented by the fake hub"})

            def do_POST(self):
                body = self._body()
                if body is None:
                    return
                path = self.path.split("?")[0]
                with hub._lock:
                    if path == "/api/repos/create":
                        request = json.loads(body)
                        name = request["name"]
                        repo_id = name if "/" in name else f"{request.get('organization') or 'user'}/{name}"
                        hub.repos.append(repo_id)
                        hub.files.setdefault(repo_id, {})
                        return self._reply(200, {"url": f"{hub.endpoint}/{repo_id}", "name": repo_id})
                    if path == "/api/validate-yaml":
                        return self._reply(200, {"errors": [], "warnings": []})
                    if match := _PATHS_INFO.match(path):
                        fields = urllib.parse.parse_qs(body.decode()) if body[:1] != b"{" else json.loads(body)
                        wanted = fields.get("paths", [])
                        stored = hub.files.get(match.group("repo"), {})
                        return self._reply(200, [hub._file_entry(p, stored[p]) for p in wanted if p in stored])
                    if match := _PREUPLOAD.match(path):
                        files = json.loads(body)["files"]
                        return self._reply(
                            200,
                            {"files": [{"path": f["path"], "shouldIgnore": False,
                                        "uploadMode": "lfs" if f["path"].endswith(LFS_SUFFIXES) else "regular"}
                                       for f in files]},
                        )
                    if match := _LFS_BATCH.match(path):
                        objects = json.loads(body)["objects"]
                        answer = [{"oid": o["oid"], "size": o["size"], "authenticated": True,
                                   "actions": {"upload": {"href": f"{hub.endpoint}/lfs-upload/{o['oid']}"}}}
                                  for o in objects]
                        return self._reply(200, {"transfer": "basic", "objects": answer})
                    if match := _COMMIT.match(path):
                        repo_id = match.group("repo")
                        stored = hub.files.setdefault(repo_id, {})
                        for line in body.splitlines():
                            if not line.strip():
                                continue
                            item = json.loads(line)
                            if item["key"] == "header":
                                hub.commits.append({"repo_id": repo_id, **item["value"]})
                            elif item["key"] == "lfsFile":
                                value = item["value"]
                                if value["oid"] not in hub.lfs_objects:
                                    return self._reply(400, {"error": f"LFS object {value['oid']} was not uploaded"})
                                stored[value["path"]] = hub.lfs_objects[value["oid"]]
                            elif item["key"] == "deletedFile":
                                stored.pop(item["value"]["path"], None)
                            elif item["key"] == "file":
                                value = item["value"]
                                if value.get("encoding") != "base64":
                                    return self._reply(400, {"error": f"unsupported encoding {value.get('encoding')}"})
                                stored[value["path"]] = base64.b64decode(value["content"])
                            else:
                                return self._reply(400, {"error": f"unsupported commit operation {item['key']}"})
                        oid = hashlib.sha1(body).hexdigest()
                        hub.heads[repo_id] = oid
                        return self._reply(200, {"commitOid": oid, "commitUrl": f"{hub.endpoint}/{repo_id}/commit/{oid}"})
                    hub.unhandled.append(f"POST {self.path}")
                self._reply(404, {"error": "not implemented by the fake hub"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _head(self, repo_id: str) -> str:
        return self.heads.get(repo_id, "0" * 40)

    @staticmethod
    def _file_entry(path: str, content: bytes) -> dict:
        return {"type": "file", "path": path, "size": len(content), "oid": hashlib.sha1(content).hexdigest()}

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
