"""A minimal stand-in for the Hugging Face Hub's upload API, on 127.0.0.1, for testing pushes without the internet.

It answers the four routes `huggingface_hub` uses to create a repo and commit files in "regular" mode (file contents
base64 in the commit's NDJSON, which `huggingface_hub` chooses when the preupload answer says `regular`):

- `POST /api/repos/create` -> `{"url": "<endpoint>/<repo>"}`
- `POST /api/models/<repo>/preupload/<revision>` -> every file `uploadMode: regular`
- `POST /api/models/<repo>/commit/<revision>` -> stores the files, `{"commitOid", "commitUrl"}`
- `POST /api/validate-yaml` -> `{"errors": [], "warnings": []}`

and stores what it receives: `repos` (created repo ids), `files[repo_id][path] = bytes` (committed contents),
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_COMMIT = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/commit/(?P<revision>[^/?]+)")
_PREUPLOAD = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/preupload/(?P<revision>[^/?]+)")


class FakeHub:
    def __init__(self, max_body_bytes: int = 64 * 1024 * 1024, timeout_s: float = 30.0):
        self.max_body_bytes = max_body_bytes
        self.repos: list[str] = []
        self.files: dict[str, dict[str, bytes]] = {}
        self.commits: list[dict] = []
        self.unhandled: list[str] = []
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

            def do_GET(self):
                with hub._lock:
                    hub.unhandled.append(f"GET {self.path}")
                self._reply(404, {"error": "not implemented by the fake hub"})

            do_HEAD = do_GET

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
                    if match := _PREUPLOAD.match(path):
                        files = json.loads(body)["files"]
                        return self._reply(
                            200,
                            {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]},
                        )
                    if match := _COMMIT.match(path):
                        repo_id = match.group("repo")
                        stored = hub.files.setdefault(repo_id, {})
                        for line in body.splitlines():
                            if not line.strip():
                                continue
                            item = json.loads(line)
                            if item["key"] == "header":
                                hub.commits.append({"repo_id": repo_id, **item["value"]})
                            elif item["key"] == "file":
                                value = item["value"]
                                if value.get("encoding") != "base64":
                                    return self._reply(400, {"error": f"unsupported encoding {value.get('encoding')}"})
                                stored[value["path"]] = base64.b64decode(value["content"])
                            else:
                                return self._reply(400, {"error": f"unsupported commit operation {item['key']}"})
                        oid = hashlib.sha1(body).hexdigest()
                        return self._reply(200, {"commitOid": oid, "commitUrl": f"{hub.endpoint}/{repo_id}/commit/{oid}"})
                    hub.unhandled.append(f"POST {self.path}")
                self._reply(404, {"error": "not implemented by the fake hub"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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
