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
	_boundaries(checks, z, router_stream)
	_heartbeats(checks, router_stream)
	_permanence(checks, z, router_stream)


## Frame sizes, greetings and handshake orders at their edges.
func _boundaries(checks: Checks, z: Dictionary, router_stream: PackedByteArray) -> void:
	var router: Dictionary = z["router"]
	checks.begin("zmtp.frame_255_256")
	for key: String in ["frame_255", "frame_256"]:
		var entry: Dictionary = router["null"][key]
		var wire := _hex(entry["hex"])
		checks.check_equal(
			wire[0] & Zmtp.FLAG_LONG, 0 if key == "frame_255" else Zmtp.FLAG_LONG, "%s form" % key
		)
		for bytewise: bool in [false, true]:
			var conn := _ready_null(router_stream)
			for chunk: PackedByteArray in _bytewise(wire) if bytewise else [wire]:
				conn.feed(chunk)
			var got := conn.take_messages()
			checks.check(
				got.size() == 1 and got[0] == [_hex(entry["frames"][0])],
				"%s from libzmq decoded (bytewise=%s)" % [key, bytewise]
			)
		checks.check_equal(
			Zmtp.encode_frame(_hex(entry["frames"][0]), false, false).hex_encode(),
			entry["hex"],
			"%s encoded as libzmq does" % key
		)

	checks.begin("zmtp.long_headers")
	var sizes := {"2^31": 1 << 31, "2^53": 1 << 53, "2^63-1": 0x7FFFFFFFFFFFFFFF}
	for name: String in sizes:
		var conn := _ready_null(router_stream)
		var header := PackedByteArray([Zmtp.FLAG_LONG])
		header.append_array(Zmtp._u64_be(sizes[name]))
		conn.feed(header)  # no body: the size alone must fail, without waiting or allocating
		checks.check(
			conn.has_failed() and conn.error_message.contains("max_message_size"),
			"%s-byte frame refused from its header: %s" % [name, conn.error_message]
		)
		checks.check_equal(conn.failure, Zmtp.Failure.TOO_LARGE, "%s: TOO_LARGE" % name)
	var over := _ready_null(router_stream)
	over.feed(PackedByteArray([Zmtp.FLAG_LONG, 0x80, 0, 0, 0, 0, 0, 0, 0]))
	checks.check(over.error_message.contains("2^63"), "2^63 and above: %s" % over.error_message)

	checks.begin("zmtp.multipart_over_limit")
	var limited := Zmtp.new({"max_message_size": 100})
	limited.start()
	limited.feed(router_stream)
	var sixty := PackedByteArray()
	sixty.resize(60)
	limited.feed(Zmtp.encode_frame(sixty, true, false))
	checks.check(limited.is_ready(), "first part fits")
	limited.feed(Zmtp.encode_frame(sixty, false, false))
	checks.check(
		limited.has_failed() and limited.error_message.contains("max_message_size"),
		"parts summing over the limit: %s" % limited.error_message
	)

	checks.begin("zmtp.greeting_3_0")
	var v30 := _hex(router["null"]["greeting"])
	v30[11] = 0
	var conn30 := Zmtp.new()
	conn30.start()
	conn30.feed(v30 + _hex(router["null"]["ready"]))
	checks.check(conn30.is_ready(), "a ZMTP 3.0 peer is accepted: %s" % conn30.error_message)
	checks.check_equal(conn30.peer_version, Vector2i(3, 0), "peer version 3.0")

	checks.begin("zmtp.greeting_2_0")
	# ZMTP 2.0 (libzmq 3.x): signature, revision 0x01, socket type (ROUTER = 6), identity frame.
	var v20 := PackedByteArray([0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0x01, 0x06, 0x00, 0x00])
	var conn20 := Zmtp.new()
	conn20.start()
	conn20.feed(v20)
	checks.check(
		conn20.has_failed() and conn20.error_message.contains("version 1"),
		"ZMTP 2.0 refused with its version: %s" % conn20.error_message
	)
	checks.check(conn20.is_permanent(), "an old peer is a permanent failure")

	checks.begin("zmtp.plain_bytewise")
	var dealer: Dictionary = z["dealer"]
	var plain := Zmtp.new(
		{
			"mechanism": "PLAIN",
			"username": dealer["plain"]["username"],
			"password": dealer["plain"]["password"]
		}
	)
	plain.start()
	plain.take_output()
	var server := (
		_hex(router["plain"]["greeting"])
		+ _hex(router["plain"]["welcome"])
		+ _hex(router["plain"]["ready"])
	)
	var sent := PackedByteArray()
	for chunk: PackedByteArray in _bytewise(server):
		plain.feed(chunk)
		sent.append_array(plain.take_output())
	checks.check(plain.is_ready(), "PLAIN one byte per read: %s" % plain.error_message)
	checks.check_equal(
		sent.hex_encode(),
		str(dealer["plain"]["hello"]) + str(dealer["plain"]["initiate"]),
		"HELLO then INITIATE, as libzmq"
	)

	checks.begin("zmtp.ping_before_ready")
	var early := Zmtp.new()
	early.start()
	early.feed(_hex(router["null"]["greeting"]))
	early.feed(Zmtp.encode_command("PING", PackedByteArray([0, 10])))
	checks.check(
		early.has_failed() and early.error_message.contains("expected READY, got PING"),
		"PING during the handshake is a protocol error (as in libzmq): %s" % early.error_message
	)
	checks.check(not early.is_permanent(), "worth a retry")

	checks.begin("zmtp.error_after_ready")
	var late := _ready_null(router_stream)
	late.feed(Zmtp.encode_command("ERROR", PackedByteArray([4]) + "gone".to_ascii_buffer()))
	checks.check(
		late.has_failed() and late.error_message.contains("gone"), "ERROR after READY fails"
	)
	checks.check(not late.refused and not late.is_permanent(), "not a refusal: reconnect")

	checks.begin("zmtp.metadata_case")
	var lower := Zmtp.new()
	lower.start()
	lower.feed(_hex(router["null"]["greeting"]))
	lower.feed(Zmtp.encode_command("READY", Zmtp.encode_properties({"socket-TYPE": "ROUTER"})))
	checks.check(lower.is_ready(), "property names are case-insensitive: %s" % lower.error_message)
	checks.check_equal(lower.get_peer_property("Socket-Type"), "ROUTER", "lookup ignores case")


func _heartbeats(checks: Checks, router_stream: PackedByteArray) -> void:
	checks.begin("zmtp.ping_ttl_context")
	var conn := _ready_null(router_stream)
	var context := PackedByteArray()
	for i in 20:
		context.append(0x41 + i)
	conn.feed(Zmtp.encode_command("PING", PackedByteArray([0x01, 0x2C]) + context))
	checks.check_equal(conn.peer_ttl, 30.0, "TTL 300 tenths = 30 s")
	checks.check_equal(
		conn.take_output(),
		Zmtp.encode_command("PONG", context.slice(0, 16)),
		"PONG context cut to 16 bytes"
	)
	var short := _ready_null(router_stream)
	short.feed(Zmtp.encode_command("PING", PackedByteArray([0, 0, 0x7A])))
	checks.check_equal(
		short.take_output(), Zmtp.encode_command("PONG", PackedByteArray([0x7A])), "short context"
	)

	checks.begin("zmtp.own_pings")
	var pinger := Zmtp.new({"heartbeat_interval": 1.0, "heartbeat_timeout": 4.0})
	pinger.start()
	pinger.feed(router_stream)
	pinger.take_output()
	pinger.advance(0.5)
	checks.check(pinger.take_output().is_empty(), "no PING before the interval")
	pinger.advance(0.5)
	checks.check_equal(
		pinger.take_output(),
		Zmtp.encode_command("PING", PackedByteArray([0, 40])),
		"PING with our TTL (4 s = 40 tenths)"
	)
	checks.check_equal(pinger.pings_sent, 1, "counted")
	pinger.advance(3.5)
	checks.check(pinger.is_ready(), "4.0 s of silence: alive")
	pinger.advance(0.1)
	checks.check_equal(pinger.failure, Zmtp.Failure.SILENT_PEER, "4.1 s: dead")


func _permanence(checks: Checks, z: Dictionary, router_stream: PackedByteArray) -> void:
	checks.begin("zmtp.permanent_failures")
	var mismatch := Zmtp.new()
	mismatch.start()
	mismatch.feed(_hex(z["router"]["plain"]["greeting"]))
	checks.check(mismatch.is_permanent(), "mechanism mismatch is permanent")
	for bad: Variant in [PackedByteArray([0, 1]), "x".repeat(256)]:
		var conn := Zmtp.new({"identity": bad})
		conn.start()
		checks.check(
			conn.has_failed() and conn.failure == Zmtp.Failure.BAD_OPTIONS,
			"identity refused before connecting: %s" % conn.error_message
		)
	var fine := Zmtp.new({"identity": "x".repeat(255)})
	fine.start()
	checks.check(not fine.has_failed(), "255-byte identity accepted")
	var reset := _ready_null(router_stream)
	reset.feed(PackedByteArray([0x80, 0x00]))
	checks.check(not reset.is_permanent(), "a malformed frame is worth a reconnect")


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
