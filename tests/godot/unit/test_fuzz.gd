## Round trip of values drawn by hypothesis and packed by the Python msgpack library
## (res://fuzz.json, written by tests/integration/test_godot_unit.py): decode, re-encode, same
## bytes.
extends RefCounted

const Checks := preload("res://checks.gd")
const Msgpack := preload("res://addons/agent_arena/msgpack.gd")


func run(checks: Checks, _vectors: Dictionary) -> void:
	checks.begin("msgpack.fuzz")
	if not FileAccess.file_exists("res://fuzz.json"):
		return
	var cases: Variant = JSON.parse_string(FileAccess.get_file_as_string("res://fuzz.json"))
	checks.check(cases is Array and not cases.is_empty(), "fuzz cases present")
	for i in cases.size():
		var wire := str(cases[i]).hex_decode()
		var decoded := Msgpack.unpack(wire)
		if not checks.check(decoded.ok(), "case %d decodes: %s" % [i, decoded.error]):
			continue
		var packed := Msgpack.pack(decoded.value)
		checks.check_equal(
			packed.bytes.hex_encode(), cases[i], "case %d re-encodes identically" % i
		)
		var cut := Msgpack.unpack(wire.slice(0, wire.size() - 1))
		checks.check(not cut.ok() or wire.size() == 1, "case %d truncated is an error" % i)
