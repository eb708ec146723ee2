## Measures how fast zmtp.gd parses a burst of action frames that arrive in one read, and how
## long the client's frame takes while it dispatches that burst. Prints one "BENCH {json}" line
## per case; tools/godot_web/bench_parse.py runs it and prints the table. Not a test: no
## assertion depends on these numbers.
extends Node

const Client := preload("res://addons/agent_arena/client.gd")
const Msgpack := preload("res://addons/agent_arena/msgpack.gd")
const Zmtp := preload("res://addons/agent_arena/zmtp.gd")
const FakeTransport := preload("res://fake_transport.gd")
const SIZES: Array[int] = [1000, 5000, 20000]


func _ready() -> void:
	_run.call_deferred()


func _run() -> void:
	var handshake := Zmtp.make_greeting("NULL", true)
	handshake.append_array(
		Zmtp.encode_command("READY", Zmtp.encode_properties({"Socket-Type": "ROUTER"}))
	)
	for count in SIZES:
		var burst := _burst(count)
		var conn := Zmtp.new()
		conn.start()
		conn.feed(handshake)
		conn.take_output()
		var started := Time.get_ticks_usec()
		conn.feed(burst)
		var parsed := conn.take_messages().size()
		var parse_us := Time.get_ticks_usec() - started
		print(
			"BENCH ",
			(
				JSON
				. stringify(
					{
						"case": "zmtp_parse",
						"frames": count,
						"parsed": parsed,
						"bytes": burst.size(),
						"ms": parse_us / 1000.0,
						"frames_per_s": count * 1e6 / maxi(parse_us, 1),
					}
				)
			)
		)
		_client_case(handshake, burst, count)
	get_tree().quit(0)


## One client frame at a time: the longest frame and how many frames the burst took.
func _client_case(handshake: PackedByteArray, burst: PackedByteArray, count: int) -> void:
	var fake := FakeTransport.new()
	var client := Client.new()
	var received := [0]
	client.action_received.connect(
		func(_agent: String, _call: Dictionary, _info: Dictionary) -> void: received[0] += 1
	)
	client.connect_to_server("127.0.0.1", 5555, {"transport": fake})
	client._process(0.016)
	fake.inbox = handshake
	client._process(0.016)
	fake.inbox = burst
	var frames := 0
	var longest_us := 0
	var total_us := 0
	while received[0] < count and frames < count + 10:
		var started := Time.get_ticks_usec()
		client._process(0.016)
		var took := Time.get_ticks_usec() - started
		longest_us = maxi(longest_us, took)
		total_us += took
		frames += 1
	print(
		"BENCH ",
		(
			JSON
			. stringify(
				{
					"case": "client_dispatch",
					"frames": count,
					"dispatched": received[0],
					"engine_frames": frames,
					"longest_frame_ms": longest_us / 1000.0,
					"total_ms": total_us / 1000.0,
				}
			)
		)
	)
	client.free()


static func _burst(count: int) -> PackedByteArray:
	var out := PackedByteArray()
	for i in count:
		var action := {
			"type": "action",
			"id": i + 1,
			"agent_id": "npc-%d" % (i % 50),
			"tick": i,
			"call": {"tool": "move_to", "arguments": {"target": [1.5, 0.0, -2.25]}},
			"status": "ok",
			"latency_ms": 12.5,
		}
		out.append_array(Zmtp.encode_frame(Msgpack.pack(action).bytes, false, false))
	return out
