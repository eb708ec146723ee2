## Agent Arena client, registered as the autoload [code]AgentArena[/code] by the plugin.
##
## Connects to the Agent Arena server (a ZeroMQ ROUTER) as a ZMTP 3.1 DEALER, sends one msgpack
## map per frame, and turns the server's replies into signals. Everything happens in
## [method _process]: the client never blocks the frame, and decodes at most
## [code]max_messages_per_frame[/code] server messages per frame. It keeps running while the game
## is paused (process mode ALWAYS), so the connection and its heartbeats survive a pause. Lost or
## silent connections are retried with exponential backoff, and every reconnect says hello and
## registers the tools again; while disconnected, requests wait in a bounded queue. Every request
## that will never reach the server is reported through [signal request_failed].
extends Node

## The session is up: hello and the tools were sent (on every reconnect too).
signal connected
## An established connection ended; [param reason] says why. Reconnects follow unless refused.
signal disconnected(reason: String)
## A connection attempt failed before it was established ([param permanent]: it will not be
## retried, e.g. refused credentials or a server that speaks another mechanism), or an
## established one was refused. A game can show "server unreachable" from this.
signal connection_failed(reason: String, permanent: bool)
signal action_received(agent_id: String, call: Dictionary, info: Dictionary)
signal error_received(code: String, message: String)
## A request that will never be answered by the server: its write failed, it was dropped from
## the full queue, or the connection stopped for good. [param message] is the request itself.
signal request_failed(request_id: int, message: Dictionary, reason: String)
## Every decoded server message (welcome, ack, action, pong, error), for callers that match ids.
signal message_received(message: Dictionary)
## The server asks for a new episode (a trainer steps the game; docs/env.md). Stop the current
## episode, build the new one from [param seed] (null: your choice), then call
## [method reset_done] with [param episode_id] and observe the new episode's first tick.
signal reset_requested(seed: Variant, episode_id: String)

enum ConnectionState { DISCONNECTED, CONNECTING, CONNECTED, WAITING_RETRY, REFUSED }

const Msgpack := preload("res://addons/agent_arena/msgpack.gd")
const Zmtp := preload("res://addons/agent_arena/zmtp.gd")
const Transport := preload("res://addons/agent_arena/transport.gd")
const TcpTransport := preload("res://addons/agent_arena/tcp_transport.gd")
const WsTransport := preload("res://addons/agent_arena/ws_transport.gd")
const PROTOCOL_VERSION: int = 1
const DEFAULT_PORT: int = 5555
const DEFAULT_MAX_MESSAGES_PER_FRAME: int = 64

var connection_state: ConnectionState = ConnectionState.DISCONNECTED
## The server's welcome message (server name, version, ...) once connected.
var server_info: Dictionary = {}
## Names of the tools registered on the server for this session, as its welcome and each
## register_tools ack list them (empty before the first welcome). Action masks name only these.
var server_tools: PackedStringArray = PackedStringArray()
## Observations dropped because the outgoing queue was full while disconnected.
var dropped_observations: int = 0
## Requests of any type dropped from the full queue (observations included).
var dropped_requests: int = 0
## Requests whose write to the transport failed.
var failed_sends: int = 0
## ZMTP PINGs from the server answered on the current connection.
var pings_answered: int = 0
## Why the last connection attempt or connection failed (empty before any failure).
var last_failure: String = ""
## Print connection events (off by default: games have their own logs).
var verbose: bool = false

var _url: String = ""
var _options: Dictionary = {}
var _transport: Transport = null
var _zmtp: Zmtp = null
var _queue: Array[Dictionary] = []
var _tools: Array = []
var _ticks: Dictionary = {}
var _next_id: int = 1
var _backoff: float = 0.5
var _retry_in: float = 0.0
var _since_open: float = 0.0
var _connected_for: float = 0.0
var _warned_drop_at: int = 0
## Received messages (frame arrays) not dispatched yet: the per-frame budget leaves them here,
## and they survive a disconnect.
var _received: Array = []
var _received_head: int = 0


func _init() -> void:
	# The connection must outlive a paused game: without PONGs the server drops the session.
	process_mode = Node.PROCESS_MODE_ALWAYS


func _process(delta: float) -> void:
	match connection_state:
		ConnectionState.WAITING_RETRY:
			_retry_in -= delta
			if _retry_in <= 0.0:
				_open()
		ConnectionState.CONNECTING, ConnectionState.CONNECTED:
			_since_open += delta
			_pump(delta)
	_dispatch_received()


#region public API
## Connects to the server at [param host]:[param port] (the relay's port for web builds).
## [param options]:
## [br]- [code]transport[/code]: "auto" (WebSocket on web exports, TCP elsewhere), "tcp", "ws",
##   or a transport object;
## [br]- [code]url[/code]: full endpoint, e.g. "ws://127.0.0.1:5556/" (overrides host and port);
## [br]- [code]username[/code], [code]password[/code]: PLAIN authentication;
## [br]- [code]client_name[/code], [code]identity[/code], [code]tools[/code] (registered on every
##   connect), [code]server_tools[/code] (true: the server's configured tools, which the addon's
##   built-in actions move_to, say and idle are, stay beside [code]tools[/code]; false: the
##   session has exactly [code]tools[/code]), [code]max_queue[/code] (256), [code]reconnect[/code]
##   (true),
##   [code]backoff_min[/code] (0.5 s), [code]backoff_max[/code] (10 s),
##   [code]handshake_timeout[/code] (5 s), [code]max_message_size[/code] (bytes),
##   [code]heartbeat_interval[/code] (5 s between our PINGs), [code]heartbeat_timeout[/code]
##   (30 s of silence and the server counts as dead; a TTL in the server's PINGs overrides it;
##   0 disables), [code]max_messages_per_frame[/code] (64), [code]stable_after[/code] (seconds a
##   connection must stay up before the backoff starts again from backoff_min; backoff_max).
func connect_to_server(
	host: String = "127.0.0.1", port: int = DEFAULT_PORT, options: Dictionary = {}
) -> void:
	disconnect_from_server()
	_options = options.duplicate()
	if _options.has("tools"):
		_tools = _options["tools"].duplicate(true)
	var kind: Variant = _options.get("transport", "auto")
	var scheme := "tcp"
	if kind is String and (kind == "ws" or (kind == "auto" and OS.has_feature("web"))):
		scheme = "ws"
	_url = str(_options.get("url", "%s://%s:%d" % [scheme, host, port]))
	if scheme == "ws" and not _options.has("url"):
		_url += "/"
	_backoff = float(_options.get("backoff_min", 0.5))
	_open()


## Closes the connection and stops reconnecting. Queued requests are kept for the next connect.
## Safe to call from any signal handler of this client (including [signal connected]).
func disconnect_from_server() -> void:
	var was_connected := connection_state == ConnectionState.CONNECTED
	_close_transport()
	connection_state = ConnectionState.DISCONNECTED
	if was_connected:
		disconnected.emit("closed by the game")


func is_connected_to_server() -> bool:
	return connection_state == ConnectionState.CONNECTED


## Registers tool specs ({name, description, parameters}); re-sent on every reconnect.
func register_tools(tools: Array) -> int:
	_tools = tools.duplicate(true)
	if not is_connected_to_server():
		return 0
	return _send(_register_message())


## Asks for one decision for [param agent_id]; returns the request id.
## [param options]: tick (default: a per-agent counter), tools (allowed tool names), profile,
## mask (the action mask: tool name -> false | true | {argument: [allowed values]}; see
## docs/protocol.md; an empty one is not sent), reward (a number: the agent's reward since its
## last observation, for trainers) and done (true: this observation ends its episode).
func observe(
	agent_id: String, observation: Dictionary, deadline_ms: int = 0, options: Dictionary = {}
) -> int:
	var tick: int = options.get("tick", int(_ticks.get(agent_id, 0)) + 1)
	_ticks[agent_id] = tick
	var message := {
		"type": "observe", "agent_id": agent_id, "tick": tick, "observation": observation
	}
	if deadline_ms > 0:
		message["deadline_ms"] = deadline_ms
	for key: String in ["tools", "profile", "mask"]:
		var value: Variant = options.get(key)
		if value == null or (value is String or value is Dictionary) and value.is_empty():
			continue
		message[key] = value
	var reward: Variant = options.get("reward")
	if reward is float or reward is int:
		message["reward"] = float(reward)
	if options.get("done", false) == true:
		message["done"] = true
	return _send(message)


## Reports how a tool call ended; the server keeps it as the agent's short-term memory.
## [param reward] (a number, optional) is journaled with it for training data.
func report_tool_result(
	agent_id: String,
	tick: int,
	tool: String,
	ok: bool,
	result: Variant = {},
	reward: Variant = null
) -> int:
	var message := {
		"type": "tool_result",
		"agent_id": agent_id,
		"tick": tick,
		"tool": tool,
		"ok": ok,
		"result": result,
	}
	if reward is float or reward is int:
		message["reward"] = float(reward)
	return _send(message)


## Clears one agent's server-side state, or every agent's when [param agent_id] is empty.
func reset(agent_id: String = "") -> int:
	var message := {"type": "reset"}
	if not agent_id.is_empty():
		message["agent_id"] = agent_id
	return _send(message)


## Answers the server's reset request ([signal reset_requested]): the new episode is ready.
## The server then forgets every agent's memory and answers their pending decisions
## [code]superseded[/code].
func reset_done(episode_id: String) -> int:
	return _send({"type": "reset", "episode_id": episode_id})


func ping() -> int:
	return _send({"type": "ping"})


## Requests waiting for a connection.
func queued_count() -> int:
	return _queue.size()


#endregion


#region connection
func _open() -> void:
	_close_transport()
	var kind: Variant = _options.get("transport", "auto")
	if kind is Object:
		_transport = kind
	elif _url.begins_with("ws://") or _url.begins_with("wss://"):
		_transport = WsTransport.new()
	else:
		_transport = TcpTransport.new()
	var mechanism := "PLAIN" if _options.has("username") else "NULL"
	_zmtp = (
		Zmtp
		. new(
			{
				"mechanism": mechanism,
				"username": _options.get("username", ""),
				"password": _options.get("password", ""),
				"identity": _options.get("identity", ""),
				"max_message_size": _options.get("max_message_size", Zmtp.DEFAULT_MAX_MESSAGE_SIZE),
				"heartbeat_interval":
				_options.get("heartbeat_interval", Zmtp.DEFAULT_HEARTBEAT_INTERVAL),
				"heartbeat_timeout":
				_options.get("heartbeat_timeout", Zmtp.DEFAULT_HEARTBEAT_TIMEOUT),
			}
		)
	)
	_zmtp.start()
	_since_open = 0.0
	_connected_for = 0.0
	pings_answered = 0
	connection_state = ConnectionState.CONNECTING
	if _zmtp.has_failed():  # invalid options: no point in opening anything
		_fail(_zmtp.error_message, _zmtp.is_permanent(), "bad_options")
		return
	_log("connecting to %s (%s)" % [_url, mechanism])
	var err := _transport.open(_url)
	if err != OK:
		_drop(_transport.last_error)


func _pump(delta: float) -> void:
	_transport.poll()
	var status := _transport.get_status()
	if status == Transport.Status.FAILED or status == Transport.Status.CLOSED:
		_drop(_transport.last_error if not _transport.last_error.is_empty() else "connection lost")
		return
	if status == Transport.Status.OPEN:
		var data := _transport.read()
		if not data.is_empty():
			_zmtp.feed(data)
		# After feed: bytes that arrived during a long frame (or a hidden tab) count first.
		_zmtp.advance(delta)
		if not _flush_output() and connection_state != ConnectionState.CONNECTED:
			_drop("write failed during the handshake: " + _transport_error())
			return
	if _zmtp.has_failed():
		if _zmtp.refused:
			_fail(_zmtp.error_message, true, "auth_refused")
		elif _zmtp.is_permanent():
			_fail(_zmtp.error_message, true, "incompatible_server")
		else:
			_drop(_zmtp.error_message)
		return
	pings_answered = _zmtp.pings_answered
	var messages := _zmtp.take_messages()
	if not messages.is_empty():
		_received.append_array(messages)
	if _zmtp.is_ready() and connection_state != ConnectionState.CONNECTED:
		_on_ready()
		return
	if connection_state == ConnectionState.CONNECTED:
		_connected_for += delta
		if _connected_for >= float(_options.get("stable_after", _backoff_max())):
			_backoff = float(_options.get("backoff_min", 0.5))
	elif connection_state == ConnectionState.CONNECTING:
		if _since_open > float(_options.get("handshake_timeout", 5.0)):
			_drop("no ZMTP handshake within %.1f s" % _options.get("handshake_timeout", 5.0))


## Writes what the ZMTP layer produced; false when the write failed (the connection is dropped).
func _flush_output() -> bool:
	if _zmtp == null or _transport == null:
		return false
	var out := _zmtp.take_output()
	if out.is_empty():
		return true
	var err := _transport.write(out)
	if err == OK:
		return true
	failed_sends += 1
	var why := _transport.last_error if not _transport.last_error.is_empty() else error_string(err)
	error_received.emit("send_failed", "write to the transport failed: %s" % why)
	return false


func _register_message() -> Dictionary:
	return {
		"type": "register_tools",
		"tools": _tools,
		"server_tools": bool(_options.get("server_tools", true)),
	}


func _on_ready() -> void:
	connection_state = ConnectionState.CONNECTED
	_connected_for = 0.0
	_log("connected to %s" % _url)
	var hello := {
		"type": "hello",
		"id": _take_id(),
		"v": PROTOCOL_VERSION,
		"client": str(_options.get("client_name", "godot-%s" % Engine.get_version_info()["string"]))
	}
	_write_message(hello)
	if not _tools.is_empty() and is_connected_to_server():
		var register := _register_message()
		register["id"] = _take_id()
		_write_message(register)
	var waiting := _queue
	_queue = []
	for i in waiting.size():
		if not is_connected_to_server():
			# A handler dropped the connection: keep the rest for the next connect.
			_queue.append_array(waiting.slice(i))
			break
		_write_message(waiting[i])
	if is_connected_to_server():
		connected.emit()


func _drop(reason: String) -> void:
	var was_connected := connection_state == ConnectionState.CONNECTED
	_close_transport()
	last_failure = reason
	_log("connection lost: %s" % reason)
	if not bool(_options.get("reconnect", true)):
		connection_state = ConnectionState.DISCONNECTED
	else:
		connection_state = ConnectionState.WAITING_RETRY
		_retry_in = _backoff * randf_range(0.9, 1.1)
		_backoff = minf(_backoff * 2.0, _backoff_max())
	if was_connected:
		disconnected.emit(reason)
	else:
		connection_failed.emit(reason, false)
		if connection_state == ConnectionState.DISCONNECTED:
			disconnected.emit(reason)


## Stops for good: the same connection cannot succeed (refused login, incompatible server, bad
## options). Queued requests are answered through [signal request_failed].
func _fail(reason: String, permanent: bool, code: String) -> void:
	var was_connected := connection_state == ConnectionState.CONNECTED
	_close_transport()
	last_failure = reason
	connection_state = ConnectionState.REFUSED if permanent else ConnectionState.DISCONNECTED
	error_received.emit(code, reason)
	connection_failed.emit(reason, permanent)
	disconnected.emit(reason if not was_connected else "refused: " + reason)
	var waiting := _queue
	_queue = []
	for message in waiting:
		request_failed.emit(int(message["id"]), message, "connection refused: " + reason)


func _backoff_max() -> float:
	return float(_options.get("backoff_max", 10.0))


func _close_transport() -> void:
	if _transport != null:
		_transport.close()
	_transport = null
	_zmtp = null


#endregion


#region messages
func _send(message: Dictionary) -> int:
	var id := _take_id()
	message["id"] = id
	if is_connected_to_server():
		_write_message(message)
		return id
	if connection_state == ConnectionState.REFUSED:
		request_failed.emit.call_deferred(id, message, "connection refused: " + last_failure)
		return id
	if message["type"] == "observe":
		# Only the freshest observation of an agent matters: replace a queued older one, and
		# answer it here as the server would (superseded), so nobody waits for it.
		for i in _queue.size():
			if _queue[i]["type"] == "observe" and _queue[i]["agent_id"] == message["agent_id"]:
				var older: Dictionary = _queue[i]
				_queue.remove_at(i)
				_answer_superseded.call_deferred(older, id)
				break
	var limit: int = maxi(1, int(_options.get("max_queue", 256)))
	while _queue.size() >= limit:
		_drop_oldest()
	_queue.append(message)
	return id


func _answer_superseded(older: Dictionary, newer_id: int) -> void:
	_handle_message(
		{
			"type": "action",
			"id": older["id"],
			"agent_id": older["agent_id"],
			"tick": older.get("tick", 0),
			"call": null,
			"status": "superseded",
			"reason": "superseded by observe id=%d while queued in the client" % newer_id,
			"local": true,
		}
	)


func _drop_oldest() -> void:
	var index := 0
	for i in _queue.size():
		if _queue[i]["type"] == "observe":
			index = i
			break
	var dropped: Dictionary = _queue[index]
	_queue.remove_at(index)
	dropped_requests += 1
	if dropped["type"] == "observe":
		dropped_observations += 1
	if dropped_requests == 1 or dropped_requests - _warned_drop_at >= 100:
		_warned_drop_at = dropped_requests
		push_warning(
			(
				"AgentArena: outgoing queue full while disconnected; dropped %d request(s) (%d observations)"
				% [dropped_requests, dropped_observations]
			)
		)
	request_failed.emit.call_deferred(
		int(dropped["id"]), dropped, "dropped: the outgoing queue was full while disconnected"
	)


## Encodes and writes one request; reports it through [signal request_failed] when it cannot
## be encoded or written.
func _write_message(message: Dictionary) -> bool:
	var packed := Msgpack.pack(message)
	if not packed.ok():
		error_received.emit("encode_failed", packed.error)
		request_failed.emit(int(message.get("id", 0)), message, packed.error)
		return false
	if _zmtp == null or not _zmtp.send_message([packed.bytes]):
		request_failed.emit(int(message.get("id", 0)), message, "not connected")
		return false
	if _flush_output():
		return true
	# The transport refused the bytes (e.g. over the WebSocket buffer): the request is lost, the
	# stream stays whole (a write is all or nothing), so the session goes on.
	request_failed.emit(int(message.get("id", 0)), message, "write failed: " + _transport_error())
	return false


func _transport_error() -> String:
	if _transport == null or _transport.last_error.is_empty():
		return "transport error"
	return _transport.last_error


## Decodes and dispatches at most max_messages_per_frame received messages.
func _dispatch_received() -> void:
	var budget := int(_options.get("max_messages_per_frame", DEFAULT_MAX_MESSAGES_PER_FRAME))
	if budget <= 0:
		budget = DEFAULT_MAX_MESSAGES_PER_FRAME
	while _received_head < _received.size() and budget > 0:
		var frames: Array = _received[_received_head]
		_received_head += 1
		budget -= 1
		_dispatch(frames)
	if _received_head >= _received.size():
		_received = []
		_received_head = 0
	elif _received_head > 1024:
		_received = _received.slice(_received_head)
		_received_head = 0


## Server messages decoded but not dispatched yet (a burst beyond the per-frame budget).
func received_backlog() -> int:
	return _received.size() - _received_head


func _dispatch(frames: Array) -> void:
	# A ROUTER talking to a DEALER sends the payload alone; skip an empty delimiter if present.
	var payload: PackedByteArray = frames[frames.size() - 1]
	var decoded := Msgpack.unpack(payload)
	if not decoded.ok() or typeof(decoded.value) != TYPE_DICTIONARY:
		var why := decoded.error if not decoded.ok() else "not a map"
		error_received.emit("bad_message", "undecodable server message: %s" % why)
		return
	_handle_message(decoded.value)


func _handle_message(message: Dictionary) -> void:
	message_received.emit(message)
	match str(message.get("type", "")):
		"action":
			var call: Variant = message.get("call", {})
			var info := message.duplicate()
			info.erase("call")
			action_received.emit(
				str(message.get("agent_id", "")), call if call is Dictionary else {}, info
			)
		"error":
			error_received.emit(str(message.get("code", "error")), str(message.get("message", "")))
		"welcome":
			server_info = message
			_set_server_tools(message.get("tools"))
		"ack":
			if message.get("of") == "register_tools":
				_set_server_tools(message.get("tools"))
		"reset":  # a request from the server, not a reply
			reset_requested.emit(message.get("seed"), str(message.get("episode_id", "")))


func _set_server_tools(names: Variant) -> void:
	if names is Array:
		server_tools = PackedStringArray()
		for tool_name: Variant in names:
			server_tools.append(str(tool_name))


func _take_id() -> int:
	var id := _next_id
	_next_id += 1
	return id


func _log(text: String) -> void:
	if verbose:
		print("[AgentArena] ", text)
#endregion
