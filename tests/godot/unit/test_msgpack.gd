## The msgpack codec against bytes produced by the Python msgpack library.
extends RefCounted

const Checks := preload("res://checks.gd")
const Msgpack := preload("res://addons/agent_arena/msgpack.gd")


func run(checks: Checks, vectors: Dictionary) -> void:
	var mp: Dictionary = vectors["msgpack"]
	checks.begin("msgpack.encode")
	for entry: Dictionary in mp["encode"]:
		var value: Variant = build(entry["value"])
		var packed := Msgpack.pack(value)
		if not checks.check(packed.ok(), "%s: pack failed: %s" % [entry["name"], packed.error]):
			continue
		if entry.has("hex"):
			checks.check_equal(packed.bytes.hex_encode(), entry["hex"], "%s: bytes" % entry["name"])
		else:
			checks.check_equal(packed.bytes.size(), int(entry["size"]), "%s: size" % entry["name"])
			checks.check_equal(sha256(packed.bytes), entry["sha256"], "%s: sha256" % entry["name"])
		var wire: PackedByteArray = packed.bytes
		if entry.has("hex"):
			wire = str(entry["hex"]).hex_decode()
		var decoded := Msgpack.unpack(wire)
		checks.check(decoded.ok(), "%s: unpack error %s" % [entry["name"], decoded.error])
		checks.check_equal(decoded.value, value, "%s: decoded value" % entry["name"])

	checks.begin("msgpack.decode_only")
	for entry: Dictionary in mp["decode_only"]:
		var decoded := Msgpack.unpack(str(entry["hex"]).hex_decode())
		checks.check(decoded.ok(), "%s: unpack error %s" % [entry["name"], decoded.error])
		checks.check_equal(decoded.value, build(entry["value"]), entry["name"])

	checks.begin("msgpack.errors")
	for entry: Dictionary in mp["errors"]:
		var decoded := Msgpack.unpack(str(entry["hex"]).hex_decode())
		checks.check(not decoded.ok(), "%s: should fail" % entry["name"])
		checks.check(
			decoded.error.contains(entry["error"]),
			"%s: error %s should mention %s" % [entry["name"], decoded.error, entry["error"]]
		)
		checks.check(decoded.value == null, "%s: no partial value on error" % entry["name"])

	checks.begin("msgpack.godot_types")
	for entry: Dictionary in mp["godot"]:
		var packed := Msgpack.pack(build_godot(entry))
		checks.check_equal(packed.bytes.hex_encode(), entry["hex"], entry["name"])

	checks.begin("msgpack.unsupported")
	var node := Node.new()
	for bad: Variant in [node, Color(1, 0, 0), Callable(), {"deep": [1, {"x": RID()}]}]:
		var packed := Msgpack.pack(bad)
		checks.check(not packed.ok(), "%s must not encode" % type_string(typeof(bad)))
		checks.check(packed.error.contains("cannot encode"), "clear error: %s" % packed.error)
		checks.check(packed.bytes.is_empty(), "no partial bytes on error")
	checks.check(
		Msgpack.pack({"deep": [1, {"x": RID()}]}).error.contains("$.deep[1].x"),
		"error names the path of the bad value"
	)
	node.free()
	var at := Msgpack.unpack_at(PackedByteArray([0x01, 0xA1, 0x61, 0xC0]), 1)
	checks.check_equal(at.value, "a", "unpack_at decodes from an offset")
	checks.check_equal(at.offset, 3, "unpack_at reports where the value ended")

	checks.begin("msgpack.unpack_at_out_of_range")
	var four := PackedByteArray([0x01, 0xA1, 0x61, 0xC0])
	for offset: int in [-1, 4, 5, 1000]:
		var outside := Msgpack.unpack_at(four, offset)
		checks.check(
			not outside.ok() and outside.value == null and outside.error.contains("outside"),
			"offset %d is an error, not a decode from byte 0: %s" % [offset, outside.error]
		)

	checks.begin("msgpack.map_keys")
	for bad_key: Variant in [1, 2.5, true, null, Vector2(1, 2), ["k"]]:
		var packed := Msgpack.pack({"observation": {bad_key: "v"}})
		checks.check(
			not packed.ok() and packed.error.contains("String keys"),
			"%s key refused: %s" % [type_string(typeof(bad_key)), packed.error]
		)
		checks.check(packed.error.contains("$.observation"), "error names the map's path")
		checks.check(packed.bytes.is_empty(), "no partial bytes")
	var named := Msgpack.pack({&"tool": "idle"})
	checks.check_equal(named.bytes.hex_encode(), "81a4746f6f6ca469646c65", "StringName keys encode")

	checks.begin("msgpack.depth")
	var deepest: Array = []
	for i in Msgpack.MAX_DEPTH:
		deepest = [deepest]
	checks.check(Msgpack.pack(deepest).ok(), "%d levels encode" % (Msgpack.MAX_DEPTH + 1))
	var too_deep: Variant = [deepest]
	var refused := Msgpack.pack(too_deep)
	checks.check(
		not refused.ok() and refused.error.contains("nesting"),
		"one level more is refused before it reaches the server: %s" % refused.error
	)
	checks.check_equal(Msgpack.MAX_DEPTH, 32, "the server's limit (protocol.MAX_DEPTH)")

	checks.begin("msgpack.truncated_everywhere")
	for entry: Dictionary in mp["encode"]:
		if not entry.has("hex") or str(entry["hex"]).length() > 600:
			continue
		var wire := str(entry["hex"]).hex_decode()
		var bad_cuts: Array = []
		for cut in wire.size():
			var partial := Msgpack.unpack(wire.slice(0, cut))
			if partial.ok() or partial.value != null or not partial.error.contains("truncated"):
				bad_cuts.append(cut)
		checks.check(
			bad_cuts.is_empty(),
			"%s: every prefix is a truncation error (not at %s)" % [entry["name"], bad_cuts]
		)

	checks.begin("msgpack.utf8_strictness")
	checks.check_equal(
		Msgpack.unpack(PackedByteArray([0xA3, 0x61, 0xC3, 0xA9])).value, "aé", "valid 2-byte"
	)
	checks.check_equal(
		Msgpack.unpack("a4f09f8eae".hex_decode()).value, "🎮", "valid 4-byte sequence"
	)
	checks.check_equal(
		Msgpack.unpack("a4f48fbfbf".hex_decode()).value.unicode_at(0), 0x10FFFF, "U+10FFFF"
	)


## Builds a GDScript value from the generator's tagged JSON form.
static func build(node: Dictionary) -> Variant:
	match node["t"]:
		"nil":
			return null
		"bool":
			return bool(node["v"])
		"int":
			return str(node["v"]).to_int()
		"float":
			return _f64(node["v"])
		"str":
			return str(node["v"])
		"bin":
			return str(node["v"]).hex_decode()
		"str_repeat":
			return str(node["v"]).repeat(int(node["n"]))
		"bin_repeat":
			var raw := PackedByteArray()
			raw.resize(int(node["n"]))
			raw.fill(str(node["v"]).hex_to_int())
			return raw
		"array":
			var items: Array = []
			for child: Dictionary in node["v"]:
				items.append(build(child))
			return items
		"array_range":
			return range(int(node["n"]))
		"map":
			var map := {}
			for pair: Array in node["v"]:
				map[build(pair[0])] = build(pair[1])
			return map
		"map_range":
			var map := {}
			for i in int(node["n"]):
				map["k%d" % i] = i
			return map
	push_error("unknown tag %s" % node["t"])
	return null


static func build_godot(entry: Dictionary) -> Variant:
	var v: Array = entry["v"]
	match entry["kind"]:
		"vector2":
			return Vector2(float(v[0]), float(v[1]))
		"vector3":
			return Vector3(float(v[0]), float(v[1]), float(v[2]))
		"vector3i":
			return Vector3i(int(v[0]), int(v[1]), int(v[2]))
		"string_name":
			return StringName(v[0])
		"packed_strings":
			return PackedStringArray(v)
	return null


static func sha256(data: PackedByteArray) -> String:
	var ctx := HashingContext.new()
	ctx.start(HashingContext.HASH_SHA256)
	ctx.update(data)
	return ctx.finish().hex_encode()


## Big-endian IEEE-754 hex (as the generator writes floats) to a float.
static func _f64(hex: String) -> float:
	var raw := hex.hex_decode()
	raw.reverse()
	return raw.decode_double(0)
