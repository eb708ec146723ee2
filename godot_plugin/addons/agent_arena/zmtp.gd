## ZMTP 3.1 client connection (DEALER) as a transport-free state machine: bytes in, bytes out.
##
## Feed whatever the transport received with [method feed], send what [method take_output]
## returns, and collect complete multipart messages with [method take_messages]. Supports the
## NULL and PLAIN security mechanisms, short and long frames, multipart reassembly and
## PING/PONG heartbeats in both directions (call [method advance] every frame: it sends our PINGs
## and declares a silent peer dead). It never touches a socket, so it runs the same over TCP and
## WebSocket. Parsing uses a read cursor: a burst of frames in one read costs linear time.
extends RefCounted

enum State { IDLE, GREETING, HANDSHAKE, READY, FAILED }
## Why the connection failed. AUTH_REFUSED, INCOMPATIBLE and BAD_OPTIONS are permanent: retrying
## the same connection cannot succeed.
enum Failure { NONE, PROTOCOL, AUTH_REFUSED, INCOMPATIBLE, BAD_OPTIONS, TOO_LARGE, SILENT_PEER }

const GREETING_SIZE: int = 64
const FLAG_MORE: int = 0x01
const FLAG_LONG: int = 0x02
const FLAG_COMMAND: int = 0x04
const DEFAULT_MAX_MESSAGE_SIZE: int = 16 * 1024 * 1024
const VERSION_MAJOR: int = 3
const VERSION_MINOR: int = 1
## PING context is at most 16 bytes (RFC 37); a PONG echoes at most that.
const MAX_PING_CONTEXT: int = 16
const DEFAULT_HEARTBEAT_INTERVAL: float = 5.0
const DEFAULT_HEARTBEAT_TIMEOUT: float = 30.0

var state: State = State.IDLE
## Why the connection failed (empty unless [member state] is FAILED).
var error_message: String = ""
## True when the failure is the server refusing our credentials (do not retry blindly).
var refused: bool = false
## Kind of the failure ([enum Failure]); see [method is_permanent].
var failure: Failure = Failure.NONE
## Properties of the peer's READY command (e.g. "Socket-Type" -> "ROUTER").
var peer_properties: Dictionary = {}
## Mechanism announced in the peer's greeting.
var peer_mechanism: String = ""
var peer_version: Vector2i = Vector2i.ZERO
## Number of PING commands answered with PONG.
var pings_answered: int = 0
var max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
## Seconds between our PINGs once ready (0: never send PINGs).
var heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
## Seconds without any byte from the peer after which it counts as dead (0: never). A PING from
## the peer carrying a TTL replaces it with that TTL.
var heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
## TTL the peer announced in its last PING, in seconds (0: none).
var peer_ttl: float = 0.0
## Number of PINGs we sent.
var pings_sent: int = 0

var _mechanism: String = "NULL"
var _username: String = ""
var _password: String = ""
var _identity: PackedByteArray = PackedByteArray()
var _socket_type: String = "DEALER"
var _plain_welcomed: bool = false
var _inbox: PackedByteArray = PackedByteArray()
## Read cursor into [member _inbox]: bytes before it are parsed (dropped once per feed).
var _pos: int = 0
var _outbox: PackedByteArray = PackedByteArray()
var _parts: Array[PackedByteArray] = []
var _parts_size: int = 0
var _messages: Array = []
var _messages_head: int = 0
var _silence: float = 0.0
var _since_ping: float = 0.0
var _fresh: bool = false


## [param options]: mechanism ("NULL" or "PLAIN"), username, password, identity (String or
## PackedByteArray), socket_type (default "DEALER"), max_message_size (bytes),
## heartbeat_interval and heartbeat_timeout (seconds, 0 disables).
func _init(options: Dictionary = {}) -> void:
	_mechanism = str(options.get("mechanism", "NULL")).to_upper()
	_username = str(options.get("username", ""))
	_password = str(options.get("password", ""))
	_socket_type = str(options.get("socket_type", "DEALER"))
	max_message_size = int(options.get("max_message_size", DEFAULT_MAX_MESSAGE_SIZE))
	heartbeat_interval = float(options.get("heartbeat_interval", DEFAULT_HEARTBEAT_INTERVAL))
	heartbeat_timeout = float(options.get("heartbeat_timeout", DEFAULT_HEARTBEAT_TIMEOUT))
	var identity: Variant = options.get("identity", PackedByteArray())
	if identity is PackedByteArray:
		_identity = identity
	else:
		_identity = str(identity).to_utf8_buffer()


#region public API
## Starts the handshake: queues our full greeting. Call once per connection.
func start() -> void:
	if _mechanism != "NULL" and _mechanism != "PLAIN":
		_set_failed(
			"unsupported security mechanism %s (use NULL or PLAIN)" % _mechanism,
			Failure.BAD_OPTIONS
		)
		return
	if _username.to_utf8_buffer().size() > 255 or _password.to_utf8_buffer().size() > 255:
		_set_failed(
			"PLAIN username and password must be at most 255 bytes each", Failure.BAD_OPTIONS
		)
		return
	if _identity.size() > 255 or (not _identity.is_empty() and _identity[0] == 0):
		_set_failed(
			(
				"identity must be 1-255 bytes not starting with a zero byte (got %d bytes)"
				% _identity.size()
			),
			Failure.BAD_OPTIONS
		)
		return
	state = State.GREETING
	_outbox.append_array(make_greeting(_mechanism))


## Processes bytes received from the peer. Safe with any split of the stream.
func feed(data: PackedByteArray) -> void:
	if state == State.FAILED or state == State.IDLE:
		return
	if not data.is_empty():
		_silence = 0.0
		_fresh = true
	_inbox.append_array(data)
	if state == State.GREETING:
		_parse_greeting()
	while state == State.HANDSHAKE or state == State.READY:
		if not _parse_frame():
			break
	if _pos > 0:
		# One copy of the unparsed tail per read, not one per frame.
		_inbox = _inbox.slice(_pos)
		_pos = 0


## Advances the heartbeat clock by [param seconds]: queues our PING every
## [member heartbeat_interval] and fails the connection when the peer has been silent for longer
## than its PING TTL (or [member heartbeat_timeout]). Call after [method feed] in each frame:
## when bytes were fed since the last call, the peer was heard "now", however long the frame was
## (a hidden browser tab, a long load).
func advance(seconds: float) -> void:
	if state != State.READY:
		return
	if _fresh:
		_fresh = false
		_silence = 0.0
	else:
		_silence += seconds
	_since_ping += seconds
	var timeout := peer_ttl if peer_ttl > 0.0 else heartbeat_timeout
	if timeout > 0.0 and _silence > timeout:
		_set_failed(
			"no traffic from the peer for %.1f s (heartbeat timeout %.1f s)" % [_silence, timeout],
			Failure.SILENT_PEER
		)
		return
	if heartbeat_interval > 0.0 and _since_ping >= heartbeat_interval:
		_since_ping = 0.0
		var ttl := int(ceilf(maxf(timeout, 0.0) * 10.0))
		_outbox.append_array(encode_command("PING", _u16_be(mini(ttl, 0xFFFF))))
		pings_sent += 1


## Bytes that must be written to the transport (empties the internal buffer).
func take_output() -> PackedByteArray:
	var out := _outbox
	_outbox = PackedByteArray()
	return out


## Complete messages received so far (at most [param max_count] when it is >= 0, oldest first),
## each an Array of PackedByteArray frames. The rest stay for the next call.
func take_messages(max_count: int = -1) -> Array:
	var available := _messages.size() - _messages_head
	if max_count < 0 or max_count >= available:
		var out := _messages if _messages_head == 0 else _messages.slice(_messages_head)
		_messages = []
		_messages_head = 0
		return out
	var part := _messages.slice(_messages_head, _messages_head + max_count)
	_messages_head += max_count
	return part


## Number of complete messages waiting in [method take_messages].
func pending_messages() -> int:
	return _messages.size() - _messages_head


func is_ready() -> bool:
	return state == State.READY


func has_failed() -> bool:
	return state == State.FAILED


## True when the failure cannot go away by reconnecting with the same options (refused
## credentials, a peer that is not a ZMTP 3 ROUTER with our mechanism, invalid options).
func is_permanent() -> bool:
	return failure in [Failure.AUTH_REFUSED, Failure.INCOMPATIBLE, Failure.BAD_OPTIONS]


## A property of the peer's READY by name, compared case-insensitively (RFC 37).
func get_peer_property(name: String, default: String = "") -> String:
	return _find_property(peer_properties, name, default)


## Queues one multipart message; returns false when the connection is not ready.
func send_message(frames: Array) -> bool:
	if state != State.READY or frames.is_empty():
		return false
	for i in frames.size():
		var more := i < frames.size() - 1
		_outbox.append_array(encode_frame(frames[i], more, false))
	return true


#endregion


#region static byte helpers (shared with the tests)
## The 64-byte greeting: signature, version 3.1, mechanism padded to 20 bytes, as-server 0.
static func make_greeting(mechanism: String, as_server: bool = false) -> PackedByteArray:
	var out := PackedByteArray([0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, VERSION_MAJOR, VERSION_MINOR])
	var name := mechanism.to_ascii_buffer()
	name.resize(20)
	out.append_array(name)
	out.append(1 if as_server else 0)
	var filler := PackedByteArray()
	filler.resize(31)
	out.append_array(filler)
	return out


## Encodes one frame: flags byte, 1-byte or 8-byte big-endian size, body.
static func encode_frame(body: PackedByteArray, more: bool, command: bool) -> PackedByteArray:
	var flags := (FLAG_MORE if more else 0) | (FLAG_COMMAND if command else 0)
	var out := PackedByteArray()
	var size := body.size()
	if size > 255:
		out.append(flags | FLAG_LONG)
		out.append_array(_u64_be(size))
	else:
		out.append(flags)
		out.append(size)
	out.append_array(body)
	return out


## Encodes a command frame: name length, name, data.
static func encode_command(name: String, data: PackedByteArray) -> PackedByteArray:
	var body := PackedByteArray([name.length()])
	body.append_array(name.to_ascii_buffer())
	body.append_array(data)
	return encode_frame(body, false, true)


## Encodes metadata properties: name length (1 byte), name, value length (4 bytes BE), value.
static func encode_properties(properties: Dictionary) -> PackedByteArray:
	var out := PackedByteArray()
	for key: Variant in properties:
		var name := str(key).to_ascii_buffer()
		var value: Variant = properties[key]
		var raw: PackedByteArray = (
			value if value is PackedByteArray else str(value).to_utf8_buffer()
		)
		out.append(name.size())
		out.append_array(name)
		out.append_array(_u32_be(raw.size()))
		out.append_array(raw)
	return out


## Parses metadata properties; returns {} plus an "error" key on malformed input.
static func parse_properties(data: PackedByteArray) -> Dictionary:
	var props := {}
	var i := 0
	while i < data.size():
		var name_size := data[i]
		if i + 1 + name_size + 4 > data.size():
			return {"error": "truncated property name at byte %d" % i}
		var name := data.slice(i + 1, i + 1 + name_size).get_string_from_ascii()
		i += 1 + name_size
		var value_size := (data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]
		i += 4
		if i + value_size > data.size():
			return {"error": "truncated value of property %s" % name}
		props[name] = data.slice(i, i + value_size)
		i += value_size
	return {"properties": props}


#endregion


#region handshake
func _parse_greeting() -> void:
	var have := _inbox.size()
	# Validate the parts that have arrived so far: libzmq sends its greeting in pieces.
	if have >= 1 and _inbox[0] != 0xFF:
		_set_failed(
			"peer is not a ZMTP 3 endpoint (bad signature byte 0x%02x)" % _inbox[0],
			Failure.INCOMPATIBLE
		)
		return
	if have >= 10 and (_inbox[9] & 0x01) != 0x01:
		_set_failed("peer is not a ZMTP 3 endpoint (bad signature)", Failure.INCOMPATIBLE)
		return
	if have >= 11 and _inbox[10] < VERSION_MAJOR:
		_set_failed("peer speaks ZMTP major version %d, need 3" % _inbox[10], Failure.INCOMPATIBLE)
		return
	if have < GREETING_SIZE:
		return
	peer_version = Vector2i(_inbox[10], _inbox[11])
	peer_mechanism = _c_string(_inbox.slice(12, 32))
	_pos = GREETING_SIZE
	if peer_mechanism != _mechanism:
		_set_failed(
			"security mechanism mismatch: we use %s, server uses %s" % [_mechanism, peer_mechanism],
			Failure.INCOMPATIBLE
		)
		return
	state = State.HANDSHAKE
	if _mechanism == "PLAIN":
		var hello := PackedByteArray([_username.to_utf8_buffer().size()])
		hello.append_array(_username.to_utf8_buffer())
		hello.append(_password.to_utf8_buffer().size())
		hello.append_array(_password.to_utf8_buffer())
		_outbox.append_array(encode_command("HELLO", hello))
	else:
		_outbox.append_array(encode_command("READY", _own_properties()))


func _own_properties() -> PackedByteArray:
	return encode_properties({"Socket-Type": _socket_type, "Identity": _identity})


func _on_handshake_command(name: String, data: PackedByteArray) -> void:
	if name == "ERROR":
		refused = true
		_set_failed("server refused the connection: %s" % _error_reason(data), Failure.AUTH_REFUSED)
		return
	if _mechanism == "PLAIN" and not _plain_welcomed:
		if name != "WELCOME":
			_set_failed("PLAIN handshake: expected WELCOME, got %s" % name)
			return
		_plain_welcomed = true
		_outbox.append_array(encode_command("INITIATE", _own_properties()))
		return
	if name != "READY":
		_set_failed("handshake: expected READY, got %s" % name)
		return
	var parsed := parse_properties(data)
	if parsed.has("error"):
		_set_failed("malformed READY: %s" % parsed["error"])
		return
	peer_properties = {}
	for key: String in parsed["properties"]:
		peer_properties[key] = parsed["properties"][key].get_string_from_utf8()
	var peer_type := get_peer_property("Socket-Type")
	if peer_type != "ROUTER":
		_set_failed(
			"peer socket type %s cannot talk to a DEALER (need ROUTER)" % peer_type,
			Failure.INCOMPATIBLE
		)
		return
	state = State.READY
	_silence = 0.0
	_since_ping = 0.0


func _error_reason(data: PackedByteArray) -> String:
	if data.is_empty():
		return "(no reason given)"
	var size := mini(data[0], data.size() - 1)
	return data.slice(1, 1 + size).get_string_from_utf8()


#endregion


#region framing
## Parses one frame from the inbox; returns false when more bytes are needed.
func _parse_frame() -> bool:
	var left := _inbox.size() - _pos
	if left < 2:
		return false
	var flags := _inbox[_pos]
	if flags & 0xF8:
		_set_failed("malformed frame: reserved flag bits set (0x%02x)" % flags)
		return false
	var header := 2
	var size := _inbox[_pos + 1]
	if flags & FLAG_LONG:
		header = 9
		if left < header:
			return false
		if _inbox[_pos + 1] & 0x80:
			_set_failed("frame size exceeds 2^63 bytes", Failure.TOO_LARGE)
			return false
		size = 0
		for i in range(1, 9):
			size = (size << 8) | _inbox[_pos + i]
	if size > max_message_size or _parts_size + size > max_message_size:
		_set_failed(
			"frame of %d bytes exceeds max_message_size %d" % [size, max_message_size],
			Failure.TOO_LARGE
		)
		return false
	if left < header + size:
		return false
	var body := _inbox.slice(_pos + header, _pos + header + size)
	_pos += header + size
	if flags & FLAG_COMMAND:
		_on_command(body)
	elif state != State.READY:
		_set_failed("message frame received before the handshake finished")
	else:
		_on_message_frame(body, (flags & FLAG_MORE) != 0)
	return true


func _on_command(body: PackedByteArray) -> void:
	var name := ""
	var data := PackedByteArray()
	if body.size() >= 5 and body[0] == 0x5E and body.slice(1, 5).get_string_from_ascii() == "RROR":
		# libzmq 4.3 sends its PLAIN refusal as 0x5E "RROR" instead of 0x05 "ERROR".
		name = "ERROR"
		data = body.slice(5)
	elif body.is_empty() or body[0] + 1 > body.size():
		_set_failed("malformed command frame")
		return
	else:
		name = body.slice(1, 1 + body[0]).get_string_from_ascii()
		data = body.slice(1 + body[0])
	if state == State.HANDSHAKE:
		_on_handshake_command(name, data)
		return
	match name:
		"PING":
			# PING data: 2-byte TTL (tenths of a second) then up to 16 bytes of context, which
			# the PONG echoes (cut to 16 bytes: RFC 37 allows no more).
			if data.size() >= 2:
				peer_ttl = ((data[0] << 8) | data[1]) / 10.0
			var context := PackedByteArray()
			if data.size() > 2:
				context = data.slice(2, 2 + MAX_PING_CONTEXT)
			_outbox.append_array(encode_command("PONG", context))
			pings_answered += 1
		"ERROR":
			_set_failed("server sent ERROR: %s" % _error_reason(data))
		_:
			pass  # PONG and unknown commands are ignored, as ZMTP 3.1 requires.


func _on_message_frame(body: PackedByteArray, more: bool) -> void:
	_parts.append(body)
	_parts_size += body.size()
	if more:
		return
	_messages.append(_parts)
	_parts = []
	_parts_size = 0


#endregion


func _set_failed(message: String, kind: Failure = Failure.PROTOCOL) -> void:
	if state != State.FAILED:
		state = State.FAILED
		error_message = message
		failure = kind


static func _find_property(properties: Dictionary, name: String, default: String) -> String:
	var wanted := name.to_lower()
	for key: Variant in properties:
		if str(key).to_lower() == wanted:
			return str(properties[key])
	return default


static func _c_string(raw: PackedByteArray) -> String:
	var end := raw.find(0)
	return (raw if end < 0 else raw.slice(0, end)).get_string_from_ascii()


static func _u64_be(value: int) -> PackedByteArray:
	var out := PackedByteArray()
	out.resize(8)
	for i in 8:
		out[7 - i] = (value >> (8 * i)) & 0xFF
	return out


static func _u16_be(value: int) -> PackedByteArray:
	return PackedByteArray([(value >> 8) & 0xFF, value & 0xFF])


static func _u32_be(value: int) -> PackedByteArray:
	return PackedByteArray(
		[(value >> 24) & 0xFF, (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF]
	)
