"""errors.py is the one vocabulary of failure (issue 27): one exception tree, and the error
codes, backend error kinds and decision statuses as ``Literal`` types that equal what
docs/protocol.md and docs/backends.md list, used by every module that builds or reads them.

The scans use the standard library's ast, so a new module that defines its own exception or
classifies a refusal by hand fails here, not in review.
"""

from __future__ import annotations

import ast
import re
import typing
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent_arena import errors

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "python" / "agent_arena"
PROTOCOL_DOC = (ROOT / "docs" / "protocol.md").read_text()
BACKENDS_DOC = (ROOT / "docs" / "backends.md").read_text()

# exceptions outside errors.py, each with why it is not part of the tree: private signals that
# never leave their module's control flow and never reach a caller of the library
PRIVATE_SIGNALS = {
    ("protocol.py", "_TooDeep"): "unwinds the nesting-depth walk; decode turns it into "
                                 "ProtocolError bad_message",
    ("backends/http.py", "_TransientStatus"): "a 429/5xx inside tenacity's retry loop; the "
                                              "backend turns the last one into BackendError",
    ("backends/llama_cpp.py", "_Cancelled"): "raised inside llama.cpp's eval callback to stop a "
                                             "generation nobody awaits any more",
}


def sources() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(), str(path))


def _base_names(cls: ast.ClassDef) -> list[str]:
    return [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
            for b in cls.bases]


def exception_classes() -> list[tuple[str, str]]:
    """(module path, class name) of every class in the package that derives from an exception,
    found by name to a fixed point (builtins, errors.py's tree, then classes found so far)."""
    import builtins

    known = {n for n, v in vars(builtins).items()
             if isinstance(v, type) and issubclass(v, BaseException)}
    known |= {n for n, v in vars(errors).items()
              if isinstance(v, type) and issubclass(v, BaseException)}
    classes = [(mod, node) for mod, tree in sources() for node in ast.walk(tree)
               if isinstance(node, ast.ClassDef)]
    found: set[tuple[str, str]] = set()
    grew = True
    while grew:
        grew = False
        for mod, node in classes:
            if (mod, node.name) not in found and known & set(_base_names(node)):
                found.add((mod, node.name))
                known.add(node.name)
                grew = True
    return sorted(found)


def literal_args(tp: object) -> set[str]:
    return set(typing.get_args(tp))


# ---- one exception tree --------------------------------------------------------------------------


def test_every_exception_is_defined_in_errors_py():
    outside = [(mod, name) for mod, name in exception_classes()
               if mod != "errors.py" and (mod, name) not in PRIVATE_SIGNALS]
    assert not outside, (f"exception classes outside errors.py: {outside}; define them in "
                         "errors.py (the one tree) or list a private signal here with why")


def test_private_signals_are_still_there_and_private():
    found = set(exception_classes())
    for (mod, name), why in PRIVATE_SIGNALS.items():
        assert (mod, name) in found, f"{mod}:{name} is gone: drop it from PRIVATE_SIGNALS"
        assert name.startswith("_") and why


def test_the_tree_has_one_root():
    tree = [v for v in vars(errors).values()
            if isinstance(v, type) and issubclass(v, BaseException)]
    assert all(issubclass(c, errors.ArenaError) for c in tree), tree
    for name in ("ScenarioError", "MaskError", "ActionRefused", "TruncatedOutput"):
        assert getattr(errors, name).__module__ == "agent_arena.errors"


def test_moved_errors_are_still_importable_where_they_were():
    from agent_arena.backends.external import ActionRefused
    from agent_arena.backends.vllm import TruncatedOutput
    from agent_arena.evaluation import ScenarioError as EvalScenarioError
    from agent_arena.scenarios import ScenarioError
    from agent_arena.tools import MaskError

    assert ActionRefused is errors.ActionRefused and TruncatedOutput is errors.TruncatedOutput
    assert ScenarioError is EvalScenarioError is errors.ScenarioError
    assert MaskError is errors.MaskError


# ---- error codes ---------------------------------------------------------------------------------


def protocol_doc_codes() -> set[str]:
    section = PROTOCOL_DOC.split("### `error`", 1)[1].split("\n## ", 1)[0]
    table = section.split("| code ", 1)[1]
    return set(re.findall(r"^\| `(\w+)` +\|", table, re.M))


def test_wire_error_codes_are_the_ones_docs_protocol_lists():
    assert literal_args(errors.WireErrorCode) == protocol_doc_codes()
    assert literal_args(errors.WireErrorCode) <= literal_args(errors.ErrorCode)


def test_env_error_codes_are_the_ones_docs_env_lists():
    env_doc = (ROOT / "docs" / "env.md").read_text()
    listed = env_doc.split("(`errors.EnvErrorCode`)", 1)[1].split("\n\n", 1)[0]
    assert literal_args(errors.EnvErrorCode) == set(re.findall(r"`(\w+)`", listed)) - {
        "ActionRefused", "error"}


def _codes_in_source() -> Iterator[tuple[str, int, str]]:
    """Every error code written as a literal: ``code="..."`` in a call, ``code = "..."`` in a
    class body, and the code argument of the server's ``_error(env, id, code, message)``."""
    for mod, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                        yield mod, node.lineno, kw.value.value
                func = node.func
                if isinstance(func, ast.Attribute) and func.attr == "_error" \
                        and len(node.args) >= 3 and isinstance(node.args[2], ast.Constant):
                    yield mod, node.lineno, node.args[2].value
            elif isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    target = stmt.target if isinstance(stmt, ast.AnnAssign) else (
                        stmt.targets[0] if isinstance(stmt, ast.Assign) else None)
                    if isinstance(target, ast.Name) and target.id == "code" \
                            and isinstance(stmt.value, ast.Constant):
                        yield mod, stmt.lineno, stmt.value.value


def test_every_code_the_package_raises_is_an_error_code():
    codes = literal_args(errors.ErrorCode)
    seen = list(_codes_in_source())
    assert len(seen) > 20  # the scan finds them
    stray = [(mod, line, c) for mod, line, c in seen if c not in codes]
    assert not stray, f"error codes outside errors.ErrorCode: {stray}"


def test_error_classes_are_annotated_with_the_literal():
    hints = typing.get_type_hints(errors.ArenaError)
    assert hints["code"] == errors.ErrorCode
    assert typing.get_type_hints(errors.BackendError)["kind"] == errors.BackendErrorKind


# ---- backend error kinds -------------------------------------------------------------------------


def test_backend_error_kinds_match_their_meanings_and_the_docs():
    kinds = literal_args(errors.BackendErrorKind)
    assert kinds == set(errors.ERROR_KINDS)
    listed = PROTOCOL_DOC.split("where kind is one of", 1)[1].split("(docs/backends.md)", 1)[0]
    assert kinds == set(re.findall(r"`(\w+)`", listed))
    table = BACKENDS_DOC.split("| kind | example", 1)[1].split("\n\n", 1)[0]
    assert kinds == set(re.findall(r"^\| `(\w+)` \|", table, re.M))


BACKEND_ERRORS = {"BackendError", "BackendUnavailable", "BackendRequestError", "TruncatedOutput"}
CLASSIFIERS = {"classify_refusal", "classify_engine_refusal"}


def test_refusals_are_classified_only_in_errors_py():
    """A backend error's kind is a literal kind or the answer of errors.py's classifiers: no
    module keeps its own word list (llama_cpp.py and llama_engine.py each had one)."""
    kinds = literal_args(errors.BackendErrorKind)
    bad = []
    for mod, tree in sources():
        if mod == "errors.py":
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in BACKEND_ERRORS):
                continue
            for kw in node.keywords:
                if kw.arg != "kind":
                    continue
                v = kw.value
                if isinstance(v, ast.Constant) and v.value in kinds:
                    continue
                if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) \
                        and v.func.id in CLASSIFIERS:
                    continue
                bad.append((mod, node.lineno, ast.unparse(v)))
    assert not bad, f"kinds not from errors.py's classifiers: {bad}"


@pytest.mark.parametrize("text,kind", [
    ("Requested tokens (3000) exceed context window of 2048", "context_length"),
    ("the request exceeds the available context size, try increasing it", "context_length"),
    ("Prompt exceeds n_ctx", "context_length"),
    ("failed to parse grammar", "bad_request"),
])
def test_engine_refusals_are_classified(text, kind):
    assert errors.classify_engine_refusal(text) == kind


def _http_backends() -> list[object]:
    from agent_arena.backends.llama_server import LlamaServerBackend, LlamaServerConfig
    from agent_arena.backends.openai import OpenAIBackend, OpenAIBackendConfig
    from agent_arena.backends.openai_compat import OpenAICompatBackend
    from agent_arena.backends.sglang import SGLangBackend
    from agent_arena.backends.vllm import VLLMBackend, VLLMBackendConfig

    return [
        lambda t: OpenAICompatBackend(transport=t, api_base="http://127.0.0.1:9/v1", model="m",
                                      max_retries=0),
        lambda t: OpenAIBackend(OpenAIBackendConfig(api_base="http://127.0.0.1:9/v1",
                                                    model="m", api_key="k", max_retries=0),
                                transport=t),
        lambda t: VLLMBackend(VLLMBackendConfig(model="m", max_retries=0), transport=t),
        lambda t: SGLangBackend(transport=t, model="m", max_retries=0),
        lambda t: LlamaServerBackend(LlamaServerConfig(managed=False, model="m", max_retries=0,
                                                       api_base="http://127.0.0.1:9/v1"),
                                     transport=t),
    ]


@pytest.mark.parametrize("status,text", [
    (400, "This model's maximum context length is 2048 tokens. However, you requested 3000"),
    (400, '"auto" tool choice requires --enable-auto-tool-choice'),
    (400, "response_format json_schema is not supported"),
    (401, "Unauthorized"),
    (404, "The model `npc-lora-typo` does not exist."),
    (422, "temperature must be non-negative"),
])
@pytest.mark.parametrize("make", range(5))
async def test_every_http_backend_classifies_with_the_one_function(make, status, text):
    from agent_arena.backends import ChatRequest

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": text}})

    backend = _http_backends()[make](httpx.MockTransport(refuse))
    with pytest.raises(errors.BackendRequestError) as err:
        await backend.chat(ChatRequest(messages=[{"role": "user", "content": "hi"}]))
    assert err.value.kind == errors.classify_refusal(status, text)


# ---- statuses ------------------------------------------------------------------------------------


def protocol_doc_statuses() -> set[str]:
    row = next(line for line in PROTOCOL_DOC.splitlines() if line.startswith("| `status` "))
    return set(re.findall(r"`(\w+)` \(", row))


def test_wire_statuses_are_the_ones_docs_protocol_lists():
    assert literal_args(errors.WireStatus) == protocol_doc_statuses()
    # one more way a decision ends, never sent: its client is gone
    assert literal_args(errors.Status) == literal_args(errors.WireStatus) | {"abandoned"}
    assert literal_args(errors.OutcomeStatus) == {"ok", "fallback"}
    assert errors.STATUSES == typing.get_args(errors.Status)


def test_views_count_every_status():
    from agent_arena import metrics
    from agent_arena.server.decisions import Decisions

    assert metrics.STATUSES == errors.STATUSES
    stats = Decisions.__init__.__code__.co_names  # built from STATUSES, not a second list
    assert "STATUSES" in stats


def test_statuses_are_typed_where_they_are_built_and_read():
    from agent_arena import protocol
    from agent_arena.decide.types import Outcome
    from agent_arena.eval_report import DecisionRow
    from agent_arena.export import DecisionTrace
    from agent_arena.replay import ReplayRow
    from agent_arena.server.decisions import Decisions
    from agent_arena.server.events import DecisionEvent
    from agent_arena.world.demo import Decision

    def hint(obj: object, name: str) -> object:
        return typing.get_type_hints(obj)[name]

    assert hint(Outcome, "status") == errors.OutcomeStatus
    assert hint(protocol.action, "status") == errors.Status  # abandoned: journaled, not sent
    assert hint(protocol.error, "code") == errors.ErrorCode
    assert hint(Decisions.finish, "status") == errors.Status
    assert hint(DecisionEvent, "status") == errors.Status
    assert hint(DecisionEvent, "error_kind") == errors.BackendErrorKind | None
    assert hint(Outcome, "error_kind") == errors.BackendErrorKind | None
    assert hint(DecisionTrace, "status") == errors.Status
    assert hint(ReplayRow, "recorded_status") == errors.Status
    assert hint(ReplayRow, "status") == errors.OutcomeStatus
    assert hint(DecisionRow, "status") == errors.WireStatus
    assert hint(Decision, "status") == errors.WireStatus
