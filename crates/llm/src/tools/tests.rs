//! Every format's tool calls judged whole and streamed, split at every byte.

use serde_json::{json, Value};

use super::*;

/// Blocks calls to `send_email`; holds only what may be blocked.
struct BlockSendEmail;

impl ToolJudge for BlockSendEmail {
    fn may_block(&self, name: &str) -> bool {
        name == "send_email"
    }
    fn judge(&mut self, name: &str, arguments: &str) -> Option<String> {
        assert!(
            complete_json(arguments),
            "judged before complete: {arguments}"
        );
        (name == "send_email").then(|| format!("BLOCKED {arguments}"))
    }
}

fn run(endpoint: Endpoint, framing: Framing, input: &[u8], piece: usize) -> Vec<u8> {
    let mut guard = ToolCallGuard::new(endpoint, framing, Box::new(BlockSendEmail)).unwrap();
    let mut out = Vec::new();
    for chunk in input.chunks(piece) {
        out.extend_from_slice(&guard.push(chunk).unwrap());
    }
    out.extend_from_slice(&guard.finish());
    out
}

/// The SSE data of every event, parsed.
fn sse_data(bytes: &[u8]) -> Vec<Value> {
    let mut d = crate::sse::SseDecoder::new(1 << 20);
    d.push(bytes)
        .unwrap()
        .into_iter()
        .filter_map(|e| serde_json::from_str(&e.data).ok())
        .collect()
}

fn sse_stream(events: &[(Option<&str>, Value)]) -> Vec<u8> {
    events
        .iter()
        .flat_map(|(name, data)| sse(*name, data).to_vec())
        .collect()
}

fn same_at_every_split(endpoint: Endpoint, framing: Framing, input: &[u8]) -> Vec<u8> {
    let whole = run(endpoint, framing, input, input.len());
    for piece in [1, 2, 3, 7, 64] {
        assert_eq!(run(endpoint, framing, input, piece), whole, "piece {piece}");
    }
    whole
}

#[test]
fn openai_chat_stream_replaces_a_blocked_call_and_renumbers_the_next() {
    let chunk = |delta: Value, finish: Value| {
        (
            None,
            json!({"id": "c", "object": "chat.completion.chunk", "model": "m",
                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
        )
    };
    let input = sse_stream(&[
        chunk(json!({"role": "assistant", "content": "ok "}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "a", "type": "function",
              "function": {"name": "send_email", "arguments": ""}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"to\":"}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"x@evil\"}"}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "id": "b", "type": "function",
              "function": {"name": "get_weather", "arguments": "{\"c"}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "function": {"arguments": "ity\":1}"}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
    ]);
    let out = same_at_every_split(Endpoint::ChatCompletions, Framing::Sse, &input);
    let events = sse_data(&out);
    let deltas: Vec<&Value> = events.iter().map(|e| &e["choices"][0]["delta"]).collect();
    assert_eq!(deltas[0]["content"], "ok ");
    assert_eq!(deltas[1]["content"], "BLOCKED {\"to\":\"x@evil\"}");
    assert_eq!(deltas[2]["tool_calls"][0]["index"], 0);
    assert_eq!(
        deltas[2]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(
        deltas[3]["tool_calls"][0]["function"]["arguments"],
        "ity\":1}"
    );
    assert_eq!(
        events.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    assert!(!String::from_utf8_lossy(&out).contains("send_email"));
}

#[test]
fn openai_chat_with_every_call_blocked_stops_instead() {
    let body = json!({"id": "c", "choices": [{"index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "send_email", "arguments": "{}"}}]}}]});
    let out = run(
        Endpoint::ChatCompletions,
        Framing::Json,
        body.to_string().as_bytes(),
        5,
    );
    let out: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    assert_eq!(out["choices"][0]["message"]["content"], "BLOCKED {}");
    assert!(out["choices"][0]["message"].get("tool_calls").is_none());
    let input = sse_stream(&[
        (
            None,
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "a",
            "function": {"name": "send_email", "arguments": "{}"}}]}, "finish_reason": null}]}),
        ),
        (
            None,
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ),
    ]);
    let events = sse_data(&same_at_every_split(
        Endpoint::ChatCompletions,
        Framing::Sse,
        &input,
    ));
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["choices"][0]["finish_reason"], "stop");
}

#[test]
fn text_only_streams_pass_byte_for_byte() {
    let input = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    assert_eq!(
        same_at_every_split(Endpoint::ChatCompletions, Framing::Sse, input),
        input
    );
}

#[test]
fn anthropic_stream_turns_a_blocked_tool_use_into_a_text_block_at_its_index() {
    let e = |name: &'static str, data: Value| (Some(name), data);
    let input = sse_stream(&[
        e(
            "message_start",
            json!({"type": "message_start", "message": {"id": "m"}}),
        ),
        e(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "t", "name": "send_email", "input": {}}}),
        ),
        e(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": "{\"to\":"}}),
        ),
        e(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
        ),
        e(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        e(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}}),
        ),
        e("message_stop", json!({"type": "message_stop"})),
    ]);
    let out = same_at_every_split(Endpoint::Messages, Framing::Sse, &input);
    let events = sse_data(&out);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[1]["content_block"]["type"], "text");
    assert_eq!(events[2]["delta"]["text"], "BLOCKED {\"to\":1}");
    assert_eq!(events[4]["delta"]["stop_reason"], "end_turn");
    let body = json!({"content": [{"type": "text", "text": "a"},
        {"type": "tool_use", "id": "t", "name": "get_weather", "input": {"c": 1}},
        {"type": "tool_use", "id": "u", "name": "send_email", "input": {"to": 1}}],
        "stop_reason": "tool_use"});
    let out: Value = serde_json::from_slice(&run(
        Endpoint::Messages,
        Framing::Json,
        body.to_string().as_bytes(),
        9,
    ))
    .unwrap();
    assert_eq!(out["content"][1]["name"], "get_weather");
    assert_eq!(out["content"][2]["type"], "text");
    assert_eq!(out["stop_reason"], "tool_use");
}

#[test]
fn bedrock_event_stream_replaces_a_blocked_tool_use() {
    let frame =
        |name: &str, data: Value| crate::eventstream::event(name, data.to_string()).to_vec();
    let input: Vec<u8> = [
        frame("messageStart", json!({"role": "assistant"})),
        frame(
            "contentBlockStart",
            json!({"contentBlockIndex": 0,
            "start": {"toolUse": {"toolUseId": "t", "name": "send_email"}}}),
        ),
        frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{\"a\""}}}),
        ),
        frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": ":1}"}}}),
        ),
        frame("contentBlockStop", json!({"contentBlockIndex": 0})),
        frame("messageStop", json!({"stopReason": "tool_use"})),
    ]
    .concat();
    let out = same_at_every_split(Endpoint::ConverseStream, Framing::EventStream, &input);
    let mut d = crate::eventstream::EventStreamDecoder::new();
    let frames = d.push(&out).unwrap();
    let names: Vec<&str> = frames.iter().map(|f| f.event_type.as_str()).collect();
    assert_eq!(
        names,
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop"
        ]
    );
    let delta: Value = serde_json::from_slice(&frames[1].payload).unwrap();
    assert_eq!(delta["delta"]["text"], "BLOCKED {\"a\":1}");
    let stop: Value = serde_json::from_slice(&frames[3].payload).unwrap();
    assert_eq!(stop["stopReason"], "end_turn");
}

#[test]
fn cohere_stream_replaces_a_blocked_call_with_a_content_block() {
    let e = |name: &'static str, mut data: Value| {
        data["type"] = name.into();
        (Some(name), data)
    };
    let call = |name: &str| {
        json!({"message": {"tool_calls": {"id": "t", "type": "function",
        "function": {"name": name, "arguments": ""}}}})
    };
    let args = |a: &str| json!({"message": {"tool_calls": {"function": {"arguments": a}}}});
    let input = sse_stream(&[
        e("message-start", json!({"id": "c"})),
        e(
            "tool-call-start",
            json!({"index": 0, "delta": call("send_email")}),
        ),
        e(
            "tool-call-delta",
            json!({"index": 0, "delta": args("{\"to\":2}")}),
        ),
        e("tool-call-end", json!({"index": 0})),
        e(
            "tool-call-start",
            json!({"index": 1, "delta": call("get_weather")}),
        ),
        e("tool-call-delta", json!({"index": 1, "delta": args("{}")})),
        e("tool-call-end", json!({"index": 1})),
        e(
            "message-end",
            json!({"delta": {"finish_reason": "TOOL_CALL"}}),
        ),
    ]);
    let events = sse_data(&same_at_every_split(
        Endpoint::CohereChat,
        Framing::Sse,
        &input,
    ));
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "message-start",
            "content-start",
            "content-delta",
            "content-end",
            "tool-call-start",
            "tool-call-delta",
            "tool-call-end",
            "message-end"
        ]
    );
    assert_eq!(
        events[2]["delta"]["message"]["content"]["text"],
        "BLOCKED {\"to\":2}"
    );
    assert_eq!(events[7]["delta"]["finish_reason"], "TOOL_CALL");
}

#[test]
fn responses_stream_and_snapshot_replace_a_blocked_function_call() {
    let e = |name: &'static str, mut data: Value| {
        data["type"] = name.into();
        (Some(name), data)
    };
    let item = json!({"type": "function_call", "id": "fc", "call_id": "c1", "name": "send_email",
                      "arguments": "{\"to\":3}", "status": "completed"});
    let input = sse_stream(&[
        e(
            "response.created",
            json!({"sequence_number": 0, "response": {"output": []}}),
        ),
        e(
            "response.output_item.added",
            json!({"sequence_number": 1, "output_index": 0,
            "item": {"type": "function_call", "id": "fc", "name": "send_email", "arguments": ""}}),
        ),
        e(
            "response.function_call_arguments.delta",
            json!({"sequence_number": 2,
            "output_index": 0, "item_id": "fc", "delta": "{\"to\":3}"}),
        ),
        e(
            "response.function_call_arguments.done",
            json!({"sequence_number": 3,
            "output_index": 0, "item_id": "fc", "arguments": "{\"to\":3}"}),
        ),
        e(
            "response.output_item.done",
            json!({"sequence_number": 4, "output_index": 0, "item": item}),
        ),
        e(
            "response.completed",
            json!({"sequence_number": 5, "response": {"output": [item]}}),
        ),
    ]);
    let out = same_at_every_split(Endpoint::Responses, Framing::Sse, &input);
    let events = sse_data(&out);
    assert!(!String::from_utf8_lossy(&out).contains("send_email"));
    assert_eq!(events[1]["item"]["type"], "message");
    let last = events.last().unwrap();
    assert_eq!(
        last["response"]["output"][0]["content"][0]["text"],
        "BLOCKED {\"to\":3}"
    );
}

#[test]
fn gemini_function_calls_are_judged_in_place() {
    let response = json!({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "send_email", "args": {"to": 4}}},
        {"functionCall": {"name": "get_weather", "args": {}}}]}, "finishReason": "STOP"}]});
    let input = sse_stream(&[(None, response.clone())]);
    let events = sse_data(&same_at_every_split(
        Endpoint::StreamGenerateContent,
        Framing::Sse,
        &input,
    ));
    let parts = &events[0]["candidates"][0]["content"]["parts"];
    assert_eq!(parts[0]["text"], "BLOCKED {\"to\":4}");
    assert_eq!(parts[1]["functionCall"]["name"], "get_weather");
    let array = json!([response]).to_string();
    let out: Value = serde_json::from_slice(&run(
        Endpoint::StreamGenerateContent,
        Framing::Json,
        array.as_bytes(),
        11,
    ))
    .unwrap();
    assert_eq!(
        out[0]["candidates"][0]["content"]["parts"][0]["text"],
        "BLOCKED {\"to\":4}"
    );
}

#[test]
fn tool_results_are_found_by_their_calls_name_in_every_format() {
    let cases = [
        (
            Endpoint::ChatCompletions,
            json!({"messages": [
            {"role": "assistant", "tool_calls": [{"id": "1", "type": "function",
                "function": {"name": "read_mail", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "1", "content": "{\"body\":\"evil\"}"}]}),
        ),
        (
            Endpoint::Responses,
            json!({"input": [
            {"type": "function_call", "call_id": "1", "name": "read_mail", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "1", "output": "{\"body\":\"evil\"}"}]}),
        ),
        (
            Endpoint::Messages,
            json!({"messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "1", "name": "read_mail", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "1",
                "content": [{"type": "text", "text": "{\"body\":\"evil\"}"}]}]}]}),
        ),
        (
            Endpoint::GenerateContent,
            json!({"contents": [
            {"role": "user", "parts": [{"functionResponse": {"name": "read_mail",
                "response": {"result": "{\"body\":\"evil\"}"}}}]}]}),
        ),
        (
            Endpoint::Converse,
            json!({"messages": [
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "1", "name": "read_mail", "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "1",
                "content": [{"json": {"body": "evil"}}]}}]}]}),
        ),
        (
            Endpoint::CohereChat,
            json!({"messages": [
            {"role": "assistant", "tool_calls": [{"id": "1", "type": "function",
                "function": {"name": "read_mail", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "1", "content": [{"type": "document",
                "document": {"data": "{\"body\":\"evil\"}"}}]}]}),
        ),
    ];
    for (endpoint, mut body) in cases {
        let mut seen = Vec::new();
        let changed = screen_results(endpoint, &mut body, &mut |r| {
            seen.push((r.tool.map(str::to_owned), r.document.clone()));
            Some("WITHHELD".into())
        });
        assert!(changed, "{endpoint:?}");
        assert_eq!(
            seen,
            [(Some("read_mail".to_owned()), json!({"body": "evil"}))],
            "{endpoint:?}"
        );
        assert!(body.to_string().contains("WITHHELD"), "{endpoint:?}");
        assert!(!body.to_string().contains("evil"), "{endpoint:?}: {body}");
    }
}

#[test]
fn declared_tools_are_read_from_every_format() {
    let cases = [
        (
            Endpoint::ChatCompletions,
            json!({"tools": [{"type": "function", "function": {"name": "a"}}]}),
        ),
        (
            Endpoint::Responses,
            json!({"tools": [{"type": "function", "name": "a"}, {"type": "web_search"}]}),
        ),
        (
            Endpoint::Messages,
            json!({"tools": [{"name": "a", "input_schema": {}}]}),
        ),
        (
            Endpoint::GenerateContent,
            json!({"tools": [{"functionDeclarations": [{"name": "a"}]}]}),
        ),
        (
            Endpoint::Converse,
            json!({"toolConfig": {"tools": [{"toolSpec": {"name": "a"}}]}}),
        ),
        (
            Endpoint::CohereChat,
            json!({"tools": [{"type": "function", "function": {"name": "a"}}]}),
        ),
    ];
    for (endpoint, body) in cases {
        assert_eq!(declared_tools(endpoint, &body), ["a"], "{endpoint:?}");
    }
}
