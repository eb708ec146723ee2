## The autoload client in the situations a real game meets: bursts, pauses, silent servers,
## failed writes, permanent refusals, full queues, flapping servers, handlers that disconnect.
## Each section is the regression test of one defect; none depends on how fast the machine is
## (time is advanced by hand through _process(delta), or counted in engine frames).
extends RefCounted

const Checks := preload("res://checks.gd")
const Client := preload("res://addons/agent_arena/client.gd")
const Msgpack := preload("res://addons/agent_arena/msgpack.gd")
const Zmtp := preload("res://addons/agent_arena/zmtp.gd")
const FakeTransport := preload("res://fake_transport.gd")
const Transport := preload("res://addons/agent_arena/transport.gd")
const TcpTransport := preload("res://addons/agent_arena/tcp_transport.gd")
const Agent := preload("res://addons/agent_arena/arena_agent.gd")

var events: Array = []
var _handshake: PackedByteArray = PackedByteArray()
var _tree: SceneTree = null


func run(checks: Checks, vectors: Dictionary) -> void:
	_tree = Engine.get_main_loop() as SceneTree
	var router: Dictionary = vectors["zmtp"]["router"]
	_handshake = (
		str(router["null"]["greeting"]).hex_decode() + str(router["null"]["ready"]).hex_decode()
	)
	_burst_budget(checks)
	_parse_at_scale(checks)
	await _pause(checks, vectors)
	_rehello(checks)
	_silent_server(checks)
	_failed_send(checks)
	_permanent_errors(checks, router)
	_unreachable(checks)
	await _queue_drops(checks)
	_backoff_growth(checks)
	_disconnect_in_handler(checks)
	await _tcp_host_name(checks)
	await _agent_stops_waiting(checks)
	_server_reset(checks)


func _burst_budget(checks: Checks) -> void:
	checks.begin("client.frame_budget")
	var fake := FakeTransport.new()
	var client := _connected(fake, {"max_messages_per_frame": 50})
	var ids: Array = []
	client.action_received.connect(
		func(_agent: String, _call: Dictionary, info: Dictionary) -> void: ids.append(info["id"])
	)
	var burst := PackedByteArray()
	for i in 200:
		burst.append_array(_frame(_action(i + 1, "npc-%d" % (i % 7), i)))
	fake.inbox = burst
	client._process(0.016)
	checks.check_equal(ids.size(), 50, "one frame dispatches at most max_messages_per_frame")
	checks.check_equal(client.received_backlog(), 150, "the rest waits for the next frames")
	for frame in 3:
		client._process(0.016)
	checks.check_equal(ids.size(), 200, "the whole burst arrives within four frames")
	checks.check_equal(ids, range(1, 201), "in the order the server sent it")
	checks.check_equal(client.received_backlog(), 0, "backlog empty")
	client.free()


func _parse_at_scale(checks: Checks) -> void:
	checks.begin("zmtp.burst_in_one_read")
	var conn := Zmtp.new()
	conn.start()
	conn.feed(_handshake)
	var burst := PackedByteArray()
	for i in 20000:
		burst.append_array(Zmtp.encode_frame(PackedByteArray([i & 0xFF, i >> 8]), false, false))
	# One long frame split across the end of the read: the cursor must keep its start.
	var long_body := PackedByteArray()
	long_body.resize(300)
	long_body.fill(7)
	var long_frame := Zmtp.encode_frame(long_body, false, false)
	burst.append_array(long_frame.slice(0, 5))
	conn.feed(burst)
	checks.check_equal(conn.pending_messages(), 20000, "20,000 frames from one read")
	var first := conn.take_messages(3)
	checks.check_equal(first.size(), 3, "take_messages honours max_count")
	checks.check_equal(conn.pending_messages(), 19997, "the rest stays queued")
	var rest := conn.take_messages()
	var in_order: bool = first[0][0] == PackedByteArray([0, 0])
	in_order = in_order and rest[rest.size() - 1][0] == PackedByteArray([19999 & 0xFF, 19999 >> 8])
	checks.check(in_order, "frames in order, first and last intact")
	conn.feed(long_frame.slice(5))
	var tail := conn.take_messages()
	checks.check(tail.size() == 1 and tail[0][0] == long_body, "long frame across reads intact")
	checks.check(conn.is_ready(), "still ready: %s" % conn.error_message)


## The autoload must keep its connection while the game is paused (PONGs keep going out).
func _pause(checks: Checks, vectors: Dictionary) -> void:
	checks.begin("client.pause")
	var autoload := _tree.root.get_node_or_null("AgentArena") as Client
	checks.check(autoload != null, "autoload present")
	if autoload != null:
		checks.check_equal(
			autoload.process_mode, Node.PROCESS_MODE_ALWAYS, "the autoload processes while paused"
		)
	var fake := FakeTransport.new()
	var client := Client.new()
	_tree.root.add_child(client)
	client.connect_to_server("127.0.0.1", 5555, {"transport": fake})
	fake.inbox = _handshake
	await _tree.process_frame
	await _tree.process_frame
	checks.check(client.is_connected_to_server(), "connected by the engine's own frames")
	_tree.paused = true
	fake.written = PackedByteArray()
	fake.inbox = str(vectors["zmtp"]["router"]["null"]["ping"]).hex_decode()
	for i in 3:
		await _tree.process_frame
	checks.check(
		fake.written.hex_encode() == vectors["zmtp"]["dealer"]["null"]["pongs"][0]["pong"],
		"a PING that arrives while the game is paused is answered while paused"
	)
	checks.check(client.is_connected_to_server(), "still connected while paused")
	_tree.paused = false
	client.queue_free()
	await _tree.process_frame


## Every (re)connect says hello and registers the tools the game registered, whenever it did.
func _rehello(checks: Checks) -> void:
	checks.begin("client.rehello")
	var fake := FakeTransport.new()
	var client := _connected(fake, {})
	var tools := [{"name": "wave", "description": "Wave.", "parameters": {"type": "object"}}]
	client.register_tools(tools)
	fake.status = Transport.Status.CLOSED
	client._process(0.016)
	client._process(5.0)
	fake.inbox = _handshake
	client._process(0.016)
	checks.check(client.is_connected_to_server(), "reconnected")
	var sent := _decode_written(fake.written.slice(64))
	checks.check(sent.size() >= 2 and sent[0]["type"] == "hello", "hello first again")
	checks.check(
		sent.size() >= 2 and sent[1]["type"] == "register_tools" and sent[1]["tools"] == tools,
		"tools registered after connect are registered again"
	)
	client.free()


func _silent_server(checks: Checks) -> void:
	checks.begin("client.silent_server")
	var fake := FakeTransport.new()
	var client := _connected(fake, {"heartbeat_interval": 2.0, "heartbeat_timeout": 9.0})
	var reasons: Array = []
	client.disconnected.connect(func(reason: String) -> void: reasons.append(reason))
	fake.written = PackedByteArray()
	for i in 5:
		client._process(0.5)
	var pings := _commands(fake.written, "PING")
	checks.check_equal(pings.size(), 1, "our PING after heartbeat_interval")
	if pings.size() == 1:
		checks.check_equal(pings[0], PackedByteArray([0, 90]), "PING carries TTL 9.0 s, no context")
	for i in 10:
		client._process(0.5)
	checks.check(client.is_connected_to_server(), "7.5 s of silence is still alive")
	for i in 4:
		client._process(0.5)
	checks.check(not client.is_connected_to_server(), "silent server declared dead")
	checks.check(
		reasons.size() == 1 and reasons[0].contains("no traffic"), "reason says so: %s" % [reasons]
	)
	checks.check_equal(
		client.connection_state, Client.ConnectionState.WAITING_RETRY, "and it reconnects"
	)
	client.free()

	checks.begin("client.silent_server_ttl")
	fake = FakeTransport.new()
	client = _connected(fake, {"heartbeat_interval": 0.0, "heartbeat_timeout": 60.0})
	# The server's PING announces TTL 2.0 s (20 tenths): silence beyond it is death.
	fake.inbox = Zmtp.encode_command("PING", PackedByteArray([0, 20]))
	client._process(0.1)
	for i in 3:
		client._process(0.5)
	checks.check(client.is_connected_to_server(), "alive within the TTL")
	client._process(0.6)
	checks.check(not client.is_connected_to_server(), "dead after the server's TTL")
	client.free()

	checks.begin("client.long_frame_is_not_silence")
	fake = FakeTransport.new()
	client = _connected(fake, {"heartbeat_timeout": 5.0})
	fake.inbox = _frame(_action(1, "a", 1))
	client._process(60.0)  # a hidden tab or a long load: bytes waited in the buffer
	checks.check(client.is_connected_to_server(), "bytes read in the same frame count first")
	client.free()


func _failed_send(checks: Checks) -> void:
	checks.begin("client.failed_send")
	var fake := FakeTransport.new()
	var client := _connected(fake, {})
	var failed: Array = []
	var errors: Array = []
	client.request_failed.connect(
		func(id: int, message: Dictionary, reason: String) -> void:
			failed.append([id, message["type"], reason])
	)
	client.error_received.connect(func(code: String, _msg: String) -> void: errors.append(code))
	fake.write_error = ERR_OUT_OF_MEMORY
	var id := client.observe("npc-1", {"big": true})
	checks.check_equal(fake.failed_writes, 1, "the write was attempted")
	checks.check(
		failed.size() == 1 and failed[0][0] == id and failed[0][1] == "observe",
		"request_failed names the lost request: %s" % [failed]
	)
	checks.check(errors.has("send_failed"), "error_received send_failed")
	checks.check_equal(client.failed_sends, 1, "counted")
	checks.check(client.is_connected_to_server(), "a refused write does not drop the session")
	fake.write_error = OK
	var next := client.observe("npc-1", {"small": true})
	var sent := _decode_written(fake.written.slice(64))
	checks.check(sent.size() > 0 and sent[-1]["id"] == next, "the next request goes out")
	client.free()


func _permanent_errors(checks: Checks, router: Dictionary) -> void:
	var cases := {
		"mechanism mismatch":
		[{}, str(router["plain"]["greeting"]).hex_decode(), "mismatch", "incompatible_server"],
		"wrong socket type":
		[
			{},
			(
				str(router["null"]["greeting"]).hex_decode()
				+ Zmtp.encode_command("READY", Zmtp.encode_properties({"Socket-Type": "PUB"}))
			),
			"ROUTER",
			"incompatible_server"
		],
		"username over 255 bytes":
		[{"username": "u".repeat(256), "password": "p"}, PackedByteArray(), "255", "bad_options"],
		"identity starting with a zero byte":
		[{"identity": PackedByteArray([0, 1])}, PackedByteArray(), "identity", "bad_options"],
		"identity over 255 bytes":
		[{"identity": "i".repeat(256)}, PackedByteArray(), "identity", "bad_options"],
	}
	for name: String in cases:
		checks.begin("client.permanent (%s)" % name)
		var case: Array = cases[name]
		var fake := FakeTransport.new()
		var client := Client.new()
		var failures: Array = []
		var codes: Array = []
		client.connection_failed.connect(
			func(reason: String, permanent: bool) -> void: failures.append([reason, permanent])
		)
		client.error_received.connect(func(code: String, _msg: String) -> void: codes.append(code))
		var options: Dictionary = case[0].duplicate()
		options["transport"] = fake
		client.connect_to_server("127.0.0.1", 5555, options)
		client._process(0.016)
		if not case[1].is_empty():
			fake.inbox = case[1]
			client._process(0.016)
		checks.check(
			failures.size() == 1 and failures[0][1] and str(failures[0][0]).contains(case[2]),
			"connection_failed(reason, permanent=true): %s" % [failures]
		)
		checks.check(codes.has(case[3]), "error_received %s: %s" % [case[3], codes])
		checks.check_equal(client.connection_state, Client.ConnectionState.REFUSED, "stopped")
		var opened := fake.opened
		for i in 10:
			client._process(10.0)
		checks.check_equal(fake.opened, opened, "never retried")
		client.free()


func _unreachable(checks: Checks) -> void:
	checks.begin("client.unreachable")
	var fake := FakeTransport.new()
	fake.open_status = Transport.Status.FAILED
	var client := Client.new()
	var failures: Array = []
	client.connection_failed.connect(
		func(reason: String, permanent: bool) -> void: failures.append([reason, permanent])
	)
	client.connect_to_server("127.0.0.1", 5555, {"transport": fake})
	for i in 40:
		client._process(0.5)
	client._process(0.0)  # pumps an attempt opened by the last frame
	checks.check(failures.size() >= 3, "every failed attempt is reported: %d" % failures.size())
	checks.check_equal(failures.size(), fake.opened, "one report per attempt")
	checks.check(
		not failures.is_empty() and not failures[0][1] and failures[0][0].contains("refused"),
		"transient, with the transport's reason: %s" % [failures.slice(0, 1)]
	)
	checks.check_equal(client.last_failure, "connection refused (fake)", "last_failure")
	client.free()


func _queue_drops(checks: Checks) -> void:
	checks.begin("client.queue_drops")
	var fake := FakeTransport.new()
	var client := Client.new()
	var failed: Array = []
	var actions: Array = []
	client.request_failed.connect(
		func(id: int, message: Dictionary, _reason: String) -> void:
			failed.append([id, message["type"]])
	)
	client.action_received.connect(
		func(agent: String, call: Dictionary, info: Dictionary) -> void:
			actions.append([agent, call, info])
	)
	fake.open_status = Transport.Status.FAILED
	client.connect_to_server("127.0.0.1", 5555, {"transport": fake, "max_queue": 3})
	var first := client.observe("ada", {"n": 1})
	var newer := client.observe("ada", {"n": 2})
	var result_ids: Array = []
	for i in 4:
		result_ids.append(client.report_tool_result("bo", i, "idle", true))
	await _tree.process_frame
	checks.check_equal(actions.size(), 1, "the replaced observation is answered")
	if actions.size() == 1:
		checks.check_equal(actions[0][2]["id"], first, "with its own id")
		checks.check_equal(actions[0][2]["status"], "superseded", "as superseded")
		checks.check(actions[0][2]["reason"].contains(str(newer)), "naming the newer request")
	checks.check_equal(client.dropped_requests, 2, "every drop counted, tool results included")
	checks.check_equal(client.dropped_observations, 1, "one of them an observation")
	checks.check_equal(
		failed, [[newer, "observe"], [result_ids[0], "tool_result"]], "request_failed per drop"
	)
	client.free()


## A server that accepts the handshake and drops each session must not be redialled at
## backoff_min forever: the backoff resets only after a connection stayed up (stable_after).
func _backoff_growth(checks: Checks) -> void:
	checks.begin("client.backoff_flapping_server")
	var fake := FakeTransport.new()
	var client := Client.new()
	client.connect_to_server(
		"127.0.0.1", 5555, {"transport": fake, "backoff_min": 1.0, "backoff_max": 64.0}
	)
	var expected := 1.0
	for attempt in 5:
		var waited := _flap(client, fake)
		# The retry delay is the backoff with +-10 % jitter; time moves in 0.1 s steps.
		checks.check(
			absf(waited - expected) <= expected * 0.1 + 0.15,
			"attempt %d: redialled after %.1f s, backoff %.1f s" % [attempt, waited, expected]
		)
		expected *= 2.0
	client.free()

	checks.begin("client.backoff_resets_when_stable")
	fake = FakeTransport.new()
	client = Client.new()
	client.connect_to_server(
		"127.0.0.1", 5555, {"transport": fake, "backoff_min": 1.0, "stable_after": 3.0}
	)
	for attempt in 3:
		_flap(client, fake)  # the backoff grows to 8 s
	client._process(0.01)
	fake.inbox = _handshake
	client._process(0.01)
	for i in 40:  # four seconds up, the server's PINGs keep it alive
		fake.inbox = Zmtp.encode_command("PING", PackedByteArray([0, 0]))
		client._process(0.1)
	fake.status = Transport.Status.CLOSED
	client._process(0.01)
	var waited := _wait_for_redial(client, fake)
	checks.check(absf(waited - 1.0) <= 0.25, "backoff_min again after a stable connection")
	client.free()


## One session that is dropped right after its handshake; returns the seconds until the redial.
func _flap(client: Client, fake: FakeTransport) -> float:
	client._process(0.01)
	fake.inbox = _handshake
	client._process(0.01)
	if not client.is_connected_to_server():
		return -1.0
	fake.status = Transport.Status.CLOSED
	client._process(0.01)
	return _wait_for_redial(client, fake)


static func _wait_for_redial(client: Client, fake: FakeTransport) -> float:
	var opened := fake.opened
	var waited := 0.0
	while fake.opened == opened and waited < 200.0:
		client._process(0.1)
		waited += 0.1
	return waited


func _disconnect_in_handler(checks: Checks) -> void:
	checks.begin("client.disconnect_in_connected_handler")
	var fake := FakeTransport.new()
	var client := Client.new()
	var got: Array = []
	client.connected.connect(func() -> void: client.disconnect_from_server())
	client.action_received.connect(
		func(agent: String, _call: Dictionary, _info: Dictionary) -> void: got.append(agent)
	)
	client.connect_to_server("127.0.0.1", 5555, {"transport": fake})
	client.observe("queued", {})
	client._process(0.016)
	fake.inbox = _handshake + _frame(_action(7, "ada", 1))
	client._process(0.016)  # a null ZMTP object here was a script error
	client._process(0.016)
	checks.check_equal(
		client.connection_state, Client.ConnectionState.DISCONNECTED, "disconnected as asked"
	)
	checks.check_equal(got, ["ada"], "the action that came with the handshake is still delivered")
	client.free()


## A host name must not be resolved on the main thread: open() returns at once and the name is
## resolved in the background (here, in a browser, the connection then fails: no raw TCP).
func _tcp_host_name(checks: Checks) -> void:
	checks.begin("transport.tcp_host_name")
	var tcp := TcpTransport.new()
	checks.check_equal(tcp.open("tcp://localhost:9"), OK, "open() with a host name returns at once")
	checks.check(tcp.is_resolving(), "the name is resolved in the background")
	checks.check_equal(tcp.get_status(), Transport.Status.CONNECTING, "connecting meanwhile")
	var frames := 0
	while tcp.get_status() == Transport.Status.CONNECTING and frames < 600:
		tcp.poll()
		await _tree.process_frame
		frames += 1
	checks.check(not tcp.is_resolving(), "resolution finished")
	if OS.has_feature("web"):
		checks.check(
			tcp.get_status() == Transport.Status.FAILED and not tcp.last_error.is_empty(),
			"then fails cleanly in a browser: %s" % tcp.last_error
		)
	tcp.close()
	var by_address := TcpTransport.new()
	by_address.open("tcp://127.0.0.1:9")
	checks.check(not by_address.is_resolving(), "an address is not resolved")
	by_address.close()


## An agent whose observation will never be answered (dropped, failed write) asks again.
func _agent_stops_waiting(checks: Checks) -> void:
	checks.begin("agent.request_failed")
	var autoload := _tree.root.get_node_or_null("AgentArena") as Client
	if not checks.check(autoload != null, "autoload present"):
		return
	var body := Node3D.new()
	body.name = "Waiter"
	_tree.root.add_child(body)
	var agent := Agent.new()
	agent.autostart = false
	body.add_child(agent)
	var before := autoload.queued_count()
	agent.request_decision()
	checks.check(agent._waiting, "waiting for its decision")
	var queued: Dictionary = autoload._queue[autoload._queue.size() - 1]
	checks.check(autoload.queued_count() == before + 1, "queued while disconnected")
	autoload.request_failed.emit(0, {"type": "observe", "agent_id": "other", "tick": 1}, "x")
	checks.check(agent._waiting, "another agent's failure changes nothing")
	autoload.request_failed.emit(int(queued["id"]), queued, "dropped")
	checks.check(not agent._waiting, "its own failed observation: it will ask again")
	autoload._queue.erase(queued)
	body.queue_free()
	await _tree.process_frame


## The server's reset request (docs/protocol.md, "Resets") reaches the game as a signal; the
## game's answer, and an observation's reward and done, go out as the protocol says.
func _server_reset(checks: Checks) -> void:
	checks.begin("client.server_reset")
	var fake := FakeTransport.new()
	var client := _connected(fake, {})
	var asked: Array = []
	client.reset_requested.connect(
		func(seed: Variant, episode_id: String) -> void: asked.append([seed, episode_id])
	)
	fake.inbox = _frame({"type": "reset", "id": "reset-1", "seed": 42, "episode_id": "ep-9"})
	client._process(0.016)
	checks.check_equal(asked, [[42, "ep-9"]], "reset_requested(seed, episode_id)")
	fake.written = PackedByteArray()
	client.reset_done("ep-9")
	client.observe("npc", {"hp": 1}, 0, {"tick": 0, "reward": -0.5, "done": true})
	client.observe("npc", {"hp": 1}, 0, {"tick": 1})
	client._process(0.016)
	var sent := _decode_written(fake.written)
	checks.check_equal(sent.size(), 3, "the answer and two observations")
	checks.check_equal(sent[0]["type"], "reset", "the game answers with reset")
	checks.check_equal(sent[0]["episode_id"], "ep-9", "carrying the episode id")
	checks.check(not sent[0].has("agent_id"), "for every agent")
	checks.check_equal(sent[1]["reward"], -0.5, "observe carries the reward")
	checks.check_equal(sent[1]["done"], true, "and done")
	checks.check(not sent[2].has("done") and not sent[2].has("reward"), "only when given")
	client.free()


#region helpers
func _connected(fake: FakeTransport, options: Dictionary) -> Client:
	var client := Client.new()
	var all := options.duplicate()
	all["transport"] = fake
	client.connect_to_server("127.0.0.1", 5555, all)
	client._process(0.016)
	fake.inbox = _handshake
	client._process(0.016)
	return client


static func _action(id: int, agent: String, tick: int) -> Dictionary:
	return {
		"type": "action",
		"id": id,
		"agent_id": agent,
		"tick": tick,
		"call": {"tool": "idle", "arguments": {}},
		"status": "ok",
	}


static func _frame(message: Dictionary) -> PackedByteArray:
	return Zmtp.encode_frame(Msgpack.pack(message).bytes, false, false)


## Walks the ZMTP frames in [param data]: [flags, body] pairs.
static func _frames(data: PackedByteArray) -> Array:
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
		out.append([flags, data.slice(i + header, i + header + size)])
		i += header + size
	return out


static func _decode_written(data: PackedByteArray) -> Array:
	var out: Array = []
	for entry: Array in _frames(data):
		if not (entry[0] & Zmtp.FLAG_COMMAND):
			out.append(Msgpack.unpack(entry[1]).value)
	return out


## Data of every command [param name] in [param data].
static func _commands(data: PackedByteArray, name: String) -> Array:
	var out: Array = []
	for entry: Array in _frames(data):
		var body: PackedByteArray = entry[1]
		if entry[0] & Zmtp.FLAG_COMMAND and body.size() > body[0]:
			if body.slice(1, 1 + body[0]).get_string_from_ascii() == name:
				out.append(body.slice(1 + body[0]))
	return out
#endregion
