## Minimal assertion collector for tests that run inside the engine.
## Failures go to printerr (the runner fails on any error line); a summary line is printed.
extends RefCounted

var passed: int = 0
var failed: int = 0
var _suite: String = ""


## Starts the checks of [param suite]; prints "SUITE <name>" so the runner sees which ran.
func begin(suite: String) -> void:
	_suite = suite
	print("SUITE " + suite)


func check(condition: bool, what: String) -> bool:
	if condition:
		passed += 1
	else:
		failed += 1
		printerr("FAIL [%s] %s" % [_suite, what])
	return condition


func check_equal(actual: Variant, expected: Variant, what: String) -> bool:
	if same(actual, expected):
		passed += 1
		return true
	failed += 1
	printerr(
		(
			"FAIL [%s] %s\n  expected: %s\n  actual:   %s"
			% [_suite, what, _short(expected), _short(actual)]
		)
	)
	return false


## Deep equality that also compares types (1 is not 1.0) and float bits (0.0 is not -0.0).
static func same(a: Variant, b: Variant) -> bool:
	if typeof(a) != typeof(b):
		return false
	match typeof(a):
		TYPE_FLOAT:
			var left := PackedFloat64Array([a]).to_byte_array()
			return left == PackedFloat64Array([b]).to_byte_array()
		TYPE_ARRAY:
			if a.size() != b.size():
				return false
			for i in a.size():
				if not same(a[i], b[i]):
					return false
			return true
		TYPE_DICTIONARY:
			if a.size() != b.size():
				return false
			for key: Variant in a:
				if not b.has(key) or not same(a[key], b[key]):
					return false
			return true
	return a == b


static func _short(value: Variant) -> String:
	var text := str(value)
	if value is PackedByteArray:
		text = "bytes " + value.hex_encode()
	return text if text.length() <= 300 else text.substr(0, 300) + "..."
