## In-memory transport for unit tests: the test plays the server by filling [member inbox].
extends "res://addons/agent_arena/transport.gd"

var status: Status = Status.CLOSED
var inbox: PackedByteArray = PackedByteArray()
var written: PackedByteArray = PackedByteArray()
var opened: int = 0
var url: String = ""
## Status the next [method open] starts in (FAILED plays an unreachable server).
var open_status: Status = Status.OPEN
## Error every [method write] returns (OK: writes succeed).
var write_error: Error = OK
var failed_writes: int = 0


func open(target: String) -> Error:
	url = target
	opened += 1
	status = open_status
	written = PackedByteArray()
	inbox = PackedByteArray()
	if status == Status.FAILED:
		last_error = "connection refused (fake)"
	return OK


func get_status() -> Status:
	return status


func read() -> PackedByteArray:
	var out := inbox
	inbox = PackedByteArray()
	return out


func write(data: PackedByteArray) -> Error:
	if write_error != OK:
		failed_writes += 1
		last_error = "fake write refused %d bytes" % data.size()
		return write_error
	written.append_array(data)
	return OK


func close() -> void:
	status = Status.CLOSED
