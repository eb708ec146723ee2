## The autoload client over an in-memory transport that replays libzmq's ROUTER bytes.
extends RefCounted

const Checks := preload("res://checks.gd")
const Client := preload("res://addons/agent_arena/client.gd")
const Msgpack := preload("res://addons/agent_arena/msgpack.gd")
const Zmtp := preload("res://addons/agent_arena/zmtp.gd")
const FakeTransport := preload("res://fake_transport.gd")
const Transport := preload("res://addons/agent_arena/transport.gd")
const TcpTransport := preload("res://addons/agent_arena/tcp_transport.gd")

var events: Array = []


func run(checks: Checks, vectors: Dictionary) -> void:
	var router: Dictionary = vectors["zmtp"]["router"]
	var handshake: PackedByteArray = (
		str(router["null"]["greeting"]).hex_decode() + str(router["null"]["ready"]).hex_decode()
	)
	checks.begin("transport.parse_url")
	checks.check_equal(
		Transport.parse_url("tcp://127.0.0.1:5555"), ["tcp", "127.0.0.1", 5555, ""], "tcp url"
	)
	checks.check_equal(
		Transport.parse_url("ws://[::1]:8080/zmq"), ["ws", "::1", 8080, "/zmq"], "ws url"
	)

	checks.begin("transport.tcp_on_web")
	var tcp := TcpTransport.new()
	checks.check_equal(tcp.open("tcp://127.0.0.1"), ERR_INVALID_PARAMETER, "port required")
	var opened := tcp.open("tcp://127.0.0.1:9")
	tcp.poll()
	if OS.has_feature("web"):
		# Browsers have no raw TCP: the desktop transport must fail cleanly, not crash or hang.
		checks.check(opened != OK and not tcp.last_error.is_empty(), "no TCP in a browser")
		checks.check(tcp.get_status() != Transport.Status.OPEN, "never reports open")
	tcp.close()

	checks.begin("client.connect")
	var fake := FakeTransport.new()
	var client := Client.new()
	client.connected.connect(func() -> void: events.append(["connected"]))
	client.disconnected.connect(
		func(reason: String) -> void: events.append(["disconnected", reason])
	)
	client.action_received.connect(
		func(agent: String, call: Dictionary, info: Dictionary) -> void:
			events.append(["action", agent, call, info])
	)
	client.error_received.connect(
		func(code: String, msg: String) -> void: events.append(["error", code, msg])
	)
	var tool_spec := {
		"name": "wave", "description": "Wave.", "parameters": {"type": "object", "properties": {}}
	}
	client.connect_to_server(
		"127.0.0.1", 5555, {"transport": fake, "client_name": "unit", "tools": [tool_spec]}
	)
	checks.check_equal(fake.url, "tcp://127.0.0.1:5555", "default endpoint")
	client._process(0.016)
	checks.check_equal(
		fake.written.hex_encode(), vectors["zmtp"]["spec_greeting_null"], "greeting written"
	)
	fake.inbox = handshake
	client._process(0.016)
	checks.check(client.is_connected_to_server(), "connected after READY")
	checks.check_equal(events, [["connected"]], "connected emitted once")
	var sent := _messages(fake.written.slice(64))
	checks.check_equal(sent.size(), 2, "hello + register_tools")
	if sent.size() == 2:
		checks.check_equal(sent[0]["type"], "hello", "hello first")
		checks.check_equal(sent[0]["v"], 1, "protocol version")
		checks.check_equal(sent[0]["client"], "unit", "client name")
		checks.check_equal(sent[1]["tools"], [tool_spec], "tools registered")

	checks.begin("client.observe_action")
	fake.written = PackedByteArray()
	var id := client.observe("npc-1", {"position": Vector3(1, 2, 3)}, 500, {"tools": ["idle"]})
	sent = _messages(fake.written)
	checks.check_equal(sent.size(), 1, "observe sent immediately")
	if sent.size() == 1:
		checks.check_equal(sent[0]["id"], id, "request id")
		checks.check_equal(sent[0]["tick"], 1, "first tick")
		checks.check_equal(sent[0]["observation"]["position"], [1.0, 2.0, 3.0], "Vector3 as array")
		checks.check_equal(sent[0]["deadline_ms"], 500, "deadline")
		checks.check_equal(sent[0]["tools"], ["idle"], "allowed tools")
	events.clear()
	var action := {
		"type": "action",
		"id": id,
		"agent_id": "npc-1",
		"tick": 1,
		"call": {"tool": "idle", "arguments": {}},
		"status": "ok",
		"latency_ms": 12.5
	}
	fake.inbox = _frame(action)
	client._process(0.016)
	checks.check_equal(events.size(), 1, "one event")
	if events.size() == 1:
		checks.check_equal(events[0][1], "npc-1", "action agent id")
		checks.check_equal(events[0][2], {"tool": "idle", "arguments": {}}, "action call")
		checks.check_equal(events[0][3]["status"], "ok", "status in info")
	events.clear()
	fake.inbox = _frame(
		{"type": "error", "id": 9, "code": "bad_request", "message": "tick missing"}
	)
	client._process(0.016)
	checks.check_equal(events, [["error", "bad_request", "tick missing"]], "error_received")
	fake.written = PackedByteArray()
	fake.inbox = str(router["null"]["ping"]).hex_decode()
	client._process(0.016)
	checks.check_equal(
		fake.written.hex_encode(), vectors["zmtp"]["dealer"]["null"]["pongs"][0]["pong"], "PONG"
	)
	checks.check_equal(client.pings_answered, 1, "ping counted")

	checks.begin("client.reconnect_queue")
	events.clear()
	fake.status = Transport.Status.CLOSED
	client._process(0.016)
	checks.check_equal(events.size(), 1, "disconnected emitted")
	checks.check(not client.is_connected_to_server(), "not connected")
	client._options["max_queue"] = 8
	for i in 20:
		client.observe("npc-%d" % i, {"i": i})
	client.observe("npc-19", {"i": 99})
	client.report_tool_result("npc-1", 1, "idle", true, {})
	checks.check_equal(client.queued_count(), 8, "queue bounded")
	checks.check_equal(client.dropped_observations, 13, "oldest observations dropped")
	var opened_before := fake.opened
	client._process(0.3)
	checks.check_equal(fake.opened, opened_before, "waits for the backoff")
	client._process(1.0)
	checks.check_equal(fake.opened, opened_before + 1, "reopened after the backoff")
	fake.inbox = handshake
	client._process(0.016)
	checks.check(client.is_connected_to_server(), "reconnected")
	sent = _messages(fake.written.slice(64))
	checks.check_equal(sent.size(), 10, "hello + tools + 8 queued requests")
	if sent.size() == 10:
		checks.check_equal(sent[9]["type"], "tool_result", "tool result kept")
		checks.check_equal(sent[8]["observation"], {"i": 99}, "freshest observation of npc-19 kept")
		checks.check_equal(sent[2]["agent_id"], "npc-13", "oldest kept is npc-13")

	checks.begin("client.plain_refused")
	events.clear()
	var refused_fake := FakeTransport.new()
	var plain := Client.new()
	plain.error_received.connect(
		func(code: String, msg: String) -> void: events.append([code, msg])
	)
	plain.connect_to_server(
		"h", 1, {"transport": refused_fake, "username": "arena", "password": "x"}
	)
	plain._process(0.016)
	refused_fake.inbox = (
		str(router["plain"]["greeting"]).hex_decode() + str(router["plain"]["error"]).hex_decode()
	)
	plain._process(0.016)
	checks.check_equal(plain.connection_state, Client.ConnectionState.REFUSED, "refused, no retry")
	checks.check(events.size() == 1 and events[0][0] == "auth_refused", "auth_refused reported")
	plain._process(30.0)
	checks.check_equal(refused_fake.opened, 1, "no reconnect after a refusal")
	client.free()
	plain.free()


static func _frame(message: Dictionary) -> PackedByteArray:
	return Zmtp.encode_frame(Msgpack.pack(message).bytes, false, false)


## Decodes every message frame in [param data] (ZMTP frames after the handshake).
static func _messages(data: PackedByteArray) -> Array:
	var out: Array = []
	var i := 0
	while i + 2 <= data.size():
		var flags := data[i]
		var size := data[i + 1]
		var header := 2
		if flags & Zmtp.FLAG_LONG:
			size = 0
			for k in range(1, 9):
				size = (size << 8) | data[i + k]
			header = 9
		var body := data.slice(i + header, i + header + size)
		i += header + size
		if flags & Zmtp.FLAG_COMMAND:
			continue
		out.append(Msgpack.unpack(body).value)
	return out
