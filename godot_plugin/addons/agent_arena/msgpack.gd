## MessagePack codec for the Agent Arena wire protocol.
##
## Encodes nil, bool, int (smallest width, as the Python msgpack library does), float (always
## float64), String/StringName (UTF-8, lengths in bytes), PackedByteArray (bin), Array,
## Dictionary with String keys (what the server reads), Vector2/Vector3 (and the integer
## variants) as arrays, and packed arrays as arrays.
## Decodes every msgpack family except ext; float32 decodes to float. Errors, never silent
## changes: uint64 above the largest GDScript int, str that is not valid UTF-8 or holds a NUL
## byte (GDScript strings end there), ext types. Errors never crash: they come back in [Result].
extends RefCounted

## Maximum nesting depth accepted by both directions: the server's limit (protocol.MAX_DEPTH),
## counted the same way (the top-level value is depth 0), so what encodes here decodes there.
const MAX_DEPTH: int = 32
const _INT32_MIN: int = -2147483648
const _UINT32_MAX: int = 0xFFFFFFFF


## Outcome of [method pack] or [method unpack]: [member error] is empty on success.
class Result:
	extends RefCounted
	var value: Variant = null
	var bytes: PackedByteArray = PackedByteArray()
	var error: String = ""
	## Offset just past the decoded value (decode only).
	var offset: int = 0

	func ok() -> bool:
		return error.is_empty()


## Encodes [param value]; on an unsupported type the result carries an error naming its path.
static func pack(value: Variant) -> Result:
	var out := StreamPeerBuffer.new()
	out.big_endian = true
	var result := Result.new()
	result.error = _pack_value(out, value, "$", 0)
	if result.error.is_empty():
		result.bytes = out.data_array
	return result


## Decodes exactly one value filling all of [param data]; trailing bytes are an error.
static func unpack(data: PackedByteArray) -> Result:
	var result := unpack_at(data, 0)
	if result.ok() and result.offset != data.size():
		result.error = (
			"msgpack: %d trailing byte(s) after the value" % (data.size() - result.offset)
		)
		result.value = null
	return result


## Decodes one value starting at [param offset]; [member Result.offset] tells where it ended.
static func unpack_at(data: PackedByteArray, offset: int) -> Result:
	var result := Result.new()
	if offset < 0 or offset >= data.size():
		result.error = (
			"msgpack: truncated input: offset %d is outside the %d-byte input"
			% [offset, data.size()]
		)
		result.offset = offset
		return result
	var reader := StreamPeerBuffer.new()
	reader.big_endian = true
	reader.data_array = data
	reader.seek(offset)
	var state := {"error": ""}
	var value: Variant = _unpack_value(reader, state, 0)
	result.error = state["error"]
	if result.ok():
		result.value = value
	result.offset = reader.get_position()
	return result


#region encoding
static func _pack_value(out: StreamPeerBuffer, value: Variant, path: String, depth: int) -> String:
	if depth > MAX_DEPTH:
		return "msgpack: nesting deeper than %d at %s" % [MAX_DEPTH, path]
	match typeof(value):
		TYPE_NIL:
			out.put_u8(0xC0)
		TYPE_BOOL:
			out.put_u8(0xC3 if value else 0xC2)
		TYPE_INT:
			_pack_int(out, value)
		TYPE_FLOAT:
			out.put_u8(0xCB)
			out.put_double(value)
		TYPE_STRING, TYPE_STRING_NAME, TYPE_NODE_PATH:
			_pack_str(out, str(value))
		TYPE_PACKED_BYTE_ARRAY:
			_pack_bin(out, value)
		TYPE_VECTOR2, TYPE_VECTOR2I:
			return _pack_array(out, [value.x, value.y], path, depth)
		TYPE_VECTOR3, TYPE_VECTOR3I:
			return _pack_array(out, [value.x, value.y, value.z], path, depth)
		TYPE_ARRAY, TYPE_PACKED_INT32_ARRAY, TYPE_PACKED_INT64_ARRAY:
			return _pack_array(out, Array(value), path, depth)
		TYPE_PACKED_FLOAT32_ARRAY, TYPE_PACKED_FLOAT64_ARRAY, TYPE_PACKED_STRING_ARRAY:
			return _pack_array(out, Array(value), path, depth)
		TYPE_PACKED_VECTOR2_ARRAY, TYPE_PACKED_VECTOR3_ARRAY:
			return _pack_array(out, Array(value), path, depth)
		TYPE_DICTIONARY:
			return _pack_map(out, value, path, depth)
		_:
			return (
				(
					"msgpack: cannot encode %s at %s (supported: null, bool, int, float, String, "
					+ "PackedByteArray, Array, Dictionary, Vector2/3)"
				)
				% [type_string(typeof(value)), path]
			)
	return ""


static func _pack_int(out: StreamPeerBuffer, value: int) -> void:
	if value >= 0:
		if value < 0x80:
			out.put_u8(value)
		elif value <= 0xFF:
			out.put_u8(0xCC)
			out.put_u8(value)
		elif value <= 0xFFFF:
			out.put_u8(0xCD)
			out.put_u16(value)
		elif value <= _UINT32_MAX:
			out.put_u8(0xCE)
			out.put_u32(value)
		else:
			out.put_u8(0xCF)
			out.put_64(value)
	elif value >= -32:
		out.put_u8(value & 0xFF)
	elif value >= -128:
		out.put_u8(0xD0)
		out.put_8(value)
	elif value >= -32768:
		out.put_u8(0xD1)
		out.put_16(value)
	elif value >= _INT32_MIN:
		out.put_u8(0xD2)
		out.put_32(value)
	else:
		out.put_u8(0xD3)
		out.put_64(value)


static func _pack_str(out: StreamPeerBuffer, text: String) -> void:
	var raw := text.to_utf8_buffer()
	var size := raw.size()
	if size < 32:
		out.put_u8(0xA0 | size)
	elif size <= 0xFF:
		out.put_u8(0xD9)
		out.put_u8(size)
	elif size <= 0xFFFF:
		out.put_u8(0xDA)
		out.put_u16(size)
	else:
		out.put_u8(0xDB)
		out.put_u32(size)
	out.put_data(raw)


static func _pack_bin(out: StreamPeerBuffer, raw: PackedByteArray) -> void:
	var size := raw.size()
	if size <= 0xFF:
		out.put_u8(0xC4)
		out.put_u8(size)
	elif size <= 0xFFFF:
		out.put_u8(0xC5)
		out.put_u16(size)
	else:
		out.put_u8(0xC6)
		out.put_u32(size)
	out.put_data(raw)


static func _pack_array(out: StreamPeerBuffer, items: Array, path: String, depth: int) -> String:
	_pack_length(out, items.size(), 0x90, 0xDC)
	for i in items.size():
		var error := _pack_value(out, items[i], "%s[%d]" % [path, i], depth + 1)
		if not error.is_empty():
			return error
	return ""


static func _pack_map(out: StreamPeerBuffer, map: Dictionary, path: String, depth: int) -> String:
	_pack_length(out, map.size(), 0x80, 0xDE)
	for key: Variant in map:
		var key_path := "%s.%s" % [path, str(key)]
		if typeof(key) != TYPE_STRING and typeof(key) != TYPE_STRING_NAME:
			return (
				"msgpack: map key %s at %s is %s; the server reads only String keys"
				% [str(key), path, type_string(typeof(key))]
			)
		var error := _pack_value(out, key, key_path, depth + 1)
		if error.is_empty():
			error = _pack_value(out, map[key], key_path, depth + 1)
		if not error.is_empty():
			return error
	return ""


## Writes a fix (size < 16), 16-bit or 32-bit container header; [param wide] is the 16-bit tag.
static func _pack_length(out: StreamPeerBuffer, size: int, fix_tag: int, wide: int) -> void:
	if size < 16:
		out.put_u8(fix_tag | size)
	elif size <= 0xFFFF:
		out.put_u8(wide)
		out.put_u16(size)
	else:
		out.put_u8(wide + 1)
		out.put_u32(size)


#endregion


#region decoding
static func _unpack_value(reader: StreamPeerBuffer, state: Dictionary, depth: int) -> Variant:
	if depth > MAX_DEPTH:
		return _fail(state, "msgpack: nesting deeper than %d" % MAX_DEPTH)
	var at := reader.get_position()
	if not _need(reader, state, 1, "a type byte"):
		return null
	var tag := reader.get_u8()
	if tag <= 0x7F:
		return tag
	if tag >= 0xE0:
		return tag - 0x100
	if tag >= 0xA0 and tag <= 0xBF:
		return _read_str(reader, state, tag & 0x1F)
	if tag >= 0x90 and tag <= 0x9F:
		return _read_array(reader, state, tag & 0x0F, depth)
	if tag >= 0x80 and tag <= 0x8F:
		return _read_map(reader, state, tag & 0x0F, depth)
	match tag:
		0xC0:
			return null
		0xC2:
			return false
		0xC3:
			return true
		0xC4, 0xC5, 0xC6:
			var size := _read_length(reader, state, tag - 0xC4)
			if size < 0 or not _need(reader, state, size, "bin data"):
				return null
			return _read_bytes(reader, size)
		0xCA:
			return reader.get_float() if _need(reader, state, 4, "float32") else null
		0xCB:
			return reader.get_double() if _need(reader, state, 8, "float64") else null
		0xCC:
			return reader.get_u8() if _need(reader, state, 1, "uint8") else null
		0xCD:
			return reader.get_u16() if _need(reader, state, 2, "uint16") else null
		0xCE:
			return reader.get_u32() if _need(reader, state, 4, "uint32") else null
		0xCF:
			if not _need(reader, state, 8, "uint64"):
				return null
			var big := reader.get_64()
			if big < 0:
				return _fail(
					state, "msgpack: uint64 at byte %d exceeds the GDScript int range" % at
				)
			return big
		0xD0:
			return reader.get_8() if _need(reader, state, 1, "int8") else null
		0xD1:
			return reader.get_16() if _need(reader, state, 2, "int16") else null
		0xD2:
			return reader.get_32() if _need(reader, state, 4, "int32") else null
		0xD3:
			return reader.get_64() if _need(reader, state, 8, "int64") else null
		0xD9, 0xDA, 0xDB:
			var size := _read_length(reader, state, tag - 0xD9)
			return null if size < 0 else _read_str(reader, state, size)
		0xDC, 0xDD:
			var size := _read_length(reader, state, tag - 0xDC + 1)
			return null if size < 0 else _read_array(reader, state, size, depth)
		0xDE, 0xDF:
			var size := _read_length(reader, state, tag - 0xDE + 1)
			return null if size < 0 else _read_map(reader, state, size, depth)
		0xC1:
			return _fail(state, "msgpack: byte 0xc1 at %d is never used by msgpack" % at)
	return _fail(state, "msgpack: unsupported type 0x%02x (ext) at byte %d" % [tag, at])


## Reads a big-endian length of 1 << [param width_log2] bytes; -1 on truncation.
static func _read_length(reader: StreamPeerBuffer, state: Dictionary, width_log2: int) -> int:
	var width := 1 << width_log2
	if not _need(reader, state, width, "a length"):
		return -1
	match width:
		1:
			return reader.get_u8()
		2:
			return reader.get_u16()
	return reader.get_u32()


static func _read_str(reader: StreamPeerBuffer, state: Dictionary, size: int) -> Variant:
	var at := reader.get_position()
	if not _need(reader, state, size, "str data"):
		return null
	var raw := _read_bytes(reader, size)
	if raw.has(0):
		return _fail(
			state,
			(
				"msgpack: str at byte %d holds a NUL byte (GDScript strings end there)"
				% (at + raw.find(0))
			)
		)
	# Pure ASCII (the common case) needs no UTF-8 check; get_string_from_ascii never complains.
	var ascii := raw.get_string_from_ascii()
	if ascii.length() == size and ascii.to_utf8_buffer().size() == size:
		return ascii
	var bad := _invalid_utf8_at(raw)
	if bad >= 0:
		return _fail(state, "msgpack: str at byte %d is not valid UTF-8" % (at + bad))
	return raw.get_string_from_utf8()


## Index of the first byte that breaks UTF-8 (overlong forms, surrogates and code points above
## U+10FFFF included), or -1 when [param raw] is valid.
static func _invalid_utf8_at(raw: PackedByteArray) -> int:
	var i := 0
	var size := raw.size()
	while i < size:
		var lead := raw[i]
		if lead < 0x80:
			i += 1
			continue
		var count := 0
		var low := 0x80
		var high := 0xBF
		if lead >= 0xC2 and lead <= 0xDF:
			count = 1
		elif lead >= 0xE0 and lead <= 0xEF:
			count = 2
			if lead == 0xE0:
				low = 0xA0  # overlong
			elif lead == 0xED:
				high = 0x9F  # UTF-16 surrogates
		elif lead >= 0xF0 and lead <= 0xF4:
			count = 3
			if lead == 0xF0:
				low = 0x90  # overlong
			elif lead == 0xF4:
				high = 0x8F  # above U+10FFFF
		else:
			return i
		if i + count >= size:
			return i
		var second := raw[i + 1]
		if second < low or second > high:
			return i
		for k in range(2, count + 1):
			if raw[i + k] < 0x80 or raw[i + k] > 0xBF:
				return i
		i += count + 1
	return -1


static func _read_array(
	reader: StreamPeerBuffer, state: Dictionary, size: int, depth: int
) -> Variant:
	# Every element needs at least one byte: reject impossible sizes before allocating.
	if not _need(reader, state, size, "%d array element(s)" % size):
		return null
	var items: Array = []
	items.resize(size)
	for i in size:
		items[i] = _unpack_value(reader, state, depth + 1)
		if not state["error"].is_empty():
			return null
	return items


static func _read_map(
	reader: StreamPeerBuffer, state: Dictionary, size: int, depth: int
) -> Variant:
	if not _need(reader, state, size * 2, "%d map entr(y/ies)" % size):
		return null
	var map := {}
	for i in size:
		var key: Variant = _unpack_value(reader, state, depth + 1)
		if not state["error"].is_empty():
			return null
		var value: Variant = _unpack_value(reader, state, depth + 1)
		if not state["error"].is_empty():
			return null
		map[key] = value
	return map


static func _read_bytes(reader: StreamPeerBuffer, size: int) -> PackedByteArray:
	if size == 0:
		return PackedByteArray()
	var start := reader.get_position()
	reader.seek(start + size)
	return reader.data_array.slice(start, start + size)


static func _need(reader: StreamPeerBuffer, state: Dictionary, count: int, what: String) -> bool:
	var left := reader.get_size() - reader.get_position()
	if left >= count:
		return true
	_fail(
		state,
		(
			"msgpack: truncated input: %s needs %d byte(s) at offset %d, %d left"
			% [what, count, reader.get_position(), left]
		)
	)
	return false


static func _fail(state: Dictionary, message: String) -> Variant:
	if state["error"].is_empty():
		state["error"] = message
	return null
#endregion
