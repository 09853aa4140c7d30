"""Server-side credentials: a data-plane worker that authenticates to providers itself —
Gemini on Vertex AI with a service-account key (JWT → OAuth token), Azure OpenAI with
Entra ID client credentials, Bedrock with a server-side API key — driven by the official
SDKs. The client's own key never goes upstream; tokens are fetched once and reused."""

import json
import uuid

import boto3
import botocore.exceptions
import botocore.config
import openai
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google import genai
from google.genai import types as genai_types

from conftest import BIN_DIR, MOCK_AWS_SECRET, free_port

PROMPT = "say hello to the gateway"


@pytest.fixture(scope="module")
def worker(stack, tmp_path_factory):
    """A second data-plane worker with server-side credentials for three providers."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    sa_file = tmp_path_factory.mktemp("vertex") / "service-account.json"
    sa_file.write_text(json.dumps({
        "type": "service_account", "project_id": "gh-test", "private_key_id": "k1",
        "private_key": pem, "client_email": "gatehouse@gh-test.iam.gserviceaccount.com",
        "token_uri": f"{stack.mock_url}/token",
    }))
    port = free_port()
    env = {
        **stack.data_plane_env(port, stack.api_url),
        "GATEHOUSE_GEMINI_VERTEX_AI_ENABLED": "true",
        "GATEHOUSE_GEMINI_VERTEX_AI_PROJECT": "gh-test",
        "GATEHOUSE_GEMINI_VERTEX_AI_LOCATION": "europe-west4",
        "GATEHOUSE_GEMINI_VERTEX_AI_CREDENTIALS_FILE": str(sa_file),
        "GATEHOUSE_GEMINI_VERTEX_AI_BASE_URL": stack.mock_url,
        "GATEHOUSE_AZURE_TENANT_ID": "tenant-1",
        "GATEHOUSE_AZURE_CLIENT_ID": "client-1",
        "GATEHOUSE_AZURE_CLIENT_SECRET": "entra-secret-" + uuid.uuid4().hex,
        "GATEHOUSE_AZURE_AUTHORITY_HOST": stack.mock_url,
        "GATEHOUSE_BEDROCK_API_KEY": "server-bedrock-key",
        "GATEHOUSE_BEDROCK_ALLOWED_PROVIDERS": "anthropic,amazon",
        "GATEHOUSE_BEDROCK_ALLOWED_INFERENCE_REGIONS": "eu,global",
    }
    stack.spawn("data-plane-server-credentials", [str(BIN_DIR / "gatehouse-data-plane")], env,
                f"http://127.0.0.1:{port}/readyz")
    profile = stack.create("/profiles", {"name": "server-creds-" + uuid.uuid4().hex[:8]})
    # A virtual key with no provider keys at all: the server's credentials cover it.
    vk = stack.create("/virtual-keys", {"name": "server-creds", "profile_id": profile["id"], "provider_keys": {}})
    return {"url": f"http://127.0.0.1:{port}", "profile": profile["id"], "vk": vk["token"]}


def last(stack, part):
    return next(r for r in reversed(stack.mock_requests()) if part in r["path"])


def test_gemini_goes_to_vertex_ai_with_a_service_account_token(stack, worker):
    options = genai_types.HttpOptions(base_url=f"{worker['url']}/v1/gemini/{worker['profile']}", api_version="v1beta")
    client = genai.Client(api_key="client-own-google-key", http_options=options)
    assert client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT).text.startswith("Hello")
    first = last(stack, "/publishers/google/models/")
    assert first["path"] == (
        "/v1/projects/gh-test/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert first["authorization"].startswith("Bearer ya29.mock-"), "a token the mock issued"
    assert "x-goog-api-key" not in first["headers"], "the client's key is not forwarded"
    text = "".join(c.text for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents=PROMPT))
    assert text.startswith("Hello")
    second = last(stack, "/publishers/google/models/")
    assert second["path"].endswith(":streamGenerateContent") and second["query"] == "alt=sse"
    assert second["authorization"] == first["authorization"], "the token is cached, not fetched per request"


def test_azure_uses_an_entra_id_token(stack, worker):
    client = openai.AzureOpenAI(
        azure_endpoint=f"{worker['url']}/v1/azure/{worker['profile']}", api_key=worker["vk"],
        api_version="2024-10-21", max_retries=0,
    )
    res = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": PROMPT}])
    assert res.choices[0].message.content.startswith("Hello")
    seen = last(stack, "/openai/deployments/")
    assert seen["authorization"].startswith("Bearer eyJ0.mock-")
    assert "api-key" not in seen["headers"]


def test_bedrock_uses_the_server_api_key(stack, worker):
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=f"{worker['url']}/v1/bedrock/{worker['profile']}",
        aws_access_key_id=worker["vk"], aws_secret_access_key="unused",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    res = client.converse(modelId="amazon.nova-micro-v1:0", messages=[{"role": "user", "content": [{"text": PROMPT}]}])
    assert res["output"]["message"]["content"][0]["text"].startswith("Hello")
    seen = last(stack, "/model/")
    assert seen["authorization"] == "Bearer server-bedrock-key"
    assert not any(worker["vk"] in v for v in seen["headers"].values())


def test_bedrock_models_are_filtered_by_provider_and_inference_region(stack, worker):
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=f"{worker['url']}/v1/bedrock/{worker['profile']}",
        aws_access_key_id=worker["vk"], aws_secret_access_key="unused",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    messages = [{"role": "user", "content": [{"text": PROMPT}]}]
    for allowed in ("anthropic.claude-3-haiku-20240307-v1:0", "eu.anthropic.claude-3-haiku-20240307-v1:0",
                    "global.amazon.nova-2-lite-v1:0"):
        client.converse(modelId=allowed, messages=messages)
    for refused in ("us.anthropic.claude-3-haiku-20240307-v1:0", "meta.llama3-8b-instruct-v1:0"):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            client.converse(modelId=refused, messages=messages)
        assert err.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "not allowed" in err.value.response["Error"]["Message"]


def test_providers_without_server_credentials_still_need_a_key(stack, worker):
    client = openai.OpenAI(base_url=f"{worker['url']}/v1/openai/{worker['profile']}", api_key=worker["vk"],
                           max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": PROMPT}])
    assert err.value.body["code"] == "provider_not_allowed"


def sigv4_worker(stack, secret):
    """A worker that signs Bedrock requests with SigV4, its credentials from the
    environment (the first link of the standard chain)."""
    port = free_port()
    env = {
        **stack.data_plane_env(port, stack.api_url),
        "GATEHOUSE_BEDROCK_SIGV4": "true",
        "GATEHOUSE_BEDROCK_REGION": "eu-central-1",
        "AWS_ACCESS_KEY_ID": "AKIDGATEHOUSETEST",
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    stack.spawn(f"data-plane-sigv4-{port}", [str(BIN_DIR / "gatehouse-data-plane")], env,
                f"http://127.0.0.1:{port}/readyz")
    return f"http://127.0.0.1:{port}"


def bedrock_client(url, profile, vk):
    return boto3.client(
        "bedrock-runtime", region_name="eu-central-1", endpoint_url=f"{url}/v1/bedrock/{profile}",
        aws_access_key_id=vk, aws_secret_access_key="unused",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


MESSAGES = [{"role": "user", "content": [{"text": PROMPT}]}]


def test_bedrock_sigv4_from_the_credential_chain(stack, worker):
    """The mock verifies the signature with the secret the worker's environment holds:
    a valid SigV4 signature over the body the gateway sent."""
    url = sigv4_worker(stack, MOCK_AWS_SECRET)
    client = bedrock_client(url, worker["profile"], worker["vk"])
    model = "anthropic.claude-3-haiku-20240307-v1:0"
    res = client.converse(modelId=model, messages=MESSAGES)
    assert res["output"]["message"]["content"][0]["text"].startswith("Hello")
    seen = last(stack, "/model/")
    assert seen["path"] == f"/model/{model}/converse"
    assert seen["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDGATEHOUSETEST/")
    assert "/eu-central-1/bedrock/aws4_request" in seen["authorization"]
    assert not any(worker["vk"] in v for v in seen["headers"].values())
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"]
        for e in client.converse_stream(modelId=model, messages=MESSAGES)["stream"]
        if "contentBlockDelta" in e
    )
    assert text.startswith("Hello from the Gatehouse")


def test_bedrock_sigv4_stream_cut_midway_raises(stack, worker):
    url = sigv4_worker(stack, MOCK_AWS_SECRET)
    client = bedrock_client(url, worker["profile"], worker["vk"])

    def knobs(request, **_):
        request.headers["x-mock-fail-after"] = "4"
        request.headers["x-mock-chunk-delay-ms"] = "20"

    client.meta.events.register_first("before-sign.bedrock-runtime.*", knobs)
    texts = []
    with pytest.raises(botocore.exceptions.EventStreamError):
        for e in client.converse_stream(modelId="m", messages=MESSAGES)["stream"]:
            if "contentBlockDelta" in e:
                texts.append(e["contentBlockDelta"]["delta"]["text"])
    assert texts, "the stream broke midway"


def test_a_wrong_aws_secret_is_refused_by_the_upstream(stack, worker):
    url = sigv4_worker(stack, "not-the-secret")
    client = bedrock_client(url, worker["profile"], worker["vk"])
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.converse(modelId="m", messages=MESSAGES)
    assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
