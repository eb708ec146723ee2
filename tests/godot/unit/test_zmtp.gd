## The ZMTP state machine against byte streams recorded from libzmq (tests/godot/make_vectors.py).
extends RefCounted

const Checks := preload("res://checks.gd")
const Zmtp := preload("res://addons/agent_arena/zmtp.gd")


func run(checks: Checks, vectors: Dictionary) -> void:
	var z: Dictionary = vectors["zmtp"]
	var router: Dictionary = z["router"]
	var dealer: Dictionary = z["dealer"]

	checks.begin("zmtp.greeting")
	checks.check_equal(
		Zmtp.make_greeting("NULL").hex_encode(), z["spec_greeting_null"], "NULL greeting"
	)
	checks.check_equal(
		Zmtp.make_greeting("PLAIN").hex_encode(), z["spec_greeting_plain"], "PLAIN greeting"
	)

	var router_stream: PackedByteArray = (
		_hex(router["null"]["greeting"]) + _hex(router["null"]["ready"])
	)
	var splits := {
		"whole": [router_stream],
		"as libzmq sends it":
		[router_stream.slice(0, 10), router_stream.slice(10, 64), router_stream.slice(64)],
		"byte by byte": _bytewise(router_stream),
	}
	for split_name: String in splits:
		checks.begin("zmtp.null_handshake (%s)" % split_name)
		var conn := Zmtp.new()
		conn.start()
		checks.check_equal(
			conn.take_output().hex_encode(), z["spec_greeting_null"], "greeting sent at once"
		)
		var chunks: Array = splits[split_name]
		for i in chunks.size():
			conn.feed(chunks[i])
			if i < chunks.size() - 1:
				checks.check(not conn.is_ready(), "not ready before the peer's READY")
		checks.check(conn.is_ready(), "ready after READY: %s" % conn.error_message)
		checks.check_equal(
			conn.take_output().hex_encode(),
			dealer["null"]["ready"],
			"READY equals libzmq's DEALER READY"
		)
		checks.check_equal(conn.peer_properties.get("Socket-Type"), "ROUTER", "peer Socket-Type")
		checks.check_equal(conn.peer_mechanism, "NULL", "peer mechanism")
		checks.check_equal(conn.peer_version, Vector2i(3, 1), "peer version")

	checks.begin("zmtp.identity")
	var with_id := Zmtp.new({"identity": z["identity"]})
	with_id.start()
	with_id.feed(router_stream)
	checks.check_equal(
		with_id.take_output().slice(64).hex_encode(),
		dealer["null_identity"]["ready"],
		"READY with Identity"
	)

	checks.begin("zmtp.outgoing_frames")
	for entry: Dictionary in dealer["null"]["messages"]:
		var conn := _ready_null(router_stream)
		var frames: Array = []
		for part: String in entry["frames"]:
			frames.append(_hex(part))
		checks.check(conn.send_message(frames), "send_message accepted")
		checks.check_equal(
			conn.take_output().hex_encode(),
			entry["hex"],
			"%d frame(s) as libzmq writes them" % frames.size()
		)

	checks.begin("zmtp.incoming_frames")
	for key: String in ["reply", "multipart"]:
		var entry: Dictionary = router["null"][key]
		var expected: Array = []
		for part: String in entry["frames"]:
			expected.append(_hex(part))
		for bytewise: bool in [false, true]:
			var conn := _ready_null(router_stream)
			var chunks: Array = _bytewise(_hex(entry["hex"])) if bytewise else [_hex(entry["hex"])]
			for chunk: PackedByteArray in chunks:
				conn.feed(chunk)
			var messages := conn.take_messages()
			checks.check_equal(
				messages.size(), 1, "%s: one message (bytewise=%s)" % [key, bytewise]
			)
			if messages.size() == 1:
				checks.check_equal(messages[0], expected, "%s: frames reassembled" % key)
			checks.check(conn.is_ready(), "%s: still ready" % key)
	var two := _ready_null(router_stream)
	two.feed(_hex(router["null"]["reply"]["hex"]) + _hex(router["null"]["multipart"]["hex"]))
	checks.check_equal(two.take_messages().size(), 2, "two messages in one read")

	checks.begin("zmtp.ping_pong")
	for entry: Dictionary in dealer["null"]["pongs"]:
		var conn := _ready_null(router_stream)
		conn.feed(_hex(entry["ping"]))
		checks.check_equal(
			conn.take_output().hex_encode(), entry["pong"], "PONG equals libzmq's answer"
		)
		checks.check_equal(conn.pings_answered, 1, "ping counted")
		checks.check(conn.take_messages().is_empty(), "PING is not a message")
	var pinged := _ready_null(router_stream)
	pinged.feed(_hex(router["null"]["ping"]))
	checks.check_equal(
		pinged.take_output().hex_encode(),
		dealer["null"]["pongs"][0]["pong"],
		"answers the ROUTER's PING"
	)

	checks.begin("zmtp.plain")
	var plain := Zmtp.new(
		{
			"mechanism": "PLAIN",
			"username": dealer["plain"]["username"],
			"password": dealer["plain"]["password"]
		}
	)
	plain.start()
	checks.check_equal(
		plain.take_output().hex_encode(), z["spec_greeting_plain"], "PLAIN greeting sent"
	)
	plain.feed(_hex(router["plain"]["greeting"]))
	checks.check_equal(
		plain.take_output().hex_encode(), dealer["plain"]["hello"], "HELLO equals libzmq's"
	)
	plain.feed(_hex(router["plain"]["welcome"]))
	checks.check_equal(
		plain.take_output().hex_encode(), dealer["plain"]["initiate"], "INITIATE equals libzmq's"
	)
	checks.check(not plain.is_ready(), "not ready before READY")
	plain.feed(_hex(router["plain"]["ready"]))
	checks.check(plain.is_ready(), "ready after PLAIN READY: %s" % plain.error_message)
	plain.send_message([PackedByteArray("after-plain".to_ascii_buffer())])
	checks.check_equal(
		plain.take_output().hex_encode(),
		dealer["plain"]["first_message"],
		"first message after PLAIN"
	)

	checks.begin("zmtp.plain_refused")
	var refused := Zmtp.new(
		{"mechanism": "PLAIN", "username": "arena", "password": z["wrong_password"]}
	)
	refused.start()
	refused.feed(_hex(router["plain"]["greeting"]))
	refused.take_output()
	refused.feed(_hex(router["plain"]["error"]))
	checks.check(refused.has_failed(), "ERROR is fatal")
	checks.check(refused.refused, "ERROR marks the refusal")
	checks.check(
		refused.error_message.contains("400"), "reason reported: %s" % refused.error_message
	)
	var spec_error := Zmtp.new({"mechanism": "PLAIN"})
	spec_error.start()
	spec_error.feed(_hex(router["plain"]["greeting"]))
	spec_error.feed(Zmtp.encode_command("ERROR", PackedByteArray([3]) + "401".to_ascii_buffer()))
	checks.check(spec_error.refused and spec_error.error_message.contains("401"), "spec-form ERROR")

	checks.begin("zmtp.failures")
	var bad_sig := Zmtp.new()
	bad_sig.start()
	bad_sig.feed(PackedByteArray([0x47, 0x45, 0x54]))
	checks.check(
		bad_sig.has_failed() and bad_sig.error_message.contains("signature"), "HTTP is not ZMTP"
	)
	var mismatch := Zmtp.new()
	mismatch.start()
	mismatch.feed(_hex(router["plain"]["greeting"]))
	checks.check(
		mismatch.error_message.contains("mismatch"), "NULL vs PLAIN: %s" % mismatch.error_message
	)
	var old := Zmtp.new()
	old.start()
	var v2 := _hex(router["null"]["greeting"])
	v2[10] = 2
	old.feed(v2.slice(0, 11))
	checks.check(old.has_failed() and old.error_message.contains("version"), "ZMTP 2 refused early")
	var wrong_type := Zmtp.new()
	wrong_type.start()
	wrong_type.feed(_hex(router["null"]["greeting"]))
	wrong_type.feed(Zmtp.encode_command("READY", Zmtp.encode_properties({"Socket-Type": "PUB"})))
	checks.check(
		wrong_type.error_message.contains("ROUTER"),
		"PUB peer refused: %s" % wrong_type.error_message
	)
	var big := Zmtp.new({"max_message_size": 100})
	big.start()
	big.feed(router_stream)
	big.feed(_hex(router["null"]["multipart"]["hex"]))
	checks.check(
		big.has_failed() and big.error_message.contains("max_message_size"), "oversized frame"
	)
	var reserved := _ready_null(router_stream)
	reserved.feed(PackedByteArray([0x80, 0x00]))
	checks.check(reserved.error_message.contains("reserved"), "reserved flag bits")
	var early := Zmtp.new()
	early.start()
	early.feed(_hex(router["null"]["greeting"]) + PackedByteArray([0x00, 0x01, 0x41]))
	checks.check(early.error_message.contains("before the handshake"), "message before READY")
	var not_ready := Zmtp.new()
	checks.check(not not_ready.send_message([PackedByteArray([1])]), "no sending before ready")
	var parsed := Zmtp.parse_properties(PackedByteArray([5, 0x41]))
	checks.check(parsed.has("error"), "truncated properties detected")


static func _ready_null(router_stream: PackedByteArray) -> Zmtp:
	var conn := Zmtp.new()
	conn.start()
	conn.feed(router_stream)
	conn.take_output()
	return conn


static func _hex(text: String) -> PackedByteArray:
	return text.hex_decode()


static func _bytewise(data: PackedByteArray) -> Array:
	var out: Array = []
	for i in data.size():
		out.append(data.slice(i, i + 1))
	return out
