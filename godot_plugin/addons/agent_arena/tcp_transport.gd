## Desktop transport: a plain TCP connection (StreamPeerTCP) to the ZeroMQ server.
##
## Deliberately thin: it moves bytes between the socket and zmtp.gd. It is the one part of the
## addon that the automated tests (which run the web build of Godot) cannot execute.
extends "res://addons/agent_arena/transport.gd"

var _peer: StreamPeerTCP = null
var _pending: PackedByteArray = PackedByteArray()


func open(url: String) -> Error:
	var parts := parse_url(url)
	if parts[2] < 0:
		last_error = "tcp endpoint needs a port: %s" % url
		return ERR_INVALID_PARAMETER
	_peer = StreamPeerTCP.new()
	_pending = PackedByteArray()
	var err := _peer.connect_to_host(parts[1], parts[2])
	if err != OK:
		last_error = "cannot connect to %s: %s" % [url, error_string(err)]
	return err


func poll() -> void:
	if _peer == null:
		return
	_peer.poll()
	if _peer.get_status() == StreamPeerTCP.STATUS_CONNECTED:
		_peer.set_no_delay(true)
		_flush()


func get_status() -> Status:
	if _peer == null:
		return Status.CLOSED
	match _peer.get_status():
		StreamPeerTCP.STATUS_CONNECTING:
			return Status.CONNECTING
		StreamPeerTCP.STATUS_CONNECTED:
			return Status.OPEN
		StreamPeerTCP.STATUS_ERROR:
			if last_error.is_empty():
				last_error = "connection refused or reset"
			return Status.FAILED
	return Status.CLOSED


func read() -> PackedByteArray:
	if _peer == null or _peer.get_status() != StreamPeerTCP.STATUS_CONNECTED:
		return PackedByteArray()
	var available := _peer.get_available_bytes()
	if available <= 0:
		return PackedByteArray()
	var got: Array = _peer.get_partial_data(available)
	if got[0] != OK:
		last_error = "read failed: %s" % error_string(got[0])
		return PackedByteArray()
	return got[1]


func write(data: PackedByteArray) -> Error:
	if _peer == null:
		return ERR_UNCONFIGURED
	_pending.append_array(data)
	_flush()
	return OK


func close() -> void:
	if _peer != null:
		_peer.disconnect_from_host()
	_peer = null
	_pending = PackedByteArray()


func _flush() -> void:
	if _pending.is_empty() or _peer.get_status() != StreamPeerTCP.STATUS_CONNECTED:
		return
	var sent: Array = _peer.put_partial_data(_pending)
	if sent[0] == OK:
		_pending = _pending.slice(sent[1])
	else:
		last_error = "write failed: %s" % error_string(sent[0])
