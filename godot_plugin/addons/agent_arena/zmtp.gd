## ZMTP 3.1 client connection (DEALER) as a transport-free state machine: bytes in, bytes out.
##
## Feed whatever the transport received with [method feed], send what [method take_output]
## returns, and collect complete multipart messages with [method take_messages]. Supports the
## NULL and PLAIN security mechanisms, short and long frames, multipart reassembly and
## PING/PONG heartbeats. It never touches a socket, so it runs the same over TCP and WebSocket.
extends RefCounted

enum State { IDLE, GREETING, HANDSHAKE, READY, FAILED }

const GREETING_SIZE: int = 64
const FLAG_MORE: int = 0x01
const FLAG_LONG: int = 0x02
const FLAG_COMMAND: int = 0x04
const DEFAULT_MAX_MESSAGE_SIZE: int = 16 * 1024 * 1024
const VERSION_MAJOR: int = 3
const VERSION_MINOR: int = 1

var state: State = State.IDLE
## Why the connection failed (empty unless [member state] is FAILED).
var error_message: String = ""
## True when the failure is the server refusing our credentials (do not retry blindly).
var refused: bool = false
## Properties of the peer's READY command (e.g. "Socket-Type" -> "ROUTER").
var peer_properties: Dictionary = {}
## Mechanism announced in the peer's greeting.
var peer_mechanism: String = ""
var peer_version: Vector2i = Vector2i.ZERO
## Number of PING commands answered with PONG.
var pings_answered: int = 0
var max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE

var _mechanism: String = "NULL"
var _username: String = ""
var _password: String = ""
var _identity: PackedByteArray = PackedByteArray()
var _socket_type: String = "DEALER"
var _plain_welcomed: bool = false
var _inbox: PackedByteArray = PackedByteArray()
var _outbox: PackedByteArray = PackedByteArray()
var _parts: Array[PackedByteArray] = []
var _parts_size: int = 0
var _messages: Array = []


## [param options]: mechanism ("NULL" or "PLAIN"), username, password, identity (String or
## PackedByteArray), socket_type (default "DEALER"), max_message_size (bytes).
func _init(options: Dictionary = {}) -> void:
	_mechanism = str(options.get("mechanism", "NULL")).to_upper()
	_username = str(options.get("username", ""))
	_password = str(options.get("password", ""))
	_socket_type = str(options.get("socket_type", "DEALER"))
	max_message_size = int(options.get("max_message_size", DEFAULT_MAX_MESSAGE_SIZE))
	var identity: Variant = options.get("identity", PackedByteArray())
	if identity is PackedByteArray:
		_identity = identity
	else:
		_identity = str(identity).to_utf8_buffer()


#region public API
## Starts the handshake: queues our full greeting. Call once per connection.
func start() -> void:
	if _mechanism != "NULL" and _mechanism != "PLAIN":
		_set_failed("unsupported security mechanism %s (use NULL or PLAIN)" % _mechanism)
		return
	if _username.to_utf8_buffer().size() > 255 or _password.to_utf8_buffer().size() > 255:
		_set_failed("PLAIN username and password must be at most 255 bytes each")
		return
	state = State.GREETING
	_outbox.append_array(make_greeting(_mechanism))


## Processes bytes received from the peer. Safe with any split of the stream.
func feed(data: PackedByteArray) -> void:
	if state == State.FAILED or state == State.IDLE:
		return
	_inbox.append_array(data)
	if state == State.GREETING:
		_parse_greeting()
	while state == State.HANDSHAKE or state == State.READY:
		if not _parse_frame():
			break


## Bytes that must be written to the transport (empties the internal buffer).
func take_output() -> PackedByteArray:
	var out := _outbox
	_outbox = PackedByteArray()
	return out


## Complete messages received so far, each an Array of PackedByteArray frames.
func take_messages() -> Array:
	var out := _messages
	_messages = []
	return out


func is_ready() -> bool:
	return state == State.READY


func has_failed() -> bool:
	return state == State.FAILED


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
		_set_failed("peer is not a ZMTP 3 endpoint (bad signature byte 0x%02x)" % _inbox[0])
		return
	if have >= 10 and (_inbox[9] & 0x01) != 0x01:
		_set_failed("peer is not a ZMTP 3 endpoint (bad signature)")
		return
	if have >= 11 and _inbox[10] < VERSION_MAJOR:
		_set_failed("peer speaks ZMTP major version %d, need 3" % _inbox[10])
		return
	if have < GREETING_SIZE:
		return
	peer_version = Vector2i(_inbox[10], _inbox[11])
	peer_mechanism = _c_string(_inbox.slice(12, 32))
	_inbox = _inbox.slice(GREETING_SIZE)
	if peer_mechanism != _mechanism:
		_set_failed(
			"security mechanism mismatch: we use %s, server uses %s" % [_mechanism, peer_mechanism]
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
		_set_failed("server refused the connection: %s" % _error_reason(data))
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
	var peer_type: String = peer_properties.get("Socket-Type", "")
	if peer_type != "ROUTER":
		_set_failed("peer socket type %s cannot talk to a DEALER (need ROUTER)" % peer_type)
		return
	state = State.READY


func _error_reason(data: PackedByteArray) -> String:
	if data.is_empty():
		return "(no reason given)"
	var size := mini(data[0], data.size() - 1)
	return data.slice(1, 1 + size).get_string_from_utf8()


#endregion


#region framing
## Parses one frame from the inbox; returns false when more bytes are needed.
func _parse_frame() -> bool:
	if _inbox.size() < 2:
		return false
	var flags := _inbox[0]
	if flags & 0xF8:
		_set_failed("malformed frame: reserved flag bits set (0x%02x)" % flags)
		return false
	var header := 2
	var size := _inbox[1]
	if flags & FLAG_LONG:
		header = 9
		if _inbox.size() < header:
			return false
		if _inbox[1] & 0x80:
			_set_failed("frame size exceeds 2^63 bytes")
			return false
		size = 0
		for i in range(1, 9):
			size = (size << 8) | _inbox[i]
	if size > max_message_size or _parts_size + size > max_message_size:
		_set_failed("frame of %d bytes exceeds max_message_size %d" % [size, max_message_size])
		return false
	if _inbox.size() < header + size:
		return false
	var body := _inbox.slice(header, header + size)
	_inbox = _inbox.slice(header + size)
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
			# PING data: 2-byte TTL then up to 16 bytes of context, echoed in PONG.
			_outbox.append_array(
				encode_command("PONG", data.slice(2) if data.size() > 2 else PackedByteArray())
			)
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


func _set_failed(message: String) -> void:
	if state != State.FAILED:
		state = State.FAILED
		error_message = message


static func _c_string(raw: PackedByteArray) -> String:
	var end := raw.find(0)
	return (raw if end < 0 else raw.slice(0, end)).get_string_from_ascii()


static func _u64_be(value: int) -> PackedByteArray:
	var out := PackedByteArray()
	out.resize(8)
	for i in 8:
		out[7 - i] = (value >> (8 * i)) & 0xFF
	return out


static func _u32_be(value: int) -> PackedByteArray:
	return PackedByteArray(
		[(value >> 24) & 0xFF, (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF]
	)
