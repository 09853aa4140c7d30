"""Traces: an OTLP/HTTP receiver in the test (decoding the real protobuf) receives one span
per proxied request with the GenAI attributes; the client's trace continues through the
gateway into the upstream request; the exporter authenticates as configured."""

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from conftest import Stack, free_port

BEARER = "otlp-bearer-" + uuid.uuid4().hex


class Receiver:
    """Collects every span posted to /v1/traces (and the Authorization header it came with)."""

    def __init__(self):
        self.spans = []
        self.authorizations = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.authorizations.add(self.headers.get("authorization"))
                for resource_spans in request.resource_spans:
                    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            receiver.spans.append((service, span))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [s for s in self.spans if predicate(s[1])]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no such span within {timeout}s; got {[s[1].name for s in self.spans]}")


class TracedStack(Stack):
    def __init__(self, tmp, receiver: Receiver):
        super().__init__(tmp)
        self.receiver = receiver

    def data_plane_env(self, port, control_plane_url):
        return {
            **super().data_plane_env(port, control_plane_url),
            "GATEHOUSE_OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{self.receiver.port}",
            "GATEHOUSE_OTEL_EXPORTER_OTLP_AUTH_BEARER": BEARER,
            "GATEHOUSE_OTEL_CAPTURE_CONTENT": "true",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    receiver = Receiver()
    stack = TracedStack(tmp_path_factory.mktemp("traced"), receiver)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        receiver.server.shutdown()


def attributes(span) -> dict:
    out = {}
    for a in span.attributes:
        v = a.value
        kind = v.WhichOneof("value")
        out[a.key] = list(x.string_value for x in v.array_value.values) if kind == "array_value" else getattr(v, kind)
    return out


def client_in_trace(stack, profile_id, trace_id, api_key="sk-traced", parent_id=None):
    """An OpenAI SDK client whose requests carry a `traceparent` in trace `trace_id`."""
    parent_id = parent_id or uuid.uuid4().hex[:16]
    return openai.OpenAI(
        base_url=stack.openai_base(profile_id),
        api_key=api_key,
        max_retries=0,
        default_headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
    )


def test_each_request_is_a_genai_span_in_the_clients_trace(traced):
    profile = traced.create("/profiles", {"name": "traced-" + uuid.uuid4().hex[:8]})
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    client = client_in_trace(traced, profile["id"], trace_id, parent_id=parent_id)
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "trace me"}]
    )
    _, span = traced.receiver.wait_for(lambda s: s.trace_id.hex() == trace_id)
    assert span.parent_span_id.hex() == parent_id
    assert span.name == "chat gpt-4o-mini"
    attrs = attributes(span)
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == completion.model
    assert attrs["gen_ai.usage.input_tokens"] == completion.usage.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == completion.usage.completion_tokens
    assert attrs["gen_ai.response.finish_reasons"] == [completion.choices[0].finish_reason]
    assert attrs["gatehouse.profile.id"] == profile["id"]
    assert attrs["gatehouse.credential"] == "passthrough"
    usage = completion.usage  # gpt-4o-mini is in the seeded price table: 0.15 / 0.60 USD per 1M
    assert attrs["gatehouse.cost_usd"] == pytest.approx((usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.6) / 1e6)
    assert "trace me" in attrs["gen_ai.input.messages"], "content capture is on here"
    assert attrs["gen_ai.output.messages"] == completion.choices[0].message.content
    assert "sk-traced" not in str(attrs)
    # The upstream request carries the gateway span as its parent, in the same trace.
    upstream = next(r for r in traced.mock_requests() if r["id"] == completion.id)
    assert upstream["headers"]["traceparent"] == f"00-{trace_id}-{span.span_id.hex()}-01"
    assert f"Bearer {BEARER}" in traced.receiver.authorizations


def test_refused_requests_are_spans_too_and_streams_end_theirs(traced):
    profile = traced.create("/profiles", {"name": "traced-" + uuid.uuid4().hex[:8]})
    trace_id = uuid.uuid4().hex
    bad = client_in_trace(traced, profile["id"], trace_id, api_key="gh_vk_nope")
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    _, span = traced.receiver.wait_for(lambda s: s.trace_id.hex() == trace_id)
    assert attributes(span)["http.response.status_code"] == 401
    stream_trace = uuid.uuid4().hex
    client = client_in_trace(traced, profile["id"], stream_trace)
    for _ in client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True):
        pass
    _, span = traced.receiver.wait_for(lambda s: s.trace_id.hex() == stream_trace)
    attrs = attributes(span)
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini" and attrs["http.response.status_code"] == 200
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]


def test_spans_carry_the_policy_outcome_and_the_interaction_record(traced):
    profile = traced.create("/profiles", {"name": "traced-" + uuid.uuid4().hex[:8]})
    traced.create(
        "/tool-invocation-policies",
        {"profile_id": profile["id"], "tool_name": "delete_repo", "action": "block_always", "conditions": []},
    )
    trace_id = uuid.uuid4().hex
    client = client_in_trace(traced, profile["id"], trace_id)
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in ("delete_repo", "get_weather")]
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": '<<call:delete_repo {"name":"prod"}>> <<call:get_weather {"city":"Oslo"}>>'}],
        tools=tools,
        extra_headers={"x-gatehouse-context-untrusted": "true"},
    )
    _, span = traced.receiver.wait_for(lambda s: s.trace_id.hex() == trace_id)
    attrs = attributes(span)
    assert attrs["gatehouse.policy.outcome"] == "blocked"
    assert (attrs["gatehouse.policy.tool_calls_blocked"], attrs["gatehouse.policy.tool_calls_allowed"]) == (1, 1)
    assert attrs["gatehouse.policy.untrusted"] is True
    # The span names the interaction record, which says the same.
    deadline = time.monotonic() + 10
    while not (records := traced.interactions(profile_id=profile["id"])) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert records[0]["id"] == attrs["gatehouse.interaction.id"]
    assert (records[0]["tool_calls_blocked"], records[0]["tool_calls_allowed"], records[0]["untrusted"]) == (1, 1, True)


class GrpcReceiver:
    """The OTLP gRPC TraceService, collecting spans and the authorization metadata."""

    def __init__(self):
        from concurrent import futures

        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        self.spans, self.authorizations = [], set()
        receiver = self

        class Service(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request, context):  # noqa: N802 (the gRPC method's name)
                metadata = dict(context.invocation_metadata())
                receiver.authorizations.add(metadata.get("authorization"))
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        receiver.spans.extend((None, s) for s in scope_spans.spans)
                return trace_service_pb2.ExportTraceServiceResponse()

        self.port = free_port()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self.server)
        self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        self.server.start()

    wait_for = Receiver.wait_for


class GrpcTracedStack(TracedStack):
    def data_plane_env(self, port, control_plane_url):
        return {
            **super().data_plane_env(port, control_plane_url),
            "GATEHOUSE_OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        }


def test_spans_export_over_grpc_too(tmp_path):
    receiver = GrpcReceiver()
    stack = GrpcTracedStack(tmp_path, receiver)
    try:
        stack.start()
        profile = stack.create("/profiles", {"name": "grpc-" + uuid.uuid4().hex[:8]})
        trace_id = uuid.uuid4().hex
        client = client_in_trace(stack, profile["id"], trace_id, api_key="sk-grpc")
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        _, span = receiver.wait_for(lambda s: s.trace_id.hex() == trace_id)
        attrs = attributes(span)
        assert attrs["gen_ai.response.model"] == completion.model
        assert attrs["gen_ai.usage.output_tokens"] == completion.usage.completion_tokens
        assert f"Bearer {BEARER}" in receiver.authorizations
    finally:
        stack.stop()
        receiver.server.stop(grace=None)
